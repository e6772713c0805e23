//! Named limits: the step limit catches livelocks, the task limit runaway spawning.

use vigil_core::rt;
use vigil_core::sync::{AtomicBool, Ordering};
use vigil_core::thread;
use vigil_sim::{Config, FailureKind, Random, run};

fn config() -> Config {
    let mut config = Config::default();
    config.executions = 10;
    config.steps_max = 500;
    config.tasks_max = 4;
    config
}

#[test]
fn an_endless_yield_loop_is_a_step_limit_failure() {
    let config = config();
    let report = run(&config, &mut Random::new(1), || {
        loop {
            rt::yield_now();
        }
    });
    let failure = report.failure().expect("a livelock");
    assert_eq!(failure.kind, FailureKind::StepLimit { steps_max: 500 });
    assert_eq!(failure.steps, 500);
    assert!(
        failure
            .message
            .contains("t0 'main' runnable at thread yield"),
        "{failure}"
    );
}

#[test]
fn spinning_on_a_flag_nobody_sets_is_a_step_limit_failure() {
    let report = run(&config(), &mut Random::new(1), || {
        let flag = std::sync::Arc::new(AtomicBool::named("never", false));
        let spinner_flag = flag.clone();
        let spinner = thread::spawn(
            "spinner",
            move || {
                while !spinner_flag.load(Ordering::Acquire) {}
            },
        );
        spinner.join().unwrap();
    });
    let failure = report.failure().expect("a livelock");
    assert_eq!(failure.kind, FailureKind::StepLimit { steps_max: 500 });
    assert!(
        failure
            .message
            .contains("t1 'spinner' runnable at never load"),
        "{failure}"
    );
    assert!(
        failure.message.contains("t0 'main' parked at thread join"),
        "{failure}"
    );
}

#[test]
fn spawning_without_bound_is_a_task_limit_failure() {
    let report = run(&config(), &mut Random::new(1), || {
        let handles: Vec<_> = (0..10).map(|_| thread::spawn("many", || ())).collect();
        for handle in handles {
            handle.join().unwrap();
        }
    });
    let failure = report.failure().expect("too many tasks");
    assert_eq!(failure.kind, FailureKind::TaskLimit { tasks_max: 4 });
    assert!(failure.message.contains("Config::tasks_max"), "{failure}");
}
