//! Registration churn on the production scheduler: registers and unregisters one worker in a
//! loop and prints the process's resident memory at fixed cycle counts, to show that nothing
//! the pool or its node keeps grows with the number of registrations ever made.
//!
//! `cargo run --release -p vigil-core --example churn -- [CYCLES]` (default 1,000,000).

use std::fs;

use vigil_core::aion::WorkerCapacity;
use vigil_core::pool::WorkerContext;

/// Resident memory in KiB, from `/proc/self/status` (Linux).
fn resident_kib() -> Option<u64> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let cycles: u64 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let pool = WorkerContext::new();
    let capacity = WorkerCapacity {
        max_concurrent: 1,
        activity_types: Vec::new(),
    };
    let marks = [1_000, 10_000, 100_000, 1_000_000, 10_000_000];
    let mut at_10k = None;
    println!("{:>12}  {:>12}", "cycles", "rss_kib");
    for cycle in 1..=cycles {
        let worker = pool
            .register_worker("churn", "q", capacity.clone())
            .expect("registering on a fresh pool succeeds");
        worker
            .unregister()
            .expect("unregistering a live worker succeeds");
        if marks.contains(&cycle) || cycle == cycles {
            let rss = resident_kib().unwrap_or(0);
            if cycle == 10_000 {
                at_10k = Some(rss);
            }
            println!("{cycle:>12}  {rss:>12}");
        }
    }
    if let (Some(base), Some(last)) = (at_10k, resident_kib()) {
        let growth = (last as f64 - base as f64) * 100.0 / base as f64;
        println!("growth after 10,000 cycles: {growth:+.1}%");
    }
}
