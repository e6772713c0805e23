//! PCT and bounded DFS on the shared models: they find the planted bugs, pass the fixed
//! versions, and DFS ends by exhausting its tree without repeating a schedule.

use vigil_sim::{Config, Dfs, FailureKind, Pct, StopReason, run};

use super::models::{check_then_act, lock_order};

fn config(executions: u64) -> Config {
    let mut config = Config::default();
    config.seed = 21;
    config.executions = executions;
    config
}

#[test]
fn pct_finds_the_lock_order_deadlock_and_passes_the_fix() {
    let report = run(&config(500), &mut Pct::new(21, 2), lock_order(false));
    let failure = report.failure().expect("PCT finds the inversion");
    assert!(
        matches!(failure.kind, FailureKind::Deadlock { .. }),
        "{failure}"
    );
    let fixed = run(&config(500), &mut Pct::new(21, 2), lock_order(true));
    assert_eq!(fixed.stats().map(|stats| stats.executions), Some(500));
}

#[test]
fn pct_is_deterministic_for_a_seed() {
    let first = run(&config(50), &mut Pct::new(5, 3), check_then_act(true));
    let second = run(&config(50), &mut Pct::new(5, 3), check_then_act(true));
    assert_eq!(first.trace().render(), second.trace().render());
    assert_eq!(first.schedule(), second.schedule());
}

#[test]
fn dfs_finds_the_check_then_act_race_within_one_preemption() {
    let report = run(&config(10_000), &mut Dfs::new(1), check_then_act(false));
    let failure = report.failure().expect("one preemption exposes the race");
    assert!(matches!(failure.kind, FailureKind::Panic), "{failure}");
}

#[test]
fn dfs_exhausts_the_fixed_model_without_repeating_a_schedule() {
    let report = run(&config(100_000), &mut Dfs::new(2), check_then_act(true));
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.stop, StopReason::StrategyExhausted);
    assert!(stats.executions > 1);
    assert_eq!(stats.distinct_schedules, stats.executions);
}

#[test]
fn a_larger_preemption_bound_explores_more_schedules() {
    let executions = |bound| {
        run(&config(100_000), &mut Dfs::new(bound), check_then_act(true))
            .stats()
            .map(|stats| stats.executions)
            .unwrap()
    };
    let (zero, one, two) = (executions(0), executions(1), executions(2));
    assert!(zero < one && one < two, "{zero} {one} {two}");
}
