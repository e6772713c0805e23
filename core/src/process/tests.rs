//! Tests of the process substrate, the conversation actor and the pub/sub channel under the
//! production scheduler. Asynchronous effects are awaited on a real signal (a channel), never
//! by polling or sleeping.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::conversation::{
    ConversationConfig, ConversationPhase, ConversationSupervisor, CrashPolicy, ExitNotice,
};
use crate::sync::{self, Sender};

/// A generous bound for a real signal; tests never rely on it being reached.
const SIGNAL_BOUND: Duration = Duration::from_secs(30);

/// A trapping process that forwards every exit it receives to a channel.
struct ExitRecorder {
    seen: Sender<(Pid, ExitReason)>,
}

impl Behaviour for ExitRecorder {
    fn handle(&mut self, _ctx: &ProcessContext<'_>, message: Message) -> Outcome {
        if let Message::Exit { from, reason } = message {
            let _ = self.seen.try_send((from, reason));
        }
        Outcome::Wait
    }
}

fn recorder(node: &Node) -> (Pid, sync::Receiver<(Pid, ExitReason)>) {
    let (seen, exits) = sync::channel("test.exits", 16);
    let pid = node
        .spawn("recorder", Box::new(ExitRecorder { seen }), true)
        .unwrap();
    (pid, exits)
}

#[test]
fn trapping_process_receives_exit_for_every_reason_and_kill_arrives_as_killed() {
    let node = Node::new("test");
    let (watcher, exits) = recorder(&node);
    let reasons = [
        ExitReason::Normal,
        ExitReason::Error,
        ExitReason::NoConnection,
        ExitReason::Kill,
        ExitReason::Killed,
    ];
    for reason in reasons {
        let target = node
            .spawn("target", Box::new(IdleWorkerProcess), false)
            .unwrap();
        node.link(watcher, target).unwrap();
        assert!(node.terminate(target, reason));
        assert_eq!(
            exits.recv_timeout(SIGNAL_BOUND),
            Ok((target, reason.propagated()))
        );
    }
    assert!(node.is_alive(watcher));
}

#[test]
fn spawn_linked_links_both_ways_or_creates_nothing() {
    let node = Node::new("test");
    let (watcher, exits) = recorder(&node);
    // Linked at birth: the new process's exit reaches the trapping watcher...
    let idle = || Box::new(IdleWorkerProcess);
    let child = node
        .spawn_linked("child", idle(), false, &[watcher])
        .unwrap();
    assert!(node.terminate(child, ExitReason::Error));
    assert_eq!(
        exits.recv_timeout(SIGNAL_BOUND),
        Ok((child, ExitReason::Error.propagated()))
    );
    // ...and the watcher's abnormal exit takes a non-trapping child with it.
    let child = node
        .spawn_linked("child", idle(), false, &[watcher])
        .unwrap();
    assert!(node.terminate(watcher, ExitReason::Kill));
    assert!(!node.is_alive(child));
    // With a link target dead, no process is created: no pid is issued for it.
    let before = node.spawn("probe", idle(), false).unwrap();
    assert_eq!(
        node.spawn_linked("orphan", idle(), false, &[before, watcher]),
        Err(ProcessError::NoProc(watcher))
    );
    let after = node.spawn("probe", idle(), false).unwrap();
    assert_eq!(after, Pid(before.0 + 1));
    assert!(node.is_alive(before));
}

#[test]
fn non_trapping_process_ignores_normal_and_dies_on_abnormal() {
    let node = Node::new("test");
    let a = node.spawn("a", Box::new(IdleWorkerProcess), false).unwrap();
    let b = node.spawn("b", Box::new(IdleWorkerProcess), false).unwrap();
    node.link(a, b).unwrap();
    node.terminate(a, ExitReason::Normal);
    assert!(node.is_alive(b));

    let c = node.spawn("c", Box::new(IdleWorkerProcess), false).unwrap();
    node.link(b, c).unwrap();
    node.terminate(c, ExitReason::Kill);
    assert!(!node.is_alive(b));
    assert_eq!(node.exit_reason(b), Some(ExitReason::Killed));
}

