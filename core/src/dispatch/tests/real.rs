//! Dispatch on the real pool and process substrate (production scheduler): requests reach
//! the selected worker only, a worker that exits mid-activity or before its link is excluded
//! and another selected, and every path leaves no conversation, link or in-flight count.

use std::sync::Arc;

use super::doubles::{completed, request};
use crate::aion::{ActivityRequest, dispatch_channel};
use crate::aion::{ActivityResult, AionSurfaceError, ChannelName, WorkerCapacity};
use crate::dispatch::DispatchOperationKind::*;
use crate::dispatch::*;
use crate::pool::{DispatchWorker, DispatchWorkerPool, WorkerContext};
use crate::process::{ExitReason, Pid};
use crate::sync::{Mutex, OnceCell};

pub(super) fn capacity(max: usize) -> WorkerCapacity {
    WorkerCapacity {
        max_concurrent: max,
        activity_types: vec!["send-email".into()],
    }
}

pub(super) fn answering(text: &'static str) -> ActivityHandler {
    Arc::new(move |_: &ActivityRequest| completed(text))
}

fn channel() -> ChannelName {
    dispatch_channel("prod", "email").unwrap()
}

/// A context on `pool` that records into `recorder` and routes first-with-capacity.
pub(super) fn context(pool: &WorkerContext, recorder: &Arc<MemoryRecorder>) -> DispatchContext {
    let router = RoutingFunctionDispatchRouter::new(policy::first_with_capacity());
    DispatchContext {
        recorder: recorder.clone(),
        ..DispatchContext::for_pool(pool, Arc::new(router))
    }
}

/// Registers a dispatch worker on prod/email whose handler ends the worker's own process
/// before it answers: a worker that exits mid-activity.
pub(super) fn register_exiting_worker(pool: &WorkerContext) -> DispatchWorkerHandle {
    let pid: Arc<OnceCell<Pid>> = Arc::new(OnceCell::named("test.pid"));
    let node = pool.supervisor_for(&channel()).unwrap().node().clone();
    let crash = {
        let pid = pid.clone();
        Arc::new(move |_: &ActivityRequest| {
            // The exit reaches the linked conversation before this answer is sent.
            node.terminate(*pid.get().unwrap(), ExitReason::Error);
            completed("too late")
        })
    };
    let worker = register_dispatch_worker(pool, "prod", "email", capacity(1), crash).unwrap();
    let _ = pid.set(worker.registration().participant());
    worker
}

pub(super) fn kinds(recorder: &MemoryRecorder) -> Vec<DispatchOperationKind> {
    recorder.operations().iter().map(|op| op.kind).collect()
}

fn selected(recorder: &MemoryRecorder) -> Vec<String> {
    recorder
        .operations()
        .iter()
        .filter(|op| op.kind == WorkerSelected)
        .filter_map(|op| op.worker_id.clone())
        .collect()
}

/// Nothing of any dispatch is left: no conversation process, and every worker's process is
/// linked to its monitor actor only.
pub(super) fn assert_nothing_open(pool: &WorkerContext, workers: &[&DispatchWorkerHandle]) {
    let Some(supervisor) = pool.peek_supervisor() else {
        return;
    };
    let node = supervisor.node();
    let names = node.peek_processes().unwrap();
    assert!(
        names
            .iter()
            .all(|(_, name)| *name != "dispatch-conversation"),
        "a conversation process is left: {names:?}"
    );
    for worker in workers {
        let registration = worker.registration();
        let participant = registration.participant();
        let links: Vec<Pid> = node
            .peek_view(|view| view.links(participant).collect())
            .unwrap();
        let alive = node.peek_alive(participant).unwrap();
        assert!(
            links.len() <= usize::from(alive),
            "{participant} still linked to {links:?}"
        );
        assert_eq!(
            registration.current_in_flight(),
            0,
            "{}",
            registration.worker_id()
        );
    }
}

