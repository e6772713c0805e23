//! The peer bench's models (`models.rs`) compiled against shuttle's std-shaped facade.

use shuttle as rt;

#[path = "models.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "the same models compiled against each facade are the point of the bench"
)]
mod models;

pub(crate) use models::*;