#[test]
fn linking_to_an_exited_or_unknown_pid_is_noproc_and_self_link_is_a_no_op() {
    let node = Node::new("test");
    let a = node.spawn("a", Box::new(IdleWorkerProcess), false).unwrap();
    let b = node.spawn("b", Box::new(IdleWorkerProcess), false).unwrap();
    node.terminate(b, ExitReason::Error);
    assert_eq!(node.link(a, b), Err(ProcessError::NoProc(b)));
    assert_eq!(node.link(a, Pid(999)), Err(ProcessError::NoProc(Pid(999))));
    assert_eq!(node.link(a, a), Ok(()));
    assert!(
        !node.terminate(b, ExitReason::Kill),
        "terminating twice does nothing"
    );
    assert_eq!(node.exit_reason(b), Some(ExitReason::Error));
}

/// The production scheduler, except that every task on the installing thread acts for
/// `owner` (as a madsim node's tasks do under `vigil-madsim`).
struct ActingFor {
    inner: Arc<dyn crate::rt::Scheduler>,
    owner: u64,
}

impl crate::rt::Scheduler for ActingFor {
    fn spawn(&self, name: &str, body: Box<dyn FnOnce() + Send + 'static>) -> crate::rt::TaskId {
        self.inner.spawn(name, body)
    }
    fn current(&self) -> crate::rt::TaskId {
        self.inner.current()
    }
    fn point(&self, site: crate::rt::Site) {
        self.inner.point(site);
    }
    fn park(&self, site: crate::rt::Site, deadline: Option<crate::rt::Instant>) {
        self.inner.park(site, deadline);
    }
    fn unpark(&self, task: crate::rt::TaskId) {
        self.inner.unpark(task);
    }
    fn now(&self) -> crate::rt::Instant {
        self.inner.now()
    }
    fn random_u64(&self) -> u64 {
        self.inner.random_u64()
    }
    fn owner(&self) -> u64 {
        self.owner
    }
    fn globals(&self) -> &crate::rt::Globals {
        self.inner.globals()
    }
}

#[test]
fn terminate_owned_ends_exactly_the_owners_processes_and_their_links_fire() {
    let node = Node::new("test");
    let (watcher, exits) = recorder(&node);
    let unowned = node
        .spawn("before", Box::new(IdleWorkerProcess), false)
        .unwrap();
    let acting = ActingFor {
        inner: crate::rt::current(),
        owner: 7,
    };
    let (owned, shared) = {
        let _guard = crate::rt::enter(Arc::new(acting));
        let owned = node
            .spawn("owned", Box::new(IdleWorkerProcess), false)
            .unwrap();
        let shared = node
            .spawn_shared("shared", Box::new(IdleWorkerProcess), false)
            .unwrap();
        (owned, shared)
    };
    node.link(watcher, owned).unwrap();

    assert_eq!(
        node.terminate_owned(0, ExitReason::Killed),
        0,
        "owner 0 ends nothing"
    );
    assert_eq!(node.terminate_owned(8, ExitReason::Killed), 0);
    assert_eq!(node.terminate_owned(7, ExitReason::Killed), 1);
    assert_eq!(
        exits.recv_timeout(SIGNAL_BOUND),
        Ok((owned, ExitReason::Killed))
    );
    assert_eq!(node.exit_reason(owned), Some(ExitReason::Killed));
    assert!(node.is_alive(unowned) && node.is_alive(shared) && node.is_alive(watcher));
}

#[test]
fn pids_are_never_reused_and_sends_to_dead_pids_are_dropped() {
    let node = Node::new("test");
    let a = node.spawn("a", Box::new(IdleWorkerProcess), false).unwrap();
    node.terminate(a, ExitReason::Normal);
    let b = node.spawn("b", Box::new(IdleWorkerProcess), false).unwrap();
    assert_ne!(a, b);
    assert!(!node.send(a, Message::User(Box::new(1u8))));
    assert!(node.send(b, Message::User(Box::new(1u8))));
}

fn participant(supervisor: &ConversationSupervisor) -> Pid {
    supervisor
        .node()
        .spawn("participant", Box::new(IdleWorkerProcess), false)
        .unwrap()
}

