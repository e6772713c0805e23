//! The side-by-side bench of vigil against loom and shuttle, on the same models in one run.
//!
//! Every model is written once (`models.rs`) and compiled three times, against vigil-sim's
//! facade, shuttle's and loom's. Run with `cargo run --release --manifest-path
//! peers/Cargo.toml`; `peers/run.sh` pastes the output into `benches/README.md`. The crate is
//! excluded from the workspace so that `cargo test --workspace` never builds loom or shuttle.
//!
//! Counting: loom and shuttle have no "executions so far" API that survives a failure (they
//! panic), so each model is wrapped in a closure that bumps a counter at the start of every
//! execution; vigil's report says the same number directly, and the two agree on fixed models.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};

mod on_loom;
mod on_shuttle;
mod on_vigil;

/// Executions started by the loom or shuttle model currently running.
static EXECUTIONS: AtomicU64 = AtomicU64::new(0);

/// How a run ended: `found` the bug after `n` executions, or exhausted the bound.
#[derive(Clone, Copy)]
struct Outcome {
    executions: u64,
    found: bool,
    exhaustive: bool,
}

impl Outcome {
    fn cell(self) -> String {
        let what = match (self.found, self.exhaustive) {
            (true, _) => "found",
            (false, true) => "exhaustive",
            (false, false) => "budget spent",
        };
        format!("{} ({what})", thousands(self.executions))
    }
}

/// Runs `body`, counting executions through `EXECUTIONS`; a panic out of it means the tool
/// reported the model's failure.
fn counted(body: impl FnOnce()) -> Outcome {
    EXECUTIONS.store(0, Ordering::SeqCst);
    let result = catch_unwind(AssertUnwindSafe(body));
    Outcome {
        executions: EXECUTIONS.load(Ordering::SeqCst),
        found: result.is_err(),
        exhaustive: result.is_ok(),
    }
}

/// Runs loom on one model in a child process (this binary with `loom MODEL FIXED BOUND`): loom
/// aborts the process on some failures (a deadlock found while a lock guard unwinds), which
/// would take the whole bench down.
fn loom_check(model: usize, fixed: bool, bound: u32) -> Outcome {
    let output = std::process::Command::new(std::env::current_exe().expect("own path"))
        .args([
            "loom",
            &model.to_string(),
            &fixed.to_string(),
            &bound.to_string(),
        ])
        .output()
        .expect("the bench can run itself");
    let text = String::from_utf8_lossy(&output.stdout);
    // The child prints its count as each execution starts, so even an abort leaves the count.
    let last = text.lines().last().unwrap_or("0");
    let exhaustive = last.ends_with(" exhaustive");
    let executions = last.split_whitespace().next().and_then(|n| n.parse().ok());
    Outcome {
        executions: executions.unwrap_or(0),
        found: !exhaustive,
        exhaustive,
    }
}

/// The child side of [`loom_check`]: prints the execution count as each execution starts,
/// and `N exhaustive` when loom returns without a failure.
fn loom_child(model: &Model, fixed: bool, bound: u32) {
    let body = (model.loom)(fixed);
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bound as usize);
    builder.check(move || {
        let count = EXECUTIONS.fetch_add(1, Ordering::SeqCst) + 1;
        println!("{count}");
        body();
    });
    println!("{} exhaustive", EXECUTIONS.load(Ordering::SeqCst));
}

fn shuttle_config() -> shuttle::Config {
    let mut config = shuttle::Config::new();
    config.failure_persistence = shuttle::FailurePersistence::None;
    config
}

fn shuttle_run<F, S>(model: F, scheduler: S) -> Outcome
where
    F: Fn() + Send + Sync + 'static,
    S: shuttle::scheduler::Scheduler + 'static,
{
    let mut outcome = counted(|| {
        shuttle::Runner::new(scheduler, shuttle_config()).run(move || {
            EXECUTIONS.fetch_add(1, Ordering::SeqCst);
            model();
        });
    });
    // A randomised run that ends without failing spent its budget; it proves nothing.
    outcome.exhaustive = false;
    outcome
}

fn vigil_config(seed: u64, executions: u64) -> vigil_sim::Config {
    let mut config = vigil_sim::Config::default();
    config.seed = seed;
    config.executions = executions;
    config
}

