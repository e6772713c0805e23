//! The link monitor: a conversation actor linked to each worker's process, and one listener
//! task per context that removes a worker from the pool when its actor reports the exit.
//!
//! Every monitor of a context registers its exit notifier on the same channel, keyed by the
//! worker's [`RegistrationId`](super::RegistrationId), and the context's listener is the one
//! receiver. The listener parks with no deadline: it wakes for a notice (an exit, or an actor
//! that ended unasked) or for the hang-up the context sends when its last handle goes. A
//! registration therefore spawns no thread and a teardown joins none; an idle pool costs no
//! CPU. See `ARCHITECTURE.md`, "One listener per context".

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Weak};

use super::{RegistrationId, WorkerContext, WorkerContextInner, WorkerEntry, lifecycle_error};
use crate::aion::{AionSurfaceError, ChannelName};
use crate::conversation::{
    ConversationActor, ConversationConfig, ConversationSupervisor, CrashPolicy, ExitNotice,
};
use crate::process::{ExitReason, ParticipantPid};
use crate::rt::{self, TaskId};
use crate::sync::{self, HangUp, Mutex, Ordering, Receiver, Sender};
use crate::thread::{self, JoinHandle};

/// The name of a context's listener task.
pub const LISTENER_TASK: &str = "aion-worker-link-listener";

/// The listener's queue holds at most one exit and one end notice per watched worker, and
/// the actors only `try_send`: a full queue would lose a crash, so the bound is the address
/// space rather than a guess at the pool's size.
const NOTICES_MAX: usize = usize::MAX;

/// A context's listener task and the handles that feed and stop it.
pub(super) struct Listener {
    watches: Arc<Watches>,
    notices: Sender<ExitNotice>,
    hang_up: HangUp<ExitNotice>,
    task: Option<JoinHandle<()>>,
    task_id: TaskId,
}

/// What the listener task shares with the monitors of its context.
pub(super) struct Watches {
    /// The registrations the listener acts for, by registration id. A monitor's shutdown
    /// takes its own out; the listener takes one out when it handles its exit, and holds the
    /// lock while it tears that worker down, so a shutdown that finds its registration gone
    /// knows no teardown of it is running or will run.
    entries: Mutex<BTreeMap<u64, Weak<WorkerEntry>>>,
    context: Weak<WorkerContextInner>,
    /// The registration whose exit the listener is tearing down (0: none). An identity for
    /// observers, written only by the listener, so a plain `std` atomic and no scheduling
    /// point.
    handling: std::sync::atomic::AtomicU64,
}

/// What an observer may know about a context's listener between steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListenerView {
    /// The listener task.
    pub task: TaskId,
    /// The registration whose exit it is tearing down right now, if any.
    pub handling: Option<RegistrationId>,
}

impl Listener {
    /// Spawns the listener task of `context`.
    pub(super) fn spawn(context: &Arc<WorkerContextInner>) -> Listener {
        let (notices, receiver) = sync::channel("monitor.exit", NOTICES_MAX);
        let watches = Arc::new(Watches {
            entries: Mutex::named("listener.watches", BTreeMap::new()),
            context: Arc::downgrade(context),
            handling: std::sync::atomic::AtomicU64::new(0),
        });
        let hang_up = receiver.hang_up_handle();
        let task = {
            let watches = watches.clone();
            thread::spawn(LISTENER_TASK, move || listen(&watches, &receiver))
        };
        Listener {
            watches,
            notices,
            hang_up,
            task_id: task.id(),
            task: Some(task),
        }
    }

    pub(super) fn view(&self) -> ListenerView {
        let handling = self
            .watches
            .handling
            .load(std::sync::atomic::Ordering::Relaxed);
        ListenerView {
            task: self.task_id,
            handling: (handling != 0).then_some(RegistrationId(handling)),
        }
    }

    /// Ends the listener: it drains what is queued (for workers nobody watches any more, so
    /// it changes nothing) and returns. Joined unless this is the listener itself, which may
    /// drop the context's last handle at the end of a teardown.
    pub(super) fn stop(mut self) {
        self.hang_up.hang_up();
        if let Some(task) = self.task.take()
            && rt::current().current() != self.task_id
        {
            let _ = task.join();
        }
    }
}

/// The listener body: handle each notice as it comes, until the context hangs up.
///
/// A panic (an injected fault, or a bug) must not stop the monitoring of every other worker
/// of the context, so each wait and each notice runs under `catch_unwind`; a panic is
/// reported to the scheduler (`Scheduler::task_panicked`, which fails a simulated run unless
/// the panic was injected) and the listener carries on.
fn listen(watches: &Watches, notices: &Receiver<ExitNotice>) {
    loop {
        let notice = match panic::catch_unwind(AssertUnwindSafe(|| notices.recv())) {
            Ok(Ok(notice)) => notice,
            Ok(Err(_hung_up)) => return,
            Err(payload) => {
                report(payload.as_ref());
                continue;
            }
        };
        // A panic before the registration was taken out of `entries` changed nothing, so the
        // notice is handled once more; after it, `handle` has finished the teardown itself.
        if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(|| watches.handle(notice))) {
            report(payload.as_ref());
            if let Err(again) = panic::catch_unwind(AssertUnwindSafe(|| watches.handle(notice))) {
                report(again.as_ref());
            }
        }
    }
}

fn report(payload: &(dyn Any + Send)) {
    let scheduler = rt::current();
    scheduler.task_panicked(scheduler.current(), &thread::panic_message(payload));
}

