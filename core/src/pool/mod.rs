//! The worker pool: workers register on a dispatch channel, a link monitor watches each one,
//! and snapshots list the live workers in registration order (spec sections b.6, c.3–c.12).
//!
//! Ordering invariant ("arm before insert"): a registration arms its crash monitor before its
//! entry is inserted, and every snapshot prunes inactive entries before it reads, so no
//! snapshot ever returns a worker without a live monitor.

mod link;
mod peek;
mod snapshot;

pub use link::{LISTENER_TASK, ListenerView, WorkerLinkMonitor};
pub use snapshot::{DispatchWorker, DispatchWorkerPool};

use snapshot::{CellAllocator, CellRef, EntryView, Roster, Slot};

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::SharedStr;
use crate::aion::{AionSurfaceError, ChannelName, MessageSchema, WorkerCapacity, dispatch_channel};
use crate::census::{Counted, Token};
use crate::channel::SubscriptionHandle;
use crate::channel::{ChannelConfig, ChannelHandle, ChannelMode, Envelope, PayloadSchema};
use crate::conversation::ConversationSupervisor;
use crate::process::{ExitReason, IdleWorkerProcess, ParticipantPid};
use crate::rt;
use crate::sync::{AtomicU64, Mutex, OnceCell, Ordering};

/// Every scheduling-point name the pool and its substrate use: the named pool steps first,
/// then the shared objects. Faults and delays may target any of them; renaming one breaks
/// scenario files and recorded schedules that mention it.
pub const SITE_NAMES: &[&str] = &[
    "pool.session",
    "pool.subscribe",
    "monitor.arm",
    "monitor.notify",
    "pool.insert",
    "pool.unregister",
    "listener.teardown",
    "pool.channels",
    "pool.next_worker",
    "pool.supervisor",
    "entry.subscription",
    "entry.in_flight",
    "entry.active",
    "pool.listener",
    "listener.watches",
    "monitor.exit",
    "actor.state",
    "actor.notifiers",
    "actor.close",
    "node.table",
    "node.doorbell",
    "channel.actor",
    "channel.subscribers",
    "channel.reply",
    "subscription.inbox",
    "routing.slot",
    "conversation.inbox",
    "worker.inbox",
    "dispatch.doorbell",
    "recorder.operations",
    "recorder.outcomes",
    "recorder.replaying",
    "thread",
    "sleep",
];

/// A shared handle to one pool; clones share the same channels, counter and supervisor.
#[derive(Clone)]
pub struct WorkerContext {
    inner: Arc<WorkerContextInner>,
}

/// The spec's second name for [`WorkerContext`].
pub type WorkerPool = WorkerContext;

struct WorkerContextInner {
    channels: Mutex<BTreeMap<String, ChannelState>>,
    next_worker: AtomicU64,
    /// Numbers registrations. An identity, not shared state anyone waits on or branches on,
    /// so a plain `std` atomic rather than a scheduling point.
    next_registration: std::sync::atomic::AtomicU64,
    supervisor: OnceCell<ConversationSupervisor>,
    /// The one task that handles every monitor's exit notice, spawned with the first monitor
    /// and stopped when the last handle to the context goes.
    listener: OnceCell<link::Listener>,
}

impl Drop for WorkerContextInner {
    fn drop(&mut self) {
        if let Some(listener) = self.listener.take() {
            listener.stop();
        }
    }
}

/// Which registration an entry belongs to: unique within one context, in the order the
/// registrations began. Worker ids may repeat (a restarted worker registers again under its
/// old id while its previous registration is still leaving); registration ids never do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RegistrationId(pub u64);

impl fmt::Display for RegistrationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "r{}", self.0)
    }
}

/// One dispatch channel of a context: its session and its workers, in registration order.
struct ChannelState {
    session: ChannelSession,
    entries: Roster,
    /// Where the channel's registrations get their snapshot cells.
    cells: CellAllocator,
}

/// Wraps the single channel handle every registration on a channel subscribes through.
#[derive(Clone)]
struct ChannelSession {
    handle: ChannelHandle,
}

