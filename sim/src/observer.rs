//! The observer hook: checkers that look at an execution from outside after every step.
//!
//! Invariant checkers plug in here (TigerBeetle's state checker, stateright's properties):
//! the executor calls every observer after each step, when the task that ran is suspended at
//! its next scheduling point, and an `Err` ends the execution as
//! [`FailureKind::Invariant`](crate::FailureKind::Invariant) named after the observer.
//!
//! Observers run on the executor's own stack, not inside a task, so they must not use
//! scheduling operations (`lock`, `load`, `send`, ...): they read shared state through the
//! `peek` methods of `vigil_core::sync`, which take no scheduling point. Calling a scheduling
//! operation from an observer panics with an explanation.

use vigil_core::rt::{Instant, Site, TaskId};

/// Checks a property of the model's state after every step.
pub trait Observer {
    /// The property's name, used in [`FailureKind::Invariant`](crate::FailureKind::Invariant).
    fn name(&self) -> &str;

    /// Called before each execution starts: reset any per-execution state here, because
    /// nothing may carry over from one execution to the next.
    fn start_execution(&mut self) {}

    /// Called after every step; `Err(explanation)` fails the execution.
    fn after_step(&mut self, view: &StepView<'_>) -> Result<(), String>;

    /// Called once every task has finished (quiescence), for properties that must hold
    /// eventually; `Err(explanation)` fails the execution.
    fn after_execution(&mut self, _steps: u64) -> Result<(), String> {
        Ok(())
    }
}

/// What an observer sees of the step that just ran.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct StepView<'a> {
    /// The step's number (from zero).
    pub step: u64,
    /// The task that ran.
    pub task: TaskId,
    pub task_name: &'a str,
    /// The scheduling point the task proceeded past, or `None` for its first run.
    pub site: Option<Site>,
    /// Virtual time.
    pub now: Instant,
}
