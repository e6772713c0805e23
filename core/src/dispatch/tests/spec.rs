//! The spec's (f.2) tests 1–6 and 8 against the scripted doubles, and the algorithm's other
//! exit paths (e.1): which records are written, and that close happens exactly once.

use std::sync::atomic::Ordering;

use super::doubles::*;
use crate::aion::{ActivityRequest, ActivityResult, AionSurfaceError, DispatchRequest};
use crate::dispatch::ActivityDispatchState::*;
use crate::dispatch::DispatchOperationKind::*;
use crate::dispatch::*;

fn harness(
    workers: &[&str],
    script: &[Option<&str>],
    events: Vec<DispatchConversationEvent>,
) -> Harness {
    Harness::new(
        CountingPool::with(workers.iter().map(|id| worker(id)).collect()),
        RecordingRouter::scripted(script),
        ScriptedFactory::scripted(events),
        TestRecorder::default(),
    )
}

fn worker_failure(text: &str) -> ActivityResult {
    ActivityResult::Failed {
        error: failed(text),
    }
}

#[test]
fn successful_dispatch_records_conversation_lifecycle() {
    let h = harness(
        &["worker-a", "worker-b"],
        &[Some("worker-b")],
        vec![response("worker-b", completed("ok"))],
    );
    assert_eq!(h.dispatch(), Ok(completed("ok")));
    let log = h.factory.log.lock();
    assert_eq!(log.opens.len(), 1);
    assert_eq!(log.opens[0].1, "aion.dispatch.prod.email");
    assert_eq!(log.opens[0].2, CONVERSATION_ID);
    assert_eq!(log.links, ["worker-b"]);
    assert_eq!(
        log.sends,
        [DispatchRequest {
            conversation_id: CONVERSATION_ID.into(),
            request: request()
        }]
    );
    assert_eq!(log.closes, 1);
    assert_eq!(h.router.calls().len(), 1);
    assert_eq!(
        h.recorder.kinds(),
        [
            ConversationOpened,
            WorkerSelected,
            MessageSent,
            MessageReceived,
            ConversationClosed
        ]
    );
    assert_eq!(
        h.recorder.states(),
        [ActivityScheduled, ActivityStarted, ActivityCompleted]
    );
    let operations = h.recorder.inner.operations();
    assert_eq!(operations[1].worker_id.as_deref(), Some("worker-b"));
    assert_eq!(operations[3].result, Some(completed("ok")));
    assert_eq!(operations[4].worker_id, None);
}

#[test]
fn failed_activity_maps_to_dispatch_failed() {
    let h = harness(
        &["worker-a"],
        &[],
        vec![response("worker-a", worker_failure("activity exploded"))],
    );
    let Err(AionSurfaceError::DispatchFailed { message, .. }) = h.dispatch() else {
        panic!("a worker failure must be DispatchFailed");
    };
    assert!(
        message.contains("worker 'worker-a' failed activity"),
        "{message}"
    );
    assert!(message.contains("activity exploded"), "{message}");
    assert_eq!(
        h.recorder.states(),
        [
            ActivityScheduled,
            ActivityStarted,
            ActivityFailed {
                retry_eligible: false
            }
        ]
    );
    let received = &h.recorder.inner.operations()[3];
    assert!(
        received
            .message
            .as_deref()
            .unwrap()
            .contains("activity exploded")
    );
    assert_eq!(h.factory.log.lock().closes, 1);
}

#[test]
fn linked_worker_exit_reselects_and_resends_same_request() {
    let h = harness(
        &["worker-a", "worker-b"],
        &[Some("worker-a"), Some("worker-b")],
        vec![exited("worker-a"), response("worker-b", completed("ok"))],
    );
    assert_eq!(h.dispatch(), Ok(completed("ok")));
    let log = h.factory.log.lock();
    assert_eq!(log.links, ["worker-a", "worker-b"]);
    assert_eq!(log.sends.len(), 2);
    assert_eq!(log.sends[0], log.sends[1]);
    let calls = h.router.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].1, Vec::<String>::new());
    assert_eq!(calls[1].1, ["worker-a"]);
    assert_eq!(
        h.recorder.kinds(),
        [
            ConversationOpened,
            WorkerSelected,
            MessageSent,
            WorkerExited,
            WorkerSelected,
            MessageSent,
            MessageReceived,
            ConversationClosed
        ]
    );
    let exit = &h.recorder.inner.operations()[3];
    assert_eq!(
        exit.activity_state,
        Some(ActivityFailed {
            retry_eligible: true
        })
    );
    assert_eq!(exit.worker_id.as_deref(), Some("worker-a"));
}