/// One registered worker. Only its [`WorkerRegistration`] owns it strongly; the channel's
/// list holds its [`EntryView`] (what snapshots read) strongly and the entry itself weakly.
pub(crate) struct WorkerEntry {
    registration: RegistrationId,
    channel_name: ChannelName,
    capacity: WorkerCapacity,
    subscription: Mutex<Option<SubscriptionHandle>>,
    /// Id, participant, limit, tags, in-flight count and active flag.
    view: EntryView,
    _counted: Token,
}

/// Keeps one worker registered while it is owned. Not `Clone`.
pub struct WorkerRegistration {
    context: WorkerContext,
    entry: Arc<WorkerEntry>,
    link_monitor: Option<WorkerLinkMonitor>,
}

fn lifecycle_error(channel: &ChannelName, message: impl fmt::Display) -> AionSurfaceError {
    AionSurfaceError::ChannelLifecycleError {
        channel_name: channel.to_string(),
        message: message.to_string(),
    }
}

impl PayloadSchema for MessageSchema {
    fn id(&self) -> &str {
        MessageSchema::id(self)
    }

    fn check(&self, payload: &[u8]) -> Result<(), String> {
        self.validate(payload).map_err(|error| error.to_string())
    }
}

impl WorkerContext {
    /// An empty pool: no channels, counter at 0, no supervisor. Spawns nothing.
    pub fn new() -> Self {
        WorkerContext {
            inner: Arc::new(WorkerContextInner {
                channels: Mutex::named("pool.channels", BTreeMap::new()),
                next_worker: AtomicU64::named("pool.next_worker", 0),
                next_registration: std::sync::atomic::AtomicU64::new(0),
                supervisor: OnceCell::named("pool.supervisor"),
                listener: OnceCell::named("pool.listener"),
            }),
        }
    }

    /// The context's supervisor, created on first use. Two first callers may both build one;
    /// the first stored wins and the loser's is dropped, so every pid of a context lives on
    /// one node.
    pub fn supervisor_for(
        &self,
        channel: &ChannelName,
    ) -> Result<ConversationSupervisor, AionSurfaceError> {
        if let Some(supervisor) = self.inner.supervisor.get() {
            return Ok(supervisor.clone());
        }
        let fresh = ConversationSupervisor::new();
        let _ = self.inner.supervisor.set(fresh);
        self.inner
            .supervisor
            .get()
            .cloned()
            .ok_or_else(|| lifecycle_error(channel, "worker process supervisor unavailable"))
    }

    /// Registers a worker backed by a new idle process that this context owns and ends on
    /// unregister.
    pub fn register_worker(
        &self,
        namespace: &str,
        task_queue: &str,
        capacity: WorkerCapacity,
    ) -> Result<WorkerRegistration, AionSurfaceError> {
        self.register_owned_worker(
            namespace,
            task_queue,
            capacity,
            "idle-worker",
            Box::new(IdleWorkerProcess),
        )
    }

    /// Registers a worker backed by a caller-supplied process, which must live on this
    /// context's supervisor node. The context never ends that process.
    pub fn register_worker_with_participant(
        &self,
        namespace: &str,
        task_queue: &str,
        worker_id: impl Into<String>,
        participant: ParticipantPid,
        capacity: WorkerCapacity,
    ) -> Result<WorkerRegistration, AionSurfaceError> {
        let channel = dispatch_channel(namespace, task_queue)?;
        self.register_worker_on_channel(channel, worker_id.into(), participant, capacity, None)
    }

    /// Registers a worker backed by a new process running `behaviour`, owned by this context
    /// and ended on unregister, as [`register_worker`](Self::register_worker) does with an idle
    /// process. Dispatch workers use it for the process that takes their requests.
    pub(crate) fn register_worker_running(
        &self,
        namespace: &str,
        task_queue: &str,
        capacity: WorkerCapacity,
        behaviour: Box<dyn crate::process::Behaviour>,
    ) -> Result<WorkerRegistration, AionSurfaceError> {
        self.register_owned_worker(
            namespace,
            task_queue,
            capacity,
            "dispatch-worker",
            behaviour,
        )
    }

