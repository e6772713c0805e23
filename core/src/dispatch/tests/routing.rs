//! The routing-function router (spec e.2 and f.2 test 7): eligibility, the supervised
//! executor's errors, hot deployment, and the three ready policies.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::doubles::*;
use crate::aion::{AionSurfaceError, dispatch_channel};
use crate::dispatch::*;
use crate::pool::DispatchWorker;
use crate::process::Pid;
use crate::routing::{ConsumerId, ConsumerStateView};
use crate::rt::{self, Globals, Instant, Scheduler, Site, TaskId};

fn view_worker(id: &str, in_flight: u32, max: u32, tags: &[&str]) -> DispatchWorker {
    let view = ConsumerStateView {
        consumer: ConsumerId(id.into()),
        current_in_flight: in_flight,
        max_in_flight: max,
        buffer_depth: 0,
        affinity_tags: tags.iter().map(|t| (*t).to_owned()).collect(),
    };
    DispatchWorker::with_state(id, Pid(1), view)
}

fn select(
    router: &RoutingFunctionDispatchRouter,
    candidates: &[DispatchWorker],
    excluded: &[&str],
) -> Result<Option<String>, AionSurfaceError> {
    let channel = dispatch_channel("prod", "email").unwrap();
    let excluded: Vec<String> = excluded.iter().map(|id| (*id).to_owned()).collect();
    router
        .select_worker("wf-1", &channel, &request(), candidates, &excluded)
        .map(|selected| selected.map(|worker| worker.worker_id.to_string()))
}

fn selecting(id: &'static str) -> RoutingFunctionDispatchRouter {
    RoutingFunctionDispatchRouter::new(RoutingFunction::new(id, id.as_bytes(), move |_, _| {
        RoutingDecision {
            selected: Some(ConsumerId(id.into())),
        }
    }))
}

fn dispatch_failed_message(result: Result<Option<String>, AionSurfaceError>) -> String {
    match result {
        Err(AionSurfaceError::DispatchFailed { message, .. }) => message,
        other => panic!("expected DispatchFailed, got {other:?}"),
    }
}

#[test]
fn routing_function_adapter_selects_from_current_candidates() {
    let router = RoutingFunctionDispatchRouter::new(RoutingFunction::new(
        "second-for-email",
        b"second",
        |message, views| match message.get("activity_type") {
            Some(FieldValue::Text(kind)) if kind == "send-email" => RoutingDecision {
                selected: views.get(1).map(|view| view.consumer.clone()),
            },
            _ => RoutingDecision::default(),
        },
    ));
    let candidates = [worker("worker-a"), worker("worker-b")];
    assert_eq!(
        select(&router, &candidates, &[]),
        Ok(Some("worker-b".into()))
    );
}

#[test]
fn the_message_carries_the_requests_own_fields() {
    let seen = Arc::new(crate::sync::Mutex::named("test.seen", None));
    let record = seen.clone();
    let router =
        RoutingFunctionDispatchRouter::new(RoutingFunction::new("spy", b"spy", move |m, _| {
            *record.lock() = Some(m.clone());
            RoutingDecision::default()
        }));
    assert_eq!(select(&router, &[], &[]), Ok(None));
    let message = seen.lock().clone().unwrap();
    let text = |s: &str| FieldValue::Text(s.into());
    assert_eq!(message.len(), 3);
    assert_eq!(message["activity_type"], text("send-email"));
    assert_eq!(message["task_queue"], text("email"));
    assert_eq!(message["input_content_type"], text("application/json"));
}

#[test]
fn a_panicking_function_is_a_dispatch_error() {
    let router =
        RoutingFunctionDispatchRouter::new(RoutingFunction::new("boom", b"boom", |_, _| {
            panic!("routing bug")
        }));
    let message = dispatch_failed_message(select(&router, &[worker("worker-a")], &[]));
    assert!(message.contains("panicked during execution"), "{message}");
    assert!(message.contains("routing bug"), "{message}");
}

#[test]
fn an_unknown_or_excluded_selection_is_an_error_not_none() {
    let candidates = [worker("worker-a"), worker("worker-b")];
    let unknown = dispatch_failed_message(select(&selecting("worker-z"), &candidates, &[]));
    assert_eq!(unknown, "routing selected unknown worker 'worker-z'");
    let excluded =
        dispatch_failed_message(select(&selecting("worker-a"), &candidates, &["worker-a"]));
    assert_eq!(excluded, "routing selected unknown worker 'worker-a'");
    // The function runs even with no eligible worker; a selection then is unknown.
    let empty = dispatch_failed_message(select(&selecting("worker-a"), &[], &[]));
    assert_eq!(empty, "routing selected unknown worker 'worker-a'");
}

