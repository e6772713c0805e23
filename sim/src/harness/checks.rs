//! The oracle: one observer per invariant, each reading the pool from outside between steps.
//!
//! The workload only records what it did and saw (the world's events: a snapshot began, it
//! returned these workers, an unregister began and returned, the system went quiet, every
//! registration is gone). The observers judge those moments against what they see of the
//! pool through its `peek` views, which read without scheduling points and answer `None`
//! while the lock they read is held. Workers are identified by registration
//! (`RegistrationId`, or the workload's own index), never by worker id: ids may repeat.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use vigil_core::census::Counted;
use vigil_core::pool::{PeekedChannel, PeekedEntry, RegistrationId};
use vigil_core::process::{EXIT_RECORDS_MAX, Node, NodeView, Pid};

use super::dispatch_checks;
use super::world::{self, Event, Status, World};
use crate::observer::{Observer, StepView};
use crate::scenario::Invariant;

/// The pool's channels as one step's observers see them (`None` while the pool's lock is held).
type Peeked = Option<Rc<Vec<PeekedChannel>>>;

thread_local! {
    /// The pool's channels as peeked after the current step, shared by every observer of
    /// that step (peeking clones the entries, and a large pool has hundreds).
    static PEEKED: RefCell<Option<(u64, Peeked)>> =
        const { RefCell::new(None) };
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
    /// How many of the world's events this observer has judged.
    cursor: usize,
    state: State,
}

/// What an invariant remembers between steps within one execution.
#[derive(Debug, Default)]
struct State {
    /// `snapshot-active`: open snapshots and what each may return.
    snapshots: BTreeMap<u64, Option<Eligible>>,
    /// `unregister-exact`: open stops and the active entries of their channel when they began.
    stops: BTreeMap<usize, Option<Vec<(RegistrationId, u32)>>>,
    /// `crash-removed`: between `Quiet` and `QuietEnd`.
    quiet: bool,
}

/// The entries a snapshot may return: active when it began, or registered since.
#[derive(Debug, Default)]
struct Eligible {
    channel: String,
    /// Registrations seen so far on the channel (so later arrivals are recognised as new).
    seen: BTreeSet<RegistrationId>,
    /// How many eligible entries each `(worker id, participant)` has.
    counts: BTreeMap<(String, Pid), usize>,
}

impl Check {
    pub(crate) fn new(invariant: Invariant) -> Self {
        Check {
            invariant,
            cursor: 0,
            state: State::default(),
        }
    }
}

impl Observer for Check {
    fn name(&self) -> &str {
        self.invariant.name()
    }

    fn start_execution(&mut self) {
        self.cursor = 0;
        self.state = State::default();
        PEEKED.with(|peeked| *peeked.borrow_mut() = None);
    }

    fn after_step(&mut self, view: &StepView<'_>) -> Result<(), String> {
        let invariant = self.invariant;
        STEP.with(|step| step.set(view.step));
        let (cursor, state) = (&mut self.cursor, &mut self.state);
        world::with(|world| {
            let events = world.events.get(*cursor..).unwrap_or_default().to_vec();
            *cursor = world.events.len();
            for event in &events {
                judge(invariant, state, world, event)?;
            }
            if invariant == Invariant::SnapshotActive {
                follow_snapshots(state, world);
            }
            check(invariant, world, view)
        })
        .unwrap_or(Ok(()))
    }
}

