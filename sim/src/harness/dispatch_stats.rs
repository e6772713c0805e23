//! Dispatch statistics: how the dispatches of a run ended, tallied from outside by an
//! observer that reads the world's journal, so a user can see whether a generated mix
//! exercises what it claims (dispatches that found live workers, raced an exit, ended each
//! way) rather than, say, mostly finding an empty pool.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::rc::Rc;

use serde_json::{Value, json};
use vigil_core::aion::{ActivityResult, AionSurfaceError};
use vigil_core::dispatch::{DispatchOperationKind, NO_WORKERS_AVAILABLE};

use super::world::{self, DispatchRun, Event};
use crate::observer::{Observer, StepView};

/// How the dispatches of one execution, or of a whole run, ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DispatchTally {
    /// Dispatches that returned.
    pub dispatches: u64,
    /// Of those, the ones whose first snapshot offered the router at least one worker.
    pub with_candidates: u64,
    pub completed: u64,
    /// Ended with the selected worker's own failure.
    pub failed_by_worker: u64,
    /// Ended with `NoWorkersAvailable`.
    pub no_workers_available: u64,
    /// Ended because the routing function panicked.
    pub routing_panicked: u64,
    /// Ended because the routing function overran its supervision timeout.
    pub routing_timed_out: u64,
    /// Ended because the routing function selected a worker it was not offered.
    pub routing_unknown_worker: u64,
    /// Ended with any other error (a failed link, send, record or close).
    pub other_error: u64,
    /// Saw the selected worker exit at least once and selected again.
    pub reselected: u64,
    /// Saw two or more workers exit.
    pub reselected_twice: u64,
}

/// The fields in a fixed order: for JSON rows, and for adding tallies up.
pub(crate) const DISPATCH_FIELDS: usize = 11;

impl DispatchTally {
    /// The tally of one dispatch as the harness's seam wrappers saw it.
    fn of(run: &DispatchRun) -> DispatchTally {
        let exits = (run.operations.iter())
            .filter(|op| op.kind == DispatchOperationKind::WorkerExited)
            .count();
        let mut tally = DispatchTally {
            dispatches: 1,
            with_candidates: u64::from(
                run.router_calls
                    .first()
                    .is_some_and(|(ids, _)| !ids.is_empty()),
            ),
            reselected: u64::from(exits >= 1),
            reselected_twice: u64::from(exits >= 2),
            ..DispatchTally::default()
        };
        let outcome = match &run.result {
            Some(Ok(ActivityResult::Completed { .. })) => &mut tally.completed,
            Some(Err(AionSurfaceError::DispatchFailed { message, .. })) => {
                outcome_of(&mut tally, message)
            }
            _ => &mut tally.other_error,
        };
        *outcome += 1;
        tally
    }

    pub(crate) fn to_row(self) -> [u64; DISPATCH_FIELDS] {
        [
            self.dispatches,
            self.with_candidates,
            self.completed,
            self.failed_by_worker,
            self.no_workers_available,
            self.routing_panicked,
            self.routing_timed_out,
            self.routing_unknown_worker,
            self.other_error,
            self.reselected,
            self.reselected_twice,
        ]
    }

    pub(crate) fn from_row(row: [u64; DISPATCH_FIELDS]) -> DispatchTally {
        let [
            dispatches,
            with_candidates,
            completed,
            failed_by_worker,
            no_workers_available,
            routing_panicked,
            routing_timed_out,
            routing_unknown_worker,
            other_error,
            reselected,
            reselected_twice,
        ] = row;
        DispatchTally {
            dispatches,
            with_candidates,
            completed,
            failed_by_worker,
            no_workers_available,
            routing_panicked,
            routing_timed_out,
            routing_unknown_worker,
            other_error,
            reselected,
            reselected_twice,
        }
    }

    /// Adds `other`'s counts to these.
    pub fn absorb(&mut self, other: &DispatchTally) {
        let mut row = self.to_row();
        for (mine, theirs) in row.iter_mut().zip(other.to_row()) {
            *mine += theirs;
        }
        *self = DispatchTally::from_row(row);
    }

