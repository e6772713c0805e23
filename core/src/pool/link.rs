//! The link monitor: a conversation actor linked to the worker's process, and a listener task
//! that removes the worker from the pool when the actor reports the process's exit.
//!
//! The listener parks with no deadline. It wakes for exactly three reasons: the exit
//! notification arrives, every notifier sender is gone (the actor ended), or shutdown hangs up
//! its channel ([`HangUp`]). An idle worker therefore costs no CPU, and a shutdown is bounded
//! by the hang-up rather than by a polling interval. See `ARCHITECTURE.md`, "Listeners sleep".

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Weak};

use super::{WorkerContext, WorkerEntry, lifecycle_error};
use crate::aion::{AionSurfaceError, ChannelName};
use crate::conversation::{
    ConversationActor, ConversationConfig, ConversationSupervisor, CrashPolicy,
};
use crate::process::{ExitReason, ParticipantPid};
use crate::rt::{self, Instant};
use crate::sync::{self, AtomicBool, HangUp, Ordering, Receiver};
use crate::thread::{self, JoinHandle};

/// The listener task's name. The full name is `<LISTENER_TASK>:<worker id>#<registration>`,
/// so traces say whose it is and observers can tell two registrations of one id apart.
pub const LISTENER_TASK: &str = "aion-worker-link-listener";

fn listener_name(entry: &Weak<WorkerEntry>) -> String {
    match entry.upgrade() {
        Some(entry) => format!(
            "{LISTENER_TASK}:{}#{}",
            entry.view.worker_id, entry.registration.0
        ),
        None => LISTENER_TASK.to_owned(),
    }
}

/// Watches one worker's process for as long as it is owned.
pub struct WorkerLinkMonitor {
    supervisor: ConversationSupervisor,
    actor: Option<ConversationActor>,
    listener: Option<JoinHandle<()>>,
    /// Ends the listener's wait on shutdown; the listener then reads `stop` to tell a
    /// graceful stop from a lost actor.
    hang_up: Option<HangUp<Instant>>,
    stop: Arc<AtomicBool>,
    owned_participant: Option<ParticipantPid>,
}

/// Arms crash detection for `participant`: boot a monitor actor linked to it, register a
/// capacity-1 exit notifier, and start the listener task.
pub(crate) fn monitor_worker_process(
    context: &WorkerContext,
    channel: &ChannelName,
    participant: ParticipantPid,
    entry: Weak<WorkerEntry>,
    owned_participant: Option<ParticipantPid>,
) -> Result<WorkerLinkMonitor, AionSurfaceError> {
    let supervisor = context.supervisor_for(channel)?;
    let config = ConversationConfig::new(vec![participant], CrashPolicy::RouteToNext);
    let actor = supervisor
        .spawn(config)
        .map_err(|error| lifecycle_error(channel, error))?;
    rt::step("monitor.notify");
    let (exit_tx, exit_rx) = sync::channel("monitor.exit", 1);
    if let Err(error) = actor.notify_on_participant_exit(participant, exit_tx) {
        let _ = actor.close();
        return Err(lifecycle_error(channel, error));
    }
    let stop = Arc::new(AtomicBool::named("monitor.stop", false));
    let hang_up = exit_rx.hang_up_handle();
    let listener = {
        let name = listener_name(&entry);
        let context = context.clone();
        let channel = channel.clone();
        let stop = stop.clone();
        thread::spawn(&name, move || {
            listen(&context, &channel, &entry, &exit_rx, &stop);
        })
    };
    Ok(WorkerLinkMonitor {
        supervisor,
        actor: Some(actor),
        listener: Some(listener),
        hang_up: Some(hang_up),
        stop,
        owned_participant,
    })
}

/// Why the listener stopped waiting.
enum Wake {
    /// Shutdown asked it to stop: leave the entry to its owner.
    Stopped,
    /// The participant exited, or crash detection was lost: remove the worker.
    Exited,
}

/// The listener body: wait for the exit, then tear the worker down.
///
/// A panic while waiting or tearing down (an injected fault, or a bug) must not leave an
/// unwatched worker in the pool, so both run under `catch_unwind`: the worker is torn down and
/// the panic then continues, so `join` still reports it.
fn listen(
    context: &WorkerContext,
    channel: &ChannelName,
    entry: &Weak<WorkerEntry>,
    exits: &Receiver<Instant>,
    stop: &AtomicBool,
) {
    let waited = panic::catch_unwind(AssertUnwindSafe(|| wait_for_exit(exits, stop)));
    if !matches!(waited, Ok(Wake::Stopped)) {
        // Every step of the teardown is idempotent, so a teardown cut short by a panic is
        // simply run again: a worker left half torn down would stay eligible for ever.
        let torn = panic::catch_unwind(AssertUnwindSafe(|| teardown(context, channel, entry)));
        if let Err(payload) = torn {
            teardown(context, channel, entry);
            panic::resume_unwind(payload);
        }
    }
    if let Err(payload) = waited {
        panic::resume_unwind(payload);
    }
}

/// Waits, with no deadline, for the exit notification or the end of the channel.
///
/// A queued exit wins over a hang-up, so an exit that arrives during shutdown still tears
/// down (harmless: every step is idempotent). A disconnect is a stop when `stop` is set
/// (shutdown sets it before it hangs up); otherwise the actor ended without being asked, so
/// crash detection for this worker is lost. The original kept such a worker; vigil removes
/// it, because a worker nobody watches must not stay eligible.
fn wait_for_exit(exits: &Receiver<Instant>, stop: &AtomicBool) -> Wake {
    match exits.recv() {
        Ok(_exited_at) => Wake::Exited,
        Err(_disconnected) if stop.load(Ordering::Acquire) => Wake::Stopped,
        Err(_disconnected) => Wake::Exited,
    }
}

/// Removes a crashed worker: drop its subscription, deactivate it, prune the channel.
fn teardown(context: &WorkerContext, channel: &ChannelName, entry: &Weak<WorkerEntry>) {
    rt::step("listener.teardown");
    if let Some(entry) = entry.upgrade() {
        entry.drop_subscription();
        entry.view.active.store(false, Ordering::Release);
        context.remove_inactive(channel);
    }
}

impl WorkerLinkMonitor {
    /// Stops monitoring: raise the stop flag, close the actor, hang up, join the listener, and only
    /// then end an owned participant, so the join never waits on an exit shutdown caused and
    /// a graceful stop is never seen as a crash. Idempotent.
    pub fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(actor) = self.actor.take() {
            let _ = actor.close();
        }
        // The hang-up is what bounds the join: the listener wakes even if a notifier sender
        // were never dropped, and it reads `stop`, stored first, so it leaves the entry alone.
        if let Some(hang_up) = self.hang_up.take() {
            hang_up.hang_up();
        }
        if let Some(listener) = self.listener.take() {
            let _ = listener.join();
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
