//! The scenario's workload as simulated tasks: the model body of every execution.
//!
//! The main task creates a fresh pool, runs each scenario task as a simulated task, waits
//! for them, lets the system go quiet, checks the liveness properties, drops what is left,
//! and checks that nothing leaked.

use std::sync::Arc;
use std::time::Duration;

use vigil_core::aion::{
    ActivityRequest, DispatchRequest, Payload, WorkerCapacity, dispatch_channel,
};
use vigil_core::pool::{WorkerContext, WorkerRegistration};
use vigil_core::process::{IdleWorkerProcess, Pid};
use vigil_core::{rt, thread};

use super::world::{self, Status, World};
use crate::scenario::{Invariant, Scenario, Step, TaskSpec};

/// Virtual time the main task waits for the system to go quiet. `rt::sleep` returns only
/// when nothing else can run before its deadline, so this is "until idle", bounded.
const QUIET: Duration = Duration::from_secs(10);

/// The body of every execution of `scenario`.
pub(crate) fn run(scenario: &Arc<Scenario>) {
    let context = WorkerContext::new();
    world::install(World::new(scenario.clone(), context.clone()));
    let tasks: Vec<_> = scenario
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
    for queue in queues(scenario) {
        snapshot(&context, &scenario.namespace, &queue);
    }
    check_crashed_workers_removed(&context, &scenario.namespace);
    drop_remaining_registrations();
    rt::sleep(QUIET);
    check_nothing_leaked(&context, scenario);
    let world = world::take();
    drop(world);
    drop(context);
}

