//! Conversation actors: the per-worker monitor that records participant deaths.
//!
//! A [`ConversationSupervisor`] owns a [`Node`]. Spawning a conversation starts a trapping
//! actor process and boots it synchronously, which links it to every participant. When a
//! linked participant ends, for any reason, the actor records it as dead and wakes every
//! notifier registered for it. Registration and exit handling take the same state lock, so a
//! notifier registered after the death is answered at once: exactly one wakeup per
//! registration, however the two are ordered.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::LiminalError;
use crate::census::{Census, Counted, Token};
use crate::process::{
    Behaviour, ExitReason, Message, Node, Outcome, ParticipantPid, Pid, ProcessContext,
    ProcessError,
};
use crate::rt::{self, Instant};
use crate::sync::{Mutex, Sender, channel};

/// What a conversation does when a participant crashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CrashPolicy {
    Fail,
    RouteToNext,
    Compensate,
}

/// How a conversation is set up.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConversationConfig {
    pub participants: Vec<ParticipantPid>,
    pub on_crash: CrashPolicy,
}

impl ConversationConfig {
    pub fn new(participants: Vec<ParticipantPid>, on_crash: CrashPolicy) -> Self {
        ConversationConfig {
            participants,
            on_crash,
        }
    }
}

/// Where a conversation is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConversationPhase {
    Created,
    Active,
    Completing,
    Closed,
    Failed,
}

/// A participant's liveness as the actor last saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParticipantStatus {
    Alive,
    Dead {
        exited_at: Instant,
        reason: ExitReason,
    },
}

/// Owns the node on which workers and their monitor actors live. Clones share the node.
#[derive(Clone)]
pub struct ConversationSupervisor {
    node: Arc<Node>,
}

struct ActorCore {
    config: ConversationConfig,
    state: Mutex<ActorState>,
    notifiers: Mutex<Vec<Notifier>>,
    census: Arc<Census>,
}

/// A registered exit notifier, counted by the node's census until it is woken or dropped.
struct Notifier {
    participant: Pid,
    tx: Sender<ExitNotice>,
    key: u64,
    _counted: Token,
}

/// What an actor tells an exit notifier. `key` is the value the notifier was registered
/// with, so one channel can serve the notifiers of many actors (the pool's listener).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitNotice {
    /// The participant exited at `at`.
    Exited { key: u64, at: Instant },
    /// The actor's process ended without being closed, before the participant exited:
    /// nothing will report that exit any more.
    Ended { key: u64 },
}

impl ExitNotice {
    /// The key the notifier was registered with.
    pub fn key(self) -> u64 {
        match self {
            ExitNotice::Exited { key, .. } | ExitNotice::Ended { key } => key,
        }
    }
}

struct ActorState {
    phase: ConversationPhase,
    /// The actor's process has ended; nothing will ever report exits again.
    ended: bool,
    participants: BTreeMap<Pid, ParticipantStatus>,
}

/// A handle to one conversation actor. Dropping it does not stop the actor; `close` does.
pub struct ConversationActor {
    node: Arc<Node>,
    pid: Pid,
    core: Arc<ActorCore>,
}

struct Close {
    /// Where a synchronous [`ConversationActor::close`] waits for the answer.
    reply: Option<Sender<()>>,
}

struct ActorProcess {
    core: Arc<ActorCore>,
}

impl ConversationSupervisor {
    pub fn new() -> Self {
        ConversationSupervisor {
            node: Arc::new(Node::new("conversation")),
        }
    }

    /// The node all of this supervisor's pids live on.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// Spawns a trapping actor and boots it: it links to every participant. A participant
    /// that is already gone fails the spawn with `ParticipantCrashed`, and the half-booted
    /// actor process is ended so nothing is left behind.
    pub fn spawn(&self, config: ConversationConfig) -> Result<ConversationActor, LiminalError> {
        let core = Arc::new(ActorCore {
            state: Mutex::named(
                "actor.state",
                ActorState {
                    phase: ConversationPhase::Created,
                    ended: false,
                    participants: config
                        .participants
                        .iter()
                        .map(|pid| (*pid, ParticipantStatus::Alive))
                        .collect(),
                },
            ),
            notifiers: Mutex::named("actor.notifiers", Vec::new()),
            census: self.node.census().clone(),
            config,
        });
        let process = Box::new(ActorProcess { core: core.clone() });
        let pid = self
            .node
            .spawn_linked(
                "conversation-actor",
                process,
                true,
                &core.config.participants,
            )
            .map_err(|error| match error {
                ProcessError::NoProc(_) => LiminalError::ParticipantCrashed(error.to_string()),
                ProcessError::NodeDown(_) => LiminalError::SpawnFailed(error.to_string()),
            })?;
        core.state.lock().phase = ConversationPhase::Active;
        Ok(ConversationActor {
            node: self.node.clone(),
            pid,
            core,
        })
    }
}

impl Default for ConversationSupervisor {
    fn default() -> Self {
        ConversationSupervisor::new()
    }
}

impl ConversationActor {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    pub fn phase(&self) -> ConversationPhase {
        self.core.state.lock().phase
    }

    pub fn participant_status(&self, participant: Pid) -> Option<ParticipantStatus> {
        self.core
            .state
            .lock()
            .participants
            .get(&participant)
            .copied()
    }

