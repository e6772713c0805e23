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
//! - a mutex's lock and unlock, a channel's send and receive, a once-cell's `set` and an
//!   atomic's store or read-modify-write *write* the object; an atomic load and a once-cell's
//!   `get` *read* it. Object numbers come from `vigil_core::rt::ObjectId`, assigned in the
//!   order objects are first touched in the execution.
//! - a step that parks (or consumes a wake-up token) and a step that resumes a woken task
//!   write the task's own object ([`ObjectKey::Task`]); a step that unparks it reads it. So a
//!   wake-up is never reordered with the park it ends, while two wake-ups of one task (a
//!   token is a flag) commute.
//! - spawning writes the child's task object, finishing writes the task's own, and a join
//!   reads the joined task's: the end of a task is ordered before the join that sees it.
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
//! Holds and delays placed by faults change which tasks may run without touching an object;
//! they are treated as independent (a search that wants a held task where it cannot run falls
//! back to the tasks that can).

use vigil_core::rt::TaskId;

/// An object a step can touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ObjectKey {
    /// A `core::sync` object, numbered in order of first touch within the execution.
    Shared(u32),
    /// A task: its parking, waking, spawning, ending and joining.
    Task(TaskId),
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
}

impl Access {
    pub fn read(object: ObjectKey) -> Self {
        Access {
            object,
            write: false,
        }
    }

    pub fn write(object: ObjectKey) -> Self {
        Access {
            object,
            write: true,
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
