//! The scenario's workload as simulated tasks: the model body of every execution.
//!
//! The main task builds (or draws) the workload, creates a fresh pool, runs each workload
//! task as a simulated task, waits for them, lets the system go quiet, snapshots every
//! queue, drops what is left, ends the processes it supplied, and lets the system go quiet
//! again. It judges nothing: it records what it did and saw in the world's journal, and the
//! observers (`checks.rs`) decide whether that was right.

use std::sync::Arc;
use std::time::Duration;

use vigil_core::aion::{
    ActivityRequest, DispatchRequest, Payload, WorkerCapacity, dispatch_channel,
};
use vigil_core::pool::WorkerContext;
use vigil_core::process::{ExitReason, IdleWorkerProcess, Pid};
use vigil_core::{rt, thread};

use super::generate::Workload;
use super::world::{self, Event, Held, Status, World};
use crate::scenario::{Scenario, Step, TaskSpec};

/// Virtual time the main task waits for the system to go quiet. `rt::sleep` returns only
/// when nothing else can run before its deadline, so this is "until idle", bounded.
const QUIET: Duration = Duration::from_secs(10);

/// The body of every execution of `scenario`.
pub(crate) fn run(scenario: &Arc<Scenario>) {
    let workload = Arc::new(match &scenario.generate {
        // One draw, recorded in the schedule, decides the whole generated workload.
        Some(spec) => Workload::generate(scenario, spec, rt::random_u64()),
        None => Workload::fixed(scenario),
    });
    let context = WorkerContext::new();
    world::install(World::new(
        scenario.clone(),
        context.clone(),
        workload.clone(),
    ));
    let tasks: Vec<_> = workload
        .tasks
        .iter()
        .map(|task| {
            let task = task.clone();
            let namespace = scenario.namespace.clone();
            let context = context.clone();
            thread::spawn(&task.name.clone(), move || {
                run_task(&context, &namespace, &task)
            })
        })
        .collect();
    for task in tasks {
        // A panic in a task is already a failure of the execution (or an injected fault).
        let _ = task.join();
    }
    world::with(|world| world.faults_stopped = true);
    rt::sleep(QUIET);
    record(Event::Quiet);
    for queue in workload.queues() {
        snapshot(&context, &scenario.namespace, &queue);
    }
    record(Event::QuietEnd);
    drop_remaining_registrations();
    rt::sleep(QUIET);
    for queue in workload.queues() {
        snapshot(&context, &scenario.namespace, &queue);
    }
    end_supplied_participants();
    rt::sleep(QUIET);
    record(Event::AllGone);
    // A scheduling point, so the observers look at the world before it is taken down.
    rt::yield_now();
    let world = world::take();
    drop(world);
    drop(context);
}

fn record(event: Event) {
    world::with(|world| world.events.push(event));
}

fn run_task(context: &WorkerContext, namespace: &str, task: &TaskSpec) {
    for step in &task.steps {
        run_step(context, namespace, step);
    }
}

fn channel(namespace: &str, queue: &str) -> vigil_core::aion::ChannelName {
    dispatch_channel(namespace, queue)
        .expect("[internal bug] scenario validation admits only valid channel names")
}

fn run_step(context: &WorkerContext, namespace: &str, step: &Step) {
    match step {
        Step::Register {
            worker,
            id,
            queue,
            capacity,
            tags,
            supplied,
            shares,
        } => {
            let capacity = WorkerCapacity {
                max_concurrent: *capacity,
                activity_types: tags.clone(),
            };
            let supplier = shares.as_deref().unwrap_or(worker);
            let registration = Registration {
                name: worker,
                id,
                queue,
                supplier: supplied.then_some(supplier),
            };
            register(context, namespace, &registration, capacity);
        }
        Step::Unregister { worker } => stop(worker, true),
        Step::Drop { worker } => stop(worker, false),
        Step::SetInFlight { worker, value } => {
            let handle = world::with(|world| {
                let state = world.registration_mut(worker)?;
                state.in_flight_writes += 1;
                state.handle.clone()
            })
            .flatten();
            if let Some(handle) = handle {
                handle.set_in_flight(*value);
            }
        }
        Step::Snapshot { queue } => snapshot(context, namespace, queue),
        Step::Publish {
            queue,
            activity_type,
        } => publish(context, namespace, queue, activity_type),
        Step::Dispatch {
            queue,
            activity_type,
            policy,
            routing,
        } => super::dispatch::run(context, namespace, queue, activity_type, *policy, *routing),
        Step::Crash { worker, reason } => {
            let target = world::with(|world| {
                let pid = world.registration_mut(worker)?.participant?;
                world.fault_participant(pid);
                Some((pid, world.node()?.clone()))
            })
            .flatten();
            if let Some((pid, node)) = target {
                node.terminate(pid, *reason);
            }
        }
    }
}

/// One registration step, as `register` needs it.
struct Registration<'a> {
    name: &'a str,
    id: &'a str,
    queue: &'a str,
    /// For a supplied process: the registration whose process it is (itself, or the one it
    /// shares).
    supplier: Option<&'a str>,
}

