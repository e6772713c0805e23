//! `core`'s synchronisation primitives, built on the scheduler seam.
//!
//! Every lock, atomic operation, channel send/recv and once-cell access is a scheduling point,
//! and so is an unlock that another task could tell apart (see `mutex.rs`), so a deterministic
//! scheduler can interleave them the way loom and shuttle do. Each
//! primitive carries a static name that shows up in traces and that faults can target.

mod atomic;
mod channel;
mod mutex;
mod once;

pub use atomic::{AtomicBool, AtomicU32, AtomicU64};
pub use channel::{
    HangUp, Receiver, RecvError, RecvTimeoutError, SendError, Sender, TryRecvError, TrySendError,
    channel,
};
pub use mutex::{Mutex, MutexGuard};
pub use once::OnceCell;
pub use std::sync::atomic::Ordering;

#[cfg(test)]
mod tests;
