//! DPOR: the dependency relation orders what conflicts and only that, sleep sets and races
//! never lose a terminal state that exhaustive DFS reaches, results are certified only when
//! the search was exhausted, faults are explored, and runs are deterministic.

use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
use std::sync::Arc;

use vigil_core::rt::{self, Op, Site};
use vigil_core::sync::{AtomicU32, Mutex, Ordering};
use vigil_core::thread;
use vigil_sim::scenario::{self, StrategyKind};
use vigil_sim::{
    Config, Dfs, Dpor, Executor, FailureKind, FaultAction, FaultView, Faults, Model, NoFaults,
    Observed, Overrides, Report, Runner, StopReason, Strategy, run, run_scenario,
};

use super::models::{check_then_act, lock_order};

thread_local! {
    /// Terminal states of the executions of one run (the executor runs on the test thread).
    static STATES: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
    /// What the reader of `writers_and_reader` saw.
    static SEEN: Cell<u32> = const { Cell::new(0) };
    /// What each task of `store_ring` read from its neighbour.
    static RING: Cell<[u32; 3]> = const { Cell::new([0; 3]) };
}

pub(super) fn config(executions: u64) -> Config {
    let mut config = Config::default();
    config.seed = 10;
    config.executions = executions;
    config
}

/// Runs `model` under `strategy` and returns the report and the terminal states it reached.
pub(super) fn states<F>(strategy: &mut dyn Strategy, model: F) -> (Report, BTreeSet<String>)
where
    F: Fn() + Send + Sync + 'static,
{
    STATES.with(|states| states.borrow_mut().clear());
    let report = run(&config(200_000), strategy, model);
    let reached = STATES.with(|states| std::mem::take(&mut *states.borrow_mut()));
    (report, reached)
}

/// [`states`] with a fault source.
pub(super) fn states_with_faults<F>(
    strategy: &mut dyn Strategy,
    faults: impl Faults + 'static,
    model: F,
) -> (Report, BTreeSet<String>)
where
    F: Fn() + Send + Sync + 'static,
{
    STATES.with(|states| states.borrow_mut().clear());
    let report = Runner::new(config(200_000))
        .faults(faults)
        .run(strategy, model);
    let reached = STATES.with(|states| std::mem::take(&mut *states.borrow_mut()));
    (report, reached)
}

pub(super) fn record(state: String) {
    STATES.with(|states| states.borrow_mut().insert(state));
}

/// Two writers on one atomic and a reader of it: the final value and what the reader saw
/// depend on the order of the conflicting accesses only (the reader notes what it saw
/// outside the model, which is not a scheduling point).
pub(super) fn writers_and_reader() -> impl Fn() + Send + Sync + 'static {
    || {
        let shared = Arc::new(AtomicU32::named("shared", 0));
        let other = Arc::new(AtomicU32::named("other", 0));
        let mut handles = Vec::new();
        for value in 1..=2 {
            let (shared, other) = (shared.clone(), other.clone());
            handles.push(thread::spawn("writer", move || {
                shared.store(value, Ordering::SeqCst);
                other.fetch_add(1, Ordering::SeqCst);
            }));
        }
        let reader_shared = shared.clone();
        handles.push(thread::spawn("reader", move || {
            let value = reader_shared.load(Ordering::SeqCst);
            SEEN.with(|seen| seen.set(value));
        }));
        for handle in handles {
            handle.join().unwrap();
        }
        let seen = SEEN.with(|seen| seen.get());
        record(format!("shared={} seen={seen}", shared.peek()));
    }
}

