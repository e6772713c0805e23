//! `vigil_sim::thread_local!` against std's thread-locals, with simulated tasks as the threads:
//! each task's own value, lazy initialisation once per task, destructors at the task's end
//! (including one that reaches another key), a fresh start in every execution; and thread
//! names that outlive the main task.

use crate::dpor::exhausted;
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;

use vigil_sim::sync::Arc;
use vigil_sim::sync::atomic::{AtomicBool, Ordering};
use vigil_sim::thread;
use vigil_sim::{Config, Dfs, Dpor, Random, Report, Strategy, run};

std::thread_local! {
    /// What the models below note, on the test thread that runs the executor (std's
    /// thread-locals are shared by every simulated task, which is what the test needs).
    static NOTES: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    static INIT_CALLS: Cell<u32> = const { Cell::new(0) };
}

vigil_sim::thread_local! {
    /// A counter per task, with a `const` initialiser.
    static COUNTER: Cell<u32> = const { Cell::new(0) };
    /// A lazily initialised key whose initialiser counts its calls.
    pub(crate) static LAZY: RefCell<Vec<u32>> = {
        INIT_CALLS.with(|calls| calls.set(calls.get() + 1));
        RefCell::new(vec![1])
    };
}

vigil_sim::thread_local!(static FIRST: Noisy = Noisy::new("first"));
vigil_sim::thread_local! {
    static SECOND: Noisy = Noisy::new("second");
    static LATE: Noisy = Noisy::new("late");
}

fn note(text: String) {
    NOTES.with(|notes| notes.borrow_mut().push(text));
}

fn take_notes() -> Vec<String> {
    NOTES.with(|notes| std::mem::take(&mut *notes.borrow_mut()))
}

/// A value whose destructor notes which task dropped it and what it could still reach.
struct Noisy(&'static str);

impl Noisy {
    fn new(name: &'static str) -> Noisy {
        Noisy(name)
    }
}

impl Drop for Noisy {
    fn drop(&mut self) {
        let task = thread::current().name().unwrap_or("main").to_owned();
        let reached = match self.0 {
            // Initialised after FIRST, so destroyed before it: FIRST is still there.
            "second" => format!("first: {:?}", FIRST.try_with(|first| first.0)),
            // Destroyed after SECOND, which is gone; initialises a key no one touched yet.
            "first" => {
                let second = SECOND.try_with(|second| second.0);
                let late = LATE.try_with(|late| late.0);
                format!("second: {second:?}, late: {late:?}")
            }
            _ => String::new(),
        };
        note(format!("{task} drops {} ({reached})", self.0));
    }
}

fn search(strategy: &mut dyn Strategy, model: impl Fn() + Send + Sync + 'static) -> Report {
    let mut config = Config::default();
    config.executions = 100_000;
    run(&config, strategy, model)
}

#[test]
fn each_task_sees_its_own_value_and_initialises_it_once() {
    let report = search(&mut Dfs::new(2), || {
        INIT_CALLS.with(|calls| calls.set(0));
        let count = || {
            for _ in 0..2 {
                COUNTER.set(COUNTER.get() + 1);
                LAZY.with_borrow_mut(|seen| seen.push(COUNTER.get()));
                thread::yield_now();
            }
            (COUNTER.get(), LAZY.with_borrow(Clone::clone))
        };
        let first = thread::spawn(count);
        let second = thread::spawn(count);
        COUNTER.set(100);
        assert_eq!(COUNTER.replace(101), 100);
        LAZY.with_borrow(|seen| assert_eq!(seen, &[1]));
        let first = first.join().unwrap();
        let second = second.join().unwrap();
        note(format!(
            "{first:?} {second:?} main {} inits {}",
            COUNTER.take(),
            INIT_CALLS.with(Cell::get)
        ));
    });
    let executions = exhausted(&report);
    assert!(executions > 1, "{executions}");
    let states: BTreeSet<String> = take_notes().into_iter().collect();
    // What std gives with OS threads for the same code: each thread counts to 2 on its own
    // copy and initialises LAZY once (main, both threads: three calls), and main's counter
    // is untouched by them (std threads are banned here, see clippy.toml, so written out).
    let expected = "(2, [1, 1, 2]) (2, [1, 1, 2]) main 101 inits 3";
    assert_eq!(states, BTreeSet::from([expected.to_owned()]));
}

#[test]
fn destructors_run_at_task_end_and_see_only_keys_not_yet_destroyed() {
    let report = search(&mut Dpor::new(u32::MAX, 0), || {
        let worker = thread::Builder::new()
            .name("worker".to_owned())
            .spawn(|| {
                FIRST.with(|_| ());
                SECOND.with(|_| ());
            })
            .unwrap();
        worker.join().unwrap();
        // The worker's values were dropped when it ended, before `join` returned.
        note("joined".to_owned());
        FIRST.with(|_| ());
    });
    let executions = exhausted(&report);
    let notes = take_notes();
    // Per execution: the worker's destructors (latest initialised first), the join, then
    // main's own destructors when the model returns.
    let once = [
        "worker drops second (first: Ok(\"first\"))",
        "worker drops first (second: Err(AccessError), late: Ok(\"late\"))",
        "worker drops late ()",
        "joined",
        "main drops first (second: Ok(\"second\"), late: Ok(\"late\"))",
        "main drops late ()",
        "main drops second (first: Err(AccessError))",
    ];
    let expected: Vec<String> = (0..executions)
        .flat_map(|_| once.iter().map(|line| (*line).to_owned()))
        .collect();
    assert_eq!(notes, expected);
}

#[test]
fn every_execution_starts_with_fresh_values() {
    let executions = 20;
    let mut config = Config::default();
    config.executions = executions;
    let report = run(&config, &mut Random::new(3), || {
        assert_eq!(
            COUNTER.get(),
            0,
            "a value survived from an earlier execution"
        );
        COUNTER.set(7);
        let worker = thread::spawn(|| {
            assert_eq!(COUNTER.get(), 0);
            COUNTER.set(9);
        });
        worker.join().unwrap();
        assert_eq!(COUNTER.get(), 7);
    });
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.executions, executions);
}

