//! A simulation failure as a value: what went wrong, and everything needed to reproduce it.
//!
//! The runner returns a [`Failure`]; test helpers turn it into a panic, the command-line
//! program into an exit code. Its `Display` ends with the exact command that replays it.

use std::fmt;

use vigil_core::rt::{Site, TaskId};

use crate::shrink::Shrunk;
use crate::trace::Trace;

/// The environment variable holding a schedule to replay instead of exploring.
pub const REPLAY_ENV: &str = "VIGIL_REPLAY";

/// What kind of failure an execution ended in.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailureKind {
    /// A task (the main task included) panicked.
    Panic,
    /// Every unfinished task was blocked with no deadline to wake it.
    Deadlock { blocked: Vec<BlockedTask> },
    /// The execution ran `steps_max` steps without finishing: a livelock, or a limit too low.
    StepLimit { steps_max: u64 },
    /// The model tried to have more than `tasks_max` tasks in one execution.
    TaskLimit { tasks_max: usize },
    /// An observer (invariant checker) rejected the state after a step.
    Invariant { name: String },
    /// The same schedule produced a different trace when run again.
    Nondeterminism { step: u64 },
    /// A replayed schedule did not fit the execution.
    Divergence { step: u64 },
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Panic => f.write_str("panic"),
            FailureKind::Deadlock { .. } => f.write_str("deadlock"),
            FailureKind::StepLimit { steps_max } => {
                write!(f, "step limit of {steps_max} reached (livelock?)")
            }
            FailureKind::TaskLimit { tasks_max } => write!(f, "task limit of {tasks_max} reached"),
            FailureKind::Invariant { name } => write!(f, "invariant '{name}' violated"),
            FailureKind::Nondeterminism { step } => write!(f, "nondeterminism at step {step}"),
            FailureKind::Divergence { step } => write!(f, "replay divergence at step {step}"),
        }
    }
}

/// A task that was blocked when a deadlock was declared, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockedTask {
    pub id: TaskId,
    pub name: String,
    /// The scheduling point it is parked at.
    pub site: Site,
}

/// A failed execution, with its seed, schedule and the end of its trace.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Failure {
    pub kind: FailureKind,
    /// The root seed of the run that found it.
    pub seed: u64,
    /// Which execution of the run failed (from zero).
    pub execution_idx: u64,
    /// Steps the failing execution ran.
    pub steps: u64,
    /// The failing execution's schedule, encoded (see [`Schedule::encode`](crate::Schedule)).
    pub schedule: String,
    /// The last lines of the failing execution's trace, oldest first.
    pub trace_tail: Vec<String>,
    /// What happened, in words (may span lines).
    pub message: String,
    /// The shell command that replays this failure.
    pub replay_command: String,
    /// How the failure was shrunk, when it was: `schedule`, `steps`, the message and the
    /// trace are then the shrunk execution's.
    pub shrunk: Option<Shrunk>,
}

/// How many trace lines a failure keeps.
pub const TRACE_TAIL_LINES: usize = 30;

impl Failure {
    /// The command for a `#[test]` named `test_name` (or a placeholder when unknown).
    pub fn test_replay_command(schedule: &str, test_name: Option<&str>) -> String {
        let test = test_name.unwrap_or("<name of the test>");
        format!("{REPLAY_ENV}={schedule} cargo test {test} -- --exact")
    }

    pub(crate) fn tail_of(trace: &Trace) -> Vec<String> {
        trace.tail(TRACE_TAIL_LINES)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "vigil-sim: {} in execution {} after {} steps (seed {:#x})",
            self.kind, self.execution_idx, self.steps, self.seed
        )?;
        for line in self.message.lines() {
            writeln!(f, "  {line}")?;
        }
        if let Some(shrunk) = &self.shrunk {
            writeln!(f, "{}", shrunk.describe())?;
            writeln!(f, "the bug {}", shrunk.depth())?;
        }
        if !self.trace_tail.is_empty() {
            writeln!(f, "last {} trace events:", self.trace_tail.len())?;
            writeln!(f, "  {}", Trace::header())?;
            for line in &self.trace_tail {
                writeln!(f, "  {line}")?;
            }
        }
        writeln!(f, "replay this execution with:")?;
        write!(f, "  {}", self.replay_command)
    }
}