/// `tasks` tasks appending their number to a list under a mutex.
pub(super) fn locked_counter(tasks: u32) -> impl Fn() + Send + Sync + 'static {
    move || {
        let counter = Arc::new(Mutex::named("counter", Vec::new()));
        let handles: Vec<_> = (0..tasks)
            .map(|id| {
                let counter = counter.clone();
                thread::spawn("incrementer", move || {
                    counter.lock().push(id);
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        let order = counter.lock().clone();
        record(format!("{order:?}"));
    }
}

/// A task that pushes under a mutex, and one that reads it with `try_lock`, which fails
/// while the other holds it (a different outcome, not a wait).
pub(super) fn lock_and_try_lock() -> impl Fn() + Send + Sync + 'static {
    || {
        let list = Arc::new(Mutex::named("list", Vec::new()));
        let locker_list = list.clone();
        let locker = thread::spawn("locker", move || locker_list.lock().push(1));
        let peeker = thread::spawn("peeker", move || {
            let seen = list.try_lock().map_or(99, |guard| guard.len() as u32);
            SEEN.with(|cell| cell.set(seen));
        });
        locker.join().unwrap();
        peeker.join().unwrap();
        record(format!("peeked={}", SEEN.with(|seen| seen.get())));
    }
}

/// Offers one fault while the task "victim" is alive: a panic injected into it, or a task of
/// the fault's own that pushes under the model's mutex (as a crash runs `core`'s terminate
/// path).
pub(super) struct VictimFaults {
    pub(super) fired: bool,
}

impl Faults for VictimFaults {
    fn start_execution(&mut self) {
        self.fired = false;
    }

    fn pending(&mut self, view: &FaultView<'_>) -> u32 {
        if self.fired || view.live_task("victim").is_none() {
            0
        } else {
            2
        }
    }

    fn fire(&mut self, k: u32, view: &FaultView<'_>) -> Option<FaultAction> {
        self.fired = true;
        let task = view.live_task("victim")?;
        if k == 0 {
            return Some(FaultAction::Panic { task });
        }
        let list = FAULT_LIST.with(|list| list.borrow().clone())?;
        Some(FaultAction::Spawn {
            name: "fault".into(),
            body: Box::new(move || list.lock().push(9)),
            hold: None,
        })
    }

    fn describe(&self, k: u32) -> String {
        ["panic victim", "push 9"][k as usize].to_owned()
    }
}

thread_local! {
    /// The mutex of the current `victim_and_bystander` execution, for the push-9 fault.
    static FAULT_LIST: RefCell<Option<Arc<Mutex<Vec<u32>>>>> = const { RefCell::new(None) };
}

/// A victim that pushes 1 under a mutex after a named step (where an injected panic lands);
/// the state is what the mutex holds at the end (the fault's task may push 9 before or after)
/// and whether the victim panicked.
pub(super) fn victim_and_bystander() -> impl Fn() + Send + Sync + 'static {
    || {
        let list = Arc::new(Mutex::named("list", Vec::new()));
        FAULT_LIST.with(|slot| *slot.borrow_mut() = Some(list.clone()));
        let victim_list = list.clone();
        let victim = thread::spawn("victim", move || {
            rt::point(Site::new("victim.work", Op::Step));
            victim_list.lock().push(1);
        });
        let panicked = victim.join().is_err();
        // Read after every task is done (the fault's task may still be running: yield to it).
        rt::sleep(std::time::Duration::from_millis(1));
        let order = list.peek(Vec::clone);
        record(format!("{order:?} panicked={panicked}"));
    }
}

pub(super) fn exhausted(report: &Report) -> u64 {
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.stop, StopReason::StrategyExhausted);
    stats.executions
}

#[test]
fn dpor_reaches_every_terminal_state_of_exhaustive_dfs() {
    for (name, model) in [
        (
            "writers_and_reader",
            Box::new(writers_and_reader()) as Box<dyn Fn() + Send + Sync>,
        ),
        ("locked_counter", Box::new(locked_counter(2))),
    ] {
        let model = Arc::new(model);
        let (dfs_model, dpor_model) = (model.clone(), model.clone());
        let (dfs, all) = states(&mut Dfs::new(u32::MAX), move || dfs_model());
        let (dpor, reached) = states(&mut Dpor::new(u32::MAX, 0), move || dpor_model());
        let (dfs_runs, dpor_runs) = (exhausted(&dfs), exhausted(&dpor));
        assert_eq!(
            reached, all,
            "{name}: DPOR lost or invented terminal states"
        );
        assert!(
            dpor_runs < dfs_runs,
            "{name}: {dpor_runs} vs {dfs_runs} executions"
        );
    }
}

#[test]
fn dpor_reaches_every_terminal_state_of_exhaustive_dfs_with_mutexes_and_try_lock() {
    // Lock attempts that would only wait are not explored, but a `try_lock` that fails while
    // the mutex is held is: it is a different outcome, not a wait.
    let (dfs, all) = states(&mut Dfs::new(u32::MAX), lock_and_try_lock());
    let (dpor, reached) = states(&mut Dpor::new(u32::MAX, 0), lock_and_try_lock());
    let (dfs_runs, dpor_runs) = (exhausted(&dfs), exhausted(&dpor));
    assert!(
        all.iter().any(|state| state.ends_with("peeked=99")),
        "{all:?}"
    );
    assert_eq!(reached, all, "DPOR lost or invented terminal states");
    assert!(dpor_runs < dfs_runs, "{dpor_runs} vs {dfs_runs} executions");
}