/// Spawns (once) the participant that registration `supplier` supplies, on the context's
/// node.
fn participant_of(
    context: &WorkerContext,
    namespace: &str,
    supplier: &str,
    queue: &str,
) -> Option<Pid> {
    let index = world::with(|world| world.index_of(supplier)).flatten()?;
    if let Some(pid) = world::with(|world| world.participants.get(&index).copied()).flatten() {
        return Some(pid);
    }
    let supervisor = context.supervisor_for(&channel(namespace, queue)).ok()?;
    let pid = supervisor
        .node()
        .spawn("participant", Box::new(IdleWorkerProcess), false)
        .ok()?;
    // Two registrations sharing one supplier may both get here first; the first recorded
    // process is the shared one, and every spawned one is ended at the end.
    world::with(|world| {
        world.spawned.push(pid);
        *world.participants.entry(index).or_insert(pid)
    })
}

fn register(
    context: &WorkerContext,
    namespace: &str,
    registration: &Registration<'_>,
    capacity: WorkerCapacity,
) {
    let name = registration.name;
    set_status(name, Status::Registering);
    let registered = match registration.supplier {
        Some(supplier) => {
            let Some(pid) = participant_of(context, namespace, supplier, registration.queue) else {
                set_status(name, Status::Failed);
                return;
            };
            world::with(|world| {
                if let Some(state) = world.registration_mut(name) {
                    state.participant = Some(pid);
                }
            });
            context
                .register_worker_with_participant(
                    namespace,
                    registration.queue,
                    registration.id,
                    pid,
                    capacity,
                )
                .map(Held::Plain)
        }
        None if world::with(|world| world.dispatching).unwrap_or(false) => {
            super::dispatch::register(context, namespace, registration.queue, capacity)
                .map(Held::Dispatch)
        }
        None => context
            .register_worker(namespace, registration.queue, capacity)
            .map(Held::Plain),
    };
    world::with(|world| {
        let Some(state) = world.registration_mut(name) else {
            return;
        };
        match registered {
            Ok(handle) => {
                state.status = Status::Registered;
                state.participant = Some(handle.participant());
                state.id = Some(handle.id());
                state.handle = Some(Arc::new(handle));
            }
            Err(_) => state.status = Status::Failed,
        }
    });
}

fn set_status(name: &str, status: Status) {
    world::with(|world| {
        if let Some(state) = world.registration_mut(name) {
            state.status = status;
        }
    });
}

/// Unregisters (or drops) registration `name`, recording when it begins and returns.
fn stop(name: &str, graceful_call: bool) {
    let taken = world::with(|world| {
        let index = world.index_of(name)?;
        let state = &mut world.registrations[index];
        let handle = state.handle.take()?;
        state.status = Status::Stopping;
        world.events.push(Event::StopBegun {
            registration: index,
        });
        Some((index, handle))
    })
    .flatten();
    let Some((index, handle)) = taken else {
        return;
    };
    let returned = match Arc::try_unwrap(handle) {
        Ok(handle) if graceful_call => {
            handle.unregister();
            true
        }
        Ok(handle) => {
            drop(handle);
            true
        }
        // Another step holds the registration for a moment; its last handle ends it, so
        // this stop does not return with the registration gone.
        Err(shared) => {
            drop(shared);
            false
        }
    };
    world::with(|world| {
        world.registrations[index].status = Status::Gone;
        if returned {
            world.events.push(Event::StopReturned {
                registration: index,
            });
        }
    });
}

/// Takes a snapshot of `queue` and records when it began and what it returned.
fn snapshot(context: &WorkerContext, namespace: &str, queue: &str) {
    let snapshot = world::with(|world| world.begin_snapshot(queue));
    let result = context.workers_for_channel(&channel(namespace, queue));
    let (Some(snapshot), Ok(workers)) = (snapshot, result) else {
        return;
    };
    let workers = workers
        .into_iter()
        .map(|worker| (worker.worker_id.to_string(), worker.participant))
        .collect();
    record(Event::SnapshotReturned { snapshot, workers });
}

fn publish(context: &WorkerContext, namespace: &str, queue: &str, activity_type: &str) {
    let name = channel(namespace, queue);
    let Some(handle) = context.channel_handle(&name) else {
        return;
    };
    let message = DispatchRequest {
        conversation_id: "conversation-1".into(),
        request: ActivityRequest {
            activity_type: activity_type.to_owned(),
            input: Payload::default(),
            task_queue: queue.to_owned(),
            schedule_to_close_timeout: None,
            start_to_close_timeout: None,
        },
    };
    // A publish may fail while a channel actor is crashed; that is not a pool failure.
    let _ = handle.publish(&message.encode());
}

fn drop_remaining_registrations() {
    let held: Vec<(usize, Arc<Held>)> = world::with(|world| {
        world
            .registrations
            .iter_mut()
            .enumerate()
            .filter_map(|(index, state)| {
                let handle = state.handle.take()?;
                state.status = Status::Stopping;
                Some((index, handle))
            })
            .collect()
    })
    .unwrap_or_default();
    for (_, handle) in held {
        drop(handle);
    }
    world::with(|world| {
        for state in &mut world.registrations {
            if state.status == Status::Stopping {
                state.status = Status::Gone;
            }
        }
    });
}

/// Ends the processes the workload supplied: they are the workload's, not the pool's.
fn end_supplied_participants() {
    let supplied = world::with(|world| {
        let node = world.node()?.clone();
        Some((node, world.spawned.clone()))
    })
    .flatten();
    if let Some((node, pids)) = supplied {
        for pid in pids {
            node.terminate(pid, ExitReason::Normal);
        }
    }
}