#[test]
fn no_workers_after_exit_returns_dispatch_failed() {
    let h = harness(&["worker-a"], &[], vec![exited("worker-a")]);
    let Err(AionSurfaceError::DispatchFailed { message, .. }) = h.dispatch() else {
        panic!("expected NoWorkersAvailable");
    };
    assert_eq!(message, NO_WORKERS_AVAILABLE);
    assert_eq!(h.router.calls().len(), 2);
    assert_eq!(h.factory.log.lock().closes, 1);
    assert_eq!(
        h.recorder.kinds(),
        [
            ConversationOpened,
            WorkerSelected,
            MessageSent,
            WorkerExited,
            ConversationClosed
        ]
    );
}

#[test]
fn no_worker_from_the_start_opens_and_closes() {
    let h = harness(&[], &[], vec![]);
    let Err(AionSurfaceError::DispatchFailed { message, .. }) = h.dispatch() else {
        panic!("expected NoWorkersAvailable");
    };
    assert_eq!(message, NO_WORKERS_AVAILABLE);
    assert_eq!(h.recorder.kinds(), [ConversationOpened, ConversationClosed]);
    assert_eq!(h.recorder.states(), [ActivityScheduled]);
    assert_eq!(h.factory.log.lock().closes, 1);
}

fn replaying(result: Result<ActivityResult, AionSurfaceError>) -> Harness {
    let recorder = TestRecorder {
        replay: Some(RecordedDispatchOutcome { result }),
        ..TestRecorder::default()
    };
    Harness::new(
        CountingPool::with(vec![worker("worker-a")]),
        RecordingRouter::scripted(&[]),
        ScriptedFactory::scripted(vec![response("worker-a", completed("live"))]),
        recorder,
    )
}

fn assert_no_live_activity(h: &Harness) {
    assert!(
        h.factory.log.lock().opens.is_empty(),
        "replay opened a conversation"
    );
    assert!(h.router.calls().is_empty(), "replay called the router");
    assert_eq!(
        h.pool.calls.load(Ordering::SeqCst),
        0,
        "replay took a snapshot"
    );
    assert!(
        h.recorder.inner.operations().is_empty(),
        "replay recorded operations"
    );
}

#[test]
fn replay_returns_recorded_outcome_without_live_conversation() {
    let h = replaying(Ok(completed("replayed")));
    assert_eq!(h.dispatch(), Ok(completed("replayed")));
    assert_no_live_activity(&h);
}

#[test]
fn replay_returns_recorded_failure_without_re_dispatch() {
    let recorded = AionSurfaceError::DispatchFailed {
        channel_name: "aion.dispatch.prod.email".into(),
        workflow_id: "wf-0".into(),
        message: NO_WORKERS_AVAILABLE.into(),
    };
    let h = replaying(Err(recorded.clone()));
    assert_eq!(h.dispatch(), Err(recorded));
    assert_no_live_activity(&h);
}

#[test]
fn routing_is_called_per_dispatch_not_membership_change() {
    let h = harness(
        &["worker-a"],
        &[],
        vec![response("worker-a", completed("first"))],
    );
    assert_eq!(h.dispatch(), Ok(completed("first")));
    h.pool.workers.lock().push(worker("worker-b"));
    // The response names worker-b although worker-a is selected: dispatch does not check.
    *h.factory.events.lock() = [Ok(response("worker-b", completed("second")))].into();
    assert_eq!(h.dispatch(), Ok(completed("second")));
    let calls = h.router.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].0, ["worker-a"]);
    assert_eq!(calls[1].0, ["worker-a", "worker-b"]);
}

#[test]
fn invalid_channel_name_touches_nothing() {
    let h = harness(&["worker-a"], &[], vec![]);
    for (namespace, queue, part) in [("", "email", "namespace"), ("prod", "a.b", "task_queue")] {
        let result = dispatch_activity_with_context(&h.context(), namespace, queue, request());
        let Err(AionSurfaceError::InvalidChannelName { part: got, .. }) = result else {
            panic!("expected InvalidChannelName, got {result:?}");
        };
        assert_eq!(got, part);
    }
    assert_eq!(h.recorder.replay_calls.load(Ordering::SeqCst), 0);
    assert_no_live_activity(&h);
}

fn with_factory(factory: ScriptedFactory, recorder: TestRecorder) -> Harness {
    Harness::new(
        CountingPool::with(vec![worker("worker-a")]),
        RecordingRouter::scripted(&[]),
        factory,
        recorder,
    )
}

#[test]
fn a_close_error_replaces_even_a_completed_result_and_is_not_recorded() {
    let factory = ScriptedFactory {
        close_error: Some(failed("close refused")),
        ..ScriptedFactory::scripted(vec![response("worker-a", completed("ok"))])
    };
    let h = with_factory(factory, TestRecorder::default());
    assert_eq!(h.dispatch(), Err(failed("close refused")));
    assert_eq!(h.factory.log.lock().closes, 1);
    assert_eq!(
        h.recorder.kinds(),
        [
            ConversationOpened,
            WorkerSelected,
            MessageSent,
            MessageReceived
        ]
    );
}

