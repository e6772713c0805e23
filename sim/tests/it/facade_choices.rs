//! What std leaves unspecified is explored, not fixed: which waiter a `notify_one` wakes (a
//! scheduling choice every strategy explores), whether `park` returns spuriously (a recorded
//! random choice that DFS and DPOR enumerate), and the data a model draws from
//! `vigil_sim::rand` (recorded, so replays reproduce it; enumerated by DFS and DPOR when the
//! draw has few outcomes). Each has a model whose bug shows only with the choice std allows
//! but the old fixed behaviour never made.

use std::cell::RefCell;
use std::str::FromStr;

use std::collections::BTreeSet;
use vigil_sim::rand::{Rng, thread_rng};
use vigil_sim::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use vigil_sim::sync::{Arc, Condvar, Mutex};
use vigil_sim::thread;
use vigil_sim::{
    Config, Dfs, Dpor, FailureKind, Replay, Report, Schedule, StopReason, Strategy, run,
};

use crate::explore;

fn config() -> Config {
    let mut config = Config::default();
    config.executions = 100_000;
    config
}

/// Two waiters on one condition variable, each for its own turn; `first` is queued before
/// `second` starts. Main hands the turn to `first` with `notify_one` (the bug: std may wake
/// `second`, which sees it is not its turn and waits again, and `first` is never woken),
/// or with `notify_all` (the fix).
fn turns(notify_all: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let state = Arc::new((Mutex::new((0u32, 0u32)), Condvar::new()));
        let waiter = |me: u32, state: Arc<(Mutex<(u32, u32)>, Condvar)>| {
            move || {
                let (lock, changed) = &*state;
                let mut guard = lock.lock().unwrap();
                guard.1 += 1;
                changed.notify_all();
                while guard.0 != me {
                    guard = changed.wait(guard).unwrap();
                }
            }
        };
        let (lock, changed) = &*state;
        let first = thread::spawn(waiter(1, state.clone()));
        let mut guard = changed
            .wait_while(lock.lock().unwrap(), |g| g.1 < 1)
            .unwrap();
        drop(guard);
        let second = thread::spawn(waiter(2, state.clone()));
        guard = changed
            .wait_while(lock.lock().unwrap(), |g| g.1 < 2)
            .unwrap();
        guard.0 = 1;
        drop(guard);
        if notify_all {
            changed.notify_all();
        } else {
            changed.notify_one();
        }
        first.join().unwrap();
        lock.lock().unwrap().0 = 2;
        changed.notify_all();
        second.join().unwrap();
    }
}

#[test]
fn notify_one_may_wake_either_waiter_and_the_searches_find_the_wrong_one() {
    // A FIFO `notify_one` always woke `first`, the longest waiter, so this model passed.
    for strategy in ["dfs", "dpor"] {
        let report = match strategy {
            "dfs" => run(&config(), &mut Dfs::new(u32::MAX), turns(false)),
            _ => run(&config(), &mut Dpor::new(u32::MAX, 0), turns(false)),
        };
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy} missed the stranded waiter"));
        assert!(
            matches!(failure.kind, FailureKind::Deadlock { .. }),
            "{strategy}: {failure}"
        );
    }
    let report = explore(300, turns(false));
    assert!(report.failure().is_some(), "the random walk missed it");
    let fixed = run(&config(), &mut Dpor::new(u32::MAX, 0), turns(true));
    assert!(fixed.failure().is_none(), "{}", fixed.failure().unwrap());
}

/// A worker parks once and then trusts that the flag is set (the bug: no loop around `park`,
/// which std allows to return spuriously); the fix loops until the flag is set.
fn trusting_park(loops: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let ready = Arc::new(AtomicBool::new(false));
        let seen = ready.clone();
        let worker = thread::spawn(move || {
            if loops {
                while !seen.load(Ordering::SeqCst) {
                    thread::park();
                }
            } else {
                thread::park();
                assert!(
                    seen.load(Ordering::SeqCst),
                    "park returned before the unpark"
                );
            }
        });
        ready.store(true, Ordering::SeqCst);
        worker.thread().unpark();
        worker.join().unwrap();
    }
}

#[test]
fn park_may_return_spuriously_and_a_model_that_trusts_it_fails() {
    let report = explore(300, trusting_park(false));
    let failure = report.failure().expect("a spurious wake-up is explored");
    assert!(
        failure
            .to_string()
            .contains("park returned before the unpark"),
        "{failure}"
    );
    // The spurious return is a recorded draw: the schedule replays it.
    let schedule = Schedule::from_str(&failure.schedule).unwrap();
    let mut replay = Replay::new(schedule);
    let mut once = config();
    once.executions = 1;
    let again = run(&once, &mut replay, trusting_park(false));
    assert!(again.failure().is_some(), "the replay passed");
    let fixed = explore(300, trusting_park(true));
    assert!(fixed.failure().is_none(), "{}", fixed.failure().unwrap());
}

thread_local! {
    static DRAWN: RefCell<Vec<Vec<u32>>> = const { RefCell::new(Vec::new()) };
}

/// Draws a few numbers in two tasks, notes them, and fails when the main task drew a 7.
fn data_choices() -> impl Fn() + Send + Sync + 'static {
    || {
        let worker = thread::spawn(|| thread_rng().gen_range(0..10u32));
        let mut rng = thread_rng();
        let mine: Vec<u32> = (0..3).map(|_| rng.gen_range(1..=9)).collect();
        let mut all = mine.clone();
        all.push(worker.join().unwrap());
        DRAWN.with(|drawn| drawn.borrow_mut().push(all));
        assert!(!mine.contains(&7), "drew a seven");
    }
}

