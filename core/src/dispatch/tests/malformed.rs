//! Malformed input on the real pool (production scheduler): invalid channel names, routing
//! functions that panic, overrun, or select an unknown or an excluded worker, and an empty
//! pool each give the error the spec names, and afterwards the node holds exactly the
//! processes and links it held before, and no worker is left with an in-flight count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::doubles::{completed, request};
use super::real::{
    answering, assert_nothing_open, capacity, context, kinds, register_exiting_worker,
};
use super::routing::ManualClock;
use crate::aion::AionSurfaceError;
use crate::dispatch::DispatchOperationKind::*;
use crate::dispatch::*;
use crate::pool::WorkerContext;
use crate::process::Pid;
use crate::routing::ConsumerId;
use crate::rt;

/// Every process of the pool's node with its name and its links, in pid order.
type Census = Vec<(Pid, &'static str, Vec<Pid>)>;

fn census(pool: &WorkerContext) -> Census {
    let Some(supervisor) = pool.peek_supervisor() else {
        return Vec::new();
    };
    let node = supervisor.node();
    let processes = node
        .peek_processes()
        .expect("no task holds the process table");
    let mut census: Census = processes
        .into_iter()
        .map(|(pid, name)| {
            let mut links: Vec<Pid> = node.peek_view(|view| view.links(pid).collect()).unwrap();
            links.sort_unstable();
            (pid, name, links)
        })
        .collect();
    census.sort_unstable_by_key(|(pid, _, _)| *pid);
    census
}

/// The message of a `DispatchFailed`, or a panic naming what came instead.
fn failed_message(result: Result<crate::aion::ActivityResult, AionSurfaceError>) -> String {
    match result {
        Err(AionSurfaceError::DispatchFailed { message, .. }) => message,
        other => panic!("expected DispatchFailed, got {other:?}"),
    }
}

/// A router around `function` with a 10 ms supervision timeout.
fn routed(function: RoutingFunction) -> Arc<RoutingFunctionDispatchRouter> {
    Arc::new(RoutingFunctionDispatchRouter {
        slot: Arc::new(RoutingSlot::new(function)),
        executor: SupervisedExecutor {
            timeout: Duration::from_millis(10),
        },
    })
}

#[test]
fn invalid_channel_names_fail_before_anything_is_called_or_opened() {
    let pool = WorkerContext::new();
    let worker =
        register_dispatch_worker(&pool, "prod", "email", capacity(1), answering("a")).unwrap();
    let before = census(&pool);
    let calls = Arc::new(AtomicU64::new(0));
    let counting = {
        let calls = calls.clone();
        RoutingFunction::new("counts", b"counts", move |_, views| {
            calls.fetch_add(1, Ordering::SeqCst);
            RoutingDecision {
                selected: views.first().map(|view| view.consumer.clone()),
            }
        })
    };
    let cases = [
        ("", "email", "namespace", "must not be empty"),
        ("pr.od", "email", "namespace", "must not contain dots"),
        ("prod", "", "task_queue", "must not be empty"),
        ("prod", "e.mail", "task_queue", "must not contain dots"),
    ];
    for (namespace, queue, part, message) in cases {
        let recorder = Arc::new(MemoryRecorder::new());
        let ctx = DispatchContext {
            router: routed(counting.clone()),
            ..context(&pool, &recorder)
        };
        let result = dispatch_activity_with_context(&ctx, namespace, queue, request());
        let input = if part == "namespace" {
            namespace
        } else {
            queue
        };
        assert_eq!(
            result,
            Err(AionSurfaceError::InvalidChannelName {
                part: part.into(),
                input: input.into(),
                message: message.into(),
            })
        );
        assert!(recorder.operations().is_empty(), "{namespace:?}/{queue:?}");
        assert_eq!(census(&pool), before, "{namespace:?}/{queue:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the router was called");
    assert_nothing_open(&pool, &[&worker]);
    worker.unregister().unwrap();
}

#[test]
fn panicking_and_unknown_selections_name_their_error_and_leave_the_node_as_it_was() {
    let pool = WorkerContext::new();
    let worker =
        register_dispatch_worker(&pool, "prod", "email", capacity(1), answering("a")).unwrap();
    let before = census(&pool);
    let cases = [
        (
            RoutingFunction::new("panics", b"p", |_, _| panic!("routing bug")),
            "routing function 'panics' panicked during execution: routing bug",
        ),
        (
            RoutingFunction::new("unknown", b"u", |_, _| RoutingDecision {
                selected: Some(ConsumerId("worker-9".into())),
            }),
            "routing selected unknown worker 'worker-9'",
        ),
    ];
    for (function, expected) in cases {
        let recorder = Arc::new(MemoryRecorder::new());
        let ctx = DispatchContext {
            router: routed(function),
            ..context(&pool, &recorder)
        };
        let message = failed_message(dispatch_activity_with_context(
            &ctx,
            "prod",
            "email",
            request(),
        ));
        assert_eq!(message, expected);
        assert_eq!(kinds(&recorder), [ConversationOpened, ConversationClosed]);
        assert_eq!(census(&pool), before, "{expected}");
        assert_nothing_open(&pool, &[&worker]);
    }
    worker.unregister().unwrap();
}

/// The overrun is measured on the scheduler's clock; the routing function moves a clock that
/// only this test moves, so the overrun is exact and nothing here depends on real time.
#[test]
fn an_overrunning_routing_function_is_timed_out_and_leaves_the_node_as_it_was() {
    let pool = WorkerContext::new();
    let worker =
        register_dispatch_worker(&pool, "prod", "email", capacity(1), answering("a")).unwrap();
    let before = census(&pool);
    let clock = Arc::new(ManualClock {
        inner: rt::current(),
        nanos: AtomicU64::new(0),
    });
    let overruns = {
        let clock = clock.clone();
        RoutingFunction::new("overruns", b"o", move |_, views| {
            clock.nanos.fetch_add(10_000_001, Ordering::SeqCst);
            RoutingDecision {
                selected: views.first().map(|view| view.consumer.clone()),
            }
        })
    };
    let recorder = Arc::new(MemoryRecorder::new());
    let ctx = DispatchContext {
        router: routed(overruns),
        ..context(&pool, &recorder)
    };
    let result = {
        // Only the dispatching thread reads the manual clock; the node's runner and the
        // worker's loop keep the production scheduler.
        let _entered = rt::enter(clock.clone());
        dispatch_activity_with_context(&ctx, "prod", "email", request())
    };
    let message = failed_message(result);
    assert!(
        message.starts_with(
            "routing function 'overruns' exceeded the supervision timeout of 10ms (ran for"
        ),
        "{message}"
    );
    assert_eq!(kinds(&recorder), [ConversationOpened, ConversationClosed]);
    assert_eq!(census(&pool), before);
    assert_nothing_open(&pool, &[&worker]);
    // The same dispatch within the timeout completes: the error came from the overrun.
    let within = routed(policy::first_with_capacity());
    let ctx = DispatchContext {
        router: within,
        ..ctx
    };
    assert_eq!(
        dispatch_activity_with_context(&ctx, "prod", "email", request()),
        Ok(completed("a"))
    );
    worker.unregister().unwrap();
}

/// A worker that exits mid-activity is excluded; a routing function that selects it again is
/// told it selected an unknown worker (spec e.2 step 7), and the dispatch closes.
#[test]
fn selecting_an_excluded_worker_is_an_unknown_selection_and_closes_the_conversation() {
    let pool = WorkerContext::new();
    let mut a = register_exiting_worker(&pool);
    let b = register_dispatch_worker(&pool, "prod", "email", capacity(1), answering("b")).unwrap();
    let always_a = RoutingFunction::new("always-a", b"a", |_, _| RoutingDecision {
        selected: Some(ConsumerId("worker-1".into())),
    });
    let recorder = Arc::new(MemoryRecorder::new());
    let ctx = DispatchContext {
        router: routed(always_a),
        ..context(&pool, &recorder)
    };
    let message = failed_message(dispatch_activity_with_context(
        &ctx,
        "prod",
        "email",
        request(),
    ));
    assert_eq!(message, "routing selected unknown worker 'worker-1'");
    assert_eq!(
        kinds(&recorder),
        [
            ConversationOpened,
            WorkerSelected,
            MessageSent,
            WorkerExited,
            ConversationClosed
        ]
    );
    a.join_loop_after_exit();
    assert_nothing_open(&pool, &[&a, &b]);
    let conversations = census(&pool)
        .into_iter()
        .filter(|(_, name, _)| *name == "dispatch-conversation")
        .count();
    assert_eq!(conversations, 0);
    b.unregister().unwrap();
}

#[test]
fn an_empty_pool_is_no_workers_available_and_leaves_no_process() {
    let pool = WorkerContext::new();
    let worker =
        register_dispatch_worker(&pool, "prod", "other", capacity(1), answering("a")).unwrap();
    let before = census(&pool);
    let recorder = Arc::new(MemoryRecorder::new());
    let ctx = context(&pool, &recorder);
    let message = failed_message(dispatch_activity_with_context(
        &ctx,
        "prod",
        "email",
        request(),
    ));
    assert_eq!(message, NO_WORKERS_AVAILABLE);
    assert_eq!(kinds(&recorder), [ConversationOpened, ConversationClosed]);
    assert_eq!(census(&pool), before);
    assert_nothing_open(&pool, &[&worker]);
    worker.unregister().unwrap();
}
