//! The dependency relation over steps: which steps commute, for partial-order reduction.
//!
//! The executor describes every step it runs (and every fault it fires) as an [`Event`]: who
//! acted and which objects the step touched, each as a read or a write. Two events are
//! *dependent* when they touch one object and at least one of them writes it; running two
//! independent events in either order gives the same state, so a systematic search needs to
//! try only one order.
//!
//! # What a step touches
//!
//! A step starts at its task's pending scheduling point and runs to the next one, so it
//! touches the point's object and whatever the task does before its next point:
//!
//! - a mutex's lock, `try_lock` and unlock, a channel's send and receive, a once-cell's `set`
//!   and an atomic's store or read-modify-write *write* the object (see "Mutexes" for where
//!   a race between an unlock and a later lock is reversed); an atomic load and a once-cell's
//!   `get` *read* it, and so do a reader-writer lock's read lock and read unlock (`Op::Read`,
//!   `Op::ReadUnlock`), so two readers commute while a write lock (`Op::Lock`) conflicts
//!   with both. Object numbers come from `vigil_core::rt::ObjectId`, assigned in the
//!   order objects are first touched in the execution.
//! - a channel is three objects: its queue (written by every send and receive), its sending
//!   side (written by the last sender's drop and a hang-up, read by other senders' drops and
//!   by a receive that finds the queue empty) and its receiving side (written by the
//!   receiver's drop, read by every send); see `vigil_core::sync::channel`. Drops take no
//!   scheduling point but are recorded in the step they fall in.
//! - a mutex or reader-writer lock released by a task unwinding out of its critical
//!   section takes no point either, and is recorded as the release it is.
//! - a step that parks (or consumes a wake-up token) and a step that resumes a woken task
//!   write the task's own object ([`ObjectKey::Task`]); a step that unparks it reads it. So a
//!   wake-up is never reordered with the park it ends, while two wake-ups of one task (a
//!   token is a flag) commute.
//! - spawning writes the child's task object, finishing writes the task's own and its end
//!   ([`ObjectKey::Ended`]), and a join reads the joined task's end: the end of a task is
//!   ordered before the join that sees it, while the task's parks and wake-ups on the way
//!   (which write its task object) commute with the join, whose result they cannot change.
//! - named pool steps (`pool.insert`, op `step`), yields and random draws touch nothing: they
//!   have no memory effect. A site fault that fires when a task reaches a named step is part
//!   of the step that reached it (it spawns, holds or marks a task, all recorded).
//! - virtual time moves only when no task can run, so a step woken by a timer comes after
//!   every earlier step in every execution: it is a *barrier* (see [`Event::barrier`]).
//! - a fault chosen by the strategy is an event of its own actor ([`Actor::Fault`]). Firing it
//!   writes the fault budget (so two faults never commute), and writes what it injects into
//!   the task it panics or delays (read by each step of that task); a fault that starts a task of its own (terminating a process) writes
//!   that task, whose steps then interleave like any other's.
//!
//! # Mutexes
//!
//! A lock attempt (`Op::Lock`, [`LockRole::Acquire`]) and an unlock ([`LockRole::Release`])
//! both write the mutex, so critical sections on one mutex are ordered and everything a
//! task did inside one happens before what the next holder does. What is special is where a
//! race is reversed. When task B's lock attempt comes after task A's unlock, reversing that
//! pair puts B's attempt inside A's critical section, where a blocking `lock` can only
//! register as a waiter and park until A's unlock wakes it: the same critical sections in
//! the same order, plus a wait. So the search reverses the race at A's *acquire* instead
//! (B takes the mutex first), which is the order that differs. An unlock with no scheduling
//! point (nobody waits) is a release in the same sense when its critical section began in an
//! earlier step; when it began in the same step, that step is its own acquire and the unlock
//! a plain write. This trusts the mutex (a
//! waiter is woken by the unlock; `core`'s mutex has its own tests); waits still occur when
//! some other race puts a task there. For the same reason a race from a lock attempt that
//! found the mutex held (it parked) to the unlock that ended the wait is not reversed at
//! all: reversing it only moves the attempt after the unlock, where it takes the mutex at
//! once, in the same order of critical sections; the waiting order already covers it, for
//! no more preemptions (the switch away from a parked task is free). The two events stay
//! ordered. `try_lock` is its own operation (`Op::TryLock`), a
//! plain write: it fails while the mutex is held instead of waiting, a different outcome,
//! so its races are reversed where they happen (the comparison with exhaustive DFS in
//! `sim/tests/it/dpor.rs` covers both).
//!
//! # Faults
//!
//! A chosen fault's own event touches only the fault budget and whatever it injects: a
//! crash is a task of its own (`core`'s terminate path), so its effects on the process it
//! ends, that process's links and whoever observes them are ordinary steps of that task,
//! with ordinary dependencies. With a fault bound of one no two faults fire in one
//! execution, so the budget object never separates anything; with a larger bound every
//! pair of faults is ordered both ways (a fault that spends the last unit disables the
//! others).
//!
//! Holds and delays placed by faults change which tasks may run without touching an object;
//! they are treated as independent (a search that wants a held task where it cannot run falls
//! back to the tasks that can).

