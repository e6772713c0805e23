//! Unit tests of the executor: steps, parking, time, limits and the hooks.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use vigil_core::rt::{self, Op, Site, TaskId};
use vigil_core::sync::{AtomicU32, Mutex, Ordering};
use vigil_core::thread;

use super::*;
use crate::strategy::{Random, Replay, Start};

fn config() -> Config {
    Config {
        steps_max: 10_000,
        tasks_max: 8,
        ..Config::default()
    }
}

/// Runs one execution of `model` under `strategy`; returns the outcome and the trace text.
fn execute(
    strategy: &mut dyn Strategy,
    observers: &mut [Box<dyn Observer>],
    model: impl Fn() + Send + Sync + 'static,
) -> (Outcome, String, Schedule) {
    let model: Model = Arc::new(model);
    let mut executor = Executor::new(&config());
    let outcome = executor
        .execute(0, strategy, observers, &mut crate::fault::NoFaults, &model)
        .expect("the strategy offers an execution");
    (outcome, executor.trace().render(), executor.schedule())
}

fn random(model: impl Fn() + Send + Sync + 'static) -> (Outcome, String, Schedule) {
    execute(&mut Random::new(7), &mut [], model)
}

/// Whether some line of `trace` contains every one of `parts`, in order.
fn has_line(trace: &str, parts: &[&str]) -> bool {
    trace.lines().any(|line| {
        let mut rest = line;
        parts.iter().all(|part| match rest.find(part) {
            Some(at) => {
                rest = &rest[at + part.len()..];
                true
            }
            None => false,
        })
    })
}

fn fail_kind(outcome: &Outcome) -> Option<&FailureKind> {
    match &outcome.verdict {
        Verdict::Pass => None,
        Verdict::Fail { kind, .. } => Some(kind),
    }
}

#[test]
fn a_main_task_alone_runs_to_completion() {
    let (outcome, trace, schedule) = random(|| rt::step("only"));
    assert_eq!(outcome.verdict, Verdict::Pass);
    assert_eq!(outcome.steps, 2);
    assert!(
        schedule.choices.is_empty(),
        "one runnable task is never a choice"
    );
    let lines: Vec<&str> = trace.lines().collect();
    assert_eq!(lines.len(), 4, "{trace}");
    assert!(lines[1].ends_with("start"), "{trace}");
    assert!(
        lines[2].contains("only") && lines[2].ends_with("step"),
        "{trace}"
    );
    assert!(lines[3].ends_with("finish"), "{trace}");
}

#[test]
fn spawned_tasks_get_dense_ids_and_run_to_completion() {
    let (outcome, trace, _) = random(|| {
        let handles: Vec<_> = (0..3)
            .map(|idx| thread::spawn("worker", move || idx * 2))
            .collect();
        let ids: Vec<TaskId> = handles.iter().map(|handle| handle.id()).collect();
        assert_eq!(ids, vec![TaskId(1), TaskId(2), TaskId(3)]);
        let results: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        assert_eq!(results, vec![0, 2, 4]);
    });
    assert_eq!(outcome.verdict, Verdict::Pass, "{trace}");
    assert!(trace.contains("spawn t3 worker"), "{trace}");
}

#[test]
fn an_unpark_before_the_park_is_remembered_as_a_token() {
    let (outcome, trace, _) = random(|| {
        let scheduler = rt::current();
        let me = scheduler.current();
        scheduler.unpark(me);
        // Without the token this would be a deadlock: nobody else is left to unpark us.
        scheduler.park(Site::new("token", Op::Park), None);
    });
    assert_eq!(outcome.verdict, Verdict::Pass, "{trace}");
    assert!(trace.contains("unpark t0 (token)"), "{trace}");
    assert!(trace.contains("park (token)"), "{trace}");
}

