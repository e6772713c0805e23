//! Pool tests that need no controlled scheduler (spec f.1 tests 1–3 and the c.x accessors).
//! Crash removal is tested under the deterministic scheduler in `vigil-sim`.

use super::*;
use crate::aion::{ActivityRequest, DispatchRequest, Payload};
use crate::process::Pid;

fn capacity(max: usize, tags: &[&str]) -> WorkerCapacity {
    WorkerCapacity {
        max_concurrent: max,
        activity_types: tags.iter().map(|tag| (*tag).to_owned()).collect(),
    }
}

/// Spawns an idle participant on the context's node and registers it under `prod`.
fn register(
    context: &WorkerContext,
    task_queue: &str,
    worker_id: &str,
    capacity: WorkerCapacity,
) -> WorkerRegistration {
    let pid = spawn_participant(context, task_queue);
    context
        .register_worker_with_participant("prod", task_queue, worker_id, pid, capacity)
        .unwrap()
}

fn spawn_participant(context: &WorkerContext, task_queue: &str) -> Pid {
    let channel = dispatch_channel("prod", task_queue).unwrap();
    let supervisor = context.supervisor_for(&channel).unwrap();
    supervisor
        .node()
        .spawn("participant", Box::new(IdleWorkerProcess), false)
        .unwrap()
}

fn ids(context: &WorkerContext, task_queue: &str) -> Vec<String> {
    let channel = dispatch_channel("prod", task_queue).unwrap();
    context
        .workers_for_channel(&channel)
        .unwrap()
        .into_iter()
        .map(|worker| worker.worker_id.into())
        .collect()
}

fn request() -> ActivityRequest {
    ActivityRequest {
        activity_type: "send-email".into(),
        input: Payload {
            data: b"hi".to_vec(),
            content_type: "text/plain".into(),
        },
        task_queue: "email".into(),
        schedule_to_close_timeout: None,
        start_to_close_timeout: None,
    }
}

#[test]
fn registration_opens_a_real_subscription() {
    let context = WorkerContext::new();
    let worker = register(&context, "email", "worker-a", capacity(4, &["send-email"]));
    let channel = dispatch_channel("prod", "email").unwrap();
    let snapshot = context.workers_for_channel(&channel).unwrap();
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].worker_id, "worker-a");
    assert_eq!(snapshot[0].consumer_state.max_in_flight, 4);
    assert_eq!(*snapshot[0].consumer_state.affinity_tags, ["send-email"]);

    let message = DispatchRequest {
        conversation_id: "conversation-1".into(),
        request: request(),
    };
    let handle = context.channel_handle(&channel).unwrap();
    assert_eq!(handle.publish(&message.encode()), Ok(1));
    let envelope = worker.try_next().unwrap().expect("the published request");
    assert_eq!(envelope.channel, "aion.dispatch.prod.email");
    assert_eq!(worker.try_next().unwrap(), None);
}

#[test]
fn publish_rejects_payloads_that_fail_the_request_schema() {
    let context = WorkerContext::new();
    let _worker = register(&context, "email", "worker-a", capacity(1, &[]));
    let handle = context
        .channel_handle(&dispatch_channel("prod", "email").unwrap())
        .unwrap();
    let wrong_type = br#"{"content_type":"text/plain","conversation_id":"c","request":{}}"#;
    assert!(matches!(
        handle.publish(wrong_type),
        Err(crate::LiminalError::SchemaMismatch(_))
    ));
    assert!(matches!(
        handle.publish(b"not json"),
        Err(crate::LiminalError::SchemaMismatch(_))
    ));
}