#[test]
fn a_deployment_changes_later_calls() {
    let router = selecting("worker-a");
    let candidates = [worker("worker-a"), worker("worker-b")];
    assert_eq!(
        select(&router, &candidates, &[]),
        Ok(Some("worker-a".into()))
    );
    router.slot.deploy(selecting("worker-b").slot.current());
    assert_eq!(
        select(&router, &candidates, &[]),
        Ok(Some("worker-b".into()))
    );
    assert_eq!(router.slot.current().name(), "worker-b");
}

#[test]
fn policies_choose_as_documented() {
    let candidates = [
        view_worker("full", 2, 2, &["send-email"]),
        view_worker("busy", 3, 4, &[]),
        view_worker("idle", 0, 2, &["other"]),
        view_worker("roomy", 1, 3, &["send-email"]),
    ];
    let router = |function| RoutingFunctionDispatchRouter::new(function);
    let pick = |function| select(&router(function), &candidates, &[]);
    assert_eq!(pick(policy::first_with_capacity()), Ok(Some("busy".into())));
    // idle and roomy both have 2 free slots: the earlier wins.
    assert_eq!(pick(policy::least_loaded()), Ok(Some("idle".into())));
    assert_eq!(
        pick(policy::affinity_by_activity_type()),
        Ok(Some("roomy".into()))
    );
    let all_full = [
        view_worker("a", 1, 1, &["send-email"]),
        view_worker("b", 0, 0, &[]),
    ];
    for function in [
        policy::first_with_capacity(),
        policy::least_loaded(),
        policy::affinity_by_activity_type(),
    ] {
        assert_eq!(select(&router(function), &all_full, &[]), Ok(None));
    }
    // Excluded workers are invisible to every policy.
    assert_eq!(
        select(
            &router(policy::first_with_capacity()),
            &candidates,
            &["busy"]
        ),
        Ok(Some("idle".into()))
    );
}

/// The production scheduler with a clock that only the test moves, so an overrun is exact.
pub(super) struct ManualClock {
    pub(super) inner: Arc<dyn Scheduler>,
    pub(super) nanos: AtomicU64,
}

impl Scheduler for ManualClock {
    fn spawn(&self, name: &str, body: Box<dyn FnOnce() + Send + 'static>) -> TaskId {
        self.inner.spawn(name, body)
    }
    fn current(&self) -> TaskId {
        self.inner.current()
    }
    fn point(&self, site: Site) {
        self.inner.point(site);
    }
    fn park(&self, site: Site, deadline: Option<Instant>) {
        self.inner.park(site, deadline);
    }
    fn unpark(&self, task: TaskId) {
        self.inner.unpark(task);
    }
    fn now(&self) -> Instant {
        Instant::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
    fn random_u64(&self) -> u64 {
        self.inner.random_u64()
    }
    fn globals(&self) -> &Globals {
        self.inner.globals()
    }
}

#[test]
fn an_overrunning_function_is_a_dispatch_error_measured_on_the_schedulers_clock() {
    let clock = Arc::new(ManualClock {
        inner: rt::current(),
        nanos: AtomicU64::new(0),
    });
    let _entered = rt::enter(clock.clone());
    let runs = |nanos: u64| {
        let clock = clock.clone();
        RoutingFunctionDispatchRouter {
            slot: Arc::new(RoutingSlot::new(RoutingFunction::new(
                "slow",
                b"slow",
                move |_, views| {
                    clock.nanos.fetch_add(nanos, Ordering::SeqCst);
                    RoutingDecision {
                        selected: views.first().map(|view| view.consumer.clone()),
                    }
                },
            ))),
            executor: SupervisedExecutor {
                timeout: Duration::from_millis(10),
            },
        }
    };
    let candidates = [worker("worker-a")];
    let exactly = runs(10_000_000);
    assert_eq!(
        select(&exactly, &candidates, &[]),
        Ok(Some("worker-a".into()))
    );
    let message = dispatch_failed_message(select(&runs(10_000_001), &candidates, &[]));
    assert!(
        message.contains("exceeded the supervision timeout"),
        "{message}"
    );
}
