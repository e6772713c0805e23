//! The harness's journal of one execution: what the workload did and saw, read by the
//! observers and the fault source between steps.
//!
//! The workload only records; every judgement is an observer's (`checks.rs`). A registration
//! is identified by its index in [`World::registrations`] (the harness's identity) and, once
//! the pool has answered, by the pool's `RegistrationId`; never by its worker id, which
//! several registrations may share.
//!
//! It lives in a thread-local because every simulated task, the observers and the fault
//! source run on the executor's one thread. Borrows are always short and never span a
//! scheduling operation, so a task is never suspended while it holds one.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use vigil_core::aion::{ActivityResult, AionSurfaceError};
use vigil_core::dispatch::{DispatchOperation, DispatchWorkerHandle};
use vigil_core::pool::{RegistrationId, WorkerContext, WorkerRegistration};
use vigil_core::process::{Node, Pid};

use super::generate::Workload;
use crate::scenario::{FaultKind, Scenario};

/// Where a registration is in its life, as the workload sees it.
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
pub(crate) struct RegistrationState {
    /// The workload's name for the registration.
    pub(crate) name: String,
    pub(crate) queue: String,
    pub(crate) status: Status,
    /// The participant the workload spawned, or the one the pool reported after registering.
    pub(crate) participant: Option<Pid>,
    /// The pool's identity for this registration, once `register` returned it.
    pub(crate) id: Option<RegistrationId>,
    pub(crate) handle: Option<Arc<Held>>,
    /// A fault or a `crash` step hit this registration's process, monitor or listener.
    pub(crate) faulted: bool,
    /// How many `set_in_flight` steps have started on this registration.
    pub(crate) in_flight_writes: u32,
}

/// A registration as the workload holds it: a plain one, or a dispatch worker (a
/// registration plus the loop that answers its requests).
#[derive(Debug)]
pub(crate) enum Held {
    Plain(WorkerRegistration),
    Dispatch(DispatchWorkerHandle),
}

impl std::ops::Deref for Held {
    type Target = WorkerRegistration;

    fn deref(&self) -> &WorkerRegistration {
        match self {
            Held::Plain(registration) => registration,
            Held::Dispatch(worker) => worker.registration(),
        }
    }
}

impl Held {
    pub(crate) fn unregister(self) {
        let _ = match self {
            Held::Plain(registration) => registration.unregister(),
            Held::Dispatch(worker) => worker.unregister(),
        };
    }
}

/// What one run of `dispatch_activity_with_context` did, as the harness's seam wrappers saw
/// it: the observers judge it against spec (e.1).
#[derive(Clone, Debug, Default)]
pub(crate) struct DispatchRun {
    pub(crate) result: Option<Result<ActivityResult, AionSurfaceError>>,
    pub(crate) operations: Vec<DispatchOperation>,
    pub(crate) pool_calls: u32,
    /// Per router call: the candidate ids and the excluded ids it was given.
    pub(crate) router_calls: Vec<(Vec<String>, Vec<String>)>,
    /// The worker each router call returned (`None`: no selection or an error).
    pub(crate) selections: Vec<Option<String>>,
    pub(crate) opens: u32,
    pub(crate) closes: u32,
}

/// A moment of the workload that an observer judges.
#[derive(Clone, Debug)]
pub(crate) enum Event {
    /// A snapshot of `queue` is about to take the pool's lock.
    SnapshotBegun {
        snapshot: u64,
        queue: String,
    },
    /// That snapshot returned these workers: `(worker id, participant)` in order.
    SnapshotReturned {
        snapshot: u64,
        workers: Vec<(String, Pid)>,
    },
    /// Registration `registration` (an index) is about to be unregistered or dropped.
    StopBegun {
        registration: usize,
    },
    /// Its unregister or drop returned.
    StopReturned {
        registration: usize,
    },
    /// The workload's tasks are done and the system went quiet; the snapshots that follow
    /// (until `QuietEnd`) are the quiescent ones.
    Quiet,
    QuietEnd,
    /// Every registration was dropped, the system went quiet and every channel was pruned.
    AllGone,
    /// Dispatch number `dispatch` is about to start.
    DispatchBegun {
        dispatch: usize,
    },
    /// It returned (`live`), and was then replayed from its recorded outcome (`replay`).
    DispatchReturned {
        dispatch: usize,
        live: Box<DispatchRun>,
        replay: Box<DispatchRun>,
    },
}