#[test]
fn liveness_and_capacity_are_reflected_in_snapshots() {
    let context = WorkerContext::new();
    let a = register(&context, "email", "a", capacity(2, &["send-email"]));
    let b = register(
        &context,
        "email",
        "b",
        capacity(3, &["send-email", "send-sms"]),
    );
    b.set_in_flight(3);
    let channel = dispatch_channel("prod", "email").unwrap();
    let snapshot = context.workers_for_channel(&channel).unwrap();
    assert_eq!(ids(&context, "email"), ["a", "b"]);
    assert!(snapshot[0].consumer_state.has_capacity());
    assert!(!snapshot[1].consumer_state.has_capacity());
    assert_eq!(
        *snapshot[1].consumer_state.affinity_tags,
        ["send-email", "send-sms"]
    );

    a.unregister().unwrap();
    let snapshot = context.workers_for_channel(&channel).unwrap();
    assert_eq!(snapshot.len(), 1);
    assert_eq!(snapshot[0].worker_id, "b");
    assert_eq!(snapshot[0].consumer_state.current_in_flight, 3);

    drop(b);
    assert!(context.workers_for_channel(&channel).unwrap().is_empty());
}

#[test]
fn repeated_registrations_change_the_next_snapshot() {
    let context = WorkerContext::new();
    let mut workers = Vec::new();
    for index in 0..3 {
        workers.push(register(
            &context,
            "bulk",
            &format!("worker-{index}"),
            capacity(1, &[]),
        ));
        assert_eq!(ids(&context, "bulk").len(), index + 1);
    }
    let middle = workers.remove(1);
    middle.unregister().unwrap();
    assert_eq!(ids(&context, "bulk"), ["worker-0", "worker-2"]);
}

#[test]
fn unregister_leaves_other_workers_and_their_in_flight_counts_alone() {
    let context = WorkerContext::new();
    let a = register(&context, "q", "a", capacity(5, &["x"]));
    let b = register(&context, "q", "b", capacity(5, &["y"]));
    let c = register(&context, "q", "c", capacity(5, &["z"]));
    a.set_in_flight(1);
    c.set_in_flight(4);
    b.unregister().unwrap();
    let channel = dispatch_channel("prod", "q").unwrap();
    let snapshot = context.workers_for_channel(&channel).unwrap();
    let seen: Vec<_> = snapshot
        .iter()
        .map(|worker| {
            (
                worker.worker_id.as_str(),
                worker.consumer_state.current_in_flight,
            )
        })
        .collect();
    assert_eq!(seen, [("a", 1), ("c", 4)]);
    assert_eq!(a.current_in_flight(), 1);
    assert_eq!(c.current_in_flight(), 4);
}

#[test]
fn snapshot_projection_follows_the_spec_table() {
    let context = WorkerContext::new();
    let huge = register(&context, "p", "huge", capacity(usize::MAX, &["t1", "t2"]));
    let zero = register(&context, "p", "zero", capacity(0, &[]));
    huge.set_in_flight(7);
    let channel = dispatch_channel("prod", "p").unwrap();
    let snapshot = context.workers_for(&channel, &request()).unwrap();
    assert_eq!(
        snapshot[0],
        DispatchWorker::with_state(
            "huge",
            huge.participant(),
            crate::routing::ConsumerStateView {
                consumer: crate::routing::ConsumerId("huge".into()),
                current_in_flight: 7,
                max_in_flight: u32::MAX,
                buffer_depth: 0,
                affinity_tags: Arc::from(["t1".to_owned(), "t2".to_owned()]),
            }
        )
    );
    assert_eq!(snapshot[1].consumer_state.max_in_flight, 0);
    assert_eq!(snapshot[1].participant, zero.participant());
}

#[test]
fn unknown_channel_snapshot_is_empty_not_an_error() {
    let context = WorkerContext::new();
    let channel = dispatch_channel("prod", "nothing-here").unwrap();
    assert_eq!(context.workers_for_channel(&channel), Ok(Vec::new()));
}

#[test]
fn try_next_after_the_subscription_is_gone_returns_none() {
    let context = WorkerContext::new();
    let worker = register(&context, "email", "a", capacity(1, &[]));
    worker.entry.drop_subscription();
    assert_eq!(worker.try_next(), Ok(None));
}

