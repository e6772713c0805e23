//! vigil-core: a worker pool with crash-detecting link monitors, on a pluggable scheduler.

pub mod aion;
pub mod routing;
pub mod rt;
pub mod sync;
pub mod thread;