use vigil_core::rt::TaskId;

/// An object a step can touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKey {
    /// A `core::sync` object, numbered in order of first touch within the execution.
    Shared(u32),
    /// A task: its parking, waking, spawning and ending.
    Task(TaskId),
    /// A task's end: written when it finishes, read by a join (all a join can observe).
    Ended(TaskId),
    /// What faults inject into a task (a panic, a delay): written by the fault, read by
    /// every step of the task while a fault source is active.
    Injected(TaskId),
    /// The budget of chosen faults.
    FaultBudget,
}

/// One object touched by a step, and whether the step may change it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Access {
    pub object: ObjectKey,
    pub write: bool,
    /// What the step does to a mutex, when the object is one (see [`LockRole`]).
    pub lock: LockRole,
}

/// The part a mutex access plays: both are writes, but a race from a release to a later
/// acquire by another task is reversed at the acquire the release ended (see the module
/// documentation, "Mutexes").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockRole {
    /// Not a mutex operation.
    #[default]
    None,
    /// A lock attempt: it takes the mutex, or registers as a waiter and parks.
    Acquire,
    /// An unlock.
    Release,
}

impl Access {
    pub fn read(object: ObjectKey) -> Self {
        Access {
            object,
            write: false,
            lock: LockRole::None,
        }
    }

    pub fn write(object: ObjectKey) -> Self {
        Access {
            object,
            write: true,
            lock: LockRole::None,
        }
    }

    /// A lock attempt on the mutex `object` (a write).
    pub fn acquire(object: ObjectKey) -> Self {
        Access {
            lock: LockRole::Acquire,
            ..Access::write(object)
        }
    }

    /// An unlock of the mutex `object` (a write).
    pub fn release(object: ObjectKey) -> Self {
        Access {
            lock: LockRole::Release,
            ..Access::write(object)
        }
    }

    /// Whether `self` and `other` conflict: one object, at least one write.
    pub fn conflicts(&self, other: &Access) -> bool {
        self.object == other.object && (self.write || other.write)
    }
}

/// Who performs an event: a task, or a fault chosen by the strategy, named by its
/// description (stable across executions, unlike its index among the pending faults).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Actor {
    Task(TaskId),
    Fault(String),
}

/// One step or fault, as the executor reports it to a strategy after it happened.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Event<'a> {
    pub actor: &'a Actor,
    pub accesses: &'a [Access],
    /// A task created by this event (a spawn, or a fault's own task); its steps come after.
    pub spawned: &'a [TaskId],
    /// The step was woken by a timer: every earlier event happened before it.
    pub barrier: bool,
}

/// Whether two access sets conflict on some object.
pub fn dependent(left: &[Access], right: &[Access]) -> bool {
    left.iter()
        .any(|access| right.iter().any(|other| access.conflicts(other)))
}

#[cfg(test)]
mod tests;
