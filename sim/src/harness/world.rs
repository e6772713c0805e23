//! The harness's journal of one execution: what the workload has done, read by the checkers
//! and the fault source between steps.
//!
//! It lives in a thread-local because every simulated task, the checkers and the fault
//! source run on the executor's one thread. Borrows are always short and never span a
//! scheduling operation, so a task is never suspended while it holds one.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use vigil_core::pool::{WorkerContext, WorkerRegistration};
use vigil_core::process::{Node, Pid};

use crate::scenario::{Invariant, Scenario};

/// Where a worker is in its life, as the workload sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    NotYet,
    Registering,
    Registered,
    /// Registration returned an error (legitimate when its process died first).
    Failed,
    /// `unregister` or drop has begun.
    Stopping,
    Gone,
}

#[derive(Debug)]
pub(crate) struct WorkerState {
    pub(crate) queue: String,
    pub(crate) status: Status,
    /// The participant the workload spawned, or the one the pool reported after registering.
    pub(crate) participant: Option<Pid>,
    /// The pool's id for the worker (differs from the scenario name for generated workers).
    pub(crate) pool_id: Option<String>,
    pub(crate) registration: Option<Arc<WorkerRegistration>>,
    /// A fault or a `crash` step hit this worker's process, monitor or listener.
    pub(crate) faulted: bool,
    /// How many `set_in_flight` steps have started on this worker.
    pub(crate) in_flight_writes: u32,
}

/// Everything the checkers may read about the running execution.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) scenario: Arc<Scenario>,
    pub(crate) context: WorkerContext,
    pub(crate) workers: BTreeMap<String, WorkerState>,
    /// Set once the workload's tasks have finished: no more scheduler-chosen faults.
    pub(crate) faults_stopped: bool,
}

/// The thread-local slot. A world left by a failed execution is never dropped, not even when
/// the thread exits: its registrations' destructors would run simulated code with no
/// simulation around them.
struct Slot(RefCell<Option<World>>);

impl Drop for Slot {
    fn drop(&mut self) {
        std::mem::forget(self.0.get_mut().take());
    }
}

thread_local! {
    static WORLD: Slot = const { Slot(RefCell::new(None)) };
    /// Violations found by checks that run inside tasks, until an observer reports them.
    /// Kept apart from the world so the checks at the very end of an execution, after the
    /// world is gone, still reach the observers' end-of-execution hook.
    static VIOLATIONS: RefCell<Vec<(Invariant, String)>> = const { RefCell::new(Vec::new()) };
}

/// Takes the first recorded violation of `invariant`, if any.
pub(crate) fn take_violation(invariant: Invariant) -> Option<String> {
    VIOLATIONS.with(|violations| {
        let mut violations = violations.borrow_mut();
        let index = violations
            .iter()
            .position(|(found, _)| *found == invariant)?;
        Some(violations.remove(index).1)
    })
}

/// Installs a fresh world. A world left by an execution that failed is forgotten, not
/// dropped: its registrations' destructors would run simulated code outside any execution.
pub(crate) fn install(world: World) {
    let previous = WORLD.with(|slot| slot.0.borrow_mut().replace(world));
    std::mem::forget(previous);
}

/// Forgets (never drops) whatever world an earlier execution left behind, so nothing of it is
/// visible to the next execution's fault source or checkers before its main task starts.
pub(crate) fn forget_leftover() {
    let leftover = WORLD.with(|slot| slot.0.borrow_mut().take());
    std::mem::forget(leftover);
    VIOLATIONS.with(|violations| violations.borrow_mut().clear());
}

/// Removes the world at the end of an execution; the caller drops it inside the main task.
pub(crate) fn take() -> Option<World> {
    WORLD.with(|slot| slot.0.borrow_mut().take())
}

/// Runs `f` on the world, if one is installed. `f` must not use scheduling operations.
pub(crate) fn with<R>(f: impl FnOnce(&mut World) -> R) -> Option<R> {
    WORLD.with(|slot| slot.0.borrow_mut().as_mut().map(f))
}

impl World {
    pub(crate) fn new(scenario: Arc<Scenario>, context: WorkerContext) -> Self {
        let workers = scenario
            .workers
            .iter()
            .map(|spec| {
                let state = WorkerState {
                    queue: spec.queue.clone(),
                    status: Status::NotYet,
                    participant: None,
                    pool_id: None,
                    registration: None,
                    faulted: false,
                    in_flight_writes: 0,
                };
                (spec.name.clone(), state)
            })
            .collect();
        World {
            scenario,
            context,
            workers,
            faults_stopped: false,
        }
    }

    /// The context's node, once its supervisor exists.
    pub(crate) fn node(&self) -> Option<&Arc<Node>> {
        self.context
            .peek_supervisor()
            .map(|supervisor| supervisor.node())
    }

    pub(crate) fn violate(&mut self, invariant: Invariant, message: String) {
        if self.scenario.invariants.contains(&invariant) {
            VIOLATIONS.with(|violations| violations.borrow_mut().push((invariant, message)));
        }
    }

    /// Marks every worker whose participant is `pid` as hit by a fault.
    pub(crate) fn fault_participant(&mut self, pid: Pid) {
        for state in self.workers.values_mut() {
            if state.participant == Some(pid) {
                state.faulted = true;
            }
        }
    }

    /// The scenario name of the worker the pool calls `pool_id`.
    pub(crate) fn worker_by_pool_id(&self, pool_id: &str) -> Option<&str> {
        self.workers
            .iter()
            .find(|(_, state)| state.pool_id.as_deref() == Some(pool_id))
            .map(|(name, _)| name.as_str())
    }
}