    /// The tally as one JSON object with a named count per outcome.
    pub fn to_json(&self) -> Value {
        json!({
            "dispatches": self.dispatches,
            "with_candidates": self.with_candidates,
            "completed": self.completed,
            "failed_by_worker": self.failed_by_worker,
            "errors": {
                "no_workers_available": self.no_workers_available,
                "routing_panicked": self.routing_panicked,
                "routing_timed_out": self.routing_timed_out,
                "routing_unknown_worker": self.routing_unknown_worker,
                "other": self.other_error,
            },
            "reselected_after_exit": self.reselected,
            "reselected_after_two_exits": self.reselected_twice,
        })
    }

    /// The tally as a few indented lines for the terminal, each count with its share.
    pub fn describe(&self) -> String {
        let share = |count: u64| {
            if self.dispatches == 0 {
                String::new()
            } else {
                format!(" ({:.1}%)", count as f64 * 100.0 / self.dispatches as f64)
            }
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "  {} dispatches; {}{} started with live candidates",
            self.dispatches,
            self.with_candidates,
            share(self.with_candidates)
        );
        let _ = writeln!(
            out,
            "  completed {}{}, failed by worker {}{}, NoWorkersAvailable {}{}",
            self.completed,
            share(self.completed),
            self.failed_by_worker,
            share(self.failed_by_worker),
            self.no_workers_available,
            share(self.no_workers_available)
        );
        let _ = writeln!(
            out,
            "  routing panicked {}, timed out {}, selected an unknown worker {}; other errors {}",
            self.routing_panicked,
            self.routing_timed_out,
            self.routing_unknown_worker,
            self.other_error
        );
        let _ = writeln!(
            out,
            "  re-selected after a worker exit {}{}, after two or more {}{}",
            self.reselected,
            share(self.reselected),
            self.reselected_twice,
            share(self.reselected_twice)
        );
        out
    }
}

/// The counter of a dispatch that failed with `message`.
fn outcome_of<'a>(tally: &'a mut DispatchTally, message: &str) -> &'a mut u64 {
    if message == NO_WORKERS_AVAILABLE {
        &mut tally.no_workers_available
    } else if message.starts_with("worker '") && message.contains("failed activity") {
        &mut tally.failed_by_worker
    } else if message.contains("panicked during execution") {
        &mut tally.routing_panicked
    } else if message.contains("exceeded the supervision timeout") {
        &mut tally.routing_timed_out
    } else if message.contains("routing selected unknown worker") {
        &mut tally.routing_unknown_worker
    } else {
        &mut tally.other_error
    }
}

/// A tally row for the shard log's JSON: `[execution index, counts...]`.
pub(crate) fn row_json(idx: u64, tally: &DispatchTally) -> Vec<u64> {
    std::iter::once(idx).chain(tally.to_row()).collect()
}

/// Reads a row written by [`row_json`] back.
pub(crate) fn row_from(row: &[u64]) -> Option<(u64, DispatchTally)> {
    let (idx, counts) = row.split_first()?;
    let counts: [u64; DISPATCH_FIELDS] = counts.try_into().ok()?;
    Some((*idx, DispatchTally::from_row(counts)))
}

/// The width of a row written by [`row_json`].
pub(crate) const ROW_WIDTH: usize = DISPATCH_FIELDS + 1;

/// The observer that tallies each execution's returned dispatches into `tally` (the caller
/// takes it after each execution).
#[derive(Debug)]
pub(crate) struct DispatchProbe {
    tally: Rc<RefCell<DispatchTally>>,
    /// How many of the world's events this probe has read.
    cursor: usize,
}

impl DispatchProbe {
    pub(crate) fn new(tally: Rc<RefCell<DispatchTally>>) -> Self {
        DispatchProbe { tally, cursor: 0 }
    }
}

impl Observer for DispatchProbe {
    fn name(&self) -> &str {
        "dispatch-statistics"
    }

    fn start_execution(&mut self) {
        self.cursor = 0;
        *self.tally.borrow_mut() = DispatchTally::default();
    }

    fn after_step(&mut self, _view: &StepView<'_>) -> Result<(), String> {
        let mut tally = self.tally.borrow_mut();
        let cursor = &mut self.cursor;
        world::with(|world| {
            for event in world.events.get(*cursor..).unwrap_or_default() {
                if let Event::DispatchReturned { live, .. } = event {
                    tally.absorb(&DispatchTally::of(live));
                }
            }
            *cursor = world.events.len();
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests;
