//! `std::sync::mpsc`-shaped channels over `vigil_core::sync::channel`.
//!
//! Every send and receive is a scheduling point (`mpsc send`, `mpsc recv`). The error types
//! are std's own, re-exported, so code matching on them compiles unchanged.
//!
//! - [`channel`] is unbounded: `Sender::send` never parks (its queue's capacity is
//!   `usize::MAX`).
//! - [`sync_channel`]`(n)` holds at most `n` values and parks senders while it is full.
//!   `sync_channel(0)` is **not** a rendezvous: it buffers one value, so `send` returns before
//!   a receiver has taken it. A model whose correctness relies on the hand-off (the sender
//!   knowing the value was received once `send` returns) can fail under vigil where std
//!   would not; send an acknowledgement back instead.

use std::fmt;
use std::time::Duration;

use vigil_core::sync as core_sync;

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

/// The name every channel of this module carries in traces.
const SITE_NAME: &str = "mpsc";

/// An unbounded channel: sends never park.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (inner, rx) = core_sync::channel(SITE_NAME, usize::MAX);
    (Sender { inner }, Receiver { inner: rx })
}

/// A channel holding at most `bound` values (one when `bound` is 0; see the module docs).
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    let (inner, rx) = core_sync::channel(SITE_NAME, bound.max(1));
    (SyncSender { inner }, Receiver { inner: rx })
}

/// The sending half of [`channel`]; clone it for more producers.
pub struct Sender<T> {
    inner: core_sync::Sender<T>,
}

/// The sending half of [`sync_channel`]; clone it for more producers.
pub struct SyncSender<T> {
    inner: core_sync::Sender<T>,
}

/// The receiving half of either kind of channel. `Send` but not `Sync`, like std's:
///
/// ```compile_fail,E0277
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<vigil_sim::sync::mpsc::Receiver<u32>>();
/// ```
pub struct Receiver<T> {
    inner: core_sync::Receiver<T>,
}

fn send_error<T>(error: core_sync::SendError<T>) -> SendError<T> {
    SendError(error.0)
}

impl<T> Sender<T> {
    /// Queues `value`; `Err` only when the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.send(value).map_err(send_error)
    }
}

impl<T> SyncSender<T> {
    /// Queues `value`, parking while the channel is full; `Err` when the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.inner.send(value).map_err(send_error)
    }

    /// Queues `value` only if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.inner.try_send(value).map_err(|error| match error {
            core_sync::TrySendError::Full(value) => TrySendError::Full(value),
            core_sync::TrySendError::Disconnected(value) => TrySendError::Disconnected(value),
        })
    }
}

impl<T> Receiver<T> {
    /// Receives a value, parking until one arrives; `Err` once every sender is gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.inner.recv().map_err(|_| RecvError)
    }

    /// Receives a value only if one is queued now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.inner.try_recv().map_err(|error| match error {
            core_sync::TryRecvError::Empty => TryRecvError::Empty,
            core_sync::TryRecvError::Disconnected => TryRecvError::Disconnected,
        })
    }

    /// Receives a value, parking at most `timeout` of scheduler time (virtual under
    /// simulation).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.inner
            .recv_timeout(timeout)
            .map_err(|error| match error {
                core_sync::RecvTimeoutError::Timeout => RecvTimeoutError::Timeout,
                core_sync::RecvTimeoutError::Disconnected => RecvTimeoutError::Disconnected,
            })
    }

    /// Iterates over received values until every sender is gone.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// Iterates over the values queued now, without parking.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        Sender {
            inner: self.inner.clone(),
        }
    }
}

impl<T> Clone for SyncSender<T> {
    fn clone(&self) -> Self {
        SyncSender {
            inner: self.inner.clone(),
        }
    }
}

/// Blocking iterator from [`Receiver::iter`].
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Non-blocking iterator from [`Receiver::try_iter`].
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

/// Owning blocking iterator from `Receiver::into_iter`.
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}

macro_rules! opaque_debug {
    ($($name:ident),*) => {$(
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    )*};
}

opaque_debug!(Sender, SyncSender, Receiver, IntoIter);

impl<T> fmt::Debug for Iter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Iter").finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for TryIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TryIter").finish_non_exhaustive()
    }
}