/// Judges one recorded moment of the workload.
fn judge(
    invariant: Invariant,
    state: &mut State,
    world: &World,
    event: &Event,
) -> Result<(), String> {
    match (invariant, event) {
        (Invariant::SnapshotActive, Event::SnapshotBegun { snapshot, queue }) => {
            let start = eligible_at_start(world, queue);
            tally(start.is_some());
            state.snapshots.insert(*snapshot, start);
            Ok(())
        }
        (Invariant::SnapshotActive, Event::SnapshotReturned { snapshot, workers }) => {
            match state.snapshots.remove(snapshot).flatten() {
                Some(eligible) => snapshot_active(&eligible, workers),
                None => Ok(()),
            }
        }
        (Invariant::UnregisterExact, Event::StopBegun { registration }) => {
            let before = active_entries(world, *registration);
            tally(before.is_some());
            state.stops.insert(*registration, before);
            Ok(())
        }
        (Invariant::UnregisterExact, Event::StopReturned { registration }) => {
            let Some(before) = state.stops.remove(registration).flatten() else {
                return Ok(());
            };
            let Some(after) = active_entries(world, *registration) else {
                tally(false);
                return Ok(());
            };
            tally(true);
            unregister_exact(world, *registration, &before, &after)
        }
        (Invariant::CrashRemoved, Event::Quiet) => {
            state.quiet = true;
            Ok(())
        }
        (Invariant::CrashRemoved, Event::QuietEnd) => {
            state.quiet = false;
            Ok(())
        }
        (Invariant::CrashRemoved, Event::SnapshotReturned { workers, .. }) if state.quiet => {
            crash_removed(world, workers)
        }
        (Invariant::NoLeak, Event::AllGone) => no_leak(world),
        (Invariant::DispatchSequence, Event::DispatchReturned { dispatch, live, .. }) => {
            dispatch_checks::sequence(*dispatch, live)
        }
        (
            Invariant::DispatchReplay,
            Event::DispatchReturned {
                dispatch,
                live,
                replay,
            },
        ) => dispatch_checks::replay(*dispatch, live, replay),
        (Invariant::DispatchIdle, Event::Quiet) => dispatch_checks::idle(world),
        _ => Ok(()),
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
        // Judged at the workload's recorded moments, or mapped from the execution's end.
        Invariant::SnapshotActive
        | Invariant::UnregisterExact
        | Invariant::CrashRemoved
        | Invariant::ShutdownBounded
        | Invariant::NoLeak
        | Invariant::NoPanic
        | Invariant::DispatchSequence
        | Invariant::DispatchReplay
        | Invariant::DispatchIdle => Ok(()),
    }
}

thread_local! {
    /// The step the observers are looking at (set by `after_step`).
    static STEP: Cell<u64> = const { Cell::new(0) };
}

/// The pool's channels after step `step`, shared with the invariants' observers of that step
/// (for the state-coverage probe, which may be the only observer).
pub(crate) fn peek_channels_at(world: &World, step: u64) -> Peeked {
    STEP.with(|current| current.set(step));
    peek_channels(world)
}

/// The pool's channels now, peeked once per step; `None` while the pool's lock is held.
fn peek_channels(world: &World) -> Peeked {
    let step = STEP.with(Cell::get);
    PEEKED.with(|peeked| {
        let mut peeked = peeked.borrow_mut();
        if let Some((seen, channels)) = &*peeked
            && *seen == step
        {
            return channels.clone();
        }
        // Last step's copy is overwritten in place when no observer kept it (none does past
        // its step), so a step's peek allocates only where the pool grew.
        let mut buffer = match peeked.take() {
            Some((_, Some(previous))) => Rc::try_unwrap(previous).unwrap_or_default(),
            _ => Vec::new(),
        };
        let channels: Peeked = world
            .context
            .peek_channels_into(&mut buffer)
            .then(|| Rc::new(buffer));
        *peeked = Some((step, channels.clone()));
        channels
    })
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
    let channels = peek_channels(world);
    tally(channels.is_some());
    match channels {
        Some(channels) => read(&channels, node),
        None => Ok(()),
    }
}

/// The full name of the dispatch channel `queue` of the scenario's namespace.
fn channel_name(world: &World, queue: &str) -> String {
    vigil_core::aion::dispatch_channel(&world.scenario.namespace, queue)
        .map(|name| name.to_string())
        .unwrap_or_default()
}

