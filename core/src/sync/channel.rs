//! A bounded multi-producer, single-consumer channel with `recv_timeout`.
//!
//! Send and receive are scheduling points; a full channel parks the sender and an empty one
//! parks the receiver, on the scheduler. A capacity-1 channel buffers one value even before
//! anyone is receiving, which is what the link monitor's exit notification relies on.
//!
//! The receiver has a single waiter slot, so it is `!Sync`: only its owner receives. A
//! [`HangUp`] lets another task end the receiver's wait without being a sender, which is how
//! the link monitor stops its listener without a timer.
//!
//! # What a search that reduces by dependencies sees
//!
//! A channel is three objects (see [`crate::rt::Object`]), so that operations which cannot
//! tell each other's order apart commute:
//!
//! - the *queue*: every send and receive is a point on it and writes it;
//! - the *sending side*: the number of senders and the hang-up flag, which is what decides
//!   whether an empty channel is disconnected. The last sender's drop and a hang-up write
//!   it; any other sender's drop reads it (so those commute with each other and with
//!   receives, but come before the last drop). A receive that finds the queue empty reads
//!   it; one that finds a value does not look at it (and whether the queue is empty is
//!   ordered by the queue). A send does not touch it, so dropping one sender commutes with
//!   another's sends, and a clone (which never takes the count to or from zero) touches
//!   nothing;
//! - the *receiving side*: whether the receiver is alive. Its drop writes it; every send
//!   reads it.
//!
//! The reads are recorded each time the state is checked (a send or receive woken from a
//! wait checks again, in a later step).

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::rt::{self, Object, ObjectId, Op, RawLock, Site, TaskId};

struct Shared<T> {
    name: &'static str,
    /// The queue (see the module documentation for the three objects).
    id: ObjectId,
    /// The sending side: sender count and hang-up.
    sending: ObjectId,
    /// The receiving side: whether the receiver is alive.
    receiving: ObjectId,
    capacity: usize,
    state: RawLock<State<T>>,
}

struct State<T> {
    queue: VecDeque<T>,
    senders: usize,
    /// Set by [`HangUp::hang_up`]: once the queue is empty the receiver sees a disconnect.
    hung_up: bool,
    receiver_alive: bool,
    receiver_waiting: Option<TaskId>,
    senders_waiting: VecDeque<TaskId>,
}

/// Creates a channel holding at most `capacity` values (at least one).
pub fn channel<T>(name: &'static str, capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "[internal bug] channel '{name}' needs a capacity of at least 1"
    );
    let shared = Arc::new(Shared {
        name,
        id: ObjectId::new(),
        sending: ObjectId::new(),
        receiving: ObjectId::new(),
        capacity,
        state: RawLock::new(State {
            queue: VecDeque::with_capacity(capacity.min(64)),
            senders: 1,
            hung_up: false,
            receiver_alive: true,
            receiver_waiting: None,
            senders_waiting: VecDeque::new(),
        }),
    });
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver {
            shared,
            _not_sync: PhantomData,
        },
    )
}

/// The value could not be sent because the receiver is gone.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("sending on a channel whose receiver is gone")]
pub struct SendError<T>(pub T);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    #[error("sending on a full channel")]
    Full(T),
    #[error("sending on a channel whose receiver is gone")]
    Disconnected(T),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("receiving on an empty channel whose senders are all gone")]
