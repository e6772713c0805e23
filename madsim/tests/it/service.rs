//! The example service under node kills, restarts and partitions.

use madsim::runtime::Runtime;
use vigil_madsim::service::{self, Report, RequestOutcome, ServiceConfig};

fn total(config: &ServiceConfig) -> usize {
    config.clients * config.requests_per_client
}

fn assert_clean(report: &Report) {
    assert_eq!(
        report.violation,
        None,
        "trace:\n{}",
        report.trace.join("\n")
    );
    assert_eq!(report.panics, Vec::new());
}

#[madsim::test]
async fn every_request_completes_when_nothing_fails() {
    let mut config = ServiceConfig::default();
    config.chaos = false;
    let report = service::run(&config).await;
    assert_clean(&report);
    assert_eq!(report.outcomes.len(), total(&config));
    let completed = report
        .outcomes
        .iter()
        .filter(|(_, _, outcome)| *outcome == RequestOutcome::Completed)
        .count();
    assert_eq!(completed, total(&config));
    assert_eq!(
        (report.received, report.resolved),
        (total(&config), total(&config))
    );
}

#[madsim::test]
async fn no_request_is_lost_while_nodes_die_and_the_network_splits() {
    let config = ServiceConfig::default();
    let report = service::run(&config).await;
    assert_clean(&report);
    // Every request sent ended, each in a named way; the dispatcher resolved everything it
    // received, whether or not the reply made it back.
    assert_eq!(report.outcomes.len(), total(&config));
    assert_eq!(report.received, report.resolved);
    for (_, _, outcome) in &report.outcomes {
        if let RequestOutcome::Failed(message) = outcome {
            assert!(
                message.starts_with("dispatch failed") || message.starts_with("worker '"),
                "not a named dispatch error: {message}"
            );
        }
    }
    // The run did what it claims: nodes died and links were cut while requests flowed, and
    // most requests still completed.
    let events = report.trace.join("\n");
    assert!(events.contains("kill node"), "{events}");
    let completed = report
        .outcomes
        .iter()
        .filter(|(_, _, outcome)| *outcome == RequestOutcome::Completed)
        .count();
    assert!(completed * 2 > total(&config), "{events}");
}

fn traced_run(seed: u64) -> Vec<String> {
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.block_on(async { service::run(&ServiceConfig::default()).await.trace })
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let first = traced_run(11);
    assert_eq!(first, traced_run(11));
    assert_ne!(first, traced_run(12));
}

/// The chaos is not idle: over a handful of seeds, some kills land while a dispatch waits on
/// the victim's worker, and dispatch selects another worker instead of failing.
#[test]
fn kills_land_on_dispatches_in_flight_and_dispatch_selects_again() {
    let mut worker_exits = 0;
    for seed in 1..=8 {
        let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
        let report = runtime.block_on(async { service::run(&ServiceConfig::default()).await });
        assert_clean(&report);
        assert!(
            report
                .outcomes
                .iter()
                .all(|(_, _, outcome)| !matches!(outcome, RequestOutcome::Failed(_))),
            "with live workers left, a dead worker is re-selected, not failed: {:?}",
            report.outcomes
        );
        worker_exits += report.worker_exits;
    }
    assert!(worker_exits > 0);
}
