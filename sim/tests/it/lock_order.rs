//! A lock-order inversion is found as a deadlock that names its sites; the fix passes.

use vigil_core::rt::{Op, Site};
use vigil_sim::{FailureKind, check_random};

use crate::{explore, explore_from, models};

#[test]
fn an_inversion_is_found_as_a_deadlock_that_names_both_sites() {
    let report = explore(300, models::lock_order(false));
    let failure = report
        .failure()
        .expect("the deadlock is found within 300 executions");
    let FailureKind::Deadlock { blocked } = &failure.kind else {
        panic!("expected a deadlock, got {failure}");
    };
    let mut waits: Vec<(&str, Site)> = blocked.iter().map(|t| (t.name.as_str(), t.site)).collect();
    waits.sort();
    assert_eq!(
        waits,
        [
            ("main", Site::new("lock_b", Op::Lock)),
            ("worker", Site::new("lock_a", Op::Lock))
        ]
    );
    assert!(
        failure.message.contains("t0 'main' parked at lock_b lock"),
        "{failure}"
    );
    assert!(
        failure
            .message
            .contains("t1 'worker' parked at lock_a lock"),
        "{failure}"
    );
    let text = failure.to_string();
    assert!(
        text.starts_with("vigil-sim: deadlock in execution"),
        "{text}"
    );
    assert!(text.contains("VIGIL_REPLAY=v1:"), "{text}");
}

#[test]
fn the_inversion_is_found_from_many_seeds() {
    for seed in 0..20 {
        let report = explore_from(seed, 300, models::lock_order(false));
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("seed {seed} missed it"));
        assert!(
            matches!(failure.kind, FailureKind::Deadlock { .. }),
            "{failure}"
        );
    }
}

#[test]
fn a_consistent_lock_order_passes_the_same_budget() {
    let report = explore(300, models::lock_order(true));
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.executions, 300);
}

#[test]
fn check_random_accepts_the_fixed_model() {
    check_random(models::lock_order(true), 300);
}