fn vigil_run<F>(model: F, strategy: &mut dyn vigil_sim::Strategy, budget: u64) -> Outcome
where
    F: Fn() + Send + Sync + 'static,
{
    let report = vigil_sim::run(&vigil_config(0, budget), strategy, model);
    let stop = report.stats().map(|stats| stats.stop);
    Outcome {
        executions: report.progress().executions,
        found: report.failure().is_some(),
        exhaustive: stop == Some(vigil_sim::StopReason::StrategyExhausted),
    }
}

/// One model in its three compilations, buggy and fixed, and the bound its bug needs.
struct Model {
    name: &'static str,
    bound: u32,
    vigil: fn(bool) -> Box<dyn Fn() + Send + Sync>,
    shuttle: fn(bool) -> Box<dyn Fn() + Send + Sync>,
    loom: fn(bool) -> Box<dyn Fn() + Send + Sync>,
}

macro_rules! model {
    ($name:literal, $bound:literal, $model:ident) => {
        Model {
            name: $name,
            bound: $bound,
            vigil: |fixed| Box::new(on_vigil::$model(fixed)),
            shuttle: |fixed| Box::new(on_shuttle::$model(fixed)),
            loom: |fixed| Box::new(on_loom::$model(fixed)),
        }
    };
}

fn models() -> Vec<Model> {
    vec![
        model!("register races crash (3 threads)", 1, register_races_crash),
        model!(
            "unregister races crash (4 threads)",
            2,
            unregister_races_crash
        ),
        model!("lost update", 1, lost_update),
        model!("lock-order inversion", 1, lock_order),
    ]
}

/// Bound at which every fixed model is certified (exhausted).
const CERTIFY_BOUND: u32 = 2;
/// Budget of every vigil systematic run.
const SYSTEMATIC_BUDGET: u64 = 1_000_000;
/// Budget of one randomised run (one seed).
const RANDOM_BUDGET: u64 = 200_000;
/// Executions timed for executions per second.
const SPEED_EXECUTIONS: u64 = 20_000;

fn ratio(vigil: u64, peer: u64) -> String {
    format!("{:.2}", vigil as f64 / peer.max(1) as f64)
}

/// vigil's DPOR alone on every model (find at the model's bound, certify at the bench's, and
/// where the certifying search's executions came from), for iterating on the search without
/// running loom and shuttle: `dpor` as the argument.
fn dpor_only() {
    for model in models() {
        let find = vigil_run(
            (model.vigil)(false),
            &mut vigil_sim::Dpor::new(model.bound, 0),
            SYSTEMATIC_BUDGET,
        );
        let mut dpor = vigil_sim::Dpor::new(CERTIFY_BOUND, 0);
        let cert = vigil_run((model.vigil)(true), &mut dpor, SYSTEMATIC_BUDGET);
        println!(
            "| {} | {} | {} | {:?} |",
            model.name,
            find.cell(),
            cert.cell(),
            dpor.stats()
        );
    }
}

fn systematic_table() {
    println!(
        "| model | bound | loom find | vigil DPOR find | vigil DFS find | DPOR ÷ loom | loom certify \
         (bound {CERTIFY_BOUND}) | vigil DPOR certify | vigil DFS certify | DPOR ÷ loom |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (idx, model) in models().iter().enumerate() {
        let bound = model.bound;
        let loom_find = loom_check(idx, false, bound);
        let dpor_find = vigil_run(
            (model.vigil)(false),
            &mut vigil_sim::Dpor::new(bound, 0),
            SYSTEMATIC_BUDGET,
        );
        let dfs_find = vigil_run(
            (model.vigil)(false),
            &mut vigil_sim::Dfs::new(bound),
            SYSTEMATIC_BUDGET,
        );
        let loom_cert = loom_check(idx, true, CERTIFY_BOUND);
        let dpor_cert = vigil_run(
            (model.vigil)(true),
            &mut vigil_sim::Dpor::new(CERTIFY_BOUND, 0),
            SYSTEMATIC_BUDGET,
        );
        let dfs_cert = vigil_run(
            (model.vigil)(true),
            &mut vigil_sim::Dfs::new(CERTIFY_BOUND),
            SYSTEMATIC_BUDGET,
        );
        println!(
            "| {} | {bound} | {} | {} | {} | {} | {} | {} | {} | {} |",
            model.name,
            loom_find.cell(),
            dpor_find.cell(),
            dfs_find.cell(),
            ratio(dpor_find.executions, loom_find.executions),
            loom_cert.cell(),
            dpor_cert.cell(),
            dfs_cert.cell(),
            ratio(dpor_cert.executions, loom_cert.executions),
        );
    }
}