#[test]
fn a_request_reaches_the_selected_worker_only_and_its_answer_comes_back() {
    let pool = WorkerContext::new();
    let seen = Arc::new(Mutex::named("test.seen", Vec::new()));
    let spy = |name: &'static str| -> ActivityHandler {
        let seen = seen.clone();
        Arc::new(move |request: &ActivityRequest| {
            seen.lock().push((name, request.clone()));
            completed(name)
        })
    };
    let a = register_dispatch_worker(&pool, "prod", "email", capacity(1), spy("a")).unwrap();
    let b = register_dispatch_worker(&pool, "prod", "email", capacity(1), spy("b")).unwrap();
    let recorder = Arc::new(MemoryRecorder::new());
    let ctx = context(&pool, &recorder);
    let result = dispatch_activity_with_context(&ctx, "prod", "email", request());
    assert_eq!(result, Ok(completed("a")));
    assert_eq!(*seen.lock(), [("a", request())]);
    assert_eq!(
        kinds(&recorder),
        [
            ConversationOpened,
            WorkerSelected,
            MessageSent,
            MessageReceived,
            ConversationClosed
        ]
    );
    assert_nothing_open(&pool, &[&a, &b]);
    // A worker that is full is passed over.
    a.registration().set_in_flight(1);
    let result = dispatch_activity_with_context(&ctx, "prod", "email", request());
    assert_eq!(result, Ok(completed("b")));
    a.registration().set_in_flight(0);
    assert_nothing_open(&pool, &[&a, &b]);
    a.unregister().unwrap();
    b.unregister().unwrap();
}

/// A snapshot taken once and returned on every call: the workers in it may have died since.
#[derive(Debug)]
struct StalePool(Vec<DispatchWorker>);

impl DispatchWorkerPool for StalePool {
    fn workers_for(
        &self,
        _channel: &ChannelName,
        _request: &ActivityRequest,
    ) -> Result<Vec<DispatchWorker>, AionSurfaceError> {
        Ok(self.0.clone())
    }
}