#[test]
fn actor_notifies_a_registered_notifier_once_when_the_participant_dies() {
    let supervisor = ConversationSupervisor::new();
    let worker = participant(&supervisor);
    let actor = supervisor
        .spawn(ConversationConfig::new(
            vec![worker],
            CrashPolicy::RouteToNext,
        ))
        .unwrap();
    let (tx, rx) = sync::channel("test.exit", 1);
    actor.notify_on_participant_exit(worker, tx, 7).unwrap();
    supervisor.node().terminate(worker, ExitReason::Normal);
    assert!(
        matches!(
            rx.recv_timeout(SIGNAL_BOUND),
            Ok(ExitNotice::Exited { key: 7, .. })
        ),
        "a Normal exit counts as an exit, reported with the notifier's key"
    );
    assert!(matches!(
        actor.participant_status(worker),
        Some(crate::conversation::ParticipantStatus::Dead {
            reason: ExitReason::Normal,
            ..
        })
    ));
    assert_eq!(
        actor.phase(),
        ConversationPhase::Active,
        "RouteToNext does not fail"
    );
}

#[test]
fn notifier_registered_after_the_death_is_answered_at_once() {
    let supervisor = ConversationSupervisor::new();
    let worker = participant(&supervisor);
    let actor = supervisor
        .spawn(ConversationConfig::new(
            vec![worker],
            CrashPolicy::RouteToNext,
        ))
        .unwrap();
    let (first_tx, first_rx) = sync::channel("test.exit", 1);
    actor
        .notify_on_participant_exit(worker, first_tx, 1)
        .unwrap();
    supervisor.node().terminate(worker, ExitReason::Error);
    first_rx.recv_timeout(SIGNAL_BOUND).unwrap();
    // The death is now recorded; a late registration gets its wakeup without waiting.
    let (late_tx, late_rx) = sync::channel("test.exit", 1);
    actor
        .notify_on_participant_exit(worker, late_tx, 2)
        .unwrap();
    assert!(matches!(
        late_rx.try_recv(),
        Ok(ExitNotice::Exited { key: 2, .. })
    ));
}

#[test]
fn spawning_a_conversation_with_a_dead_participant_fails_and_leaves_no_actor() {
    let supervisor = ConversationSupervisor::new();
    let worker = participant(&supervisor);
    supervisor.node().terminate(worker, ExitReason::Error);
    let error = supervisor
        .spawn(ConversationConfig::new(
            vec![worker],
            CrashPolicy::RouteToNext,
        ))
        .unwrap_err();
    assert!(matches!(error, crate::LiminalError::ParticipantCrashed(_)));
    // The actor is spawned already linked, in one step (`Node::spawn_linked`): with its
    // participant dead, no process is created at all. Pids are issued in order, so the
    // next process gets the pid right after the dead participant's.
    let next = participant(&supervisor);
    assert_eq!(next, Pid(worker.0 + 1));
    assert_eq!(
        supervisor.node().peek_census().map(|c| c.processes),
        Some(1)
    );
}

#[test]
fn close_ends_the_actor_without_touching_the_participant_and_drops_notifiers() {
    let supervisor = ConversationSupervisor::new();
    let worker = participant(&supervisor);
    let actor = supervisor
        .spawn(ConversationConfig::new(
            vec![worker],
            CrashPolicy::RouteToNext,
        ))
        .unwrap();
    let (tx, rx) = sync::channel("test.exit", 1);
    actor.notify_on_participant_exit(worker, tx, 3).unwrap();
    let pid = actor.pid();
    actor.close().unwrap();
    drop(actor);
    // A closed actor sends no `Ended`: its closer stopped listening first.
    assert_eq!(
        rx.recv_timeout(SIGNAL_BOUND),
        Err(sync::RecvTimeoutError::Disconnected)
    );
    assert!(!supervisor.node().is_alive(pid));
    assert!(
        supervisor.node().is_alive(worker),
        "the idle participant ignores Normal"
    );
    assert!(matches!(
        supervisor.spawn(ConversationConfig::new(vec![Pid(12345)], CrashPolicy::Fail)),
        Err(crate::LiminalError::ParticipantCrashed(_))
    ));
}

#[derive(Debug)]
struct AcceptObjects;

impl crate::channel::PayloadSchema for AcceptObjects {
    fn id(&self) -> &str {
        "test.objects"
    }

