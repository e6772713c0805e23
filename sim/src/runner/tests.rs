//! Unit tests of the runner's helpers: seeds, failure text, the replay command.

use vigil_core::rt;
use vigil_core::sync::{AtomicU32, Ordering};

use super::*;
use crate::strategy::Random;

#[test]
fn seeds_parse_as_decimal_or_hex() {
    assert_eq!(parse_seed("42"), Some(42));
    assert_eq!(parse_seed(" 0x2a "), Some(42));
    assert_eq!(parse_seed("0X2A"), Some(42));
    assert_eq!(parse_seed("forty-two"), None);
    assert_eq!(parse_seed("-1"), None);
    let error = EnvError::BadSeed {
        value: "x".to_owned(),
    };
    assert_eq!(
        error.to_string(),
        "VIGIL_SEED=\"x\" is not a seed; use a decimal or 0x-prefixed hex u64, e.g. VIGIL_SEED=0x2a"
    );
}

#[test]
fn a_failure_ends_with_the_command_that_replays_it() {
    let mut runner = Runner::new(Config::default()).replay_command("vigil replay {schedule}");
    let report = runner.run(&mut Random::new(1), || panic!("always"));
    let failure = report.failure().expect("a failure");
    let text = failure.to_string();
    assert!(
        text.starts_with("vigil-sim: panic in execution 0 after 1 steps"),
        "{text}"
    );
    assert!(text.contains("t0 'main' panicked: always"), "{text}");
    assert!(
        text.ends_with(&format!("\n  vigil replay {}", failure.schedule)),
        "{text}"
    );
}

#[test]
fn the_default_command_names_the_calling_test() {
    let report = run(&Config::default(), &mut Random::new(1), || panic!("always"));
    let failure = report.failure().expect("a failure");
    assert_eq!(
        failure.replay_command,
        format!(
            "VIGIL_REPLAY={} cargo test runner::tests::the_default_command_names_the_calling_test -- --exact",
            failure.schedule
        )
    );
}

#[test]
fn a_strategy_with_nothing_left_ends_the_run_early() {
    let schedule = Schedule::new(0);
    let report = run(&Config::default(), &mut Replay::new(schedule), || {
        rt::step("a")
    });
    let stats = report.stats().expect("a pass");
    assert_eq!(stats.executions, 1);
    assert_eq!(stats.stop, StopReason::StrategyExhausted);
}

#[test]
fn the_wall_time_cap_stops_the_run_between_executions() {
    let config = Config {
        executions: u64::MAX,
        wall_time_max: Some(Duration::ZERO),
        ..Config::default()
    };
    let report = run(&config, &mut Random::new(1), || rt::step("a"));
    let stats = report.stats().expect("a pass");
    assert_eq!(stats.executions, 1, "one execution always runs");
    assert_eq!(stats.stop, StopReason::WallTime);
}

#[test]
fn state_kept_between_executions_is_reported_as_nondeterminism() {
    // A static shared by every execution: the second run of a schedule sees a different value.
    static RUNS: AtomicU32 = AtomicU32::new(0);
    let config = Config {
        determinism_check: true,
        ..Config::default()
    };
    let report = run(&config, &mut Random::new(1), || {
        if RUNS.fetch_add(1, Ordering::SeqCst) % 2 == 1 {
            rt::step("odd");
        }
    });
    let failure = report.failure().expect("nondeterminism is caught");
    assert!(
        matches!(failure.kind, FailureKind::Nondeterminism { .. }),
        "{failure}"
    );
    assert!(
        failure
            .message
            .contains("Is the model fully deterministic?"),
        "{failure}"
    );
    assert!(failure.message.contains("first run:"), "{failure}");
}

#[test]
fn a_task_left_parked_mid_unwind_is_reported_unconfirmed() {
    struct ParksForever;
    impl Drop for ParksForever {
        fn drop(&mut self) {
            rt::current().park(vigil_core::rt::Site::step("stuck"), None);
        }
    }
    let report = run(&Config::default(), &mut Random::new(1), || {
        let _stuck = ParksForever;
        panic!("cannot finish unwinding");
    });
    let failure = report.failure().expect("a deadlock");
    assert!(
        matches!(failure.kind, FailureKind::Deadlock { .. }),
        "{failure}"
    );
    assert!(
        failure.message.contains("t0 'main' parked at stuck step"),
        "{failure}"
    );
    assert!(
        failure
            .message
            .ends_with("Replay it in a fresh test process."),
        "{failure}"
    );
    // The leaked task keeps this test thread's panic count raised; later executions on it
    // still run, without telling unwinding tasks apart.
    assert!(std::thread::panicking());
    let later = run(&Config::default(), &mut Random::new(1), || {
        rt::step("after")
    });
    assert!(later.failure().is_none());
}
