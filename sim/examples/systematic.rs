//! Executions each strategy needs to find a planted bug or certify its fix, on small
//! pool-shaped models written against the std-shaped facade (`vigil_sim::sync`, `::thread`):
//! the peer bench's models (`peers/src/models.rs`), without loom and shuttle.
//!
//! Run with `cargo run --release -p vigil-sim --example systematic`. Prints one table: bounded
//! DFS and DPOR (find at the bug's bound, certify the fix at bound 2), and the median over 20
//! seeds of the executions the random walk and PCT (depth 3) need to find each bug.

use vigil_sim::{Config, Dfs, Dpor, Pct, Random, Report, StopReason, Strategy, run};

/// The models of the peer bench (`peers/`), written once against a std-shaped facade `rt`.
use vigil_sim as rt;
#[path = "../../peers/src/models.rs"]
mod models;

use models::{lock_order, lost_update, register_races_crash, unregister_races_crash};

fn config(seed: u64, executions: u64) -> Config {
    let mut config = Config::default();
    config.seed = seed;
    config.executions = executions;
    config
}

/// Executions run, and whether the run ended by failing (`found`) or by exhausting.
fn outcome(report: &Report) -> String {
    let executions = report.progress().executions;
    match (report.failure(), report.stats().map(|stats| stats.stop)) {
        (Some(_), _) => format!("{executions} (found)"),
        (None, Some(StopReason::StrategyExhausted)) => format!("{executions} (exhaustive)"),
        (None, _) => format!("{executions} (budget spent)"),
    }
}

fn median_to_find<F>(model: &F, mut strategy: impl FnMut(u64) -> Box<dyn Strategy>) -> String
where
    F: Fn() + Send + Sync + Clone + 'static,
{
    let mut counts: Vec<u64> = (1..=20)
        .filter_map(|seed| {
            let report = run(&config(seed, 200_000), &mut *strategy(seed), model.clone());
            report.failure().map(|_| report.progress().executions)
        })
        .collect();
    counts.sort_unstable();
    match counts.len() {
        20 => counts[9].midpoint(counts[10]).to_string(),
        found => format!("found by {found} of 20 seeds"),
    }
}

fn row<F, G>(name: &str, bound: u32, buggy: F, fixed: G)
where
    F: Fn() + Send + Sync + Clone + 'static,
    G: Fn() + Send + Sync + Clone + 'static,
{
    let budget = 1_000_000;
    let dfs_find = outcome(&run(
        &config(0, budget),
        &mut Dfs::new(bound),
        buggy.clone(),
    ));
    let dpor_find = outcome(&run(
        &config(0, budget),
        &mut Dpor::new(bound, 0),
        buggy.clone(),
    ));
    let dfs_cert = outcome(&run(&config(0, budget), &mut Dfs::new(2), fixed.clone()));
    let dpor_cert = outcome(&run(&config(0, budget), &mut Dpor::new(2, 0), fixed));
    let random = median_to_find(&buggy, |seed| Box::new(Random::new(seed)));
    let pct = median_to_find(&buggy, |seed| Box::new(Pct::new(seed, 3)));
    println!(
        "| {name} | {bound} | {dfs_find} | {dpor_find} | {dfs_cert} | {dpor_cert} | {random} | \
         {pct} |"
    );
}

fn main() {
    println!(
        "| model | bug's bound | DFS find | DPOR find | DFS certify fix (bound 2) | DPOR certify \
         fix (bound 2) | random median | PCT-3 median |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    row(
        "register races crash (3 tasks)",
        1,
        register_races_crash(false),
        register_races_crash(true),
    );
    row(
        "unregister races crash (4 tasks)",
        2,
        unregister_races_crash(false),
        unregister_races_crash(true),
    );
    row("lost update", 1, lost_update(false), lost_update(true));
    row(
        "lock-order inversion",
        1,
        lock_order(false),
        lock_order(true),
    );
}