#[test]
fn a_worker_dead_before_its_link_counts_as_exited_and_dispatch_reselects() {
    let pool = WorkerContext::new();
    let a = register_dispatch_worker(&pool, "prod", "email", capacity(1), answering("a")).unwrap();
    let b = register_dispatch_worker(&pool, "prod", "email", capacity(1), answering("b")).unwrap();
    let snapshot = pool.workers_for_channel(&channel()).unwrap();
    let node = pool.peek_supervisor().unwrap().node().clone();
    assert!(node.terminate(a.registration().participant(), ExitReason::Error));
    let recorder = Arc::new(MemoryRecorder::new());
    let ctx = DispatchContext {
        worker_pool: Arc::new(StalePool(snapshot)),
        ..context(&pool, &recorder)
    };
    let result = dispatch_activity_with_context(&ctx, "prod", "email", request());
    assert_eq!(result, Ok(completed("b")));
    assert_eq!(
        kinds(&recorder),
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
    assert_eq!(selected(&recorder), ["worker-1", "worker-2"]);
    let exit = &recorder.operations()[3];
    assert!(
        exit.message.as_deref().unwrap().contains("noproc"),
        "{exit:?}"
    );
    // With only the dead worker left, the dispatch fails with the named error.
    let b_pid = b.registration().participant();
    assert!(node.terminate(b_pid, ExitReason::Error));
    let recorder = Arc::new(MemoryRecorder::new());
    let ctx = DispatchContext {
        worker_pool: ctx.worker_pool.clone(),
        ..context(&pool, &recorder)
    };
    let Err(AionSurfaceError::DispatchFailed { message, .. }) =
        dispatch_activity_with_context(&ctx, "prod", "email", request())
    else {
        panic!("expected NoWorkersAvailable");
    };
    assert_eq!(message, NO_WORKERS_AVAILABLE);
    assert_eq!(selected(&recorder), ["worker-1", "worker-2"]);
    let (mut a, mut b) = (a, b);
    a.join_loop_after_exit();
    b.join_loop_after_exit();
    assert_nothing_open(&pool, &[&a, &b]);
}

#[test]
fn a_worker_that_exits_mid_activity_is_excluded_and_another_answers() {
    let pool = WorkerContext::new();
    let mut a = register_exiting_worker(&pool);
    let b = register_dispatch_worker(&pool, "prod", "email", capacity(1), answering("b")).unwrap();
    let recorder = Arc::new(MemoryRecorder::new());
    let result =
        dispatch_activity_with_context(&context(&pool, &recorder), "prod", "email", request());
    assert_eq!(result, Ok(completed("b")));
    assert_eq!(selected(&recorder), ["worker-1", "worker-2"]);
    let states: Vec<_> = recorder
        .operations()
        .iter()
        .filter_map(|op| op.activity_state)
        .collect();
    assert_eq!(
        states,
        [
            ActivityDispatchState::ActivityScheduled,
            ActivityDispatchState::ActivityStarted,
            ActivityDispatchState::ActivityFailed {
                retry_eligible: true
            },
            ActivityDispatchState::ActivityStarted,
            ActivityDispatchState::ActivityCompleted,
        ]
    );
    a.join_loop_after_exit();
    assert_nothing_open(&pool, &[&a, &b]);
}

#[test]
fn a_worker_failure_or_panic_is_dispatch_failed_with_the_workers_text() {
    let pool = WorkerContext::new();
    let panics: ActivityHandler = Arc::new(|_: &ActivityRequest| panic!("handler bug"));
    let a = register_dispatch_worker(&pool, "prod", "email", capacity(1), panics).unwrap();
    let recorder = Arc::new(MemoryRecorder::new());
    let Err(AionSurfaceError::DispatchFailed { message, .. }) =
        dispatch_activity_with_context(&context(&pool, &recorder), "prod", "email", request())
    else {
        panic!("expected DispatchFailed");
    };
    assert!(
        message.contains("worker 'worker-1' failed activity"),
        "{message}"
    );
    assert!(message.contains("handler bug"), "{message}");
    let received = &recorder.operations()[3];
    assert!(matches!(
        received.result,
        Some(ActivityResult::Failed { .. })
    ));
    assert_nothing_open(&pool, &[&a]);
    a.unregister().unwrap();
}

#[test]
fn malformed_input_and_an_empty_pool_give_the_named_errors_and_leave_nothing_open() {
    let pool = WorkerContext::new();
    let recorder = Arc::new(MemoryRecorder::new());
    let ctx = context(&pool, &recorder);
    let invalid = dispatch_activity_with_context(&ctx, "pr.od", "email", request());
    assert!(matches!(
        invalid,
        Err(AionSurfaceError::InvalidChannelName { .. })
    ));
    assert!(recorder.operations().is_empty());
    assert!(
        pool.peek_supervisor().is_none(),
        "an invalid name must spawn nothing"
    );
    let Err(AionSurfaceError::DispatchFailed { message, .. }) =
        dispatch_activity_with_context(&ctx, "prod", "email", request())
    else {
        panic!("expected NoWorkersAvailable");
    };
    assert_eq!(message, NO_WORKERS_AVAILABLE);
    assert_eq!(kinds(&recorder), [ConversationOpened, ConversationClosed]);
    let processes = pool
        .peek_supervisor()
        .unwrap()
        .node()
        .peek_processes()
        .unwrap();
    assert!(processes.is_empty(), "left behind: {processes:?}");
}

#[test]
fn routing_errors_leave_nothing_open() {
    let pool = WorkerContext::new();
    let a = register_dispatch_worker(&pool, "prod", "email", capacity(1), answering("a")).unwrap();
    let functions = [
        RoutingFunction::new("panics", b"p", |_, _| panic!("routing bug")),
        RoutingFunction::new("unknown", b"u", |_, _| RoutingDecision {
            selected: Some(crate::routing::ConsumerId("worker-9".into())),
        }),
    ];
    for function in functions {
        let recorder = Arc::new(MemoryRecorder::new());
        let ctx = DispatchContext {
            router: Arc::new(RoutingFunctionDispatchRouter::new(function)),
            ..context(&pool, &recorder)
        };
        let result = dispatch_activity_with_context(&ctx, "prod", "email", request());
        assert!(
            matches!(result, Err(AionSurfaceError::DispatchFailed { .. })),
            "{result:?}"
        );
        assert_eq!(kinds(&recorder), [ConversationOpened, ConversationClosed]);
        assert_nothing_open(&pool, &[&a]);
    }
    a.unregister().unwrap();
}

#[test]
fn dispatch_activity_reaches_a_worker_on_the_default_pool() {
    let pool = crate::pool::default_worker_context();
    let worker = register_dispatch_worker(
        &pool,
        "default-ctx-test",
        "email",
        capacity(1),
        answering("default"),
    )
    .unwrap();
    let result = dispatch_activity("default-ctx-test", "email", request());
    assert_eq!(result, Ok(completed("default")));
    assert_eq!(worker.registration().current_in_flight(), 0);
    worker.unregister().unwrap();
    let none = dispatch_activity("default-ctx-test", "email", request());
    assert!(matches!(none, Err(AionSurfaceError::DispatchFailed { .. })));
}
