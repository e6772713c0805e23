//! Replaying a failure's schedule reproduces it exactly, in this process and from the printed
//! command; a schedule that does not fit the model is reported as a divergence.

use std::panic::{AssertUnwindSafe, catch_unwind};

use proptest::prelude::*;
use vigil_core::rt;
use vigil_core::thread::panic_message;
use vigil_sim::{
    Config, Failure, FailureKind, Replay, Report, Schedule, check_random, check_replay, run,
};

use crate::{explore, explore_from, is_child, models, run_child};

fn replay(schedule: &str, model: impl Fn() + Send + Sync + 'static) -> Report {
    let schedule = Schedule::decode(schedule).expect("a recorded schedule decodes");
    run(&Config::default(), &mut Replay::new(schedule), model)
}

fn assert_reproduces(found: &Report, model: impl Fn() + Send + Sync + 'static) -> Failure {
    let failure = found.failure().expect("a failure to replay").clone();
    let again = replay(&failure.schedule, model);
    let replayed = again.failure().expect("the replay fails too");
    assert_eq!(replayed.kind, failure.kind);
    assert_eq!(replayed.message, failure.message);
    assert_eq!(replayed.schedule, failure.schedule);
    assert_eq!(again.trace().render(), found.trace().render());
    failure
}

#[test]
fn replaying_a_deadlock_reproduces_its_kind_and_trace() {
    let found = explore(300, models::lock_order(false));
    assert_reproduces(&found, models::lock_order(false));
}

#[test]
fn replaying_a_panic_reproduces_its_kind_and_trace() {
    let found = explore(300, models::check_then_act(false));
    assert_reproduces(&found, models::check_then_act(false));
}

#[test]
fn check_replay_fails_with_the_same_failure() {
    let found = explore(300, models::lock_order(false));
    let failure = found.failure().expect("a deadlock");
    let result = catch_unwind(AssertUnwindSafe(|| {
        check_replay(models::lock_order(false), &failure.schedule);
    }));
    let message = panic_message(result.expect_err("the replay fails").as_ref());
    assert!(message.starts_with("vigil-sim: deadlock"), "{message}");
    assert!(message.contains(&failure.schedule), "{message}");
    assert_message_lines(&message, &failure.message);
}

/// `Failure`'s text indents each line of the message; check every one is there.
fn assert_message_lines(text: &str, message: &str) {
    for line in message.lines() {
        assert!(
            text.contains(&format!("  {line}\n")),
            "{line:?} missing from:\n{text}"
        );
    }
}

#[test]
fn a_fixed_model_passes_the_failing_schedule_or_diverges_from_it() {
    let found = explore(300, models::lock_order(false));
    let schedule = &found.failure().expect("a deadlock").schedule;
    let report = replay(schedule, models::lock_order(true));
    if let Some(failure) = report.failure() {
        assert!(
            matches!(failure.kind, FailureKind::Divergence { .. }),
            "{failure}"
        );
    }
}

#[test]
fn a_schedule_that_does_not_fit_the_model_is_a_divergence() {
    let found = explore(300, models::lock_order(false));
    let schedule = &found.failure().expect("a deadlock").schedule;
    let report = replay(schedule, || rt::step("alone"));
    let failure = report.failure().expect("a divergence");
    assert!(
        matches!(failure.kind, FailureKind::Divergence { .. }),
        "{failure}"
    );
    assert!(failure.message.contains("every task finished"), "{failure}");
    assert!(
        failure.message.contains("Is the model fully deterministic"),
        "{failure}"
    );
}

#[test]
fn the_printed_command_replays_in_a_fresh_process() {
    let found = explore(300, models::lock_order(false));
    let failure = found.failure().expect("a deadlock");
    let test = "replay::child_replays_from_the_environment";
    let output = run_child(
        test,
        "replay",
        &[(vigil_sim::REPLAY_ENV, &failure.schedule)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let output_text = format!("{stdout}{stderr}");
    assert!(
        !output.status.success(),
        "the child's replay must fail:\n{output_text}"
    );
    assert!(
        output_text.contains("vigil-sim: deadlock in execution 0"),
        "{output_text}"
    );
    assert_message_lines(&output_text, &failure.message);
    let command = Failure::test_replay_command(&failure.schedule, Some(test));
    assert!(output_text.contains(&command), "{output_text}");
}

/// The child half of the test above: with `VIGIL_REPLAY` set, `check_random` replays it.
/// Does nothing in a normal test run.
#[test]
fn child_replays_from_the_environment() {
    if is_child("replay") {
        check_random(models::lock_order(false), 300);
    }
}

#[test]
fn a_recorded_schedule_survives_the_file_format() {
    let found = explore_from(3, 1, models::pipeline());
    let text = found.schedule().to_file_text();
    let schedule = Schedule::from_file_text(&text).expect("the file form reads back");
    assert_eq!(&schedule, found.schedule());
    let again = run(
        &Config::default(),
        &mut Replay::new(schedule),
        models::pipeline(),
    );
    assert_eq!(again.trace().render(), found.trace().render());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Any execution's schedule, through its string form, replays to the identical trace.
    #[test]
    fn every_recorded_schedule_replays_exactly(seed in any::<u64>()) {
        let found = explore_from(seed, 1, models::pipeline());
        let decoded = Schedule::decode(&found.schedule().encode()).unwrap();
        let again = run(&Config::default(), &mut Replay::new(decoded), models::pipeline());
        prop_assert!(again.failure().is_none());
        prop_assert_eq!(again.trace().render(), found.trace().render());
    }
}
