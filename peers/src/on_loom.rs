//! The peer bench's models (`models.rs`) compiled against loom's std-shaped facade.

use loom as rt;

#[path = "models.rs"]
#[allow(
    clippy::duplicate_mod,
    reason = "the same models compiled against each facade are the point of the bench"
)]
mod models;

pub(crate) use models::*;