#[test]
fn generated_workers_are_numbered_and_owned() {
    let context = WorkerContext::new();
    let first = context
        .register_worker("prod", "gen", capacity(1, &[]))
        .unwrap();
    let second = context
        .register_worker("prod", "gen", capacity(1, &[]))
        .unwrap();
    assert_eq!(first.worker_id(), "worker-1");
    assert_eq!(second.worker_id(), "worker-2");
    let node = context.peek_supervisor().unwrap().node().clone();
    let pid = first.participant();
    assert!(node.is_alive(pid));
    first.unregister().unwrap();
    assert_eq!(node.exit_reason(pid), Some(ExitReason::Normal));
    assert_eq!(ids(&context, "gen"), ["worker-2"]);
}

#[test]
fn supplied_participants_are_not_ended_on_unregister() {
    let context = WorkerContext::new();
    let worker = register(&context, "email", "a", capacity(1, &[]));
    let pid = worker.participant();
    let node = context.peek_supervisor().unwrap().node().clone();
    worker.unregister().unwrap();
    assert!(node.is_alive(pid));
}

#[test]
fn invalid_names_fail_before_any_side_effect() {
    let context = WorkerContext::new();
    let error = context
        .register_worker("pr.od", "email", capacity(1, &[]))
        .unwrap_err();
    assert!(matches!(error, AionSurfaceError::InvalidChannelName { .. }));
    assert!(context.peek_supervisor().is_none());
    assert_eq!(context.peek_channels(|channels| channels.len()), Some(0));
}

#[test]
fn registering_a_dead_participant_fails_and_leaves_no_trace() {
    let context = WorkerContext::new();
    let pid = spawn_participant(&context, "email");
    let node = context.peek_supervisor().unwrap().node().clone();
    node.terminate(pid, ExitReason::Error);
    let error = context
        .register_worker_with_participant("prod", "email", "ghost", pid, capacity(1, &[]))
        .unwrap_err();
    assert!(matches!(
        error,
        AionSurfaceError::ChannelLifecycleError { .. }
    ));
    assert!(ids(&context, "email").is_empty());
}

#[test]
fn sessions_are_shared_per_channel_and_distinct_across_channels() {
    let context = WorkerContext::new();
    let _a = register(&context, "one", "a", capacity(1, &[]));
    let _b = register(&context, "one", "b", capacity(1, &[]));
    let _c = register(&context, "two", "c", capacity(1, &[]));
    let one = context
        .channel_handle(&dispatch_channel("prod", "one").unwrap())
        .unwrap();
    let again = context
        .channel_handle(&dispatch_channel("prod", "one").unwrap())
        .unwrap();
    let two = context
        .channel_handle(&dispatch_channel("prod", "two").unwrap())
        .unwrap();
    assert!(one.same_channel(&again));
    assert!(!one.same_channel(&two));
}

#[test]
fn default_context_is_shared_by_the_free_function() {
    let worker = register_worker("defaults", "q", capacity(1, &[])).unwrap();
    assert!(default_worker_context().same_pool(&default_worker_context()));
    let channel = dispatch_channel("defaults", "q").unwrap();
    let listed = default_worker_context()
        .workers_for_channel(&channel)
        .unwrap();
    assert!(
        listed
            .iter()
            .any(|listed| listed.worker_id == worker.worker_id())
    );
}

/// A peek into a buffer left over from another pool holds exactly what a fresh peek holds:
/// no channel, entry or worker id of the old contents survives, longer or shorter.
#[test]
fn peeking_into_a_used_buffer_matches_a_fresh_peek() {
    let large = WorkerContext::new();
    let _a = register(&large, "one", "a-worker-with-a-long-id", capacity(1, &[]));
    let _b = register(&large, "one", "b", capacity(1, &[]));
    let _c = register(&large, "two", "c", capacity(2, &[]));
    let small = WorkerContext::new();
    let _d = register(&small, "alone", "d", capacity(1, &[]));
    let fresh = |context: &WorkerContext| context.peek_channels_owned().unwrap();
    assert_eq!(fresh(&large).len(), 2);
    for (first, then) in [(&large, &small), (&small, &large)] {
        let mut buffer = fresh(first);
        assert!(then.peek_channels_into(&mut buffer));
        assert_eq!(buffer, fresh(then));
    }
}
