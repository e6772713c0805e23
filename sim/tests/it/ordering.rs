//! A check-then-act race on an atomic flag is found as a panic; doing it under a lock passes.

use vigil_sim::FailureKind;

use crate::{explore, models};

#[test]
fn check_then_act_without_the_lock_is_found_as_a_panic() {
    let report = explore(300, models::check_then_act(false));
    let failure = report
        .failure()
        .expect("the race is found within 300 executions");
    assert_eq!(failure.kind, FailureKind::Panic);
    assert!(
        failure.message.starts_with("t0 'main' panicked: "),
        "{failure}"
    );
    assert!(
        failure.message.contains("the job was claimed twice"),
        "{failure}"
    );
    let tail = failure.trace_tail.join("\n");
    assert!(
        tail.contains("panic: assertion `left == right` failed"),
        "{tail}"
    );
}

#[test]
fn check_then_act_under_the_lock_passes_the_same_budget() {
    let report = explore(300, models::check_then_act(true));
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.executions, 300);
    assert!(stats.steps_max_seen > 10);
}