    fn check(&self, payload: &[u8]) -> Result<(), String> {
        match serde_json::from_slice::<serde_json::Value>(payload) {
            Ok(serde_json::Value::Object(_)) => Ok(()),
            _ => Err("expected a JSON object".into()),
        }
    }
}

fn test_channel(node: &Arc<Node>) -> crate::channel::ChannelHandle {
    let config = crate::channel::ChannelConfig::new(
        "test.channel",
        Arc::new(AcceptObjects),
        crate::channel::ChannelMode::Ephemeral,
    );
    crate::channel::ChannelHandle::new(config, node.clone())
}

#[test]
fn publish_broadcasts_to_every_subscriber_and_normalises_json() {
    let node = Arc::new(Node::new("channels"));
    let channel = test_channel(&node);
    assert_eq!(channel.actor_pid(), None, "the actor is spawned lazily");
    let first = channel.subscribe().unwrap();
    let second = channel.subscribe().unwrap();
    assert_eq!(channel.publish(br#"{ "b": 1,  "a": [true] }"#), Ok(2));
    for subscription in [&first, &second] {
        let envelope = subscription.try_next().unwrap();
        assert_eq!(envelope.payload, br#"{"a":[true],"b":1}"#);
        assert_eq!(envelope.schema_id, "test.objects");
        assert_eq!(envelope.message_id, 1);
        assert_eq!(subscription.try_next(), None);
    }
    assert!(matches!(
        channel.publish(b"[1]"),
        Err(crate::LiminalError::SchemaMismatch(_))
    ));
}

#[test]
fn dropping_the_last_subscription_handle_ends_the_subscriber_and_leaves_fan_out() {
    let node = Arc::new(Node::new("channels"));
    let channel = test_channel(&node);
    let kept = channel.subscribe().unwrap();
    let dropped = channel.subscribe().unwrap();
    let clone = dropped.clone();
    let pid = dropped.pid();
    drop(dropped);
    assert!(node.is_alive(pid), "a clone still holds the subscription");
    drop(clone);
    assert!(!node.is_alive(pid));
    // Publishing is a command queued behind the subscriber's exit, so the count is exact.
    assert_eq!(channel.publish(b"{}"), Ok(1));
    assert!(kept.try_next().is_some());
}

#[test]
fn a_crashed_channel_actor_is_respawned_with_its_subscribers() {
    let node = Arc::new(Node::new("channels"));
    let channel = test_channel(&node);
    let subscription = channel.subscribe().unwrap();
    let gone = channel.subscribe().unwrap();
    let actor = channel.actor_pid().unwrap();
    node.terminate(actor, ExitReason::Error);
    node.terminate(gone.pid(), ExitReason::Error);
    assert_eq!(
        channel.publish(b"{}"),
        Ok(1),
        "the new actor serves the surviving subscriber and drops the dead one"
    );
    assert_ne!(channel.actor_pid(), Some(actor));
    assert!(subscription.try_next().is_some());
}

#[test]
fn a_crashed_actor_disconnects_its_notifiers_and_refuses_new_ones() {
    let supervisor = ConversationSupervisor::new();
    let worker = participant(&supervisor);
    let actor = supervisor
        .spawn(ConversationConfig::new(
            vec![worker],
            CrashPolicy::RouteToNext,
        ))
        .unwrap();
    let (tx, rx) = sync::channel("test.exit", 1);
    actor.notify_on_participant_exit(worker, tx, 4).unwrap();
    supervisor.node().terminate(actor.pid(), ExitReason::Error);
    // The handle still holds the actor's core, yet the listener hears that the actor ended
    // and then sees its channel disconnect.
    assert_eq!(
        rx.recv_timeout(SIGNAL_BOUND),
        Ok(ExitNotice::Ended { key: 4 })
    );
    assert_eq!(
        rx.recv_timeout(SIGNAL_BOUND),
        Err(sync::RecvTimeoutError::Disconnected)
    );
    assert_eq!(actor.phase(), ConversationPhase::Failed);
    assert!(
        !supervisor.node().is_alive(worker),
        "the crash took the linked worker down"
    );
    let (late_tx, _late_rx) = sync::channel("test.exit", 1);
    assert!(matches!(
        actor.notify_on_participant_exit(worker, late_tx, 5),
        Err(crate::LiminalError::ConversationFailed(_))
    ));
}
