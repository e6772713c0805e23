//! Shrinking: failures come back minimal, the same way failing, deterministically.

use vigil_sim::shrink::{ShrinkLimits, Size};
use vigil_sim::sync::atomic::{AtomicUsize, Ordering};
use vigil_sim::sync::{Arc, Mutex};
use vigil_sim::thread;
use vigil_sim::{Config, Dpor, FailureKind, Random, Replay, Report, Runner, Schedule, run};

/// A lost update between two incrementers (needs one preemption), beside `noise` tasks that
/// each lock a mutex of their own and yield many times: random search finds the bug in a schedule
/// full of switches to the noise tasks, none of which matter (the check comes before they
/// are joined).
fn noisy_lost_update(noise: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let counter = Arc::new(AtomicUsize::new(0));
        let incrementers: Vec<_> = (0..2)
            .map(|_| {
                let counter = counter.clone();
                thread::spawn(move || {
                    let seen = counter.load(Ordering::SeqCst);
                    counter.store(seen + 1, Ordering::SeqCst);
                })
            })
            .collect();
        let noisy: Vec<_> = (0..noise)
            .map(|_| {
                let own = Mutex::new(0u32);
                thread::spawn(move || {
                    for _ in 0..4 {
                        *own.lock().unwrap() += 1;
                        thread::yield_now();
                    }
                })
            })
            .collect();
        for handle in incrementers {
            handle.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::SeqCst), 2, "an increment was lost");
        for handle in noisy {
            handle.join().unwrap();
        }
    }
}

fn config(seed: u64, shrink: Option<ShrinkLimits>) -> Config {
    let mut config = Config::default();
    config.seed = seed;
    config.executions = 2_000;
    config.shrink = shrink;
    config
}

fn explore(seed: u64, shrink: Option<ShrinkLimits>) -> Report {
    let config = config(seed, shrink);
    run(&config, &mut Random::new(seed), noisy_lost_update(3))
}

fn size_of_report(report: &Report) -> Size {
    let failure = report.failure().expect("the lost update is found");
    failure
        .shrunk
        .as_ref()
        .expect("the failure was shrunk")
        .size
}

#[test]
fn a_random_failure_shrinks_to_one_preemption_and_fewer_steps() {
    let unshrunk = explore(1, None);
    let found = unshrunk.failure().expect("the lost update is found");
    assert!(found.shrunk.is_none(), "shrinking was off");

    let report = explore(1, Some(ShrinkLimits::default()));
    let failure = report.failure().expect("the lost update is found");
    let shrunk = failure.shrunk.as_ref().expect("the failure was shrunk");
    assert_eq!(failure.kind, FailureKind::Panic);
    assert!(
        failure.message.contains("an increment was lost"),
        "{failure}"
    );
    assert_eq!(
        shrunk.original.steps, found.steps,
        "the original is the failure as found"
    );
    assert!(shrunk.original.preemptions > 1, "{shrunk:?}");
    assert_eq!(shrunk.size.preemptions, 1, "{shrunk:?}");
    assert_eq!(shrunk.size.faults, 0);
    assert!(shrunk.size.steps < shrunk.original.steps, "{shrunk:?}");
    assert_eq!(failure.steps, shrunk.size.steps);
    assert!(!shrunk.stopped_early, "{shrunk:?}");
    // The depth is proven: bound 0 was exhausted without the failure.
    assert!(shrunk.depth_proven(), "{}", shrunk.depth());
    assert!(
        shrunk.depth().contains("a proven minimum"),
        "{}",
        shrunk.depth()
    );
    assert!(shrunk.below[0].exhaustive && shrunk.below[0].preemptions == 0);
    // The report's schedule and replay command are the shrunk ones.
    assert_eq!(report.schedule(), &shrunk.schedule);
    assert_eq!(failure.schedule, shrunk.schedule.encode());
    assert!(failure.replay_command.contains(&failure.schedule));
    assert!(failure.to_string().contains("shrunk from"), "{failure}");
}

#[test]
fn the_shrunk_schedule_replays_to_the_same_failure() {
    let report = explore(2, Some(ShrinkLimits::default()));
    let failure = report.failure().expect("the lost update is found");
    let schedule = Schedule::decode(&failure.schedule).unwrap();
    let mut config = config(2, None);
    config.executions = 1;
    let replayed = run(&config, &mut Replay::new(schedule), noisy_lost_update(3));
    let again = replayed.failure().expect("the shrunk schedule fails");
    assert_eq!(again.kind, failure.kind);
    assert_eq!(again.steps, failure.steps);
    assert_eq!(replayed.trace(), report.trace());
}