pub struct RecvError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TryRecvError {
    #[error("receiving on an empty channel")]
    Empty,
    #[error("receiving on an empty channel whose senders are all gone")]
    Disconnected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecvTimeoutError {
    #[error("timed out waiting on a channel")]
    Timeout,
    #[error("receiving on an empty channel whose senders are all gone")]
    Disconnected,
}

/// The sending half; clone it for more producers.
pub struct Sender<T> {
    shared: Arc<Shared<T>>,
}

/// The receiving half.
///
/// It is `Send` but not `Sync`: the channel remembers one waiting receiver, so two tasks
/// receiving through one `&Receiver` could lose a wakeup. The compiler refuses to share it:
///
/// ```compile_fail,E0277
/// use vigil_core::sync::Receiver;
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<Receiver<u32>>();
/// ```
///
/// Moving it to another task is fine:
///
/// ```
/// use vigil_core::sync::Receiver;
/// fn assert_send<S: Send>() {}
/// assert_send::<Receiver<u32>>();
/// ```
pub struct Receiver<T> {
    shared: Arc<Shared<T>>,
    /// `Cell<()>` is `Send` and `!Sync`, which is exactly what the single waiter slot allows.
    _not_sync: PhantomData<Cell<()>>,
}

/// Ends the wait of a channel's receiver from another task, without holding a sender.
///
/// After [`HangUp::hang_up`] the receiver still gets every value already queued, and then
/// sees the channel disconnected, as if every sender were gone. Senders are not told. The
/// link monitor uses it to deliver its stop request: the listener parks with no deadline
/// and wakes on either an exit or the hang-up.
pub struct HangUp<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Sender<T> {
    /// Sends `value`, parking while the channel is full.
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let scheduler = rt::current();
        let site = Site::new(self.shared.name, Op::Send);
        scheduler.point_on(site, Object::Shared(&self.shared.id));
        let me = scheduler.current();
        let mut value = value;
        loop {
            match self.push(value, Some(me)) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(back)) => return Err(SendError(back)),
                Err(TrySendError::Full(back)) => value = back,
            }
            scheduler.park(site, None);
        }
    }

    /// Sends `value` only if there is room now.
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let site = Site::new(self.shared.name, Op::Send);
        rt::point_on(site, Object::Shared(&self.shared.id));
        self.push(value, None)
    }

    /// Pushes without a scheduling point; a full channel registers `waiter` when given.
    fn push(&self, value: T, waiter: Option<TaskId>) -> Result<(), TrySendError<T>> {
        self.shared.read_side(&self.shared.receiving);
        let woken = self.shared.state.with(|state| {
            if !state.receiver_alive {
                return Err(TrySendError::Disconnected(value));
            }
            if state.queue.len() >= self.shared.capacity {
                if let Some(me) = waiter.filter(|me| !state.senders_waiting.contains(me)) {
                    state.senders_waiting.push_back(me);
                }
                return Err(TrySendError::Full(value));
            }
            state.queue.push_back(value);
            Ok(state.receiver_waiting.take())
        })?;
        if let Some(receiver) = woken {
            rt::current().unpark(receiver);
        }
        Ok(())
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.state.with(|state| state.senders += 1);
        Sender {
            shared: self.shared.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let (last, woken) = self.shared.state.with(|state| {
            state.senders -= 1;
            if state.senders == 0 {
                (true, state.receiver_waiting.take())
            } else {
                (false, None)
            }
        });
        // No point. The last sender's drop writes the sending side: it is what a receiver
        // sees as a disconnect. Any other drop only reads it, so two of them commute, while
        // each is ordered before the last drop and so stays a drop that is not the last in
        // every order the search takes as equivalent.
        if last {
            self.shared.write_side(&self.shared.sending, Op::Send);
        } else {
            self.shared.read_side(&self.shared.sending);
        }
        if let Some(receiver) = woken {
            rt::current().unpark(receiver);
        }
    }
}

impl<T> HangUp<T> {
    /// Marks the channel hung up and wakes a waiting receiver. A scheduling point
    /// (`<name> send`); idempotent.
    pub fn hang_up(&self) {
        let site = Site::new(self.shared.name, Op::Send);
        rt::current().point_on(site, Object::Shared(&self.shared.sending));
        let woken = self.shared.state.with(|state| {
            state.hung_up = true;
            state.receiver_waiting.take()
        });
        if let Some(receiver) = woken {
            rt::current().unpark(receiver);
        }
    }
}