    /// Spawns the worker's process (named `process_name`), registers it, and ends the process
    /// again if the registration fails.
    fn register_owned_worker(
        &self,
        namespace: &str,
        task_queue: &str,
        capacity: WorkerCapacity,
        process_name: &'static str,
        behaviour: Box<dyn crate::process::Behaviour>,
    ) -> Result<WorkerRegistration, AionSurfaceError> {
        let channel = dispatch_channel(namespace, task_queue)?;
        let seq = self
            .inner
            .next_worker
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        let supervisor = self.supervisor_for(&channel)?;
        let participant = supervisor
            .node()
            .spawn(process_name, behaviour, false)
            .map_err(|error| lifecycle_error(&channel, error))?;
        let registered = self.register_worker_on_channel(
            channel,
            format!("worker-{seq}"),
            participant,
            capacity,
            Some(participant),
        );
        if registered.is_err() {
            // Closes a gap of the original: a registration that failed before its monitor
            // existed leaked the process it had spawned.
            supervisor.node().terminate(participant, ExitReason::Normal);
        }
        registered
    }

    /// The shared registration path: session, subscribe, arm the monitor, then insert.
    fn register_worker_on_channel(
        &self,
        channel: ChannelName,
        worker_id: String,
        participant: ParticipantPid,
        capacity: WorkerCapacity,
        owned_participant: Option<ParticipantPid>,
    ) -> Result<WorkerRegistration, AionSurfaceError> {
        let (session, cell) = self.session_for(&channel)?;
        rt::step("pool.subscribe");
        let subscription = session
            .handle
            .subscribe()
            .map_err(|error| lifecycle_error(&channel, error))?;
        let registration = RegistrationId(
            self.inner
                .next_registration
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1,
        );
        let entry = Arc::new(WorkerEntry {
            registration,
            channel_name: channel.clone(),
            view: EntryView::new(cell, SharedStr::from(worker_id), participant, &capacity),
            capacity,
            subscription: Mutex::named("entry.subscription", Some(subscription)),
            _counted: session.handle.census().token(Counted::Entry),
        });
        rt::step("monitor.arm");
        let link_monitor =
            link::monitor_worker_process(self, &channel, participant, &entry, owned_participant)?;
        rt::step("pool.insert");
        self.insert_entry(&channel, &entry)?;
        Ok(WorkerRegistration {
            context: self.clone(),
            entry,
            link_monitor: Some(link_monitor),
        })
    }

    /// Looks up the channel's session, creating it outside the lock on first use and keeping
    /// whichever session was stored first if two registrations race; and, under the same
    /// lock, takes the registration's snapshot cell.
    fn session_for(
        &self,
        channel: &ChannelName,
    ) -> Result<(ChannelSession, CellRef), AionSurfaceError> {
        if let Some(state) = self.inner.channels.lock().get_mut(channel.as_str()) {
            return Ok((state.session.clone(), state.cells.take()));
        }
        let node = self.supervisor_for(channel)?.node().clone();
        let config = ChannelConfig::new(
            channel.as_str(),
            Arc::new(MessageSchema::request()),
            ChannelMode::Ephemeral,
        );
        let fresh = ChannelSession {
            handle: ChannelHandle::new(config, node),
        };
        rt::step("pool.session");
        let mut channels = self.inner.channels.lock();
        let state = channels
            .entry(channel.as_str().to_owned())
            .or_insert_with(|| ChannelState {
                session: fresh,
                entries: Roster::default(),
                cells: CellAllocator::default(),
            });
        Ok((state.session.clone(), state.cells.take()))
    }

    fn insert_entry(
        &self,
        channel: &ChannelName,
        entry: &Arc<WorkerEntry>,
    ) -> Result<(), AionSurfaceError> {
        let mut channels = self.inner.channels.lock();
        let state = channels
            .get_mut(channel.as_str())
            .ok_or_else(|| lifecycle_error(channel, "dispatch channel missing"))?;
        state.entries.push(Slot::new(entry));
        Ok(())
    }