#[test]
fn dpor_with_faults_reaches_every_terminal_state_of_exhaustive_dfs() {
    let (dfs, all) = states_with_faults(
        &mut Dfs::new(u32::MAX),
        VictimFaults { fired: false },
        victim_and_bystander(),
    );
    let (dpor, reached) = states_with_faults(
        &mut Dpor::new(u32::MAX, 1),
        VictimFaults { fired: false },
        victim_and_bystander(),
    );
    let (dfs_runs, dpor_runs) = (exhausted(&dfs), exhausted(&dpor));
    // Both faults fire somewhere, and the push of the fault's task lands in every order.
    assert!(all.contains("Some([]) panicked=true"), "{all:?}");
    assert!(all.contains("Some([9, 1]) panicked=false"), "{all:?}");
    assert!(all.contains("Some([1, 9]) panicked=false"), "{all:?}");
    assert_eq!(reached, all, "DPOR lost or invented terminal states");
    assert!(dpor_runs < dfs_runs, "{dpor_runs} vs {dfs_runs} executions");
}

#[test]
fn bounded_dpor_with_mutexes_and_faults_covers_what_bounded_dfs_covers() {
    for bound in 0..=2 {
        let (dfs, within) = states(&mut Dfs::new(bound), lock_and_try_lock());
        let (dpor, reached) = states(&mut Dpor::new(bound, 0), lock_and_try_lock());
        exhausted(&dfs);
        exhausted(&dpor);
        assert!(
            reached.is_superset(&within),
            "locks, bound {bound}: DPOR missed {:?}",
            within.difference(&reached).collect::<Vec<_>>()
        );
        let faults = || VictimFaults { fired: false };
        let (dfs, within) =
            states_with_faults(&mut Dfs::new(bound), faults(), victim_and_bystander());
        let (dpor, reached) =
            states_with_faults(&mut Dpor::new(bound, 1), faults(), victim_and_bystander());
        exhausted(&dfs);
        exhausted(&dpor);
        assert!(
            reached.is_superset(&within),
            "faults, bound {bound}: DPOR missed {:?}",
            within.difference(&reached).collect::<Vec<_>>()
        );
    }
}

#[test]
fn lockers_are_explored_per_order_of_their_critical_sections_without_waiting() {
    // Three tasks pushing under one mutex: six orders, each reached by letting another task
    // take the mutex first, never by making one wait inside another's critical section.
    let mut strategy = Dpor::new(u32::MAX, 0);
    let mut executor = Executor::new(&config(1));
    let model: Model = Arc::new(locked_counter(3));
    STATES.with(|states| states.borrow_mut().clear());
    let mut waits = 0;
    for idx in 0.. {
        let Some(outcome) = executor.execute(idx, &mut strategy, &mut [], &mut NoFaults, &model)
        else {
            break;
        };
        assert_eq!(outcome.verdict, vigil_sim::Verdict::Pass);
        let trace = executor.trace().render();
        waits += trace
            .lines()
            .filter(|line| line.contains(" counter ") && line.trim_end().ends_with("park"))
            .count();
    }
    let reached = STATES.with(|states| std::mem::take(&mut *states.borrow_mut()));
    assert_eq!(reached.len(), 6, "{reached:?}");
    assert_eq!(waits, 0, "lock attempts explored while the mutex was held");
}

/// Two tasks each take `outer`, then `inner` inside it, and record the order they got
/// `outer` in: the unlock of `outer` has no scheduling point of its own and runs in the step
/// that took `inner`, so its critical section spans two steps.
fn nested_lockers() -> impl Fn() + Send + Sync + 'static {
    || {
        let outer = Arc::new(Mutex::named("outer", Vec::new()));
        let inner = Arc::new(Mutex::named("inner", 0u32));
        let (outer_2, inner_2) = (outer.clone(), inner.clone());
        let nest = move |outer: &Mutex<Vec<u32>>, inner: &Mutex<u32>, id: u32| {
            let mut order = outer.lock();
            order.push(id);
            *inner.lock() += 1;
        };
        let worker = thread::spawn("nester", move || nest(&outer_2, &inner_2, 2));
        nest(&outer, &inner, 1);
        worker.join().unwrap();
        let order = outer.lock().clone();
        record(format!("{order:?}"));
    }
}