    /// Sends [`ExitNotice::Exited`] with `key` on `tx` when `participant` dies, or at once if
    /// it is already recorded dead; [`ExitNotice::Ended`] if the actor ends unasked first. The
    /// channel needs room for every notice it may be sent (the actor only `try_send`s), so
    /// the wakeup is buffered even when nobody is receiving yet.
    pub fn notify_on_participant_exit(
        &self,
        participant: Pid,
        tx: Sender<ExitNotice>,
        key: u64,
    ) -> Result<(), LiminalError> {
        let state = self.core.state.lock();
        if state.ended {
            return Err(LiminalError::ConversationFailed(format!(
                "conversation actor {} has ended and can no longer report exits",
                self.pid
            )));
        }
        match state.participants.get(&participant) {
            None => Err(LiminalError::ConversationFailed(format!(
                "{participant} is not a participant of conversation {}",
                self.pid
            ))),
            Some(ParticipantStatus::Dead { exited_at, .. }) => {
                let _ = tx.try_send(ExitNotice::Exited {
                    key,
                    at: *exited_at,
                });
                Ok(())
            }
            Some(ParticipantStatus::Alive) => {
                let _counted = self.core.census.token(Counted::Notifier);
                self.core.notifiers.lock().push(Notifier {
                    participant,
                    tx,
                    key,
                    _counted,
                });
                Ok(())
            }
        }
    }

    /// Closes the conversation synchronously: the actor moves to Closed, replies, then ends
    /// normally. Closing an actor whose process is already gone succeeds without effect.
    pub fn close(&self) -> Result<(), LiminalError> {
        let (reply, replied) = channel("actor.close", 1);
        let request = Message::User(Box::new(Close { reply: Some(reply) }));
        if !self.node.send(self.pid, request) {
            return Ok(());
        }
        // The actor either replies or dies (dropping the request and its sender) first.
        let _ = replied.recv();
        Ok(())
    }
}

impl ConversationActor {
    /// Asks the actor to close and returns without waiting. A process handles its mailbox in
    /// order, so the actor closes before it handles anything sent to it after this call:
    /// an exit that the caller causes next (ending a participant) reaches a closed actor,
    /// which no longer reports it. Closing an actor whose process is gone does nothing.
    pub fn request_close(&self) {
        let request = Message::User(Box::new(Close { reply: None }));
        self.node.send(self.pid, request);
    }
}

impl ActorCore {
    fn handle_participant_exit(&self, participant: Pid, reason: ExitReason) {
        let woken = {
            let mut state = self.state.lock();
            let Some(status) = state.participants.get_mut(&participant) else {
                return;
            };
            let exited_at = rt::now();
            *status = ParticipantStatus::Dead { exited_at, reason };
            if self.config.on_crash == CrashPolicy::Fail {
                state.phase = ConversationPhase::Failed;
            }
            let mut notifiers = self.notifiers.lock();
            let (woken, kept): (Vec<_>, Vec<_>) = notifiers
                .drain(..)
                .partition(|notifier| notifier.participant == participant);
            *notifiers = kept;
            drop(notifiers);
            (exited_at, woken)
        };
        let (exited_at, woken) = woken;
        for notifier in woken {
            let _ = notifier.tx.try_send(ExitNotice::Exited {
                key: notifier.key,
                at: exited_at,
            });
        }
    }
}

impl Behaviour for ActorProcess {
    fn handle(&mut self, _ctx: &ProcessContext<'_>, message: Message) -> Outcome {
        match message {
            Message::Exit { from, reason } => {
                self.core.handle_participant_exit(from, reason);
                Outcome::Wait
            }
            Message::User(payload) => match payload.downcast::<Close>() {
                Ok(close) => {
                    self.core.state.lock().phase = ConversationPhase::Closed;
                    if let Some(reply) = &close.reply {
                        let _ = reply.send(());
                    }
                    Outcome::Stop(ExitReason::Normal)
                }
                Err(_) => Outcome::Wait,
            },
        }
    }
}

impl Drop for ActorProcess {
    /// The actor process has ended (closed, crashed or killed): mark it ended, so later
    /// registrations fail instead of waiting on it, and take every exit notifier out of the
    /// core. Handles to the actor may keep its core alive, so notifiers left in it would keep
    /// their listeners waiting forever on an actor that can no longer report anything. Both
    /// were found by the simulation (see `scenarios/regressions/crashed-monitor-noticed.toml`).
    /// An actor that ended unasked tells each notifier so ([`ExitNotice::Ended`]); a closed
    /// one drops them quietly: whoever closed it stopped listening first.
    fn drop(&mut self) {
        let mut state = self.core.state.lock();
        state.ended = true;
        let closed = state.phase == ConversationPhase::Closed;
        if !closed {
            state.phase = ConversationPhase::Failed;
        }
        // Same lock order as registration and exit handling: state, then notifiers.
        let notifiers = std::mem::take(&mut *self.core.notifiers.lock());
        drop(state);
        for notifier in notifiers {
            if !closed {
                let _ = notifier
                    .tx
                    .try_send(ExitNotice::Ended { key: notifier.key });
            }
        }
    }
}

impl fmt::Debug for ConversationSupervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConversationSupervisor")
            .field("node", &self.node)
            .finish()
    }
}

impl fmt::Debug for ConversationActor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConversationActor")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}
