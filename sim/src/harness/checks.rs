//! The oracle: one observer per invariant, each reading the pool from outside between steps.
//!
//! Checks that need the workload's own moments (a snapshot's result, an unregister's before
//! and after, the quiet point) run in the workload and leave violations in the world; the
//! observer of that invariant reports them at the next step.

use std::cell::Cell;

use vigil_core::pool::{LISTENER_TASK, PeekedChannel};
use vigil_core::process::{Node, Pid};

use super::world::{self, Status, World};
use crate::observer::{Observer, StepView};
use crate::scenario::Invariant;

thread_local! {
    /// `(read, skipped)`: lock-dependent checks that looked at the pool, and ones that could
    /// not because a task held the lock they read. Reported per run so a pass that rests on
    /// few real looks is visible.
    static TALLY: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

fn tally(read: bool) {
    TALLY.with(|tally| {
        let (reads, skips) = tally.get();
        tally.set(if read {
            (reads + 1, skips)
        } else {
            (reads, skips + 1)
        });
    });
}

/// Takes and resets the counts of lock-dependent checks read and skipped.
pub(crate) fn take_tally() -> (u64, u64) {
    TALLY.with(|tally| tally.replace((0, 0)))
}

/// Checks one invariant after every step.
#[derive(Debug)]
pub(crate) struct Check {
    invariant: Invariant,
}

impl Check {
    pub(crate) fn new(invariant: Invariant) -> Self {
        Check { invariant }
    }
}

impl Observer for Check {
    fn name(&self) -> &str {
        self.invariant.name()
    }

    fn after_step(&mut self, view: &StepView<'_>) -> Result<(), String> {
        let invariant = self.invariant;
        if let Some(violation) = world::take_violation(invariant) {
            return Err(violation);
        }
        world::with(|world| check(invariant, world, view)).unwrap_or(Ok(()))
    }

    fn after_execution(&mut self, _steps: u64) -> Result<(), String> {
        match world::take_violation(self.invariant) {
            Some(violation) => Err(violation),
            None => Ok(()),
        }
    }
}

fn check(invariant: Invariant, world: &World, view: &StepView<'_>) -> Result<(), String> {
    match invariant {
        Invariant::SnapshotMonitored => snapshot_monitored(world),
        Invariant::RegistrationVisible => registration_visible(world),
        Invariant::OneSession => one_session(world),
        Invariant::OneNode => one_node(world),
        Invariant::GracefulNotCrash => graceful_not_crash(world, view),
        Invariant::Reachable => reachable(world),
        // Checked by the workload at its own moments, or mapped from the execution's end.
        Invariant::SnapshotActive
        | Invariant::UnregisterExact
        | Invariant::CrashRemoved
        | Invariant::ShutdownBounded
        | Invariant::NoLeak
        | Invariant::NoPanic => Ok(()),
    }
}

/// Runs `read` over the pool's channels, or passes when the pool's lock is held (a task is
/// part-way through changing it; the next step will look again).
fn with_channels(
    world: &World,
    read: impl FnOnce(&[PeekedChannel], &Node) -> Result<(), String>,
) -> Result<(), String> {
    let Some(node) = world.node() else {
        return Ok(());
    };
    let outcome = world.context.peek_channels(|channels| read(channels, node));
    tally(outcome.is_some());
    outcome.unwrap_or(Ok(()))
}

/// Visible entries: active and still owned by a registration.
fn visible(
    channels: &[PeekedChannel],
) -> impl Iterator<Item = (&str, &vigil_core::pool::PeekedEntry)> {
    channels.iter().flat_map(|channel| {
        channel
            .entries
            .iter()
            .flatten()
            .filter(|entry| entry.active)
            .map(move |entry| (channel.name.as_str(), entry))
    })
}

/// A live process is watched when it is linked to a live monitor actor.
fn watched(node: &Node, pid: Pid) -> Option<bool> {
    let Some(found) = node.peek_process(pid) else {
        tally(false);
        return None;
    };
    let process = found?;
    if process.exit_reason.is_some() {
        // Dead: its exit is on its way to the monitor; `crash-removed` checks it arrives.
        return Some(true);
    }
    let mut linked_actor = false;
    for link in process.links {
        let peer = node.peek_process(link)??;
        linked_actor |= peer.exit_reason.is_none() && peer.name == "conversation-actor";
    }
    Some(linked_actor)
}

fn snapshot_monitored(world: &World) -> Result<(), String> {
    with_channels(world, |channels, node| {
        for (channel, entry) in visible(channels) {
            if watched(node, entry.participant) == Some(false) {
                return Err(format!(
                    "worker '{}' on '{channel}' is visible to snapshots, but its live process \
                     {} is not linked to any live monitor actor",
                    entry.worker_id, entry.participant
                ));
            }
        }
        Ok(())
    })
}

fn registration_visible(world: &World) -> Result<(), String> {
    with_channels(world, |channels, node| {
        for (name, state) in &world.workers {
            if state.status != Status::Registered || state.faulted {
                continue;
            }
            let (Some(pool_id), Some(pid)) = (&state.pool_id, state.participant) else {
                continue;
            };
            if node.peek_alive(pid) != Some(true) {
                continue;
            }
            let present = visible(channels).any(|(_, entry)| &entry.worker_id == pool_id);
            if !present {
                return Err(format!(
                    "worker '{name}' ({pool_id}) registered successfully and is alive, but it \
                     is missing from its channel's entries"
                ));
            }
        }
        Ok(())
    })
}

fn one_session(world: &World) -> Result<(), String> {
    let Some(node) = world.node() else {
        return Ok(());
    };
    let Some(processes) = node.peek_processes() else {
        tally(false);
        return Ok(());
    };
    let actors = processes
        .iter()
        .filter(|(_, name)| *name == "channel-actor")
        .count();
    world
        .context
        .peek_channels(|channels| {
            if actors > channels.len() {
                return Err(format!(
                    "{actors} channel actors are alive for {} channel names: a channel has more \
                     than one session",
                    channels.len()
                ));
            }
            Ok(())
        })
        .unwrap_or(Ok(()))
}

/// Whether the scenario registered workers `a` and `b` on one shared supplied process.
fn declared_shared(world: &World, a: &str, b: &str) -> bool {
    let owner = |pool_id: &str| {
        let name = world.worker_by_pool_id(pool_id)?;
        world
            .scenario
            .tasks
            .iter()
            .flat_map(|task| &task.steps)
            .find_map(|step| match step {
                crate::scenario::Step::Register {
                    worker,
                    supplied: true,
                    shares,
                    ..
                } if worker == name => Some(shares.clone().unwrap_or_else(|| name.to_owned())),
                _ => None,
            })
    };
    matches!((owner(a), owner(b)), (Some(x), Some(y)) if x == y)
}

fn one_node(world: &World) -> Result<(), String> {
    with_channels(world, |channels, node| {
        let entries: Vec<_> = visible(channels).collect();
        for (index, (channel, entry)) in entries.iter().enumerate() {
            let twin = entries[..index].iter().find(|(_, other)| {
                other.participant == entry.participant
                    && !declared_shared(world, &other.worker_id, &entry.worker_id)
            });
            if let Some((_, other)) = twin {
                return Err(format!(
                    "workers '{}' and '{}' on '{channel}' both name process {}, but nothing \
                     registered them on a shared process: one of them names a pid of another node",
                    other.worker_id, entry.worker_id, entry.participant
                ));
            }
        }
        for (channel, entry) in entries {
            let Some(found) = node.peek_process(entry.participant) else {
                continue;
            };
            let is_worker = found
                .as_ref()
                .is_some_and(|process| matches!(process.name, "idle-worker" | "participant"));
            if !is_worker {
                let what = found.map_or("no process".to_owned(), |process| process.name.to_owned());
                return Err(format!(
                    "worker '{}' on '{channel}' names {} as its process, but on the context's \
                     node that pid is {what}: its process lives on another node",
                    entry.worker_id, entry.participant
                ));
            }
        }
        Ok(())
    })
}

fn reachable(world: &World) -> Result<(), String> {
    with_channels(world, |channels, node| {
        for channel in channels {
            let Some(actor) = channel.actor else {
                continue;
            };
            if node.peek_alive(actor) != Some(true) {
                // A dead channel actor is respawned, with its fan-out, by the next command.
                continue;
            }
            for entry in channel
                .entries
                .iter()
                .flatten()
                .filter(|entry| entry.active)
            {
                let Some(subscriber) = entry.subscriber else {
                    continue;
                };
                let Some(Some(process)) = node.peek_process(subscriber) else {
                    continue;
                };
                if process.exit_reason.is_none() && !process.links.contains(&actor) {
                    return Err(format!(
                        "worker '{}' on '{}' is visible and its subscriber {subscriber} is alive, \
                         but the channel actor {actor} does not fan out to it: publishes never \
                         reach the worker",
                        entry.worker_id, channel.name
                    ));
                }
            }
        }
        Ok(())
    })
}

fn graceful_not_crash(world: &World, view: &StepView<'_>) -> Result<(), String> {
    let at_teardown = view
        .site
        .is_some_and(|site| site.name == "listener.teardown");
    let Some(pool_id) = view
        .task_name
        .strip_prefix(LISTENER_TASK)
        .and_then(|rest| rest.strip_prefix(':'))
    else {
        return Ok(());
    };
    if !at_teardown {
        return Ok(());
    }
    let Some(name) = world.worker_by_pool_id(pool_id) else {
        return Ok(());
    };
    let state = &world.workers[name];
    let stopping = matches!(state.status, Status::Stopping | Status::Gone);
    if stopping && !state.faulted {
        return Err(format!(
            "worker '{name}' ({pool_id}) was being unregistered or dropped, nothing crashed it, \
             yet its listener handled an exit as a crash"
        ));
    }
    Ok(())
}
