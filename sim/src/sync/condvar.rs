//! `Condvar` with std's signatures, built on the scheduler seam's park and unpark.
//!
//! A waiter registers itself in the condition variable's queue before it releases the mutex,
//! then parks. `notify_all` marks every queued waiter notified and unparks it. `notify_one`
//! promises no order in std, so here it does not pick a waiter: it adds one pending
//! notification and unparks every queued waiter, and the first of them the scheduler runs
//! claims it (the others park again, unseen by the model). Which waiter wins is therefore an
//! ordinary scheduling choice, explored by every strategy, DFS and DPOR included (a claim
//! writes the condition variable, so two claims never commute).
//!
//! Because the seam keeps an unpark that arrives before the park as a token, a notify that
//! lands between the release and the park is not lost: the lost wakeups this type helps
//! find are the model's own (a check made outside the lock, a wait without a predicate loop).
//!
//! Scheduling points: a notify is one (`<name> rmw`, on the condition variable); a wait's
//! registration is not, because it happens while the task holds the mutex, so no other task
//! can tell it from the step it joins. The waiter queue is bookkeeping under a raw lock, not a
//! mutex of the model with points of its own.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LockResult, PoisonError};
use std::time::Duration;

use vigil_core::rt::{self, Instant, Object, ObjectId, Op, RawLock, Scheduler, Site, TaskId};

use super::MutexGuard;

/// Whether a timed wait returned because its time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WaitTimeoutResult(bool);

impl WaitTimeoutResult {
    /// `true` when the wait ended at its deadline rather than by a notify.
    pub fn timed_out(&self) -> bool {
        self.0
    }
}

/// A task waiting on a [`Condvar`], and the flag its notifier sets.
struct Waiter {
    task: TaskId,
    notified: Arc<AtomicBool>,
}

/// A condition variable whose waits and notifies are scheduling points.
///
/// Unlike `std::sync::Condvar` it never wakes spuriously; a wait ends only by a notify or,
/// for the timed forms, when its deadline passes on the scheduler's clock (virtual time under
/// simulation). Which waiter a `notify_one` wakes is a scheduling choice (see the module
/// docs).
pub struct Condvar {
    name: &'static str,
    id: ObjectId,
    waiters: RawLock<Waiters>,
}

/// The queue of waiters and the `notify_one`s none of them has claimed yet (never more than
/// there are waiters).
#[derive(Default)]
struct Waiters {
    queue: VecDeque<Waiter>,
    pending: usize,
}

impl Condvar {
    /// A condition variable named `condvar` in traces.
    pub const fn new() -> Self {
        Condvar::named("condvar")
    }

    /// A condition variable whose scheduling points carry `name` (not in std).
    pub const fn named(name: &'static str) -> Self {
        Condvar {
            name,
            id: ObjectId::new(),
            waiters: RawLock::new(Waiters {
                queue: VecDeque::new(),
                pending: 0,
            }),
        }
    }