/// Entries of channel `name`, in vector order (dropped ones left out).
fn entries_of<'a>(channels: &'a [PeekedChannel], name: &str) -> Vec<&'a PeekedEntry> {
    channels
        .iter()
        .filter(|channel| channel.name == name)
        .flat_map(|channel| channel.entries.iter().flatten())
        .collect()
}

/// Visible entries: active and still owned by a registration.
fn visible(channels: &[PeekedChannel]) -> impl Iterator<Item = (&str, &PeekedEntry)> {
    channels.iter().flat_map(|channel| {
        channel
            .entries
            .iter()
            .flatten()
            .filter(|entry| entry.active)
            .map(move |entry| (channel.name.as_str(), entry))
    })
}

// --- snapshot-active -------------------------------------------------------------------

fn eligible_at_start(world: &World, queue: &str) -> Option<Eligible> {
    let channel = channel_name(world, queue);
    let mut eligible = Eligible {
        channel,
        ..Eligible::default()
    };
    add_new_entries(&mut eligible, &peek_channels(world)?);
    Some(eligible)
}

/// Counts entries not seen before: eligible when active at first sight. An entry first seen
/// inactive was inactive before the snapshot could read it (activity only ever goes from
/// true to false), so the snapshot must not return it.
fn add_new_entries(eligible: &mut Eligible, channels: &[PeekedChannel]) {
    for entry in entries_of(channels, &eligible.channel) {
        if eligible.seen.insert(entry.registration) && entry.active {
            *eligible
                .counts
                .entry((entry.worker_id.clone(), entry.participant))
                .or_default() += 1;
        }
    }
}

/// While snapshots are open, notes registrations inserted since they began.
fn follow_snapshots(state: &mut State, world: &World) {
    if state.snapshots.values().all(Option::is_none) {
        return;
    }
    if let Some(channels) = peek_channels(world) {
        for eligible in state.snapshots.values_mut().flatten() {
            add_new_entries(eligible, &channels);
        }
    }
}

fn snapshot_active(eligible: &Eligible, workers: &[(String, Pid)]) -> Result<(), String> {
    let mut returned: BTreeMap<(String, Pid), usize> = BTreeMap::new();
    for worker in workers {
        *returned.entry(worker.clone()).or_default() += 1;
    }
    for ((worker_id, pid), count) in returned {
        let allowed = eligible
            .counts
            .get(&(worker_id.clone(), pid))
            .copied()
            .unwrap_or(0);
        if count > allowed {
            return Err(format!(
                "a snapshot of '{}' returned worker '{worker_id}' (process {pid}) {count} \
                 time(s), but only {allowed} of its registrations were active when the snapshot \
                 began or registered since: it returned an entry that was already inactive",
                eligible.channel
            ));
        }
    }
    Ok(())
}

// --- unregister-exact ------------------------------------------------------------------

/// Active entries of registration `index`'s channel as `(registration, in-flight)`.
fn active_entries(world: &World, index: usize) -> Option<Vec<(RegistrationId, u32)>> {
    let channel = channel_name(world, &world.registrations[index].queue);
    let channels = peek_channels(world)?;
    Some(
        entries_of(&channels, &channel)
            .into_iter()
            .filter(|entry| entry.active)
            .map(|entry| (entry.registration, entry.in_flight))
            .collect(),
    )
}

