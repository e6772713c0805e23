//! `std::sync::mpsc`-shaped channels over `vigil_core::sync::channel`.
//!
//! Every send and receive is a scheduling point (`mpsc send`, `mpsc recv`). The error types
//! are std's own, re-exported, so code matching on them compiles unchanged.
//!
//! - [`channel`] is unbounded: `Sender::send` never parks (its queue's capacity is
//!   `usize::MAX`).
//! - [`sync_channel`]`(n)` with `n > 0` holds at most `n` values and parks senders while it
//!   is full.
//! - `sync_channel(0)` is a rendezvous, as std's: `send` returns only once the receiver has
//!   taken the value, and `try_send` succeeds only while the receiver is blocked in a receive
//!   (`Full` otherwise). It is built from the facade's `Mutex` and `Condvar`, so its
//!   scheduling points are `mpsc.rendezvous lock` and `mpsc.rendezvous.changed rmw`.

use std::cell::Cell;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use vigil_core::sync as core_sync;

use super::rendezvous::Rendezvous;

pub use std::sync::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};

/// The name every channel of this module carries in traces.
const SITE_NAME: &str = "mpsc";

/// An unbounded channel: sends never park.
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let (inner, rx) = core_sync::channel(SITE_NAME, usize::MAX);
    (
        Sender { inner },
        Receiver {
            inner: Flavor::Queue(rx),
            _not_sync: PhantomData,
        },
    )
}

/// A channel holding at most `bound` values; a rendezvous when `bound` is 0.
pub fn sync_channel<T>(bound: usize) -> (SyncSender<T>, Receiver<T>) {
    if bound == 0 {
        let shared = Arc::new(Rendezvous::new());
        let rx = Receiver {
            inner: Flavor::Rendezvous(shared.clone()),
            _not_sync: PhantomData,
        };
        return (
            SyncSender {
                inner: Flavor::Rendezvous(shared),
            },
            rx,
        );
    }
    let (inner, rx) = core_sync::channel(SITE_NAME, bound);
    (
        SyncSender {
            inner: Flavor::Queue(inner),
        },
        Receiver {
            inner: Flavor::Queue(rx),
            _not_sync: PhantomData,
        },
    )
}

/// A queue of `core`'s, or the rendezvous of `sync_channel(0)`.
enum Flavor<Q, T> {
    Queue(Q),
    Rendezvous(Arc<Rendezvous<T>>),
}

/// The sending half of [`channel`]; clone it for more producers.
pub struct Sender<T> {
    inner: core_sync::Sender<T>,
}

/// The sending half of [`sync_channel`]; clone it for more producers.
pub struct SyncSender<T> {
    inner: Flavor<core_sync::Sender<T>, T>,
}

/// The receiving half of either kind of channel. `Send` but not `Sync`, like std's:
///
/// ```compile_fail,E0277
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<vigil_sim::sync::mpsc::Receiver<u32>>();
/// ```
pub struct Receiver<T> {
    inner: Flavor<core_sync::Receiver<T>, T>,
    /// Keeps a rendezvous receiver `!Sync` too (one receiver at a time, as std's).
    _not_sync: PhantomData<Cell<()>>,
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
    /// Queues `value`, parking while the channel is full (for a rendezvous: until the
    /// receiver has taken it); `Err` when the receiver is gone.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        match &self.inner {
            Flavor::Queue(inner) => inner.send(value).map_err(send_error),
            Flavor::Rendezvous(shared) => shared.send(value),
        }
    }

    /// Queues `value` only if there is room now (for a rendezvous: only if the receiver is
    /// waiting in a receive).
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let inner = match &self.inner {
            Flavor::Queue(inner) => inner,
            Flavor::Rendezvous(shared) => return shared.try_send(value),
        };
        inner.try_send(value).map_err(|error| match error {
            core_sync::TrySendError::Full(value) => TrySendError::Full(value),
            core_sync::TrySendError::Disconnected(value) => TrySendError::Disconnected(value),
        })
    }
}

impl<T> Receiver<T> {
    /// Receives a value, parking until one arrives; `Err` once every sender is gone.
    pub fn recv(&self) -> Result<T, RecvError> {
        match &self.inner {
            Flavor::Queue(inner) => inner.recv().map_err(|_| RecvError),
            Flavor::Rendezvous(shared) => shared.recv(),
        }
    }

    /// Receives a value only if one is queued now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let inner = match &self.inner {
            Flavor::Queue(inner) => inner,
            Flavor::Rendezvous(shared) => return shared.try_recv(),
        };
        inner.try_recv().map_err(|error| match error {
            core_sync::TryRecvError::Empty => TryRecvError::Empty,
            core_sync::TryRecvError::Disconnected => TryRecvError::Disconnected,
        })
    }

    /// Receives a value, parking at most `timeout` of scheduler time (virtual under
    /// simulation).
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let inner = match &self.inner {
            Flavor::Queue(inner) => inner,
            Flavor::Rendezvous(shared) => return shared.recv_until(Some(timeout)),
        };
        inner.recv_timeout(timeout).map_err(|error| match error {
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
        let inner = match &self.inner {
            Flavor::Queue(inner) => Flavor::Queue(inner.clone()),
            Flavor::Rendezvous(shared) => {
                shared.add_sender();
                Flavor::Rendezvous(shared.clone())
            }
        };
        SyncSender { inner }
    }
}

impl<T> Drop for SyncSender<T> {
    fn drop(&mut self) {
        if let Flavor::Rendezvous(shared) = &self.inner {
            shared.drop_sender();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if let Flavor::Rendezvous(shared) = &self.inner {
            shared.drop_receiver();
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