#[test]
fn a_park_nobody_ends_is_a_deadlock_naming_the_site() {
    let (outcome, _, _) = random(|| {
        rt::current().park(Site::new("forever", Op::Park), None);
    });
    let Some(FailureKind::Deadlock { blocked }) = fail_kind(&outcome) else {
        panic!("expected a deadlock, got {outcome:?}");
    };
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0].id, TaskId(0));
    assert_eq!(blocked[0].name, "main");
    assert_eq!(blocked[0].site, Site::new("forever", Op::Park));
    let Verdict::Fail { message, .. } = &outcome.verdict else {
        unreachable!()
    };
    assert!(
        message.contains("t0 'main' parked at forever park"),
        "{message}"
    );
}

#[test]
fn the_clock_wakes_the_earliest_deadline_first_and_only_when_all_are_blocked() {
    let times = Arc::new(Mutex::named("times", Vec::new()));
    let record = times.clone();
    let (outcome, trace, _) = random(move || {
        let late = record.clone();
        let sleeper = thread::spawn("late", move || {
            rt::sleep(Duration::from_millis(30));
            late.lock().push(("late", rt::now().as_nanos()));
        });
        let busy = record.clone();
        let worker = thread::spawn("busy", move || {
            for _ in 0..20 {
                rt::yield_now();
            }
            busy.lock().push(("busy", rt::now().as_nanos()));
        });
        rt::sleep(Duration::from_millis(10));
        record.lock().push(("main", rt::now().as_nanos()));
        sleeper.join().unwrap();
        worker.join().unwrap();
    });
    assert_eq!(outcome.verdict, Verdict::Pass, "{trace}");
    let times = times.peek(|times| times.clone()).unwrap();
    assert!(
        times.contains(&("busy", 0)),
        "time stands still while a task can run: {times:?}"
    );
    assert!(times.contains(&("main", 10_000_000)), "{times:?}");
    assert!(times.contains(&("late", 30_000_000)), "{times:?}");
    assert!(has_line(&trace, &["sleep", "park (timed out)"]), "{trace}");
}