/// Unregister removes exactly that registration and leaves the order and in-flight counts of
/// the others alone (registrations that crashed or were written to concurrently excepted).
fn unregister_exact(
    world: &World,
    index: usize,
    before: &[(RegistrationId, u32)],
    after: &[(RegistrationId, u32)],
) -> Result<(), String> {
    let state = &world.registrations[index];
    let name = &state.name;
    let Some(own) = state.id else {
        return Ok(());
    };
    if after.iter().any(|(id, _)| *id == own) {
        return Err(format!(
            "registration '{name}' ({own}) is still visible after its unregister returned"
        ));
    }
    let kept = |id: &RegistrationId| after.iter().any(|(other, _)| other == id);
    if let Some((lost, _)) = before
        .iter()
        .find(|(id, _)| *id != own && !kept(id) && removable_only_by_bug(world, *id))
    {
        return Err(format!(
            "unregistering '{name}' ({own}) also removed {}, which was registered, alive and \
             not being stopped",
            describe(world, *lost)
        ));
    }
    let survivors: Vec<&(RegistrationId, u32)> = before
        .iter()
        .filter(|(id, _)| *id != own && kept(id))
        .collect();
    let order_before: Vec<RegistrationId> = survivors.iter().map(|(id, _)| *id).collect();
    let order_after: Vec<RegistrationId> = after
        .iter()
        .filter(|(id, _)| order_before.contains(id))
        .map(|(id, _)| *id)
        .collect();
    if order_before != order_after {
        return Err(format!(
            "unregistering '{name}' ({own}) reordered the others: {order_before:?} became \
             {order_after:?}"
        ));
    }
    for (id, count_before) in survivors {
        let count_after = after
            .iter()
            .find(|(other, _)| other == id)
            .map_or(*count_before, |(_, count)| *count);
        let written = world
            .by_id(*id)
            .is_some_and(|state| state.in_flight_writes > 0);
        // A dispatch worker's own loop moves its count while requests come and go; only a
        // workload without dispatches holds every count still.
        if *count_before != count_after && !written && !world.dispatching {
            return Err(format!(
                "unregistering '{name}' ({own}) changed the in-flight count of {} from \
                 {count_before} to {count_after}",
                describe(world, *id)
            ));
        }
    }
    Ok(())
}

/// `'name' (r3)` when the workload knows the registration, else just the id.
fn describe(world: &World, id: RegistrationId) -> String {
    match world.by_id(id) {
        Some(state) => format!("'{}' ({id})", state.name),
        None => id.to_string(),
    }
}

/// Whether nothing but a bug could take registration `id` out of the pool now: it is
/// registered, not being stopped, untouched by faults, and its process is alive.
fn removable_only_by_bug(world: &World, id: RegistrationId) -> bool {
    let Some(state) = world.by_id(id) else {
        return false;
    };
    let alive = state
        .participant
        .and_then(|pid| world.node().and_then(|node| node.peek_alive(pid)))
        == Some(true);
    state.status == Status::Registered && !state.faulted && alive
}

// --- crash-removed ---------------------------------------------------------------------

/// Once quiet, no worker whose process has exited is in a snapshot.
fn crash_removed(world: &World, workers: &[(String, Pid)]) -> Result<(), String> {
    let Some(node) = world.node() else {
        return Ok(());
    };
    for (worker_id, pid) in workers {
        if node.peek_alive(*pid) == Some(false) {
            return Err(format!(
                "worker '{worker_id}' (process {pid}) is still in a snapshot after its process \
                 exited and the system went quiet"
            ));
        }
    }
    Ok(())
}

// --- no-leak ---------------------------------------------------------------------------

