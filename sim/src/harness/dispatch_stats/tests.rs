//! The dispatch tally: each way a dispatch ends lands in its own count, exits are counted
//! once per dispatch, and a tally survives the shard log's row form.

use vigil_core::aion::{ActivityResult, AionSurfaceError, Payload};
use vigil_core::dispatch::{
    DispatchOperation, DispatchOperationKind as Kind, NO_WORKERS_AVAILABLE,
};

use super::{DispatchTally, row_from, row_json};
use crate::harness::world::DispatchRun;

fn failed(message: &str) -> Option<Result<ActivityResult, AionSurfaceError>> {
    Some(Err(AionSurfaceError::DispatchFailed {
        channel_name: "aion.dispatch.prod.q".into(),
        workflow_id: "sim".into(),
        message: message.into(),
    }))
}

/// A run with `exits` worker exits, whose first router call was offered `offered` workers.
fn run(
    result: Option<Result<ActivityResult, AionSurfaceError>>,
    offered: usize,
    exits: usize,
) -> DispatchRun {
    let worker = |n: usize| format!("w{n}");
    DispatchRun {
        result,
        operations: (0..exits)
            .map(|n| {
                let mut op = DispatchOperation::new(Kind::WorkerExited, "dispatch-1", "q");
                op.worker_id = Some(worker(n));
                op
            })
            .collect(),
        router_calls: vec![((0..offered).map(worker).collect(), Vec::new())],
        ..DispatchRun::default()
    }
}

fn check(run: &DispatchRun, expect: DispatchTally) {
    assert_eq!(DispatchTally::of(run), expect, "{run:?}");
}

#[test]
fn each_ending_has_its_own_count() {
    let one = DispatchTally {
        dispatches: 1,
        with_candidates: 1,
        ..DispatchTally::default()
    };
    let completed = Some(Ok(ActivityResult::Completed {
        output: Payload::default(),
    }));
    check(
        &run(completed, 2, 0),
        DispatchTally {
            completed: 1,
            ..one
        },
    );
    check(
        &run(failed("worker 'g1' failed activity: no"), 1, 0),
        DispatchTally {
            failed_by_worker: 1,
            ..one
        },
    );
    check(
        &run(failed(NO_WORKERS_AVAILABLE), 0, 0),
        DispatchTally {
            with_candidates: 0,
            no_workers_available: 1,
            ..one
        },
    );
    check(
        &run(
            failed("routing function 'p' panicked during execution: boom"),
            1,
            0,
        ),
        DispatchTally {
            routing_panicked: 1,
            ..one
        },
    );
    check(
        &run(
            failed("routing function 'o' exceeded the supervision timeout of 10ms"),
            1,
            0,
        ),
        DispatchTally {
            routing_timed_out: 1,
            ..one
        },
    );
    check(
        &run(failed("routing selected unknown worker 'x'"), 1, 0),
        DispatchTally {
            routing_unknown_worker: 1,
            ..one
        },
    );
    check(
        &run(failed("link failed"), 1, 0),
        DispatchTally {
            other_error: 1,
            ..one
        },
    );
    check(
        &run(None, 1, 0),
        DispatchTally {
            other_error: 1,
            ..one
        },
    );
}

#[test]
fn exits_count_once_per_dispatch() {
    let tally = DispatchTally::of(&run(failed(NO_WORKERS_AVAILABLE), 3, 3));
    assert_eq!((tally.reselected, tally.reselected_twice), (1, 1));
    let tally = DispatchTally::of(&run(failed(NO_WORKERS_AVAILABLE), 1, 1));
    assert_eq!((tally.reselected, tally.reselected_twice), (1, 0));
}

#[test]
fn tallies_add_up_and_read_back_from_rows() {
    let mut total = DispatchTally::of(&run(failed(NO_WORKERS_AVAILABLE), 0, 0));
    total.absorb(&DispatchTally::of(&run(failed(NO_WORKERS_AVAILABLE), 2, 1)));
    assert_eq!(
        (
            total.dispatches,
            total.with_candidates,
            total.no_workers_available,
            total.reselected
        ),
        (2, 1, 2, 1)
    );
    assert_eq!(row_from(&row_json(7, &total)), Some((7, total)));
    assert_eq!(row_from(&[7, 1, 2]), None);
}