#[test]
fn parks_with_equal_deadlines_wake_in_registration_order() {
    let order = Arc::new(Mutex::named("order", Vec::new()));
    let record = order.clone();
    let (outcome, trace, _) = execute(&mut Random::new(3), &mut [], move || {
        let handles: Vec<_> = (0..3u32)
            .map(|idx| {
                let record = record.clone();
                thread::spawn("sleeper", move || {
                    let deadline = rt::now().saturating_add(Duration::from_millis(5));
                    let site = Site::new("same", Op::Park);
                    while rt::now() < deadline {
                        rt::current().park(site, Some(deadline));
                    }
                    record.lock().push(idx);
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
    assert_eq!(outcome.verdict, Verdict::Pass, "{trace}");
    let timeouts: Vec<&str> = trace
        .lines()
        .filter(|line| line.contains("(timed out)"))
        .collect();
    assert_eq!(timeouts.len(), 3, "{trace}");
    // Whatever order they parked in, they time out in that same order.
    let parked: Vec<&str> = trace
        .lines()
        .filter(|line| line.contains("park until"))
        .map(|line| &line[24..44])
        .collect();
    let woken: Vec<&str> = timeouts.iter().map(|line| &line[24..44]).collect();
    assert_eq!(parked, woken, "{trace}");
}

#[test]
fn an_endless_yield_loop_hits_the_step_limit() {
    let (outcome, _, _) = random(|| {
        loop {
            rt::yield_now();
        }
    });
    assert_eq!(
        fail_kind(&outcome),
        Some(&FailureKind::StepLimit { steps_max: 10_000 })
    );
    assert_eq!(outcome.steps, 10_000);
}

#[test]
fn spawning_past_the_task_limit_fails_the_execution() {
    let (outcome, _, _) = random(|| {
        let handles: Vec<_> = (0..20).map(|_| thread::spawn("many", || ())).collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
    assert_eq!(
        fail_kind(&outcome),
        Some(&FailureKind::TaskLimit { tasks_max: 8 })
    );
}

#[test]
fn a_panic_in_a_spawned_task_is_a_failure_with_its_message() {
    let (outcome, trace, _) = random(|| {
        let handle = thread::spawn("doomed", || panic!("boom at {}", 42));
        let _ = handle.join();
    });
    let Verdict::Fail { kind, message } = &outcome.verdict else {
        panic!("expected a failure");
    };
    assert_eq!(kind, &FailureKind::Panic);
    assert_eq!(message, "t1 'doomed' panicked: boom at 42");
    assert!(trace.trim_end().ends_with("panic: boom at 42"), "{trace}");
}

#[test]
fn a_panic_in_the_main_task_is_a_failure() {
    let (outcome, _, _) = random(|| panic!("main gave up"));
    let Verdict::Fail { kind, message } = &outcome.verdict else {
        panic!("expected a failure");
    };
    assert_eq!(kind, &FailureKind::Panic);
    assert_eq!(message, "t0 'main' panicked: main gave up");
}

#[test]
fn an_injected_fault_panic_is_traced_but_not_a_failure() {
    let (outcome, trace, _) = random(|| {
        let handle = thread::spawn("victim", || {
            panic!("{INJECTED_FAULT_MARKER}: crash the victim");
        });
        assert!(handle.join().is_err());
    });
    assert_eq!(outcome.verdict, Verdict::Pass, "{trace}");
    assert!(
        trace.contains("injected fault: vigil-injected-fault: crash the victim"),
        "{trace}"
    );
}

#[test]
fn random_draws_come_from_the_strategy_and_are_recorded() {
    let (outcome, trace, schedule) = random(|| {
        let first = rt::random_u64();
        let second = rt::random_u64();
        assert_ne!(first, second);
    });
    assert_eq!(outcome.verdict, Verdict::Pass);
    assert_eq!(schedule.choices.len(), 2);
    assert!(matches!(schedule.choices[0], Choice::Draw(_)));
    let Choice::Draw(value) = schedule.choices[0] else {
        unreachable!()
    };
    assert!(trace.contains(&format!("draw {value:#018x}")), "{trace}");
}

#[test]
fn runnable_tasks_are_offered_in_id_order() {
    struct Recorder(Vec<Vec<TaskId>>);
    impl Strategy for Recorder {
        fn start(&mut self, _: u64) -> Option<Start> {
            Some(Start { seed: 0 })
        }
        fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, crate::Divergence> {
            self.0.push(view.runnable.to_vec());
            // Always the highest id, to disturb any accidental ordering.
            Ok(Choice::Task(*view.runnable.last().unwrap()))
        }
        fn draw(&mut self, _: &DrawView) -> Result<u64, crate::Divergence> {
            Ok(0)
        }
    }
    let mut recorder = Recorder(Vec::new());
    let (outcome, _, _) = execute(&mut recorder, &mut [], || {
        let handles: Vec<_> = (0..3).map(|_| thread::spawn("w", rt::yield_now)).collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
    assert_eq!(outcome.verdict, Verdict::Pass);
    assert!(!recorder.0.is_empty());
    for runnable in &recorder.0 {
        assert!(runnable.len() >= 2);
        assert!(
            runnable.windows(2).all(|pair| pair[0] < pair[1]),
            "{runnable:?}"
        );
    }
}

struct CounterAtMost {
    counter: Arc<AtomicU32>,
    max: u32,
    steps_seen: u64,
}

impl Observer for CounterAtMost {
    fn name(&self) -> &str {
        "counter-at-most"
    }

    fn start_execution(&mut self) {
        self.steps_seen = 0;
    }

    fn after_step(&mut self, view: &StepView<'_>) -> Result<(), String> {
        assert_eq!(
            view.step, self.steps_seen,
            "observers see every step in order"
        );
        self.steps_seen += 1;
        let value = self.counter.peek();
        if value > self.max {
            return Err(format!("counter is {value}, above {}", self.max));
        }
        Ok(())
    }
}

#[test]
fn an_observer_error_fails_the_execution_as_an_invariant() {
    let counter = Arc::new(AtomicU32::named("counter", 0));
    let model_counter = counter.clone();
    let observer = CounterAtMost {
        counter,
        max: 2,
        steps_seen: 0,
    };
    let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(observer)];
    let (outcome, _, _) = execute(&mut Random::new(1), &mut observers, move || {
        model_counter.store(0, Ordering::SeqCst);
        for _ in 0..5 {
            model_counter.fetch_add(1, Ordering::SeqCst);
        }
    });
    let Verdict::Fail { kind, message } = &outcome.verdict else {
        panic!("expected a failure");
    };
    assert_eq!(
        kind,
        &FailureKind::Invariant {
            name: "counter-at-most".to_owned()
        }
    );
    assert_eq!(message, "counter is 3, above 2");
}

#[test]
fn a_scheduling_operation_in_an_observer_is_refused_with_an_explanation() {
    struct Locker(Arc<Mutex<u32>>);
    impl Observer for Locker {
        fn name(&self) -> &str {
            "locker"
        }
        fn after_step(&mut self, _: &StepView<'_>) -> Result<(), String> {
            let _guard = self.0.lock();
            Ok(())
        }
    }
    let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(Locker(Arc::default()))];
    let result = catch_unwind(AssertUnwindSafe(|| {
        execute(&mut Random::new(1), &mut observers, || rt::step("a"));
    }));
    let payload = result.expect_err("the observer's lock must be refused");
    let message = panic_message(payload.as_ref());
    assert!(message.contains("outside a simulated task"), "{message}");
    assert!(message.contains("peek"), "{message}");
}

#[test]
fn spawn_external_adds_a_task_between_steps() {
    let flag = Arc::new(AtomicU32::named("flag", 0));
    let model_flag = flag.clone();
    let model: Model = Arc::new(move || {
        while model_flag.load(Ordering::SeqCst) == 0 {
            rt::yield_now();
        }
    });
    let mut executor = Executor::new(&config());
    let mut strategy = Random::new(5);
    let mut no_faults = crate::fault::NoFaults;
    let mut execution = executor
        .start(0, &mut strategy, &mut [], &mut no_faults, &model)
        .expect("an execution");
    for _ in 0..3 {
        assert_eq!(execution.step(), Status::Running);
    }
    let setter = flag.clone();
    let task = execution.spawn_external("fault", move || setter.store(1, Ordering::SeqCst));
    assert_eq!(task, Some(TaskId(1)));
    let outcome = execution.run();
    assert_eq!(outcome.verdict, Verdict::Pass);
    let trace = executor.trace().render();
    assert!(
        has_line(&trace, &["t1 fault", "spawn (external)"]),
        "{trace}"
    );
}

#[test]
fn a_replay_that_cannot_follow_its_schedule_reports_a_divergence() {
    let schedule = Schedule {
        seed: 0,
        choices: vec![Choice::Task(TaskId(5))],
        fingerprint: None,
    };
    let (outcome, _, _) = execute(&mut Replay::new(schedule), &mut [], || {
        let worker = thread::spawn("w", rt::yield_now);
        rt::yield_now();
        worker.join().unwrap();
    });
    let Verdict::Fail { kind, message } = &outcome.verdict else {
        panic!("expected a divergence");
    };
    assert!(matches!(kind, FailureKind::Divergence { .. }), "{kind:?}");
    assert!(message.contains("a pick of t5"), "{message}");
    assert!(message.contains("runnable t0, t1"), "{message}");
}

#[test]
fn globals_are_cleared_inside_the_main_task_so_their_drops_are_simulated() {
    struct JoinsOnDrop(Option<thread::JoinHandle<()>>);
    impl Drop for JoinsOnDrop {
        fn drop(&mut self) {
            if let Some(handle) = self.0.take() {
                handle.join().unwrap();
            }
        }
    }
    let (outcome, trace, _) = random(|| {
        rt::current()
            .globals()
            .get_or_init(|| JoinsOnDrop(Some(thread::spawn("background", rt::yield_now))));
    });
    assert_eq!(outcome.verdict, Verdict::Pass, "{trace}");
    assert!(has_line(&trace, &["t0 main", "thread", "join"]), "{trace}");
}

#[test]
fn executions_reuse_stacks_and_leave_nothing_behind() {
    let model: Model = Arc::new(|| {
        let worker = thread::spawn("w", rt::yield_now);
        worker.join().unwrap();
    });
    let mut executor = Executor::new(&config());
    let mut strategy = Random::new(9);
    for idx in 0..50 {
        let outcome = executor
            .execute(
                idx,
                &mut strategy,
                &mut [],
                &mut crate::fault::NoFaults,
                &model,
            )
            .unwrap();
        assert_eq!(outcome.verdict, Verdict::Pass);
    }
    assert_eq!(
        executor.stacks.len(),
        2,
        "two tasks per execution, two stacks reused"
    );
}

/// Joins (or yields) in `drop`, so that it runs scheduler code while a panic unwinds.
struct OnDrop<F: FnMut()>(F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

#[test]
fn points_reached_while_unwinding_do_not_switch_tasks() {
    let (outcome, trace, _) = random(|| {
        let other = thread::spawn("other", || {
            for _ in 0..5 {
                rt::yield_now();
            }
        });
        let victim = thread::spawn("victim", || {
            let _yields = OnDrop(|| {
                for _ in 0..3 {
                    rt::yield_now();
                }
            });
            panic!("victim fails");
        });
        let _ = victim.join();
        other.join().unwrap();
    });
    let Verdict::Fail { kind, message } = &outcome.verdict else {
        panic!("expected a failure:\n{trace}");
    };
    assert_eq!(kind, &FailureKind::Panic);
    assert_eq!(message, "t2 'victim' panicked: victim fails");
    let lines: Vec<&str> = trace.lines().collect();
    let unwinding: Vec<usize> = (0..lines.len())
        .filter(|&idx| lines[idx].ends_with("yield (unwinding)"))
        .collect();
    assert_eq!(unwinding.len(), 3, "{trace}");
    // Nothing but the victim between its first unwinding point and its panic report.
    let first = unwinding[0];
    assert!(
        lines[first..].iter().all(|line| line.contains("t2 victim")),
        "{trace}"
    );
    assert!(!std::thread::panicking());
}

#[test]
fn a_park_while_unwinding_blocks_and_the_panic_is_still_reported() {
    let (outcome, trace, _) = random(|| {
        let (go_tx, go_rx) = vigil_core::sync::channel::<()>("go", 1);
        let victim = thread::spawn("victim", move || {
            let helper = thread::spawn("helper", move || go_rx.recv().unwrap());
            let mut helper = Some(helper);
            let _joins = OnDrop(move || {
                if let Some(helper) = helper.take() {
                    helper.join().unwrap();
                }
            });
            panic!("victim fails");
        });
        rt::yield_now();
        go_tx.send(()).unwrap();
        let _ = victim.join();
    });
    let Verdict::Fail { kind, message } = &outcome.verdict else {
        panic!("expected a failure:\n{trace}");
    };
    assert_eq!(kind, &FailureKind::Panic, "{trace}");
    assert_eq!(message, "t1 'victim' panicked: victim fails");
    assert!(
        has_line(&trace, &["t1 victim", "thread", "park"]),
        "{trace}"
    );
    assert!(!std::thread::panicking(), "the unwinding finished");
}

#[test]
fn an_observer_can_fail_an_execution_at_quiescence() {
    struct NeverSettles;
    impl Observer for NeverSettles {
        fn name(&self) -> &str {
            "settles"
        }
        fn after_step(&mut self, _: &StepView<'_>) -> Result<(), String> {
            Ok(())
        }
        fn after_execution(&mut self, steps: u64) -> Result<(), String> {
            Err(format!("still unsettled after {steps} steps"))
        }
    }
    let mut observers: Vec<Box<dyn Observer>> = vec![Box::new(NeverSettles)];
    let (outcome, _, _) = execute(&mut Random::new(1), &mut observers, || rt::step("a"));
    let expected = Verdict::Fail {
        kind: FailureKind::Invariant {
            name: "settles".to_owned(),
        },
        message: "still unsettled after 2 steps".to_owned(),
    };
    assert_eq!(outcome.verdict, expected);
}

/// Who else wants the lock in [`critical_section`].
#[derive(Clone, Copy, Debug)]
enum Contender {
    Nobody,
    Lock,
    TryLock,
}

/// A contender task (spawned first), then the main task's critical section on `table`, with
/// an atomic store inside it when `inner_point`.
fn critical_section(inner_point: bool, contender: Contender) -> impl Fn() + Send + Sync + 'static {
    move || {
        let table = Arc::new(Mutex::named("table", ()));
        let counter = AtomicU32::named("counter", 0);
        let other = table.clone();
        let other = match contender {
            Contender::Nobody => None,
            Contender::Lock => Some(thread::spawn("contender", move || drop(other.lock()))),
            Contender::TryLock => Some(thread::spawn("contender", move || {
                drop(other.try_lock());
            })),
        };
        let guard = table.lock();
        if inner_point {
            counter.store(1, Ordering::SeqCst);
        }
        drop(guard);
        counter.store(2, Ordering::SeqCst);
        if let Some(other) = other {
            other.join().unwrap();
        }
    }
}

/// The traces of every execution of `model` under `strategy`, until it has nothing left.
fn every_trace(
    strategy: &mut dyn Strategy,
    model: impl Fn() + Send + Sync + 'static,
) -> Vec<String> {
    let model: Model = Arc::new(model);
    let mut executor = Executor::new(&config());
    let mut traces = Vec::new();
    for execution_idx in 0.. {
        let faults = &mut crate::fault::NoFaults;
        let Some(outcome) = executor.execute(execution_idx, strategy, &mut [], faults, &model)
        else {
            break;
        };
        let trace = executor.trace().render();
        assert_eq!(outcome.verdict, Verdict::Pass, "{trace}");
        traces.push(trace);
    }
    traces
}

#[test]
fn an_unlock_is_a_scheduling_point_only_where_another_task_could_tell() {
    let check = |inner_point: bool, contender: Contender, point: bool| {
        let traces = every_trace(
            &mut crate::strategy::Dfs::new(2),
            critical_section(inner_point, contender),
        );
        // An unlock that is a point is traced as `unlock`; one that is not, as
        // `unlock (no switch)`.
        let unlock = (traces.iter()).any(|trace| {
            trace.lines().any(|line| {
                has_line(line, &["t0 main", "table", "unlock"]) && !line.ends_with("(no switch)")
            })
        });
        assert_eq!(
            unlock, point,
            "inner point {inner_point}, {contender:?}:\n{traces:#?}"
        );
    };
    // Nobody else: no task can see the moment before the unlock.
    check(true, Contender::Nobody, false);
    check(false, Contender::Nobody, false);
    // A task blocked on the lock: the unlock wakes it, and what runs next matters.
    check(true, Contender::Lock, true);
    // Without a point inside, no `lock` can come between lock and unlock to block.
    check(false, Contender::Lock, false);
    // A `try_lock` waiting at its point could see a section without points held.
    check(false, Contender::TryLock, true);
    // With a point inside, it sees the lock held there, no unlock point needed.
    check(true, Contender::TryLock, false);
}

#[test]
fn spawn_and_join_are_not_scheduling_points() {
    let (outcome, trace, _) = execute(&mut crate::strategy::Dfs::new(0), &mut [], || {
        let worker = thread::spawn("worker", || {});
        worker.join().unwrap();
    });
    assert_eq!(outcome.verdict, Verdict::Pass, "{trace}");
    let point = |op: &str| {
        (trace.lines()).any(|line| line.contains("thread") && line.trim_end().ends_with(op))
    };
    assert!(!point("spawn") && !point("join"), "{trace}");
}