    /// Tells `channel`'s list that an entry has become inactive; the list prunes once enough
    /// have (see [`Roster`]). Snapshots skip inactive entries whether pruned or not.
    pub(crate) fn remove_inactive(&self, channel: &ChannelName) {
        if let Some(state) = self.inner.channels.lock().get_mut(channel.as_str()) {
            state.remove_inactive();
        }
    }

    /// A fresh snapshot of the live workers on `channel`, in registration order; inactive
    /// entries are left out and pruned. An unknown channel gives an empty list. Full workers
    /// are still listed. See `snapshot.rs` for how this differs from the original algorithm.
    pub fn workers_for_channel(
        &self,
        channel: &ChannelName,
    ) -> Result<Vec<DispatchWorker>, AionSurfaceError> {
        let mut channels = self.inner.channels.lock();
        let Some(state) = channels.get_mut(channel.as_str()) else {
            return Ok(Vec::new());
        };
        Ok(state.entries.snapshot())
    }

    /// The channel handle workers on `channel` subscribe through, if the channel exists.
    pub fn channel_handle(&self, channel: &ChannelName) -> Option<ChannelHandle> {
        let channels = self.inner.channels.lock();
        channels
            .get(channel.as_str())
            .map(|state| state.session.handle.clone())
    }

    /// The supervisor, if one was created, without a scheduling point (for observers).
    pub fn peek_supervisor(&self) -> Option<&ConversationSupervisor> {
        self.inner.supervisor.peek()
    }

    /// The context's listener, once the first monitor spawned it, without scheduling points
    /// (for observers and the simulator's fault source).
    pub fn peek_listener(&self) -> Option<ListenerView> {
        self.inner.listener.peek().map(link::Listener::view)
    }

    /// Whether two handles share one pool.
    pub fn same_pool(&self, other: &WorkerContext) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// One channel as an observer sees it between steps.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeekedChannel {
    pub name: String,
    /// The channel actor's pid, if one was spawned (it may have exited since).
    pub actor: Option<crate::process::Pid>,
    /// Subscribers in the channel's fan-out list (`None` while that list is locked).
    pub fan_out: Option<usize>,
    /// Entries in vector order; `None` where the weak pointer no longer upgrades.
    pub entries: Vec<Option<PeekedEntry>>,
}

/// One entry as an observer sees it between steps.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeekedEntry {
    pub registration: RegistrationId,
    pub worker_id: String,
    pub participant: ParticipantPid,
    pub active: bool,
    pub in_flight: u32,
    /// The subscriber process while the subscription is held (`None` once dropped, or
    /// while its lock is held).
    pub subscriber: Option<crate::process::Pid>,
}

impl Default for WorkerContext {
    fn default() -> Self {
        WorkerContext::new()
    }
}

impl ChannelState {
    /// Counts one more inactive entry, pruning when enough are (see [`Roster`]).
    fn remove_inactive(&mut self) {
        self.entries.remove_inactive();
    }
}

impl DispatchWorkerPool for WorkerContext {
    fn workers_for(
        &self,
        channel: &ChannelName,
        _request: &crate::aion::ActivityRequest,
    ) -> Result<Vec<DispatchWorker>, AionSurfaceError> {
        self.workers_for_channel(channel)
    }
}

/// The process-wide default context (one per execution under simulation).
pub fn default_worker_context() -> WorkerContext {
    let scheduler = rt::current();
    let slot = scheduler.globals().get_or_init(WorkerContext::new);
    (*slot).clone()
}

/// Registers a generated worker on [`default_worker_context`].
pub fn register_worker(
    namespace: &str,
    task_queue: &str,
    capacity: WorkerCapacity,
) -> Result<WorkerRegistration, AionSurfaceError> {
    default_worker_context().register_worker(namespace, task_queue, capacity)
}

