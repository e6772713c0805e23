//! The fault seam: how a harness offers faults to the executor as choices.
//!
//! A [`Faults`] source tells the executor, before every step, how many faults could fire now;
//! the strategy sees that count in its pick view and may choose `Choice::Fault(k)` instead of
//! a task, so random search reaches faults anywhere and a systematic search enumerates their
//! positions. Site-targeted faults ("crash P when task T reaches `pool.insert`") come from
//! [`Faults::reached`] and are not choices: they follow from the schedule. A fired fault is a
//! [`FaultAction`]: a task of its own that runs `core`'s real code (so its locks interleave
//! too), an injected panic, or a delay.

use vigil_core::rt::{Site, TaskId};

/// What the executor shows a fault source: the tasks that exist, in id order.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct FaultView<'a> {
    pub step: u64,
    /// `(id, name, finished)` of every task of the execution so far.
    pub tasks: &'a [(TaskId, &'a str, bool)],
}

impl FaultView<'_> {
    /// The first unfinished task called `name`.
    pub fn live_task(&self, name: &str) -> Option<TaskId> {
        self.tasks
            .iter()
            .find(|(_, task_name, finished)| !finished && *task_name == name)
            .map(|(id, _, _)| *id)
    }
}

/// What firing a fault does.
pub enum FaultAction {
    /// Start a task named `name` running `body` (the fault's own code path). While it is
    /// unfinished, `hold` (if any) is not scheduled, so the fault lands exactly where that
    /// task stands; the hold is dropped if holding it would leave nothing to run.
    Spawn {
        name: String,
        body: Box<dyn FnOnce() + Send>,
        hold: Option<TaskId>,
    },
    /// Make `task` panic with `INJECTED_FAULT_MARKER` when it next resumes.
    Panic { task: TaskId },
    /// Keep `task` from running for the next `steps` steps (released early if nothing else
    /// could run).
    Delay { task: TaskId, steps: u32 },
}

impl std::fmt::Debug for FaultAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FaultAction::Spawn { name, hold, .. } => {
                write!(f, "Spawn({name}, hold {hold:?})")
            }
            FaultAction::Panic { task } => write!(f, "Panic({task})"),
            FaultAction::Delay { task, steps } => write!(f, "Delay({task}, {steps})"),
        }
    }
}

/// A source of faults for each execution.
pub trait Faults {
    /// Whether this source can ever offer a fault; `false` lets the executor skip the
    /// per-step bookkeeping entirely.
    fn enabled(&self) -> bool {
        true
    }

    /// Called before each execution: reset per-execution state (nothing may carry over).
    fn start_execution(&mut self) {}

    /// How many faults could fire before the next step (0 when none, or the budget is spent).
    fn pending(&mut self, view: &FaultView<'_>) -> u32;

    /// Whether this execution is still in the stretch where faults may fire at all, budget
    /// aside. Strategies spread their fault choices over that stretch.
    fn window_open(&self) -> bool {
        true
    }

    /// Fires pending fault `k` (`k < pending`) and says what it does; `None` if it turned out
    /// to have no effect, which the trace records.
    fn fire(&mut self, k: u32, view: &FaultView<'_>) -> Option<FaultAction>;

    /// `task` has reached `site` and will proceed past it when next scheduled.
    fn reached(
        &mut self,
        _task: TaskId,
        _task_name: &str,
        _site: Site,
        _view: &FaultView<'_>,
    ) -> Option<FaultAction> {
        None
    }

    /// A short description of fault `k` for the trace.
    fn describe(&self, k: u32) -> String {
        format!("fault {k}")
    }
}

/// No faults at all (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoFaults;

impl Faults for NoFaults {
    fn enabled(&self) -> bool {
        false
    }

    fn pending(&mut self, _view: &FaultView<'_>) -> u32 {
        0
    }

    fn fire(&mut self, _k: u32, _view: &FaultView<'_>) -> Option<FaultAction> {
        None
    }
}