#[test]
fn a_critical_section_over_two_steps_is_reversed_where_it_was_acquired() {
    // The race from the first holder's unlock of `outer` to the second's lock is reversed at
    // the first holder's lock, not at the step that unlocked (where the second task could
    // only wait): two executions, one per order of the critical sections, and no waits.
    let mut strategy = Dpor::new(2, 0);
    let mut executor = Executor::new(&config(100));
    let model: Model = Arc::new(nested_lockers());
    STATES.with(|states| states.borrow_mut().clear());
    let (mut executions, mut waits) = (0, 0);
    for idx in 0.. {
        let Some(outcome) = executor.execute(idx, &mut strategy, &mut [], &mut NoFaults, &model)
        else {
            break;
        };
        assert_eq!(outcome.verdict, vigil_sim::Verdict::Pass);
        executions += 1;
        waits += executor
            .trace()
            .render()
            .lines()
            .filter(|line| line.contains(" outer ") && line.trim_end().ends_with("park"))
            .count();
    }
    let reached = STATES.with(|states| std::mem::take(&mut *states.borrow_mut()));
    assert_eq!(reached.len(), 2, "{reached:?}");
    assert_eq!(
        executions, 2,
        "one execution per order of the critical sections"
    );
    assert_eq!(waits, 0, "lock attempts explored while the mutex was held");
}