impl WorkerEntry {
    /// Drops the subscription, which ends the subscriber process.
    fn drop_subscription(&self) {
        let subscription = self.subscription.lock().take();
        drop(subscription);
    }
}

impl Drop for WorkerEntry {
    /// The channel holds the entry's view strongly, so a dropped entry must not look active.
    /// Every teardown clears `active` before the entry can drop, so this store (a scheduling
    /// point) never runs in practice; it keeps "active" meaning "still owned" regardless.
    fn drop(&mut self) {
        if self.view.active().peek() {
            self.view.active().store(false, Ordering::Release);
        }
    }
}

impl WorkerRegistration {
    /// This registration's identity within its context (unlike the worker id, never reused).
    pub fn id(&self) -> RegistrationId {
        self.entry.registration
    }

    pub fn worker_id(&self) -> &str {
        &self.entry.view.worker_id
    }

    pub fn channel_name(&self) -> &ChannelName {
        &self.entry.channel_name
    }

    pub fn participant(&self) -> ParticipantPid {
        self.entry.view.participant
    }

    pub fn capacity(&self) -> &WorkerCapacity {
        &self.entry.capacity
    }

    pub fn current_in_flight(&self) -> u32 {
        self.entry.view.in_flight().load(Ordering::Acquire)
    }

    /// Stores an absolute in-flight count; values above the capacity are accepted.
    pub fn set_in_flight(&self, in_flight: u32) {
        self.entry
            .view
            .in_flight()
            .store(in_flight, Ordering::Release);
    }

    /// Pops the next message published to this worker, or `None` when there is none or the
    /// subscription is already gone (after a crash or unregister).
    pub fn try_next(&self) -> Result<Option<Envelope>, AionSurfaceError> {
        let subscription = self.entry.subscription.lock();
        Ok(subscription.as_ref().and_then(SubscriptionHandle::try_next))
    }

    /// A handle on this worker's in-flight count for the loop that serves its requests.
    pub(crate) fn in_flight_counter(&self) -> InFlightCounter {
        InFlightCounter {
            entry: self.entry.clone(),
        }
    }

    /// Whether the link monitor still considers the worker live (for observers).
    pub fn is_active(&self) -> bool {
        self.entry.view.active().peek()
    }

    /// Leaves the pool: deactivate, prune, drop the subscription, then stop the monitor.
    pub fn unregister(mut self) -> Result<(), AionSurfaceError> {
        self.teardown();
        Ok(())
    }

    fn teardown(&mut self) {
        rt::step("pool.unregister");
        self.entry.view.active().store(false, Ordering::Release);
        self.context.remove_inactive(&self.entry.channel_name);
        self.entry.drop_subscription();
        if let Some(mut monitor) = self.link_monitor.take() {
            monitor.shutdown();
        }
    }
}

/// Counts the requests a worker loop has accepted and not yet answered, on the same cell
/// snapshots read. Holding it keeps the entry (not the registration) alive.
pub(crate) struct InFlightCounter {
    entry: Arc<WorkerEntry>,
}

impl InFlightCounter {
    /// One more request accepted.
    pub(crate) fn accept(&self) {
        self.entry.view.in_flight().fetch_add(1, Ordering::AcqRel);
    }

    /// One request answered. Saturates at 0: `set_in_flight` may have stored a lower value
    /// meanwhile, and the count must not wrap.
    pub(crate) fn answer(&self) {
        let counter = self.entry.view.in_flight();
        let mut current = counter.load(Ordering::Acquire);
        while current > 0 {
            match counter.compare_exchange(
                current,
                current - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }
}

impl Drop for WorkerRegistration {
    fn drop(&mut self) {
        if self.link_monitor.is_some() {
            self.teardown();
        }
    }
}

impl fmt::Debug for WorkerRegistration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerRegistration")
            .field("worker_id", &self.entry.view.worker_id)
            .field("channel_name", &self.entry.channel_name)
            .field("participant", &self.entry.view.participant)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for WorkerContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerContext").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
