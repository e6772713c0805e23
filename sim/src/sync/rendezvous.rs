//! The zero-capacity channel behind `mpsc::sync_channel(0)`: a hand-off slot under the
//! facade's [`Mutex`] and [`Condvar`], so `send` returns only once the receiver has taken the
//! value and `try_send` succeeds only while a receiver is waiting, as std's rendezvous does.

use std::sync::PoisonError;
use std::time::Duration;

use vigil_core::rt;

use super::mpsc::{RecvError, RecvTimeoutError, SendError, TryRecvError, TrySendError};
use super::{Condvar, Mutex, MutexGuard};

pub(super) struct Rendezvous<T> {
    state: Mutex<Slot<T>>,
    changed: Condvar,
}

struct Slot<T> {
    value: Option<T>,
    /// Values put into the slot so far, and values taken out: a sender waits until its
    /// value's number has been taken.
    put: u64,
    taken: u64,
    /// The receiver is blocked in a receive and nobody has handed it a value yet.
    receiver_waiting: bool,
    receiver_alive: bool,
    senders: usize,
}

impl<T> Rendezvous<T> {
    pub(super) fn new() -> Self {
        Rendezvous {
            state: Mutex::named(
                "mpsc.rendezvous",
                Slot {
                    value: None,
                    put: 0,
                    taken: 0,
                    receiver_waiting: false,
                    receiver_alive: true,
                    senders: 1,
                },
            ),
            changed: Condvar::named("mpsc.rendezvous.changed"),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn wait<'a>(&self, slot: MutexGuard<'a, Slot<T>>) -> MutexGuard<'a, Slot<T>> {
        self.changed
            .wait(slot)
            .unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut slot = self.lock();
        while slot.receiver_alive && slot.value.is_some() {
            slot = self.wait(slot);
        }
        if !slot.receiver_alive {
            return Err(SendError(value));
        }
        let ticket = slot.put_value(value);
        self.changed.notify_all();
        while slot.receiver_alive && slot.taken < ticket {
            slot = self.wait(slot);
        }
        if slot.taken < ticket {
            // The receiver went away with the value still in the slot: it is ours.
            let value = slot
                .value
                .take()
                .expect("[internal bug] an untaken value vanished");
            return Err(SendError(value));
        }
        Ok(())
    }

    pub(super) fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let mut slot = self.lock();
        if !slot.receiver_alive {
            return Err(TrySendError::Disconnected(value));
        }
        if !slot.receiver_waiting || slot.value.is_some() {
            return Err(TrySendError::Full(value));
        }
        slot.put_value(value);
        self.changed.notify_all();
        Ok(())
    }

    /// Receives, waiting at most until `deadline` on the scheduler's clock when given.
    pub(super) fn recv_until(&self, timeout: Option<Duration>) -> Result<T, RecvTimeoutError> {
        let deadline = timeout.map(|timeout| rt::now().saturating_add(timeout));
        let mut slot = self.lock();
        loop {
            if let Some(value) = slot.value.take() {
                slot.taken += 1;
                slot.receiver_waiting = false;
                drop(slot);
                self.changed.notify_all();
                return Ok(value);
            }
            if slot.senders == 0 {
                slot.receiver_waiting = false;
                return Err(RecvTimeoutError::Disconnected);
            }
            slot.receiver_waiting = true;
            slot = match deadline {
                None => self.wait(slot),
                Some(deadline) => {
                    let now = rt::now();
                    if now >= deadline {
                        slot.receiver_waiting = false;
                        return Err(RecvTimeoutError::Timeout);
                    }
                    let left = deadline.saturating_duration_since(now);
                    let waited = self.changed.wait_timeout(slot, left);
                    waited.unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    pub(super) fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(|_| RecvError)
    }

    /// Takes a value a blocked sender has put in the slot, if there is one.
    pub(super) fn try_recv(&self) -> Result<T, TryRecvError> {
        let mut slot = self.lock();
        match slot.value.take() {
            Some(value) => {
                slot.taken += 1;
                drop(slot);
                self.changed.notify_all();
                Ok(value)
            }
            None if slot.senders == 0 => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }

    pub(super) fn add_sender(&self) {
        self.lock().senders += 1;
    }

    pub(super) fn drop_sender(&self) {
        let mut slot = self.lock();
        slot.senders -= 1;
        let last = slot.senders == 0;
        drop(slot);
        if last {
            self.changed.notify_all();
        }
    }

    pub(super) fn drop_receiver(&self) {
        self.lock().receiver_alive = false;
        self.changed.notify_all();
    }
}

impl<T> Slot<T> {
    /// Puts `value` in the empty slot and returns its number.
    fn put_value(&mut self, value: T) -> u64 {
        self.value = Some(value);
        self.receiver_waiting = false;
        self.put += 1;
        self.put
    }
}
