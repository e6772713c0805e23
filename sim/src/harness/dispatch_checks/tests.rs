//! The dispatch oracle against hand-written runs: the rows of spec (e.1)'s table pass, and
//! each violation the mutants of (g) 9–11 produce is reported.

use vigil_core::aion::{ActivityResult, AionSurfaceError, Payload};
use vigil_core::dispatch::{
    ActivityDispatchState as State, DispatchOperation, DispatchOperationKind as Kind,
    NO_WORKERS_AVAILABLE,
};

use super::{replay, sequence};
use crate::harness::world::DispatchRun;

fn op(kind: Kind, worker: Option<&str>, state: Option<State>) -> DispatchOperation {
    let mut op = DispatchOperation::new(kind, "dispatch-1", "aion.dispatch.prod.q");
    op.worker_id = worker.map(str::to_owned);
    op.activity_state = state;
    op
}

fn completed() -> ActivityResult {
    ActivityResult::Completed {
        output: Payload::default(),
    }
}

fn opened() -> DispatchOperation {
    op(
        Kind::ConversationOpened,
        None,
        Some(State::ActivityScheduled),
    )
}

fn closed() -> DispatchOperation {
    op(Kind::ConversationClosed, None, None)
}

fn attempt(worker: &str) -> [DispatchOperation; 2] {
    [
        op(
            Kind::WorkerSelected,
            Some(worker),
            Some(State::ActivityStarted),
        ),
        op(Kind::MessageSent, Some(worker), None),
    ]
}

fn exited(worker: &str) -> DispatchOperation {
    op(
        Kind::WorkerExited,
        Some(worker),
        Some(State::ActivityFailed {
            retry_eligible: true,
        }),
    )
}

fn received(worker: &str) -> DispatchOperation {
    let mut op = op(
        Kind::MessageReceived,
        Some(worker),
        Some(State::ActivityCompleted),
    );
    op.result = Some(completed());
    op
}

fn no_workers() -> Result<ActivityResult, AionSurfaceError> {
    Err(AionSurfaceError::DispatchFailed {
        channel_name: "aion.dispatch.prod.q".into(),
        workflow_id: "sim".into(),
        message: NO_WORKERS_AVAILABLE.into(),
    })
}

fn ids(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// Crash, then success: a exits, b answers.
fn crash_then_success() -> DispatchRun {
    let mut operations = vec![opened()];
    operations.extend(attempt("a"));
    operations.push(exited("a"));
    operations.extend(attempt("b"));
    operations.push(received("b"));
    operations.push(closed());
    DispatchRun {
        result: Some(Ok(completed())),
        operations,
        pool_calls: 2,
        router_calls: vec![
            (ids(&["a", "b"]), ids(&[])),
            (ids(&["a", "b"]), ids(&["a"])),
        ],
        selections: vec![Some("a".into()), Some("b".into())],
        opens: 1,
        closes: 1,
    }
}

#[test]
fn the_rows_of_the_table_pass() {
    assert_eq!(sequence(1, &crash_then_success()), Ok(()));
    let nobody = DispatchRun {
        result: Some(no_workers()),
        operations: vec![opened(), closed()],
        pool_calls: 1,
        router_calls: vec![(ids(&[]), ids(&[]))],
        selections: vec![None],
        opens: 1,
        closes: 1,
    };
    assert_eq!(sequence(1, &nobody), Ok(()));
}

fn fails_with(run: &DispatchRun, fragment: &str) {
    let error = sequence(1, run).expect_err("the oracle must reject this run");
    assert!(error.contains(fragment), "{error}");
}

#[test]
fn an_exited_worker_selected_again_or_a_reset_exclusion_is_reported() {
    let mut again = crash_then_success();
    again.operations = vec![opened()];
    again.operations.extend(attempt("a"));
    again.operations.push(exited("a"));
    again.operations.extend(attempt("a"));
    again.operations.push(received("a"));
    again.operations.push(closed());
    fails_with(
        &again,
        "exited earlier in this dispatch and was selected again",
    );
    let mut reset = crash_then_success();
    reset.router_calls[1].1.clear();
    fails_with(&reset, "was given excluded ids []");
}

#[test]
fn a_skipped_or_repeated_close_is_reported() {
    let mut skipped = crash_then_success();
    skipped.closes = 0;
    skipped.operations.pop();
    fails_with(&skipped, "closed 0 time(s)");
    let mut twice = crash_then_success();
    twice.closes = 2;
    fails_with(&twice, "closed 2 time(s)");
}

#[test]
fn a_record_before_its_effect_or_an_unnamed_error_is_reported() {
    let mut unsent = crash_then_success();
    unsent.operations.remove(2);
    fails_with(&unsent, "do not form an attempt");
    let mut lost = crash_then_success();
    lost.result = Some(Err(AionSurfaceError::DispatchFailed {
        channel_name: "c".into(),
        workflow_id: "w".into(),
        message: "conversation ended".into(),
    }));
    fails_with(&lost, "the activity was lost");
}

#[test]
fn a_replay_with_a_side_effect_or_another_outcome_is_reported() {
    let live = crash_then_success();
    let quiet = DispatchRun {
        result: live.result.clone(),
        ..DispatchRun::default()
    };
    assert_eq!(replay(1, &live, &quiet), Ok(()));
    let opened = DispatchRun {
        opens: 1,
        closes: 1,
        ..quiet.clone()
    };
    assert!(replay(1, &live, &opened).unwrap_err().contains("1 open(s)"));
    let other = DispatchRun {
        result: Some(no_workers()),
        ..DispatchRun::default()
    };
    assert!(
        replay(1, &live, &other)
            .unwrap_err()
            .contains("the replay returned")
    );
}
