//! Executions each strategy needs to find a planted bug or certify its fix, on small
//! pool-shaped models written against the std-shaped facade (`vigil_sim::sync`, `::thread`).
//!
//! Run with `cargo run --release -p vigil-sim --example systematic`. Prints one table: bounded
//! DFS and DPOR (find at the bug's bound, certify the fix at bound 2), and the median over 20
//! seeds of the executions the random walk and PCT (depth 3) need to find each bug.

use vigil_sim::sync::atomic::{AtomicU32, Ordering};
use vigil_sim::sync::{Arc, Mutex};
use vigil_sim::{Config, Dfs, Dpor, Pct, Random, Report, StopReason, Strategy, run, thread};

/// Registration racing a crash (3 tasks: registrar, crash listener, snapshot reader). Buggy:
/// the registrar checks that the process is alive before arming its monitor, so a crash in
/// between is never noticed and a dead worker stays registered (one preemption). Fixed: it
/// arms and checks under the table lock, and the listener removes under the same lock.
fn register_races_crash(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let table = Arc::new(Mutex::new(Vec::<u32>::new()));
        let alive = Arc::new(AtomicU32::new(1));
        let armed = Arc::new(AtomicU32::new(0));
        let (t, a, m) = (table.clone(), alive.clone(), armed.clone());
        let registrar = thread::spawn(move || {
            if fixed {
                let mut entries = t.lock().unwrap();
                m.store(1, Ordering::SeqCst);
                if a.load(Ordering::SeqCst) == 1 {
                    entries.push(1);
                }
            } else if a.load(Ordering::SeqCst) == 1 {
                m.store(1, Ordering::SeqCst);
                t.lock().unwrap().push(1);
            }
        });
        let (t, a, m) = (table.clone(), alive.clone(), armed.clone());
        let listener = thread::spawn(move || {
            a.store(0, Ordering::SeqCst);
            if m.load(Ordering::SeqCst) == 1 {
                t.lock().unwrap().retain(|worker| *worker != 1);
            }
        });
        let t = table.clone();
        let reader = thread::spawn(move || t.lock().unwrap().len());
        registrar.join().unwrap();
        listener.join().unwrap();
        reader.join().unwrap();
        let registered = table.lock().unwrap().contains(&1);
        assert!(
            !registered || alive.load(Ordering::SeqCst) == 1,
            "a dead worker stays"
        );
    }
}

/// Unregister racing a snapshot (4 tasks: unregister, snapshot, a crash listener on its own
/// worker, main). Buggy: unregister marks the entry gone, disarms, then clears the mark, and a
/// snapshot that reads between the disarm and the clear sees an armed-looking but removed
/// worker (two preemptions). Fixed: the snapshot reads under the table lock.
fn unregister_races_snapshot(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let table = Arc::new(Mutex::new(()));
        let removing = Arc::new(AtomicU32::new(0));
        let disarmed = Arc::new(AtomicU32::new(0));
        let other = Arc::new(AtomicU32::new(0));
        let (t, r, d) = (table.clone(), removing.clone(), disarmed.clone());
        let unregister = thread::spawn(move || {
            let _guard = t.lock().unwrap();
            r.store(1, Ordering::SeqCst);
            d.store(1, Ordering::SeqCst);
            r.store(0, Ordering::SeqCst);
        });
        let (t, r, d) = (table.clone(), removing.clone(), disarmed.clone());
        let snapshot = thread::spawn(move || {
            let _guard = fixed.then(|| t.lock().unwrap());
            let first = r.load(Ordering::SeqCst);
            let armed = d.load(Ordering::SeqCst);
            let again = r.load(Ordering::SeqCst);
            assert!(!(first == 1 && armed == 1 && again == 0), "torn snapshot");
        });
        let o = other.clone();
        let listener = thread::spawn(move || {
            o.fetch_add(1, Ordering::SeqCst);
            o.fetch_add(1, Ordering::SeqCst);
        });
        unregister.join().unwrap();
        snapshot.join().unwrap();
        listener.join().unwrap();
    }
}

/// The classic lost update: two increments by load and store.
fn lost_update(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let counter = Arc::new(AtomicU32::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let counter = counter.clone();
                thread::spawn(move || {
                    if fixed {
                        counter.fetch_add(1, Ordering::SeqCst);
                    } else {
                        let value = counter.load(Ordering::SeqCst);
                        counter.store(value + 1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::SeqCst), 2);
    }
}

/// The classic lock-order inversion between two tasks (a deadlock).
fn lock_order(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let a = Arc::new(Mutex::new(0));
        let b = Arc::new(Mutex::new(0));
        let (wa, wb) = (a.clone(), b.clone());
        let worker = thread::spawn(move || {
            if fixed {
                let _a = wa.lock().unwrap();
                let _b = wb.lock().unwrap();
            } else {
                let _b = wb.lock().unwrap();
                let _a = wa.lock().unwrap();
            }
        });
        {
            let _a = a.lock().unwrap();
            let _b = b.lock().unwrap();
        }
        worker.join().unwrap();
    }
}

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
        "unregister races snapshot (4 tasks)",
        2,
        unregister_races_snapshot(false),
        unregister_races_snapshot(true),
    );
    row("lost update", 1, lost_update(false), lost_update(true));
    row(
        "lock-order inversion",
        1,
        lock_order(false),
        lock_order(true),
    );
}