#[test]
fn outside_a_simulation_a_key_is_the_os_threads_own() {
    COUNTER.set(5);
    assert_eq!(COUNTER.get(), 5);
    assert_eq!(COUNTER.try_with(Cell::get), Ok(5));
    assert_eq!(COUNTER.take(), 5);
    assert_eq!(COUNTER.get(), 0);
}

/// A named thread that may outlive the main task notes its name and whether main had ended.
fn name_after_main() {
    let main_done = Arc::new(AtomicBool::new(false));
    let seen = main_done.clone();
    thread::Builder::new()
        .name("late".to_owned())
        .spawn(move || {
            // The load is a scheduling point: main may run to its very end (and clear the
            // execution's globals) before the rest of this step.
            let after_main = seen.load(Ordering::SeqCst);
            let name = thread::current().name().map(str::to_owned);
            note(format!("after main: {after_main}, name: {name:?}"));
        })
        .unwrap();
    main_done.store(true, Ordering::SeqCst);
}

#[test]
fn a_thread_that_outlives_main_keeps_its_name_under_dfs_and_dpor() {
    let searches: [(&str, Box<dyn Strategy>); 2] = [
        ("dfs", Box::new(Dfs::new(u32::MAX))),
        ("dpor", Box::new(Dpor::new(u32::MAX, 0))),
    ];
    for (label, mut strategy) in searches {
        let report = search(&mut *strategy, name_after_main);
        exhausted(&report);
        let states: BTreeSet<String> = take_notes().into_iter().collect();
        let expected = BTreeSet::from([
            "after main: false, name: Some(\"late\")".to_owned(),
            "after main: true, name: Some(\"late\")".to_owned(),
        ]);
        assert_eq!(states, expected, "{label}");
    }
}