#[test]
fn seeded_rand_is_in_range_varies_by_seed_and_replays_exactly() {
    DRAWN.with(|drawn| drawn.borrow_mut().clear());
    let report = explore(300, data_choices());
    let failure = report.failure().expect("some execution draws a seven");
    let drawn = DRAWN.with(|drawn| std::mem::take(&mut *drawn.borrow_mut()));
    assert!(drawn.len() > 1, "{drawn:?}");
    for values in &drawn {
        assert!(
            values[..3].iter().all(|v| (1..=9).contains(v)),
            "{values:?}"
        );
        assert!(values[3] < 10, "{values:?}");
    }
    let distinct: std::collections::BTreeSet<_> = drawn.iter().collect();
    assert!(distinct.len() > 1, "every execution drew the same numbers");
    // Replaying the failure's schedule draws exactly what the failing execution drew.
    let schedule = Schedule::from_str(&failure.schedule).unwrap();
    let mut once = config();
    once.executions = 1;
    let again = run(&once, &mut Replay::new(schedule), data_choices());
    assert!(again.failure().is_some(), "the replay passed");
    let replayed = DRAWN.with(|drawn| std::mem::take(&mut *drawn.borrow_mut()));
    assert_eq!(replayed.last(), drawn.last());
}

/// DFS and DPOR, each without bounds, by name.
fn systematic() -> [(&'static str, Box<dyn Strategy>); 2] {
    [
        ("dfs", Box::new(Dfs::new(u32::MAX))),
        ("dpor", Box::new(Dpor::new(u32::MAX, 0))),
    ]
}

/// The search ran to exhaustion without a failure: the model is certified within no bounds.
fn assert_certified(label: &str, report: &Report) -> u64 {
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{label}: {}", report.failure().unwrap()));
    assert_eq!(stats.stop, StopReason::StrategyExhausted, "{label}");
    stats.executions
}

/// A worker draws a die roll and a coin (p = 0.1); the bug fires only on a 4 with heads,
/// one outcome in twelve, which a seeded sample of each would miss in every execution.
fn unlucky_draw(fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let worker = thread::spawn(move || {
            let mut rng = thread_rng();
            let roll = rng.gen_range(1..=6u32);
            let heads = rng.gen_bool(0.1);
            assert!(
                fixed || !(roll == 4 && heads),
                "rolled the unlucky 4 with heads"
            );
        });
        worker.join().unwrap();
    }
}

#[test]
fn dfs_and_dpor_find_a_bug_that_needs_one_draw_and_certify_the_fix() {
    for (label, mut strategy) in systematic() {
        let report = run(&config(), &mut *strategy, unlucky_draw(false));
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{label} missed the unlucky draw"));
        assert!(
            failure.to_string().contains("unlucky 4"),
            "{label}: {failure}"
        );
    }
    for (label, mut strategy) in systematic() {
        let report = run(&config(), &mut *strategy, unlucky_draw(true));
        // Six rolls times two coin sides, one worker: twelve executions for either search.
        assert_eq!(assert_certified(label, &report), 12, "{label}");
    }
}

#[test]
fn dfs_and_dpor_find_a_spurious_wakeup_and_certify_the_loop_around_park() {
    for (label, mut strategy) in systematic() {
        let report = run(&config(), &mut *strategy, trusting_park(false));
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{label} never woke the worker spuriously"));
        assert!(
            failure
                .to_string()
                .contains("park returned before the unpark"),
            "{label}: {failure}"
        );
    }
    for (label, mut strategy) in systematic() {
        let report = run(&config(), &mut *strategy, trusting_park(true));
        assert_certified(label, &report);
    }
}

thread_local! {
    static ENDS: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
}

/// Two workers each flip a fair coin and on heads add a draw from 1..=3 to a shared total;
/// main notes what each drew and the total.
fn coins_and_sums() {
    let total = Arc::new(AtomicU32::new(0));
    let worker = |total: Arc<AtomicU32>| {
        move || {
            let mut rng = thread_rng();
            let added = rng.gen_bool(0.5).then(|| rng.gen_range(1..=3u32));
            total.fetch_add(added.unwrap_or(0), Ordering::SeqCst);
            added
        }
    };
    let first = thread::spawn(worker(total.clone()));
    let second = thread::spawn(worker(total.clone()));
    let (first, second) = (first.join().unwrap(), second.join().unwrap());
    let total = total.load(Ordering::SeqCst);
    ENDS.with(|ends| {
        ends.borrow_mut()
            .insert(format!("{first:?} {second:?} {total}"))
    });
}

#[test]
fn dfs_and_dpor_reach_the_same_terminal_states_of_a_model_with_draws() {
    let mut reached = Vec::new();
    for (label, mut strategy) in systematic() {
        ENDS.with(|ends| ends.borrow_mut().clear());
        let report = run(&config(), &mut *strategy, coins_and_sums);
        assert_certified(label, &report);
        reached.push(ENDS.with(|ends| std::mem::take(&mut *ends.borrow_mut())));
    }
    // Every combination of the two workers' draws, each with its sum: what the draws allow.
    let outcomes = [None, Some(1u32), Some(2), Some(3)];
    let expected: BTreeSet<String> = (outcomes.iter())
        .flat_map(|a| outcomes.iter().map(move |b| (*a, *b)))
        .map(|(a, b)| format!("{a:?} {b:?} {}", a.unwrap_or(0) + b.unwrap_or(0)))
        .collect();
    assert_eq!(expected.len(), 16);
    assert_eq!(reached[0], expected, "dfs");
    assert_eq!(reached[1], expected, "dpor");
}