/// Every queue the scenario's workers use, once each, in first-use order.
fn queues(scenario: &Scenario) -> Vec<String> {
    let mut queues: Vec<String> = Vec::new();
    for worker in &scenario.workers {
        if !queues.contains(&worker.queue) {
            queues.push(worker.queue.clone());
        }
    }
    queues
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
            let owner = shares.as_deref().unwrap_or(worker);
            register(
                context,
                namespace,
                worker,
                queue,
                capacity,
                supplied.then_some(owner),
            );
        }
        Step::Unregister { worker } => stop(context, namespace, worker, true),
        Step::Drop { worker } => stop(context, namespace, worker, false),
        Step::SetInFlight { worker, value } => {
            let registration = world::with(|world| {
                let state = world.workers.get_mut(worker)?;
                state.in_flight_writes += 1;
                state.registration.clone()
            })
            .flatten();
            if let Some(registration) = registration {
                registration.set_in_flight(*value);
            }
        }
        Step::Snapshot { queue } => snapshot(context, namespace, queue),
        Step::Publish {
            queue,
            activity_type,
        } => publish(context, namespace, queue, activity_type),
        Step::Crash { worker, reason } => {
            let target = world::with(|world| {
                let pid = world.workers.get(worker)?.participant?;
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

/// Spawns (once) the participant of supplied worker `owner` on the context's node.
fn participant_of(
    context: &WorkerContext,
    namespace: &str,
    owner: &str,
    queue: &str,
) -> Option<Pid> {
    if let Some(pid) = world::with(|world| world.workers.get(owner)?.participant).flatten() {
        return Some(pid);
    }
    let supervisor = context.supervisor_for(&channel(namespace, queue)).ok()?;
    let pid = supervisor
        .node()
        .spawn("participant", Box::new(IdleWorkerProcess), false)
        .ok()?;
    world::with(|world| {
        if let Some(state) = world.workers.get_mut(owner) {
            state.participant = Some(pid);
        }
    });
    Some(pid)
}

fn register(
    context: &WorkerContext,
    namespace: &str,
    worker: &str,
    queue: &str,
    capacity: WorkerCapacity,
    supplied_by: Option<&str>,
) {
    world::with(|world| set_status(world, worker, Status::Registering));
    let registered = match supplied_by {
        Some(owner) => {
            let Some(pid) = participant_of(context, namespace, owner, queue) else {
                world::with(|world| set_status(world, worker, Status::Failed));
                return;
            };
            world::with(|world| {
                if let Some(state) = world.workers.get_mut(worker) {
                    state.participant = Some(pid);
                }
            });
            context.register_worker_with_participant(namespace, queue, worker, pid, capacity)
        }
        None => context.register_worker(namespace, queue, capacity),
    };
    world::with(|world| {
        let Some(state) = world.workers.get_mut(worker) else {
            return;
        };
        match registered {
            Ok(registration) => {
                state.status = Status::Registered;
                state.participant = Some(registration.participant());
                state.pool_id = Some(registration.worker_id().to_owned());
                state.registration = Some(Arc::new(registration));
            }
            Err(_) => state.status = Status::Failed,
        }
    });
}

fn set_status(world: &mut World, worker: &str, status: Status) {
    if let Some(state) = world.workers.get_mut(worker) {
        state.status = status;
    }
}

/// Active entries of `queue` as `(pool id, in-flight)`, in vector order, read without
/// scheduling points; `None` while the pool's lock is held.
fn peek_active(
    context: &WorkerContext,
    namespace: &str,
    queue: &str,
) -> Option<Vec<(String, u32)>> {
    let name = channel(namespace, queue).to_string();
    context.peek_channels(|channels| {
        channels
            .iter()
            .filter(|channel| channel.name == name)
            .flat_map(|channel| channel.entries.iter().flatten())
            .filter(|entry| entry.active)
            .map(|entry| (entry.worker_id.clone(), entry.in_flight))
            .collect()
    })
}

/// Unregisters (or drops) `worker` and checks `unregister-exact` around it.
fn stop(context: &WorkerContext, namespace: &str, worker: &str, graceful_call: bool) {
    let taken = world::with(|world| {
        let state = world.workers.get_mut(worker)?;
        let registration = state.registration.take()?;
        state.status = Status::Stopping;
        Some((registration, state.queue.clone()))
    })
    .flatten();
    let Some((registration, queue)) = taken else {
        return;
    };
    let pool_id = registration.worker_id().to_owned();
    let before = peek_active(context, namespace, &queue);
    match Arc::try_unwrap(registration) {
        Ok(registration) if graceful_call => {
            let _ = registration.unregister();
        }
        Ok(registration) => drop(registration),
        // Another step holds the registration for a moment; its last handle drops it.
        Err(shared) => drop(shared),
    }
    let after = peek_active(context, namespace, &queue);
    world::with(|world| {
        set_status(world, worker, Status::Gone);
        if let (Some(before), Some(after)) = (before, after) {
            check_unregister_exact(world, &pool_id, &before, &after);
        }
    });
}

/// Unregister removes exactly that worker and leaves the order and in-flight counts of the
/// others alone (workers that crashed or were written to concurrently excepted).
fn check_unregister_exact(
    world: &mut World,
    pool_id: &str,
    before: &[(String, u32)],
    after: &[(String, u32)],
) {
    if after.iter().any(|(id, _)| id == pool_id) {
        let message = format!("worker '{pool_id}' is still visible after its unregister returned");
        world.violate(Invariant::UnregisterExact, message);
        return;
    }
    if let Some(lost) = before.iter().find(|(id, _)| {
        id != pool_id
            && !after.iter().any(|(other, _)| other == id)
            && removable_only_by_bug(world, id)
    }) {
        let message = format!(
            "unregistering '{pool_id}' also removed '{}', which was registered, alive and not \
             being stopped",
            lost.0
        );
        world.violate(Invariant::UnregisterExact, message);
        return;
    }
    let survivors: Vec<&(String, u32)> = before
        .iter()
        .filter(|(id, _)| id != pool_id && after.iter().any(|(other, _)| other == id))
        .collect();
    let kept_order: Vec<&(String, u32)> = after
        .iter()
        .filter(|(id, _)| survivors.iter().any(|(other, _)| other == id))
        .collect();
    let order_before: Vec<&str> = survivors.iter().map(|(id, _)| id.as_str()).collect();
    let order_after: Vec<&str> = kept_order.iter().map(|(id, _)| id.as_str()).collect();
    if order_before != order_after {
        let message = format!(
            "unregistering '{pool_id}' reordered the others: {order_before:?} became {order_after:?}"
        );
        world.violate(Invariant::UnregisterExact, message);
        return;
    }
    for ((id, count_before), (_, count_after)) in survivors.iter().zip(&kept_order) {
        let written = world
            .worker_by_pool_id(id)
            .and_then(|name| world.workers.get(name))
            .is_some_and(|state| state.in_flight_writes > 0);
        if count_before != count_after && !written {
            let message = format!(
                "unregistering '{pool_id}' changed the in-flight count of '{id}' from \
                 {count_before} to {count_after}"
            );
            world.violate(Invariant::UnregisterExact, message);
            return;
        }
    }
}

/// Whether nothing but a bug could take worker `pool_id` out of the pool now: it is
/// registered, not being stopped, untouched by faults, and its process is alive.
fn removable_only_by_bug(world: &World, pool_id: &str) -> bool {
    let Some(state) = world
        .worker_by_pool_id(pool_id)
        .and_then(|name| world.workers.get(name))
    else {
        return false;
    };
    let alive = state
        .participant
        .and_then(|pid| world.node().and_then(|node| node.peek_alive(pid)))
        == Some(true);
    state.status == Status::Registered && !state.faulted && alive
}

/// Takes a snapshot and checks `snapshot-active`: nothing already inactive when the
/// snapshot began may be returned.
fn snapshot(context: &WorkerContext, namespace: &str, queue: &str) {
    let name = channel(namespace, queue);
    let inactive_before: Option<Vec<String>> = context.peek_channels(|channels| {
        channels
            .iter()
            .filter(|channel| channel.name == name.as_str())
            .flat_map(|channel| channel.entries.iter().flatten())
            .filter(|entry| !entry.active)
            .map(|entry| entry.worker_id.clone())
            .collect()
    });
    let Ok(workers) = context.workers_for_channel(&name) else {
        return;
    };
    let Some(inactive_before) = inactive_before else {
        return;
    };
    if let Some(stale) = workers
        .iter()
        .find(|worker| inactive_before.iter().any(|id| worker.worker_id == *id))
    {
        let message = format!(
            "a snapshot of '{name}' returned '{}', whose entry was already inactive when the \
             snapshot began",
            stale.worker_id
        );
        world::with(|world| world.violate(Invariant::SnapshotActive, message));
    }
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

/// `crash-removed`: once quiet, no worker whose process has exited is in a snapshot.
fn check_crashed_workers_removed(context: &WorkerContext, namespace: &str) {
    let held: Vec<(String, String, Pid)> = world::with(|world| {
        world
            .workers
            .values()
            .filter(|state| state.registration.is_some())
            .filter_map(|state| {
                Some((
                    state.pool_id.clone()?,
                    state.queue.clone(),
                    state.participant?,
                ))
            })
            .filter(|(_, _, pid)| {
                world.node().and_then(|node| node.peek_alive(*pid)) == Some(false)
            })
            .collect()
    })
    .unwrap_or_default();
    for (pool_id, queue, _) in held {
        let Ok(snapshot) = context.workers_for_channel(&channel(namespace, &queue)) else {
            continue;
        };
        if snapshot.iter().any(|worker| worker.worker_id == pool_id) {
            let message = format!(
                "worker '{pool_id}' is still in a snapshot after its process exited and the \
                 system went quiet"
            );
            world::with(|world| world.violate(Invariant::CrashRemoved, message));
        }
    }
}

fn drop_remaining_registrations() {
    let held: Vec<Arc<WorkerRegistration>> = world::with(|world| {
        world
            .workers
            .values_mut()
            .filter_map(|state| {
                let registration = state.registration.take()?;
                state.status = Status::Stopping;
                Some(registration)
            })
            .collect()
    })
    .unwrap_or_default();
    for registration in held {
        drop(registration);
    }
    world::with(|world| {
        for state in world.workers.values_mut() {
            if state.status == Status::Stopping {
                state.status = Status::Gone;
            }
        }
    });
}

/// `no-leak`: with every registration gone, no monitor actor, subscriber or generated worker
/// process is alive and every entry vector is empty once pruned.
fn check_nothing_leaked(context: &WorkerContext, scenario: &Scenario) {
    for queue in queues(scenario) {
        let _ = context.workers_for_channel(&channel(&scenario.namespace, &queue));
    }
    let entries_left: usize = context
        .peek_channels(|channels| channels.iter().map(|channel| channel.entries.len()).sum())
        .unwrap_or(0);
    let processes = context
        .peek_supervisor()
        .and_then(|supervisor| supervisor.node().peek_processes())
        .unwrap_or_default();
    let leaked: Vec<String> = processes
        .iter()
        .filter(|(_, name)| matches!(*name, "conversation-actor" | "subscriber" | "idle-worker"))
        .map(|(pid, name)| format!("{name} {pid}"))
        .collect();
    let mut problems = Vec::new();
    if entries_left > 0 {
        problems.push(format!("{entries_left} pool entries are left"));
    }
    if !leaked.is_empty() {
        problems.push(format!("processes left alive: {}", leaked.join(", ")));
    }
    if !problems.is_empty() {
        let message = format!(
            "after every registration was dropped and the system went quiet, {}",
            problems.join("; ")
        );
        world::with(|world| world.violate(Invariant::NoLeak, message));
    }
}