/// The median over seeds 1–20 of the executions `run(seed)` needed to find the bug.
fn median(run: impl FnMut(u64) -> Outcome) -> String {
    let mut counts: Vec<u64> = (1..=20)
        .map(run)
        .filter(|outcome| outcome.found)
        .map(|outcome| outcome.executions)
        .collect();
    counts.sort_unstable();
    match counts.len() {
        20 => thousands(counts[9].midpoint(counts[10])),
        found => format!("found by {found} of 20 seeds"),
    }
}

fn randomised_table() {
    println!("| model | shuttle PCT-3 | vigil PCT-3 | shuttle random | vigil random |");
    println!("|---|---:|---:|---:|---:|");
    for model in models() {
        let budget = RANDOM_BUDGET as usize;
        let shuttle_pct = median(|seed| {
            let scheduler = shuttle::scheduler::PctScheduler::new_from_seed(seed, 3, budget);
            shuttle_run((model.shuttle)(false), scheduler)
        });
        let vigil_pct = median(|seed| {
            vigil_run(
                (model.vigil)(false),
                &mut vigil_sim::Pct::new(seed, 3),
                RANDOM_BUDGET,
            )
        });
        let shuttle_random = median(|seed| {
            let scheduler = shuttle::scheduler::RandomScheduler::new_from_seed(seed, budget);
            shuttle_run((model.shuttle)(false), scheduler)
        });
        let vigil_random = median(|seed| {
            vigil_run(
                (model.vigil)(false),
                &mut vigil_sim::Random::new(seed),
                RANDOM_BUDGET,
            )
        });
        println!(
            "| {} | {shuttle_pct} | {vigil_pct} | {shuttle_random} | {vigil_random} |",
            model.name
        );
    }
}

/// Random executions per second of the fixed deep model, shuttle and vigil in turn, best of
/// three rounds each so a burst of load from elsewhere on the machine does not decide it.
fn speed() {
    let elapsed = vigil_sim::stopwatch;
    let (mut shuttle_best, mut vigil_best) = (0f64, 0f64);
    for round in 0..3 {
        let clock = elapsed();
        let scheduler =
            shuttle::scheduler::RandomScheduler::new_from_seed(round, SPEED_EXECUTIONS as usize);
        shuttle::Runner::new(scheduler, shuttle_config())
            .run(on_shuttle::unregister_races_crash(true));
        shuttle_best = shuttle_best.max(SPEED_EXECUTIONS as f64 / clock().as_secs_f64());
        let clock = elapsed();
        let report = vigil_sim::run(
            &vigil_config(round, SPEED_EXECUTIONS),
            &mut vigil_sim::Random::new(round),
            on_vigil::unregister_races_crash(true),
        );
        assert_eq!(report.progress().executions, SPEED_EXECUTIONS);
        vigil_best = vigil_best.max(SPEED_EXECUTIONS as f64 / clock().as_secs_f64());
    }
    println!(
        "Random executions per second, fixed 4-thread model, best of 3 rounds of {}: shuttle {}, \
         vigil {} ({:.2}×).",
        thousands(SPEED_EXECUTIONS),
        thousands(shuttle_best as u64),
        thousands(vigil_best as u64),
        vigil_best / shuttle_best
    );
}

fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (idx, digit) in digits.chars().enumerate() {
        if idx > 0 && (digits.len() - idx).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn main() {
    // Every failure the tools find is expected; their panic messages would bury the table.
    if std::env::var_os("PEERS_PANICS").is_none() {
        std::panic::set_hook(Box::new(|_| {}));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [tool, model, fixed, bound] = &args[..]
        && tool == "loom"
    {
        let model = &models()[model.parse::<usize>().expect("a model index")];
        return loom_child(model, fixed == "true", bound.parse().expect("a bound"));
    }
    if args.first().map(String::as_str) == Some("dpor") {
        return dpor_only();
    }
    println!(
        "Systematic search: executions to find each bug at its bound, and to certify (exhaust) \
         the fixed model at bound {CERTIFY_BOUND}. loom 0.7.3, `Builder::preemption_bound`; \
         vigil `Dpor::new(bound, 0)` and `Dfs::new(bound)`.\n"
    );
    systematic_table();
    println!(
        "\nRandomised search: median over seeds 1–20 of the executions to find each bug \
         (shuttle 0.9.9 `PctScheduler` depth 3 and `RandomScheduler`; vigil `Pct::new(seed, 3)` \
         and `Random::new(seed)`; budget {} per seed).\n",
        thousands(RANDOM_BUDGET)
    );
    randomised_table();
    println!();
    speed();
}