/// With every registration gone, every table that grows with registrations or processes is
/// back to its size before the first one: nothing but one channel actor (and its session)
/// per channel name, and at most `EXIT_RECORDS_MAX` exit records.
fn no_leak(world: &World) -> Result<(), String> {
    let Some(node) = world.node() else {
        // Nothing was ever registered: nothing can have leaked.
        return Ok(());
    };
    let mut problems = Vec::new();
    let queues = world.workload.queues().len();
    match node.peek_processes() {
        Some(processes) => {
            let actors = processes
                .iter()
                .filter(|(_, name)| *name == "channel-actor")
                .count();
            let left: Vec<String> = processes
                .iter()
                .filter(|(_, name)| *name != "channel-actor")
                .map(|(pid, name)| format!("{name} {pid}"))
                .collect();
            if !left.is_empty() {
                problems.push(format!("processes left alive: {}", left.join(", ")));
            }
            if actors > queues {
                problems.push(format!("{actors} channel actors for {queues} channels"));
            }
        }
        None => problems.push("the process table was still locked".to_owned()),
    }
    if let Some(census) = node.peek_census() {
        if census.exit_records > EXIT_RECORDS_MAX {
            problems.push(format!(
                "{} exit records are kept (the bound is {EXIT_RECORDS_MAX})",
                census.exit_records
            ));
        }
        if census.queued_messages > 0 || census.run_queue > 0 {
            problems.push(format!(
                "{} messages and {} run-queue slots are still waiting",
                census.queued_messages, census.run_queue
            ));
        }
    }
    for kind in Counted::ALL {
        let count = node.census().count(kind);
        if count > 0 {
            problems.push(format!("{count} {} are alive", kind.name()));
        }
    }
    let pool = world.context.peek_channels(|channels| {
        let slots: usize = channels.iter().map(|channel| channel.entries.len()).sum();
        let fan_out: usize = channels.iter().filter_map(|channel| channel.fan_out).sum();
        (channels.len(), slots, fan_out)
    });
    match pool {
        Some((channels, slots, fan_out)) => {
            if slots > 0 {
                problems.push(format!("{slots} pool entry slots are left"));
            }
            if fan_out > 0 {
                problems.push(format!("{fan_out} subscribers are left in fan-out lists"));
            }
            if channels > queues {
                problems.push(format!("{channels} channel sessions for {queues} queues"));
            }
        }
        None => problems.push("the pool's lock was still held".to_owned()),
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(format!(
        "after every registration was dropped and the system went quiet, {}",
        problems.join("; ")
    ))
}

// --- per-step safety checks ------------------------------------------------------------

/// A live process is watched when it is linked to a live monitor actor; a dead one's exit
/// is on its way to the monitor (`crash-removed` checks it arrives).
pub(crate) fn watched(view: &NodeView<'_>, pid: Pid) -> bool {
    !view.alive(pid)
        || view
            .links(pid)
            .any(|peer| view.name(peer) == Some("conversation-actor"))
}

fn snapshot_monitored(world: &World) -> Result<(), String> {
    with_channels(world, |channels, node| {
        let unwatched = node.peek_view(|view| {
            visible(channels).find(|(_, entry)| !watched(view, entry.participant))
        });
        tally(unwatched.is_some());
        match unwatched.flatten() {
            Some((channel, entry)) => Err(format!(
                "worker '{}' ({}) on '{channel}' is visible to snapshots, but its live process \
                 {} is not linked to any live monitor actor",
                entry.worker_id, entry.registration, entry.participant
            )),
            None => Ok(()),
        }
    })
}

fn registration_visible(world: &World) -> Result<(), String> {
    with_channels(world, |channels, node| {
        // Sorted for binary search: a set's tree costs more to build at every step.
        let mut shown: Vec<RegistrationId> = visible(channels)
            .map(|(_, entry)| entry.registration)
            .collect();
        shown.sort_unstable();
        let missing = node.peek_view(|view| {
            world.registrations.iter().find(|state| {
                let (Some(id), Some(pid)) = (state.id, state.participant) else {
                    return false;
                };
                state.status == Status::Registered
                    && !state.faulted
                    && view.alive(pid)
                    && shown.binary_search(&id).is_err()
            })
        });
        tally(missing.is_some());
        match missing.flatten() {
            Some(state) => Err(format!(
                "registration '{}' ({}) succeeded and its process is alive, but it is missing \
                 from its channel's entries",
                state.name,
                state.id.map_or_else(String::new, |id| id.to_string())
            )),
            None => Ok(()),
        }
    })
}

fn one_session(world: &World) -> Result<(), String> {
    let Some(node) = world.node() else {
        return Ok(());
    };
    let Some(actors) = node.peek_view(|view| view.count_named("channel-actor")) else {
        tally(false);
        return Ok(());
    };
    match peek_channels(world) {
        Some(channels) if actors > channels.len() => Err(format!(
            "{actors} channel actors are alive for {} channel names: a channel has more than \
             one session",
            channels.len()
        )),
        _ => Ok(()),
    }
}

fn one_node(world: &World) -> Result<(), String> {
    // Registrations may share a process only when the workload supplied it to each of them
    // (looked up only for two registrations on one process, which is rare).
    let supplied = |pid: &Pid| world.participants.values().any(|supplied| supplied == pid);
    with_channels(world, |channels, node| {
        let entries: Vec<_> = visible(channels).collect();
        let mut first_by_process: BTreeMap<Pid, &PeekedEntry> = BTreeMap::new();
        for (channel, entry) in &entries {
            let first = *first_by_process.entry(entry.participant).or_insert(entry);
            let twin = (first.registration != entry.registration && !supplied(&entry.participant))
                .then_some(first);
            if let Some(other) = twin {
                return Err(format!(
                    "workers '{}' and '{}' on '{channel}' both name process {}, but nothing \
                     registered them on a shared process: one of them names a pid of another node",
                    other.worker_id, entry.worker_id, entry.participant
                ));
            }
        }
        let elsewhere = node.peek_view(|view| {
            entries.iter().find(|(_, entry)| {
                // A dead process's exit is on its way to the monitor; only a live one can be
                // seen to be the wrong kind of process.
                view.alive(entry.participant)
                    && !matches!(
                        view.name(entry.participant),
                        Some("idle-worker" | "participant" | "dispatch-worker")
                    )
            })
        });
        tally(elsewhere.is_some());
        if let Some((channel, entry)) = elsewhere.flatten() {
            let what = node
                .peek_view(|view| view.name(entry.participant))
                .flatten()
                .unwrap_or("another process");
            return Err(format!(
                "worker '{}' on '{channel}' names {} as its process, but on the context's node \
                 that pid is {what}: its process lives on another node",
                entry.worker_id, entry.participant
            ));
        }
        Ok(())
    })
}

fn reachable(world: &World) -> Result<(), String> {
    with_channels(world, |channels, node| {
        let deaf = node.peek_view(|view| {
            channels.iter().find_map(|channel| {
                // A dead channel actor is respawned, with its fan-out, by the next command.
                let actor = channel.actor.filter(|actor| view.alive(*actor))?;
                channel
                    .entries
                    .iter()
                    .flatten()
                    .filter(|entry| entry.active)
                    .find_map(|entry| {
                        let subscriber = entry.subscriber?;
                        (view.alive(subscriber) && !view.linked(subscriber, actor))
                            .then_some((channel, entry, subscriber, actor))
                    })
            })
        });
        tally(deaf.is_some());
        match deaf.flatten() {
            Some((channel, entry, subscriber, actor)) => Err(format!(
                "worker '{}' ({}) on '{}' is visible and its subscriber {subscriber} is alive, \
                 but the channel actor {actor} does not fan out to it: publishes never reach \
                 the worker",
                entry.worker_id, entry.registration, channel.name
            )),
            None => Ok(()),
        }
    })
}

/// At the listener's `listener.teardown` step: which registration it is tearing down. The
/// context has one listener for every worker, which publishes the registration it is
/// handling; the step is only judged when that listener is the task taking it.
fn graceful_not_crash(world: &World, view: &StepView<'_>) -> Result<(), String> {
    let at_teardown = view
        .site
        .is_some_and(|site| site.name == "listener.teardown");
    if !at_teardown {
        return Ok(());
    }
    let Some(listener) = world.context.peek_listener() else {
        return Ok(());
    };
    let (true, Some(id)) = (listener.task == view.task, listener.handling) else {
        return Ok(());
    };
    let Some(state) = world.by_id(id) else {
        return Ok(());
    };
    let stopping = matches!(state.status, Status::Stopping | Status::Gone);
    if stopping && !state.faulted {
        return Err(format!(
            "registration '{}' ({id}) was being unregistered or dropped, nothing crashed it, \
             yet the context's listener handled an exit as a crash",
            state.name
        ));
    }
    Ok(())
}