impl Watches {
    /// Starts acting for `entry`: from now on its exit removes it.
    fn watch(&self, key: u64, entry: Weak<WorkerEntry>) {
        self.entries.lock().insert(key, entry);
    }

    /// Stops acting for `key`. When this returns, no teardown of that worker by the listener
    /// is running, and none will start.
    fn unwatch(&self, key: u64) {
        self.entries.lock().remove(&key);
    }

    /// Handles one notice. Both kinds mean the same: the worker exited, or the actor that
    /// would have reported the exit ended unasked (crash detection is lost; the original kept
    /// such a worker, vigil removes it, because a worker nobody watches must not stay
    /// eligible). A notice for a registration no longer watched (stopped, or handled) is
    /// dropped: that is how a graceful stop is never seen as a crash.
    fn handle(&self, notice: ExitNotice) {
        let key = notice.key();
        let mut entries = self.entries.lock();
        let Some(entry) = entries.remove(&key) else {
            return;
        };
        self.handling
            .store(key, std::sync::atomic::Ordering::Relaxed);
        // Every step of the teardown is idempotent, so a teardown cut short by a panic is
        // simply run again, still under the lock: a worker left half torn down would stay
        // eligible for ever.
        let torn = panic::catch_unwind(AssertUnwindSafe(|| self.teardown(&entry)));
        if let Err(payload) = torn {
            report(payload.as_ref());
            self.teardown(&entry);
        }
        self.handling.store(0, std::sync::atomic::Ordering::Relaxed);
        drop(entries);
    }

    /// Removes a crashed worker: drop its subscription, deactivate it, prune the channel.
    fn teardown(&self, entry: &Weak<WorkerEntry>) {
        rt::step("listener.teardown");
        if let Some(entry) = entry.upgrade() {
            entry.drop_subscription();
            entry.view.active().store(false, Ordering::Release);
            if let Some(context) = self.context.upgrade() {
                WorkerContext { inner: context }.remove_inactive(&entry.channel_name);
            }
        }
    }
}

/// Watches one worker's process for as long as it is owned.
pub struct WorkerLinkMonitor {
    supervisor: ConversationSupervisor,
    actor: Option<ConversationActor>,
    /// The context listener's watch list, while this monitor is in it.
    watches: Option<Arc<Watches>>,
    key: u64,
    owned_participant: Option<ParticipantPid>,
}

/// Arms crash detection for `participant`: boot a monitor actor linked to it, put the entry
/// on the context listener's watch list, then register the exit notifier. In that order, an
/// exit reported at once (the participant died already) finds the entry watched.
pub(crate) fn monitor_worker_process(
    context: &WorkerContext,
    channel: &ChannelName,
    participant: ParticipantPid,
    entry: &Arc<WorkerEntry>,
    owned_participant: Option<ParticipantPid>,
) -> Result<WorkerLinkMonitor, AionSurfaceError> {
    let supervisor = context.supervisor_for(channel)?;
    let config = ConversationConfig::new(vec![participant], CrashPolicy::RouteToNext);
    let actor = supervisor
        .spawn(config)
        .map_err(|error| lifecycle_error(channel, error))?;
    let (watches, notices) = context.listener();
    let key = entry.registration.0;
    watches.watch(key, Arc::downgrade(entry));
    rt::step("monitor.notify");
    if let Err(error) = actor.notify_on_participant_exit(participant, notices, key) {
        watches.unwatch(key);
        let _ = actor.close();
        return Err(lifecycle_error(channel, error));
    }
    Ok(WorkerLinkMonitor {
        supervisor,
        actor: Some(actor),
        watches: Some(watches),
        key,
        owned_participant,
    })
}

impl WorkerContext {
    /// The context's listener (spawned with the first monitor): its watch list and a sender
    /// for a new notifier. If two first registrations race, the listener stored first wins
    /// and the other is stopped.
    fn listener(&self) -> (Arc<Watches>, Sender<ExitNotice>) {
        let handles = |listener: &Listener| (listener.watches.clone(), listener.notices.clone());
        if let Some(listener) = self.inner.listener.get() {
            return handles(listener);
        }
        if let Err(lost) = self.inner.listener.set(Listener::spawn(&self.inner)) {
            lost.stop();
        }
        handles(
            self.inner
                .listener
                .get()
                .expect("[internal bug] the context's listener was just stored"),
        )
    }
}

impl WorkerLinkMonitor {
    /// Stops monitoring: take the worker off the listener's watch list (waiting out a
    /// teardown of it already under way), ask the actor to close, and only then end an owned
    /// participant, so an exit shutdown causes is never handled as a crash. Idempotent.
    pub fn shutdown(&mut self) {
        if let Some(watches) = self.watches.take() {
            watches.unwatch(self.key);
        }
        // The close request is queued ahead of the exit that ending the participant causes,
        // so the actor is closed before it could see that exit; waiting for its answer would
        // add a round trip to the node's runner to every teardown and guarantee nothing more.
        if let Some(actor) = self.actor.take() {
            actor.request_close();
        }
        if let Some(participant) = self.owned_participant.take() {
            self.supervisor
                .node()
                .terminate(participant, ExitReason::Normal);
        }
    }

    /// The monitor actor's pid while the monitor is armed.
    pub fn actor_pid(&self) -> Option<crate::process::Pid> {
        self.actor.as_ref().map(ConversationActor::pid)
    }
}

impl Drop for WorkerLinkMonitor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for WorkerLinkMonitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerLinkMonitor")
            .field("actor", &self.actor_pid())
            .field("owned_participant", &self.owned_participant)
            .finish_non_exhaustive()
    }
}
