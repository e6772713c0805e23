//! Schema-validated pub/sub channels: a lazily spawned channel actor with a fan-out list.
//!
//! `publish` and `subscribe` are synchronous commands to the channel actor. Publishing is a
//! broadcast: every current subscriber's inbox receives a clone of the envelope. A
//! subscription owns a subscriber process; dropping its last handle ends that process, and the
//! trapping channel actor removes it from the fan-out when it handles the exit. Envelopes still
//! queued in a dropped inbox are discarded, never redelivered. A crashed channel actor is
//! respawned by the next command and takes over the fan-out list.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::LiminalError;
use crate::census::{Census, Counted, Token};
use crate::process::{
    Behaviour, ExitReason, IdleWorkerProcess, Message, Node, Outcome, Pid, ProcessContext,
};
use crate::sync::{Mutex, RecvTimeoutError, Sender, channel};

/// How long a command waits for the channel actor, and how often it re-checks liveness.
const COMMAND_LIMIT: Duration = Duration::from_secs(5);
const LIVENESS_POLL: Duration = Duration::from_millis(10);

/// Validates a payload before it is published.
pub trait PayloadSchema: Send + Sync + fmt::Debug + 'static {
    /// A stable identifier recorded on every envelope.
    fn id(&self) -> &str;
    /// `Err(reason)` when the payload does not conform.
    fn check(&self, payload: &[u8]) -> Result<(), String>;
}

/// Whether a channel keeps history; aion uses `Ephemeral` throughout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChannelMode {
    Ephemeral,
    Durable,
}

/// The configuration a channel is built from.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ChannelConfig {
    pub name: String,
    pub schema: Arc<dyn PayloadSchema>,
    pub mode: ChannelMode,
}

impl ChannelConfig {
    pub fn new(name: impl Into<String>, schema: Arc<dyn PayloadSchema>, mode: ChannelMode) -> Self {
        ChannelConfig {
            name: name.into(),
            schema,
            mode,
        }
    }
}

/// One published message as a subscriber receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    /// Sequence number of the message on its channel, from 1.
    pub message_id: u64,
    /// The payload re-serialised as compact JSON.
    pub payload: Vec<u8>,
    pub schema_id: String,
    pub channel: String,
}

type Inbox = Arc<Mutex<VecDeque<Envelope>>>;

/// The fan-out list. It belongs to the channel, not to one actor incarnation, so a channel
/// actor respawned after a crash serves the subscribers its predecessor had.
type FanOut = Arc<Mutex<Vec<FanOutSlot>>>;

/// One subscriber in a fan-out list (counted by the node's census).
struct FanOutSlot {
    pid: Pid,
    inbox: Inbox,
    _counted: Token,
}

/// A handle to a channel; every clone shares one lazily spawned channel actor.
#[derive(Clone)]
pub struct ChannelHandle {
    inner: Arc<HandleInner>,
}

struct HandleInner {
    config: ChannelConfig,
    node: Arc<Node>,
    actor: Mutex<Option<Pid>>,
    subscribers: FanOut,
}

/// A live subscription. Clones share it; the last one dropped ends the subscriber process.
#[derive(Clone)]
pub struct SubscriptionHandle {
    inner: Arc<SubscriptionInner>,
}

struct SubscriptionInner {
    node: Arc<Node>,
    pid: Pid,
    inbox: Inbox,
    /// The channel's fan-out list, so the subscription takes its own slot out when it ends.
    fan_out: FanOut,
    _counted: Token,
}

enum Command {
    Publish {
        payload: Vec<u8>,
        reply: Sender<Result<usize, LiminalError>>,
    },
    Subscribe {
        pid: Pid,
        inbox: Inbox,
        reply: Sender<Result<(), LiminalError>>,
    },
}

struct ChannelActor {
    channel: String,
    schema: Arc<dyn PayloadSchema>,
    subscribers: FanOut,
    census: Arc<Census>,
    next_message_id: u64,
}

impl ChannelHandle {
    /// A handle on `node`. No actor is spawned until the first command.
    pub fn new(config: ChannelConfig, node: Arc<Node>) -> Self {
        ChannelHandle {
            inner: Arc::new(HandleInner {
                config,
                node,
                actor: Mutex::named("channel.actor", None),
                subscribers: Arc::new(Mutex::named("channel.subscribers", Vec::new())),
            }),
        }
    }

