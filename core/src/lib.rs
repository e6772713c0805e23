//! vigil-core: a worker pool with crash-detecting link monitors, on a pluggable scheduler.

pub mod aion;
pub mod channel;
pub mod conversation;
mod liminal_error;
pub mod pool;
pub mod process;
pub mod routing;
pub mod rt;
pub mod sync;
pub mod thread;

pub use liminal_error::LiminalError;
