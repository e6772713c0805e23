//! Runs the example service once and prints its trace and outcome counts.
//!
//! `RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim MADSIM_TEST_SEED=7 \
//!     cargo run --manifest-path madsim/Cargo.toml --example service`

use vigil_madsim::service::{self, RequestOutcome, ServiceConfig};

#[madsim::main]
async fn main() {
    let report = service::run(&ServiceConfig::default()).await;
    for line in &report.trace {
        println!("{line}");
    }
    let count = |wanted: fn(&RequestOutcome) -> bool| {
        report
            .outcomes
            .iter()
            .filter(|(_, _, outcome)| wanted(outcome))
            .count()
    };
    println!(
        "requests: {} completed, {} failed with a named error, {} timed out; dispatcher \
         received {} and resolved {}; {} dispatches saw their worker exit and selected again",
        count(|outcome| *outcome == RequestOutcome::Completed),
        count(|outcome| matches!(outcome, RequestOutcome::Failed(_))),
        count(|outcome| *outcome == RequestOutcome::TimedOut),
        report.received,
        report.resolved,
        report.worker_exits,
    );
    match &report.violation {
        Some((check, message)) => println!("violation of {check}: {message}"),
        None => println!("no invariant violated"),
    }
}