#[test]
fn a_close_error_replaces_an_attempt_error() {
    let factory = ScriptedFactory {
        close_error: Some(failed("close refused")),
        link_error: Some(failed("link refused")),
        ..ScriptedFactory::default()
    };
    let h = with_factory(factory, TestRecorder::default());
    assert_eq!(h.dispatch(), Err(failed("close refused")));
}

#[test]
fn a_failed_link_records_no_selection_and_still_closes() {
    let factory = ScriptedFactory {
        link_error: Some(failed("link refused")),
        ..ScriptedFactory::default()
    };
    let h = with_factory(factory, TestRecorder::default());
    assert_eq!(h.dispatch(), Err(failed("link refused")));
    assert_eq!(h.recorder.kinds(), [ConversationOpened, ConversationClosed]);
    assert_eq!(h.factory.log.lock().closes, 1);
}

#[test]
fn a_failed_send_records_the_selection_but_no_send() {
    let factory = ScriptedFactory {
        send_error: Some(failed("send refused")),
        ..ScriptedFactory::default()
    };
    let h = with_factory(factory, TestRecorder::default());
    assert_eq!(h.dispatch(), Err(failed("send refused")));
    assert_eq!(
        h.recorder.kinds(),
        [ConversationOpened, WorkerSelected, ConversationClosed]
    );
}

#[test]
fn a_failed_open_record_returns_without_closing() {
    let recorder = TestRecorder {
        fail_at: Some(ConversationOpened),
        ..TestRecorder::default()
    };
    let h = with_factory(ScriptedFactory::default(), recorder);
    assert_eq!(h.dispatch(), Err(failed("recorder refused")));
    assert_eq!(h.factory.log.lock().closes, 0);
    assert!(h.router.calls().is_empty());
}

#[test]
fn a_failed_record_inside_the_loop_still_closes() {
    let recorder = TestRecorder {
        fail_at: Some(MessageSent),
        ..TestRecorder::default()
    };
    let factory = ScriptedFactory::scripted(vec![response("worker-a", completed("ok"))]);
    let h = with_factory(factory, recorder);
    assert_eq!(h.dispatch(), Err(failed("recorder refused")));
    assert_eq!(h.factory.log.lock().closes, 1);
    assert_eq!(
        h.recorder.kinds(),
        [ConversationOpened, WorkerSelected, ConversationClosed]
    );
}

#[test]
fn a_failed_open_records_nothing() {
    let factory = ScriptedFactory {
        open_error: Some(failed("open refused")),
        ..ScriptedFactory::default()
    };
    let h = with_factory(factory, TestRecorder::default());
    assert_eq!(h.dispatch(), Err(failed("open refused")));
    assert!(h.recorder.kinds().is_empty());
}

#[test]
fn the_memory_recorder_replays_what_it_recorded() {
    let recorder = std::sync::Arc::new(MemoryRecorder::new());
    let h = harness(
        &["worker-a"],
        &[],
        vec![response("worker-a", completed("ok"))],
    );
    let mut ctx = h.context();
    ctx.recorder = recorder.clone();
    let live = dispatch_activity_with_context(&ctx, "prod", "email", request());
    assert_eq!(live, Ok(completed("ok")));
    assert_eq!(recorder.operations().len(), 5);
    recorder.start_replay();
    let opens = h.factory.log.lock().opens.len();
    let replayed = dispatch_activity_with_context(&ctx, "prod", "email", request());
    assert_eq!(replayed, live);
    assert_eq!(h.factory.log.lock().opens.len(), opens);
    assert_eq!(recorder.operations().len(), 5);
    // Replay is keyed by channel and request: another request goes live (and fails here,
    // the script being used up, which is recorded as its outcome).
    let other = ActivityRequest {
        activity_type: "other".into(),
        ..request()
    };
    assert!(
        recorder
            .replay_outcome("aion.dispatch.prod.email", &other)
            .unwrap()
            .is_none()
    );
}

#[test]
fn the_effective_workflow_id_defaults_when_empty() {
    let h = harness(&[], &[], vec![]);
    let mut ctx = h.context();
    ctx.workflow_id = String::new();
    assert_eq!(ctx.effective_workflow_id(), DEFAULT_WORKFLOW_ID);
    let _ = dispatch_activity_with_context(&ctx, "prod", "email", request());
    assert_eq!(h.factory.log.lock().opens[0].0, DEFAULT_WORKFLOW_ID);
}