    /// Releases the guard's mutex, waits for a notify, and re-acquires the mutex.
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        Ok(self.wait_until(guard, None).0)
    }

    /// Waits while `condition` holds, re-checking it after every wakeup.
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait_until(guard, None).0;
        }
        Ok(guard)
    }

    /// Like [`wait`](Self::wait), but gives up after `timeout` of scheduler time.
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let deadline = rt::now().saturating_add(timeout);
        let (guard, timed_out) = self.wait_until(guard, Some(deadline));
        Ok((guard, WaitTimeoutResult(timed_out)))
    }

    /// Waits while `condition` holds, for at most `timeout` of scheduler time in total.
    /// `timed_out()` is `true` when the condition still held at the deadline.
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let deadline = rt::now().saturating_add(timeout);
        loop {
            if !condition(&mut *guard) {
                return Ok((guard, WaitTimeoutResult(false)));
            }
            if rt::now() >= deadline {
                return Ok((guard, WaitTimeoutResult(true)));
            }
            guard = self.wait_until(guard, Some(deadline)).0;
        }
    }

    /// Wakes one waiting task, if any; which one is a scheduling choice (module docs).
    pub fn notify_one(&self) {
        self.point();
        let woken: Vec<TaskId> = self.waiters.with(|waiters| {
            waiters.pending = (waiters.pending + 1).min(waiters.queue.len());
            waiters.queue.iter().map(|waiter| waiter.task).collect()
        });
        let scheduler = rt::current();
        for task in woken {
            scheduler.unpark(task);
        }
    }

    /// Wakes every waiting task.
    pub fn notify_all(&self) {
        self.point();
        let woken: Vec<TaskId> = self.waiters.with(|waiters| {
            waiters.pending = 0;
            waiters.queue.drain(..).map(Waiter::mark_notified).collect()
        });
        let scheduler = rt::current();
        for task in woken {
            scheduler.unpark(task);
        }
    }

    /// Registers, releases the mutex, parks until notified or `deadline`, re-locks. Returns
    /// the guard and whether the wait timed out.
    fn wait_until<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, T>, bool) {
        let scheduler = rt::current();
        let notified = Arc::new(AtomicBool::new(false));
        scheduler.access(self.site(), Object::Shared(&self.id));
        let waiter = Waiter {
            task: scheduler.current(),
            notified: notified.clone(),
        };
        self.waiters.with(|waiters| waiters.queue.push_back(waiter));
        let mutex = guard.mutex;
        drop(guard);
        let timed_out = self.park_until_notified(&*scheduler, &notified, deadline);
        let guard = mutex.lock().unwrap_or_else(PoisonError::into_inner);
        (guard, timed_out)
    }

    /// Parks until `notified` is set or this waiter claims a pending `notify_one`; at the
    /// deadline, leaves the queue and reports a timeout unless a notify took it out first.
    fn park_until_notified(
        &self,
        scheduler: &dyn Scheduler,
        notified: &Arc<AtomicBool>,
        deadline: Option<Instant>,
    ) -> bool {
        let site = Site::new(self.name, Op::Park);
        loop {
            if notified.load(Ordering::Acquire) {
                return false;
            }
            if self.claim(notified) {
                // Part of the step the notify woke: which waiter claims first is its order.
                scheduler.access(self.site(), Object::Shared(&self.id));
                return false;
            }
            if deadline.is_some_and(|deadline| scheduler.now() >= deadline) {
                // Part of the step the timeout woke: that step began at a point already.
                scheduler.access(self.site(), Object::Shared(&self.id));
                return self.waiters.with(|waiters| {
                    let queued = waiters.queue.len();
                    waiters
                        .queue
                        .retain(|waiter| !Arc::ptr_eq(&waiter.notified, notified));
                    waiters.pending = waiters.pending.min(waiters.queue.len());
                    waiters.queue.len() < queued
                });
            }
            scheduler.park(site, deadline);
        }
    }

    /// Takes a pending `notify_one` for the waiter whose flag is `notified`, leaving the queue.
    fn claim(&self, notified: &Arc<AtomicBool>) -> bool {
        self.waiters.with(|waiters| {
            if waiters.pending == 0 {
                return false;
            }
            let Some(at) = (waiters.queue.iter()).position(|w| Arc::ptr_eq(&w.notified, notified))
            else {
                return false;
            };
            waiters.pending -= 1;
            waiters.queue.remove(at);
            true
        })
    }
}

impl Condvar {
    /// The site of every access to the waiter queue.
    fn site(&self) -> Site {
        Site::new(self.name, Op::Rmw)
    }

    /// The scheduling point before a notify: which waiters it wakes depends on what ran first.
    fn point(&self) {
        rt::point_on(self.site(), Object::Shared(&self.id));
    }
}

impl Waiter {
    /// Sets the flag (under the queue lock, so a timing-out waiter sees either the flag or
    /// itself still queued) and returns the task to unpark.
    fn mark_notified(self) -> TaskId {
        self.notified.store(true, Ordering::Release);
        self.task
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