#[test]
fn shrinking_is_deterministic() {
    for seed in [3, 4] {
        let first = explore(seed, Some(ShrinkLimits::default()));
        let second = explore(seed, Some(ShrinkLimits::default()));
        assert_eq!(first.failure(), second.failure());
        assert_eq!(first.schedule(), second.schedule());
    }
}

#[test]
fn different_seeds_shrink_to_the_same_depth() {
    let sizes: Vec<Size> = (1..=4)
        .map(|seed| size_of_report(&explore(seed, Some(ShrinkLimits::default()))))
        .collect();
    let depths: Vec<(u32, u32)> = sizes.iter().map(|s| (s.preemptions, s.faults)).collect();
    assert_eq!(depths, vec![(1, 0); 4], "{sizes:?}");
}

#[test]
fn a_budget_too_small_stops_early_and_says_so() {
    let report = explore(1, Some(ShrinkLimits::new(3, u64::MAX).depth_executions(0)));
    let failure = report.failure().expect("the lost update is found");
    let shrunk = failure.shrunk.as_ref().expect("the failure was shrunk");
    assert!(shrunk.stopped_early);
    assert!(shrunk.runs <= 3, "{shrunk:?}");
    assert!(
        shrunk.describe().contains("budget spent"),
        "{}",
        shrunk.describe()
    );
}

#[test]
fn runner_shrink_takes_a_given_schedule() {
    let unshrunk = explore(5, None);
    let schedule = unshrunk.schedule().clone();
    let mut runner = Runner::new(config(5, None));
    let report = runner.shrink(noisy_lost_update(3), &schedule);
    let failure = report.failure().expect("the given schedule fails");
    let shrunk = failure.shrunk.as_ref().expect("it was shrunk");
    assert_eq!(shrunk.size.preemptions, 1);
    assert!(shrunk.size.steps < unshrunk.failure().unwrap().steps);

    // A schedule that passes has nothing to shrink.
    let mut fixed = Runner::new(config(5, None));
    let passing = fixed.shrink(|| {}, &Schedule::new(5));
    assert!(passing.failure().is_none());
}

/// Shrinking never trades the failure for another: a model with two bugs, one a deadlock
/// that needs no preemption, shrinks a panic to a panic.
#[test]
fn shrinking_keeps_the_failure_kind() {
    let model = || {
        let a = Arc::new(Mutex::new(()));
        let b = Arc::new(Mutex::new(()));
        let counter = Arc::new(AtomicUsize::new(0));
        let (a2, b2, c2) = (a.clone(), b.clone(), counter.clone());
        let worker = thread::spawn(move || {
            let seen = c2.load(Ordering::SeqCst);
            c2.store(seen + 1, Ordering::SeqCst);
            let _b = b2.lock().unwrap();
            let _a = a2.lock().unwrap();
        });
        let seen = counter.load(Ordering::SeqCst);
        counter.store(seen + 1, Ordering::SeqCst);
        {
            let _a = a.lock().unwrap();
            let _b = b.lock().unwrap();
        }
        worker.join().unwrap();
        assert_eq!(counter.load(Ordering::SeqCst), 2, "an increment was lost");
    };
    for seed in 0..20 {
        let mut config = config(seed, None);
        config.executions = 200;
        let plain = run(&config, &mut Random::new(seed), model);
        let Some(found) = plain.failure() else {
            continue;
        };
        config.shrink = Some(ShrinkLimits::default());
        let shrunk = run(&config, &mut Random::new(seed), model);
        let failure = shrunk.failure().unwrap();
        assert_eq!(
            std::mem::discriminant(&failure.kind),
            std::mem::discriminant(&found.kind),
            "seed {seed}: {found} became {failure}"
        );
    }
}

/// The systematic search at the shrunk failure's bound finds it too, and at one preemption
/// less exhausts without it: the shrunk size is the bug's depth.
#[test]
fn the_shrunk_preemptions_match_the_smallest_bound_that_finds_the_bug() {
    let shrunk = size_of_report(&explore(1, Some(ShrinkLimits::default())));
    let mut config = config(1, None);
    config.executions = 100_000;
    let below = run(
        &config,
        &mut Dpor::new(shrunk.preemptions - 1, 0),
        noisy_lost_update(1),
    );
    assert!(below.failure().is_none());
    assert!(below.stats().unwrap().coverage.unwrap().exhaustive);
    let at = run(
        &config,
        &mut Dpor::new(shrunk.preemptions, 0),
        noisy_lost_update(1),
    );
    assert!(at.failure().is_some());
}
