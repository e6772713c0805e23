//! The process substrate: vigil's own small subset of an Erlang-style VM.
//!
//! A [`Node`] owns one process table and one runner task that activates processes one message
//! at a time, like a one-thread beamr scheduler. Processes have pids that mean something only
//! on their node, mailboxes, bidirectional links and trap-exit. Terminating a process from the
//! host side propagates its exit reason along its links: a trapping process receives
//! [`Message::Exit`] for every reason (`Normal` included), a non-trapping one dies on any
//! abnormal reason and ignores `Normal`.

mod node;

pub use node::{EXIT_RECORDS_MAX, Node, NodeCensus, NodeView, ProcessContext};

use std::any::Any;
use std::fmt;

/// A process id, meaningful only on the node that issued it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(pub u64);

/// The pid of a participant in a conversation (a worker's backing process).
pub type ParticipantPid = Pid;

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.0)
    }
}

/// Why a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExitReason {
    Normal,
    /// An untrappable kill of the target; it reaches linked processes as `Killed`.
    Kill,
    Killed,
    Error,
    NoConnection,
}

impl ExitReason {
    /// The reason linked processes receive when a process ends with `self`.
    pub fn propagated(self) -> ExitReason {
        match self {
            ExitReason::Kill => ExitReason::Killed,
            other => other,
        }
    }

    pub fn is_normal(self) -> bool {
        self == ExitReason::Normal
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Normal => "normal",
            ExitReason::Kill => "kill",
            ExitReason::Killed => "killed",
            ExitReason::Error => "error",
            ExitReason::NoConnection => "noconnection",
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a process receives.
pub enum Message {
    /// A linked process ended (delivered only to processes that trap exits).
    Exit { from: Pid, reason: ExitReason },
    /// Anything else; behaviours downcast to the types they understand.
    User(Box<dyn Any + Send>),
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Message::Exit { from, reason } => write!(f, "Exit({from}, {reason})"),
            Message::User(_) => f.write_str("User(..)"),
        }
    }
}

/// What a process asks for after handling a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Park until the next message.
    Wait,
    /// End the process with this reason.
    Stop(ExitReason),
}

/// A native process body, activated once per message on the node's runner task.
pub trait Behaviour: Send + 'static {
    fn handle(&mut self, ctx: &ProcessContext<'_>, message: Message) -> Outcome;
}

/// Process-level errors of the substrate.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    #[error("no process {0}: it is unknown or has already exited")]
    NoProc(Pid),
    #[error("node '{0}' is shut down")]
    NodeDown(&'static str),
}

/// The body of a generated worker process: it waits forever and never drains its mailbox.
#[derive(Debug, Default)]
pub struct IdleWorkerProcess;

impl Behaviour for IdleWorkerProcess {
    fn handle(&mut self, _ctx: &ProcessContext<'_>, _message: Message) -> Outcome {
        Outcome::Wait
    }
}

#[cfg(test)]
mod tests;
