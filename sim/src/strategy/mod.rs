//! The strategy seam: what decides which task runs next and what random numbers a model sees.
//!
//! Shuttle's three hooks, with narrow read-only views: [`Strategy::start`] begins an execution
//! (and may end exploration), [`Strategy::pick`] chooses among the runnable tasks, and
//! [`Strategy::draw`] supplies a random number. The executor records every answer in the
//! execution's [`Schedule`](crate::Schedule), so any strategy's executions can be replayed
//! with [`Replay`]. Strategies never see or change task state; cross-cutting behaviour such as
//! the determinism check wraps executions from outside (see the runner) rather than living
//! inside each strategy.

mod data;
mod dfs;
mod dpor;
mod fault_timer;
mod pct;
mod portfolio;
mod random;
mod replay;
pub(crate) mod split;

pub use dfs::Dfs;
pub use dpor::{Dpor, DporStats};
pub use pct::Pct;
pub use portfolio::Portfolio;
pub use random::Random;
pub use replay::{Prefixed, Replay};
pub use split::{Below, Split};

use vigil_core::rt::TaskId;

use crate::dependency::Event;
use crate::schedule::Choice;

/// Decides the choices of executions. One strategy drives a whole exploration.
pub trait Strategy {
    /// Begins execution `execution_idx` (counting from zero within a run). Returns the seed
    /// that identifies the execution, recorded in its schedule, or `None` when the strategy
    /// has nothing left to explore.
    fn start(&mut self, execution_idx: u64) -> Option<Start>;

    /// Chooses what happens at a step where more than one task is runnable or a fault is
    /// pending: one of `view.runnable`, or one of the `view.faults_pending` faults. A replaying strategy that cannot follow its recording returns a [`Divergence`].
    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence>;

    /// Supplies the value of a random draw made by the model.
    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence>;

    /// Called when every task of the execution has finished; a replaying strategy reports
    /// choices it was never asked for.
    fn end(&mut self, _steps: u64) -> Result<(), Divergence> {
        Ok(())
    }

    /// Whether the executor should describe every event to [`Strategy::stepped`] (and name
    /// the pending faults in the pick view). Off by default: it costs a little per step.
    fn tracks_dependencies(&self) -> bool {
        false
    }

    /// Called after every step and every fault fired, when [`Strategy::tracks_dependencies`].
    fn stepped(&mut self, _event: &Event<'_>) {}

    /// How much of its search space a systematic strategy has covered so far; `None` for
    /// strategies that cannot tell.
    fn coverage(&self) -> Option<Coverage> {
        None
    }
}

/// How far a systematic search got, for certified results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Coverage {
    /// The preemption bound searched.
    pub preemptions_max: u32,
    /// The bound on chosen faults per execution.
    pub faults_max: u32,
    /// Every execution within the bounds was covered (up to equivalence): a certificate.
    pub exhaustive: bool,
    /// Alternatives still waiting to be explored when the search stopped (zero when
    /// exhaustive).
    pub open_branches: u64,
    /// Alternatives explored so far (one per execution after the first).
    pub explored_branches: u64,
}

impl Coverage {
    /// The sentence every output uses for this coverage after `executions` executions.
    pub fn describe(&self, executions: u64) -> String {
        let bound = bounds_phrase(self.preemptions_max, self.faults_max);
        if self.exhaustive {
            format!("no violation within {bound}, {executions} executions, exhaustive")
        } else {
            let total = self.explored_branches + self.open_branches;
            format!(
                "no violation found within {bound} in {executions} executions, not exhaustive: \
                 {} of {} known branches explored, {} still open",
                self.explored_branches, total, self.open_branches
            )
        }
    }
}

/// "2 preemptions and 1 fault": a systematic search's bounds as every output words them.
pub(crate) fn bounds_phrase(preemptions: u32, faults: u32) -> String {
    let plural = |n: u32| if n == 1 { "" } else { "s" };
    format!(
        "{preemptions} preemption{} and {faults} fault{}",
        plural(preemptions),
        plural(faults)
    )
}

/// Identifies the execution a strategy is about to drive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    /// Recorded as [`Schedule::seed`](crate::Schedule::seed).
    pub seed: u64,
}

/// What a strategy may see when it picks: runnable tasks always in id order.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct PickView<'a> {
    /// The number of the step about to run (from zero).
    pub step: u64,
    /// The task that ran the previous step, if any; it may no longer be runnable.
    pub current: Option<TaskId>,
    /// Task ids in increasing order: at least two, or at least one when faults are pending.
    pub runnable: &'a [TaskId],
    /// How many faults could be fired instead (`Choice::Fault(k)` for `k` below this).
    pub faults_pending: u32,
    /// Whether the execution is still where faults may fire at all (budget aside).
    pub faults_window: bool,
    /// Descriptions of the pending faults, in order, when the strategy tracks dependencies
    /// (empty otherwise); stable names for the same fault across executions.
    pub fault_names: &'a [String],
    /// Whether `current` is runnable and waiting at a `yield_now` point: switching away from
    /// it then is not a preemption, and a systematic search prefers the others (spin loops).
    pub current_yields: bool,
    /// The runnable tasks waiting at a `yield_now` point, in id order (`current` among them
    /// when `current_yields`). The systematic searches run none of them while a task that
    /// does not yield can run, as loom does, so two tasks spinning on each other's flags
    /// cannot starve the task that would set them.
    pub yielding: &'a [TaskId],
    /// Whether `current` is runnable and waiting at a point on a shared object (a lock, an
    /// atomic, a channel, a condition variable): where preempting it can change what another
    /// task observes. PCT places its priority changes only at such points.
    pub current_shared: bool,
}

/// What a strategy may see when the model draws a random number.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct DrawView<'a> {
    /// The step during which the draw happens.
    pub step: u64,
    /// The task drawing.
    pub task: TaskId,
    /// For a draw with few outcomes (a `gen_bool`, a `gen_range` over a small range, a
    /// possible spurious wakeup): one word per outcome, in the order a systematic search
    /// tries them. Empty for a draw over a large domain, which stays a seeded sample. Any
    /// word is a valid answer either way; a random strategy ignores the list.
    pub alternatives: &'a [u64],
}

/// A replay could not follow its recording: the execution offered something else.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "replay diverged at step {step}: the schedule has {expected}, but the execution offered \
     {found}. Is the model fully deterministic, and is this the schedule of this test?"
)]
pub struct Divergence {
    pub step: u64,
    pub expected: String,
    pub found: String,
}

impl PickView<'_> {
    /// Whether the search should not run `task` here: it waits at `yield_now` while a runnable
    /// task that does not yield could run instead.
    pub(crate) fn spins(&self, task: TaskId) -> bool {
        self.yielding.contains(&task) && self.runnable.len() > self.yielding.len()
    }
}

/// Formats task ids as `t0, t2`.
pub(crate) fn task_list(tasks: &[TaskId]) -> String {
    let names: Vec<String> = tasks.iter().map(TaskId::to_string).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests;