/// Everything the observers may read about the running execution.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) scenario: Arc<Scenario>,
    pub(crate) context: WorkerContext,
    pub(crate) workload: Arc<Workload>,
    pub(crate) registrations: Vec<RegistrationState>,
    by_name: BTreeMap<String, usize>,
    /// Supplied participants the workload spawned, by the registration that owns them.
    pub(crate) participants: BTreeMap<usize, Pid>,
    /// Every process the workload spawned (it ends them all once the pool is empty).
    pub(crate) spawned: Vec<Pid>,
    pub(crate) events: Vec<Event>,
    next_snapshot: u64,
    /// Set once the workload's tasks have finished: no more scheduler-chosen faults.
    pub(crate) faults_stopped: bool,
    /// The workload dispatches: pool-owned registrations are dispatch workers.
    pub(crate) dispatching: bool,
    /// How many dispatches have begun.
    pub(crate) dispatches: usize,
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
    /// The workload of the last execution that installed a world, kept after the world is
    /// gone so a failure report can print the (generated) steps that failed.
    static LAST_WORKLOAD: RefCell<Option<Arc<Workload>>> = const { RefCell::new(None) };
}

/// Installs a fresh world. A world left by an execution that failed is forgotten, not
/// dropped: its registrations' destructors would run simulated code outside any execution.
pub(crate) fn install(world: World) {
    LAST_WORKLOAD.with(|last| *last.borrow_mut() = Some(world.workload.clone()));
    let previous = WORLD.with(|slot| slot.0.borrow_mut().replace(world));
    std::mem::forget(previous);
}

/// The workload of the most recent execution on this thread.
pub(crate) fn last_workload() -> Option<Arc<Workload>> {
    LAST_WORKLOAD.with(|last| last.borrow().clone())
}

/// Forgets (never drops) whatever world an earlier execution left behind, so nothing of it is
/// visible to the next execution's fault source or observers before its main task starts.
pub(crate) fn forget_leftover() {
    let leftover = WORLD.with(|slot| slot.0.borrow_mut().take());
    std::mem::forget(leftover);
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
    pub(crate) fn new(
        scenario: Arc<Scenario>,
        context: WorkerContext,
        workload: Arc<Workload>,
    ) -> Self {
        let registrations: Vec<RegistrationState> = workload
            .workers
            .iter()
            .map(|spec| RegistrationState {
                name: spec.name.clone(),
                queue: spec.queue.clone(),
                status: Status::NotYet,
                participant: None,
                id: None,
                handle: None,
                faulted: false,
                in_flight_writes: 0,
            })
            .collect();
        let by_name = registrations
            .iter()
            .enumerate()
            .map(|(index, state)| (state.name.clone(), index))
            .collect();
        let dispatching = workload.dispatches();
        World {
            scenario,
            context,
            workload,
            registrations,
            by_name,
            participants: BTreeMap::new(),
            spawned: Vec::new(),
            events: Vec::new(),
            next_snapshot: 0,
            faults_stopped: false,
            dispatching,
            dispatches: 0,
        }
    }

    /// The context's node, once its supervisor exists.
    pub(crate) fn node(&self) -> Option<&Arc<Node>> {
        self.context
            .peek_supervisor()
            .map(|supervisor| supervisor.node())
    }

    /// The index of the registration the workload calls `name`.
    pub(crate) fn index_of(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub(crate) fn registration_mut(&mut self, name: &str) -> Option<&mut RegistrationState> {
        let index = self.index_of(name)?;
        self.registrations.get_mut(index)
    }

    /// The registration the pool knows as `id`, if the workload has been told of it.
    pub(crate) fn by_id(&self, id: RegistrationId) -> Option<&RegistrationState> {
        self.registrations.iter().find(|state| state.id == Some(id))
    }

    /// Marks every registration whose participant is `pid` as hit by a fault.
    pub(crate) fn fault_participant(&mut self, pid: Pid) {
        for state in &mut self.registrations {
            if state.participant == Some(pid) {
                state.faulted = true;
            }
        }
    }

    /// Whether faults of `kind` are switched on in this execution.
    pub(crate) fn fault_kind_on(&self, kind: FaultKind) -> bool {
        self.workload.fault_kinds.contains(&kind)
    }

    /// Records that a snapshot of `queue` begins and returns its number.
    pub(crate) fn begin_snapshot(&mut self, queue: &str) -> u64 {
        self.next_snapshot += 1;
        let snapshot = self.next_snapshot;
        self.events.push(Event::SnapshotBegun {
            snapshot,
            queue: queue.to_owned(),
        });
        snapshot
    }
}