    pub fn name(&self) -> &str {
        &self.inner.config.name
    }

    /// The census of the node this channel lives on.
    pub(crate) fn census(&self) -> &Arc<Census> {
        self.inner.node.census()
    }

    /// Subscribers in the fan-out list, without scheduling points (`None` while it is locked).
    pub fn peek_fan_out(&self) -> Option<usize> {
        self.inner.subscribers.peek(Vec::len)
    }

    /// Whether two handles share one channel actor.
    pub fn same_channel(&self, other: &ChannelHandle) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The channel actor's pid, if it has been spawned and is alive.
    pub fn actor_pid(&self) -> Option<Pid> {
        let actor = *self.inner.actor.lock();
        actor.filter(|pid| self.inner.node.is_alive(*pid))
    }

    /// The channel actor's pid without a scheduling point (`None` if never spawned or while
    /// the handle's lock is held), for observers.
    pub fn peek_actor(&self) -> Option<Pid> {
        self.inner.actor.peek(|actor| *actor).flatten()
    }

    /// Validates and broadcasts `payload`; returns how many inboxes received it.
    pub fn publish(&self, payload: &[u8]) -> Result<usize, LiminalError> {
        let (reply, replied) = channel("channel.reply", 1);
        let command = Command::Publish {
            payload: payload.to_vec(),
            reply,
        };
        self.command(command, &replied)?
    }

    /// Spawns a subscriber process and adds it to the channel's fan-out.
    pub fn subscribe(&self) -> Result<SubscriptionHandle, LiminalError> {
        let node = &self.inner.node;
        let pid = node
            .spawn("subscriber", Box::new(IdleWorkerProcess), true)
            .map_err(|error| LiminalError::SubscriptionFailed(error.to_string()))?;
        let subscription = SubscriptionHandle {
            inner: Arc::new(SubscriptionInner {
                node: node.clone(),
                pid,
                inbox: Arc::new(Mutex::named("subscription.inbox", VecDeque::new())),
                fan_out: self.inner.subscribers.clone(),
                _counted: node.census().token(Counted::Subscription),
            }),
        };
        let (reply, replied) = channel("channel.reply", 1);
        let command = Command::Subscribe {
            pid,
            inbox: subscription.inner.inbox.clone(),
            reply,
        };
        self.command(command, &replied)??;
        Ok(subscription)
    }

    /// Sends a command to the (re)spawned actor and waits for the reply within the limit,
    /// re-checking that the actor is alive every poll interval.
    fn command<R>(
        &self,
        command: Command,
        replied: &crate::sync::Receiver<R>,
    ) -> Result<R, LiminalError> {
        let actor = self.ensure_actor()?;
        let node = &self.inner.node;
        if !node.send(actor, Message::User(Box::new(command))) {
            return Err(LiminalError::DeliveryFailed(format!(
                "channel actor for '{}' exited before the command arrived",
                self.name()
            )));
        }
        let polls = COMMAND_LIMIT.as_millis() / LIVENESS_POLL.as_millis();
        for _ in 0..polls {
            match replied.recv_timeout(LIVENESS_POLL) {
                Ok(reply) => return Ok(reply),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) if !node.is_alive(actor) => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        Err(LiminalError::DeliveryFailed(format!(
            "channel actor for '{}' did not answer",
            self.name()
        )))
    }

    /// The live channel actor, spawned on first use or respawned after a crash. A respawned
    /// actor links to every subscriber that is still alive and drops the ones that are not,
    /// so a channel actor crash loses only the messages in flight, never the subscribers.
    fn ensure_actor(&self) -> Result<Pid, LiminalError> {
        let mut actor = self.inner.actor.lock();
        if let Some(pid) = *actor
            && self.inner.node.is_alive(pid)
        {
            return Ok(pid);
        }
        let behaviour = ChannelActor {
            channel: self.inner.config.name.clone(),
            schema: self.inner.config.schema.clone(),
            subscribers: self.inner.subscribers.clone(),
            census: self.inner.node.census().clone(),
            next_message_id: 0,
        };
        let pid = self
            .inner
            .node
            .spawn_shared("channel-actor", Box::new(behaviour), true)
            .map_err(|error| LiminalError::ChannelClosed(error.to_string()))?;
        let node = &self.inner.node;
        self.inner
            .subscribers
            .lock()
            .retain(|slot| node.link(pid, slot.pid).is_ok());
        *actor = Some(pid);
        Ok(pid)
    }
}

impl SubscriptionHandle {
    pub fn pid(&self) -> Pid {
        self.inner.pid
    }