/// Three tasks in a ring, each storing to its own atomic twice and then reading its
/// neighbour's: each task can go on after its first store, so moving that store back to
/// where the task was first explored costs a switch back, and the terminal states (what each
/// task read) differ at every preemption bound.
pub(super) fn store_ring() -> impl Fn() + Send + Sync + 'static {
    || {
        let cells: Arc<Vec<AtomicU32>> =
            Arc::new((0..3).map(|_| AtomicU32::named("cell", 0)).collect());
        let handles: Vec<_> = (0..3)
            .map(|id| {
                let cells = cells.clone();
                thread::spawn("ringer", move || {
                    cells[id].store(1, Ordering::SeqCst);
                    cells[id].store(2, Ordering::SeqCst);
                    let value = cells[(id + 1) % 3].load(Ordering::SeqCst);
                    RING.with(|ring| {
                        let mut seen = ring.get();
                        seen[id] = value;
                        ring.set(seen);
                    });
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        record(format!("{:?}", RING.with(|ring| ring.replace([0; 3]))));
    }
}

#[test]
fn bounded_dpor_keeps_asleep_only_tasks_whose_cover_costs_no_more_preemptions() {
    // A task explored at a switch it did not pay for, that could go on after its event, is
    // covered only by executions that switch back from it: it must not sleep in its siblings
    // under a bound, or the orders that run it later are lost.
    for bound in 0..=2 {
        let (dfs, within) = states(&mut Dfs::new(bound), store_ring());
        let (dpor, reached) = states(&mut Dpor::new(bound, 0), store_ring());
        let (dfs_runs, dpor_runs) = (exhausted(&dfs), exhausted(&dpor));
        assert!(
            reached.is_superset(&within),
            "bound {bound}: DPOR missed {:?} ({dpor_runs} vs {dfs_runs} executions)",
            within.difference(&reached).collect::<Vec<_>>()
        );
    }
}

#[test]
fn bounded_dpor_covers_what_bounded_dfs_covers() {
    for bound in 0..=2 {
        let (dfs, within) = states(&mut Dfs::new(bound), writers_and_reader());
        let (dpor, reached) = states(&mut Dpor::new(bound, 0), writers_and_reader());
        exhausted(&dfs);
        exhausted(&dpor);
        assert!(
            reached.is_superset(&within),
            "bound {bound}: DPOR missed {:?}",
            within.difference(&reached).collect::<Vec<_>>()
        );
    }
}

#[test]
fn independent_steps_are_explored_in_one_order_only() {
    // Two tasks touching disjoint atomics: every interleaving is equivalent.
    let model = || {
        let left = Arc::new(AtomicU32::named("left", 0));
        let right = Arc::new(AtomicU32::named("right", 0));
        let worker = thread::spawn("worker", move || {
            for _ in 0..3 {
                left.fetch_add(1, Ordering::SeqCst);
            }
        });
        for _ in 0..3 {
            right.fetch_add(1, Ordering::SeqCst);
        }
        worker.join().unwrap();
    };
    let dpor = run(&config(1000), &mut Dpor::new(u32::MAX, 0), model);
    let dfs = run(&config(1000), &mut Dfs::new(u32::MAX), model);
    // One order of the counters; the join may still come before or after the worker ends.
    assert!(exhausted(&dpor) <= 2);
    assert!(exhausted(&dfs) > 10);
}

#[test]
fn dependent_steps_are_explored_in_both_orders() {
    let (report, reached) = states(&mut Dpor::new(u32::MAX, 0), locked_counter(3));
    exhausted(&report);
    // Three lockers: every order of the pushes is a distinct terminal state.
    assert_eq!(reached.len(), 6, "{reached:?}");
}

#[test]
fn dpor_finds_a_bug_needing_one_preemption() {
    let report = run(&config(10_000), &mut Dpor::new(1, 0), check_then_act(false));
    let failure = report.failure().expect("one preemption exposes the race");
    assert!(matches!(failure.kind, FailureKind::Panic), "{failure}");
    let none = run(&config(10_000), &mut Dpor::new(0, 0), check_then_act(false));
    assert!(none.failure().is_none(), "no preemption cannot expose it");
}

#[test]
fn dpor_finds_the_lock_order_deadlock() {
    let report = run(&config(10_000), &mut Dpor::new(2, 0), lock_order(false));
    let failure = report.failure().expect("DPOR finds the inversion");
    assert!(
        matches!(failure.kind, FailureKind::Deadlock { .. }),
        "{failure}"
    );
}

#[test]
fn a_bug_needing_two_preemptions_is_found_at_two_not_one() {
    // The checker must run exactly between the worker's second and third store.
    let model = || {
        let a = Arc::new(AtomicU32::named("a", 0));
        let b = Arc::new(AtomicU32::named("b", 0));
        let (wa, wb) = (a.clone(), b.clone());
        let worker = thread::spawn("worker", move || {
            wa.store(1, Ordering::SeqCst);
            wb.store(1, Ordering::SeqCst);
            wa.store(0, Ordering::SeqCst);
        });
        let checker = thread::spawn("checker", move || {
            let seen_a = a.load(Ordering::SeqCst);
            let seen_b = b.load(Ordering::SeqCst);
            let again_a = a.load(Ordering::SeqCst);
            assert!(
                !(seen_a == 1 && seen_b == 1 && again_a == 0),
                "saw the worker's intermediate state"
            );
        });
        worker.join().unwrap();
        checker.join().unwrap();
    };
    let one = run(&config(10_000), &mut Dpor::new(1, 0), model);
    exhausted(&one);
    let two = run(&config(10_000), &mut Dpor::new(2, 0), model);
    let failure = two.failure().expect("two preemptions expose it");
    assert!(matches!(failure.kind, FailureKind::Panic), "{failure}");
}

#[test]
fn certification_is_reported_only_when_the_search_was_exhausted() {
    let mut full = Dpor::new(2, 0);
    let report = run(&config(100_000), &mut full, check_then_act(true));
    let executions = exhausted(&report);
    let coverage = full.coverage().unwrap();
    assert!(coverage.exhaustive);
    assert_eq!(
        coverage.describe(executions),
        format!(
            "no violation within 2 preemptions and 0 faults, {executions} executions, exhaustive"
        )
    );
    let mut cut = Dpor::new(2, 0);
    let short = run(&config(2), &mut cut, check_then_act(true));
    assert_eq!(short.stats().unwrap().stop, StopReason::ExecutionsDone);
    let coverage = cut.coverage().unwrap();
    assert!(!coverage.exhaustive);
    assert!(coverage.open_branches > 0);
    assert!(
        coverage.describe(2).contains("not exhaustive"),
        "{}",
        coverage.describe(2)
    );
}

#[test]
fn the_same_search_twice_runs_the_same_executions_in_the_same_order() {
    let schedules = || {
        let mut seen = Vec::new();
        let mut strategy = Dpor::new(2, 0);
        let mut executor = Executor::new(&config(1));
        let model: Model = Arc::new(writers_and_reader());
        for idx in 0.. {
            let outcome = executor.execute(idx, &mut strategy, &mut [], &mut NoFaults, &model);
            let Some(outcome) = outcome else {
                break;
            };
            seen.push((outcome, executor.schedule()));
        }
        seen
    };
    let first = schedules();
    assert!(first.len() > 1);
    assert_eq!(first, schedules());
}

#[test]
fn the_same_search_with_faults_twice_runs_the_same_executions_in_the_same_order() {
    let schedules = || {
        let mut seen = Vec::new();
        let mut strategy = Dpor::new(2, 1);
        let mut faults = VictimFaults { fired: false };
        let mut executor = Executor::new(&config(1));
        let model: Model = Arc::new(victim_and_bystander());
        for idx in 0.. {
            let outcome = executor.execute(idx, &mut strategy, &mut [], &mut faults, &model);
            let Some(outcome) = outcome else {
                break;
            };
            seen.push((outcome, executor.schedule()));
        }
        seen
    };
    let first = schedules();
    assert!(first.iter().any(|(_, schedule)| {
        schedule
            .choices
            .iter()
            .any(|choice| matches!(choice, vigil_sim::Choice::Fault(_)))
    }));
    assert_eq!(first, schedules());
}

/// One worker registered and then unregistered, with one participant crash allowed.
const FAULTY_SCENARIO: &str = r#"
name = "dpor-faults"
seed = 7

[strategy]
kind = "dpor"
preemptions_max = 0
faults_max = 1
executions = 20000

[[tasks]]
name = "owner"
steps = [
  { op = "register_with_participant", worker = "a" },
  { op = "snapshot" },
]

[faults]
budget = 1
kinds = ["participant"]
reasons = ["error"]

[expect]
outcome = "pass"
certify = { preemptions = 0, faults = 1 }
"#;

#[test]
fn dpor_explores_the_faults_of_a_scenario_and_certifies_it() {
    let scenario = scenario::parse("dpor-faults.toml", FAULTY_SCENARIO).unwrap();
    let run = run_scenario(&scenario, "dpor-faults.toml", &Overrides::default());
    assert_eq!(run.observed, Observed::Pass, "{:?}", run.failure);
    assert!(run.as_expected());
    let certificate = run.certificate().unwrap();
    assert_eq!(
        certificate,
        format!(
            "no violation within 0 preemptions and 1 fault, {} executions, exhaustive",
            run.executions
        )
    );
    // Without faults the same search is smaller: the fault was explored, not ignored.
    let overrides = Overrides {
        strategy: Some(StrategyKind::Dpor {
            preemptions_max: 0,
            faults_max: 0,
        }),
        ..Overrides::default()
    };
    let quiet = run_scenario(&scenario, "dpor-faults.toml", &overrides);
    assert!(quiet.executions < run.executions);
    // A certificate at fault bound 0 does not meet a requirement of one fault.
    assert!(!quiet.certified());
    assert!(!quiet.as_expected());
}

#[test]
fn a_required_certificate_fails_a_run_that_was_not_exhaustive() {
    let scenario = scenario::parse("dpor-faults.toml", FAULTY_SCENARIO).unwrap();
    let overrides = Overrides {
        executions: Some(2),
        ..Overrides::default()
    };
    let run = run_scenario(&scenario, "dpor-faults.toml", &overrides);
    assert_eq!(run.observed, Observed::Pass);
    assert!(!run.certified());
    assert!(!run.as_expected());
    assert!(run.certificate().unwrap().contains("not exhaustive"));
    let rows = [vigil_sim::report::Row {
        run: &run,
        elapsed: None,
    }];
    let details = vigil_sim::report::unexpected_details(&rows);
    assert!(
        details.contains(
            "the scenario requires certification within 0 preemptions and 1 fault, but: \
             no violation found within 0 preemptions and 1 fault in 2 executions, not exhaustive"
        ),
        "{details}"
    );
}

#[test]
fn a_spin_loop_on_yield_now_ends_under_the_search() {
    let model = || {
        let flag = Arc::new(AtomicU32::named("flag", 0));
        let setter_flag = flag.clone();
        let spinner = thread::spawn("spinner", move || {
            while flag.load(Ordering::SeqCst) == 0 {
                vigil_core::rt::yield_now();
            }
        });
        let setter = thread::spawn("setter", move || {
            setter_flag.store(1, Ordering::SeqCst);
        });
        spinner.join().unwrap();
        setter.join().unwrap();
    };
    let mut config = config(10_000);
    config.steps_max = 200;
    let report = run(&config, &mut Dpor::new(2, 0), model);
    let executions = exhausted(&report);
    assert!(executions < 100, "{executions}");
}