impl<T> Shared<T> {
    /// Records a read of one side of the channel in the calling task's step, no point.
    fn read_side(&self, side: &ObjectId) {
        rt::access(Site::new(self.name, Op::Load), Object::Shared(side));
    }

    /// Records a write of one side of the channel in the calling task's step, no point.
    fn write_side(&self, side: &ObjectId, op: Op) {
        rt::access(Site::new(self.name, op), Object::Shared(side));
    }
}

enum Poll<T> {
    Ready(T),
    Empty,
    Disconnected,
}

impl<T> Receiver<T> {
    /// A handle that ends this receiver's waits (see [`HangUp`]).
    pub fn hang_up_handle(&self) -> HangUp<T> {
        HangUp {
            shared: self.shared.clone(),
        }
    }

    /// Receives a value, parking until one arrives, every sender is gone or the channel is
    /// hung up.
    pub fn recv(&self) -> Result<T, RecvError> {
        match self.recv_until(None) {
            Ok(value) => Ok(value),
            Err(_) => Err(RecvError),
        }
    }

    /// Receives a value, parking at most `timeout` of scheduler time.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        let deadline = rt::current().now().saturating_add(timeout);
        self.recv_until(Some(deadline))
    }

    /// Receives a value only if one is queued now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        let site = Site::new(self.shared.name, Op::Recv);
        rt::point_on(site, Object::Shared(&self.shared.id));
        match self.poll(None) {
            Poll::Ready(value) => Ok(value),
            Poll::Empty => Err(TryRecvError::Empty),
            Poll::Disconnected => Err(TryRecvError::Disconnected),
        }
    }

    fn recv_until(&self, deadline: Option<rt::Instant>) -> Result<T, RecvTimeoutError> {
        let scheduler = rt::current();
        let site = Site::new(self.shared.name, Op::Recv);
        scheduler.point_on(site, Object::Shared(&self.shared.id));
        let me = scheduler.current();
        loop {
            match self.poll(Some(me)) {
                Poll::Ready(value) => return Ok(value),
                Poll::Disconnected => return Err(RecvTimeoutError::Disconnected),
                Poll::Empty => {}
            }
            if deadline.is_some_and(|deadline| scheduler.now() >= deadline) {
                self.shared
                    .state
                    .with(|state| state.receiver_waiting = None);
                return Err(RecvTimeoutError::Timeout);
            }
            scheduler.park(site, deadline);
        }
    }

    /// Pops without a scheduling point; an empty channel registers `waiter` when given.
    fn poll(&self, waiter: Option<TaskId>) -> Poll<T> {
        let (poll, woken) = self
            .shared
            .state
            .with(|state| match state.queue.pop_front() {
                Some(value) => (Poll::Ready(value), state.senders_waiting.pop_front()),
                None if state.senders == 0 || state.hung_up => (Poll::Disconnected, None),
                None => {
                    if waiter.is_some() {
                        state.receiver_waiting = waiter;
                    }
                    (Poll::Empty, None)
                }
            });
        if !matches!(poll, Poll::Ready(_)) {
            // Only an empty queue looks at the sending side.
            self.shared.read_side(&self.shared.sending);
        }
        if let Some(sender) = woken {
            rt::current().unpark(sender);
        }
        poll
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // No point, but a write of the receiving side: senders see the receiver gone after it.
        self.shared.write_side(&self.shared.receiving, Op::Recv);
        let woken = self.shared.state.with(|state| {
            state.receiver_alive = false;
            std::mem::take(&mut state.senders_waiting)
        });
        let scheduler = rt::current();
        for sender in woken {
            scheduler.unpark(sender);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("name", &self.shared.name)
            .finish()
    }
}

impl<T> fmt::Debug for HangUp<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HangUp")
            .field("name", &self.shared.name)
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("name", &self.shared.name)
            .finish()
    }
}