    /// Pops the next envelope without blocking.
    pub fn try_next(&self) -> Option<Envelope> {
        self.inner.inbox.lock().pop_front()
    }
}

impl Drop for SubscriptionInner {
    /// Ends the subscriber process and takes its slot out of the fan-out list. The channel
    /// actor also drops the slot when the subscriber's exit reaches it, but a channel actor
    /// that has crashed hears nothing, and its slots (with their inboxes) stayed until the
    /// next command respawned an actor: the `no-leak` census found this.
    fn drop(&mut self) {
        self.fan_out.lock().retain(|slot| slot.pid != self.pid);
        self.node.terminate(self.pid, ExitReason::Normal);
    }
}

impl ChannelActor {
    fn publish(&mut self, payload: &[u8]) -> Result<usize, LiminalError> {
        self.schema
            .check(payload)
            .map_err(LiminalError::SchemaMismatch)?;
        let normalised = serde_json::from_slice::<serde_json::Value>(payload)
            .map(|value| value.to_string().into_bytes())
            .map_err(|error| LiminalError::SchemaMismatch(error.to_string()))?;
        self.next_message_id += 1;
        let envelope = Envelope {
            message_id: self.next_message_id,
            payload: normalised,
            schema_id: self.schema.id().to_owned(),
            channel: self.channel.clone(),
        };
        let subscribers = self.subscribers.lock();
        for slot in subscribers.iter() {
            slot.inbox.lock().push_back(envelope.clone());
        }
        Ok(subscribers.len())
    }
}

impl ChannelActor {
    fn run_command(&mut self, ctx: &ProcessContext<'_>, command: Command) {
        match command {
            Command::Publish { payload, reply } => {
                let _ = reply.try_send(self.publish(&payload));
            }
            Command::Subscribe { pid, inbox, reply } => {
                let joined = ctx
                    .link(pid)
                    .map_err(|error| LiminalError::SubscriptionFailed(error.to_string()))
                    .and_then(|()| self.join_fan_out(ctx, pid, inbox));
                let _ = reply.try_send(joined);
            }
        }
    }
}

impl ChannelActor {
    /// Adds a linked subscriber to the shared fan-out list, unless this actor was terminated
    /// while it ran the command. A successor actor links to the subscribers on the list when
    /// it is spawned, under the same lock, so a slot pushed by a live actor is always linked
    /// to the successor too. A slot pushed after the actor's death could miss that link,
    /// leaving a subscriber whose exit no actor hears: the `reachable` check found this in
    /// d3-10 with one preemption and one channel fault. Such a subscribe fails instead, as a
    /// command in flight when the actor crashed.
    fn join_fan_out(
        &self,
        ctx: &ProcessContext<'_>,
        pid: Pid,
        inbox: Inbox,
    ) -> Result<(), LiminalError> {
        let mut subscribers = self.subscribers.lock();
        if !ctx.is_alive() {
            return Err(LiminalError::SubscriptionFailed(format!(
                "the channel actor for '{}' exited while subscribing",
                self.channel
            )));
        }
        let _counted = self.census.token(Counted::FanOut);
        subscribers.push(FanOutSlot {
            pid,
            inbox,
            _counted,
        });
        Ok(())
    }
}

impl Behaviour for ChannelActor {
    fn handle(&mut self, ctx: &ProcessContext<'_>, message: Message) -> Outcome {
        match message {
            Message::Exit { from, .. } => {
                self.subscribers.lock().retain(|slot| slot.pid != from);
            }
            Message::User(payload) => {
                if let Ok(command) = payload.downcast::<Command>() {
                    self.run_command(ctx, *command);
                }
            }
        }
        Outcome::Wait
    }
}

impl fmt::Debug for ChannelHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelHandle")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SubscriptionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscriptionHandle")
            .field("pid", &self.inner.pid)
            .finish_non_exhaustive()
    }
}
