//! vigil-core: a worker pool with crash-detecting link monitors, on a pluggable scheduler.

pub mod channel;
pub mod conversation;
mod liminal_error;
pub mod process;
pub mod rt;
pub mod sync;
pub mod thread;

pub use liminal_error::LiminalError;
