//! Dynamic partial-order reduction with sleep sets, sound under a preemption bound and a
//! fault bound: one representative per class of equivalent schedules, then a certificate.
//!
//! # The search
//!
//! Each execution is a sequence of events (steps and chosen faults), each described by the
//! executor as the objects it touched (`crate::dependency`). The search keeps the events of
//! the current execution as a stack of nodes. After every event it computes the event's
//! vector clock (happens-before: program order, spawn, a barrier at each jump of virtual
//! time, and every earlier dependent event) and finds its *races*: earlier dependent events
//! of other actors not already ordered before it through other events. For a race between
//! event `i` and the new event `j`, it takes the events after `i` that do not depend on `i`
//! plus `j`, and their *initials* (those with no earlier event of that sequence before them);
//! if none of them is explored or scheduled at node `i` already, one is added there (source
//! sets, Abdulla et al., POPL 2014, without wakeup trees). The next execution replays the
//! stack up to the deepest node with an alternative left and takes it.
//!
//! A race from an unlock to a later lock attempt of another actor (see "Mutexes" in
//! `crate::dependency`) is reversed at the lock attempt that unlock ended: reversing it at the
//! unlock would only make the later task wait inside the critical section. A race from a lock
//! attempt that parked to an unlock of that mutex is not reversed (`ends_wait`): it would
//! only remove the wait.
//!
//! Sleep sets prune the rest: an actor explored at a node sleeps in the siblings explored
//! after it, and stays asleep until an event dependent with its own event runs. Once an
//! execution can only go on with sleeping actors it is redundant (every order it could still
//! reach was reached from where those actors were explored), so its remaining events add no
//! alternatives.
//!
//! # Bounds
//!
//! A preemption is switching away from a task that could go on (and is not waiting at a
//! `yield_now`). An alternative that would exceed `preemptions_max` at the race point is not
//! added there; as in bounded POR (Coons, Musuvathi, McKinley, OOPSLA 2013) it is also added
//! at the last earlier node where the schedule switched tasks (from the task of the previous
//! task event: a fault fired in between is no switch and does not hide one), where taking it
//! may replace that switch rather than add one.
//!
//! Under the bound a sleeping task is covered by the execution that runs its event back where
//! it was explored, and that execution may need more preemptions than the one running it
//! later: one when taking it there preempted and the sibling did not, one more when the task
//! could have gone on after its event (the cover must switch back to the sibling). Tasks whose
//! cover may cost more (`Sleeper::cost`) do not sleep under a bound; the others sleep as
//! without one, across every switch. Faults are actors of their own, named by their
//! description; at most `faults_max` fire per execution. A fault pending and awake at a node
//! is fired first there (and the other choices of the node are scheduled after it), so it
//! sleeps in those later siblings: the same fault is fired again later in an execution only
//! after something it depends on ran.
//!
//! # Data choices
//!
//! A random draw with few outcomes (`DrawView::alternatives`) is not reduced: the whole search
//! above runs once per assignment of outcomes to draws (see `strategy/data.rs`), since a
//! draw's outcomes are never equivalent to each other. Draws over larger domains are seeded
//! samples, the same in every execution.
//!
//! # Defaults
//!
//! Outside the replayed prefix the search keeps running the current task (no preemption),
//! and never picks a sleeping actor unless nothing else can run (such an execution is
//! redundant but harmless). A task waiting at `yield_now` never goes first when another task
//! could run, neither by default nor as an alternative: a yield is a request to let others
//! run, and without this a spin loop would give the search one more iteration to reverse
//! against the write it waits for in every execution, for ever.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use vigil_core::rt::TaskId;

use super::data::DataChoices;
use super::random::splitmix64;
use super::{Coverage, Divergence, DrawView, PickView, Start, Strategy};
use crate::dependency::{Access, Actor, Event, LockRole, ObjectKey, dependent};
use crate::schedule::Choice;

/// An actor asleep at a node, or explored there, with the accesses of its event there.
#[derive(Clone, Debug)]
struct Sleeper {
    actor: Actor,
    /// Shared with the node that ran the event: sleep sets are rebuilt at every step and
    /// copy their sleepers, which then costs a count rather than an allocation.
    accesses: Rc<[Access]>,
    /// In `Node::done`: the preemptions its exploration at the node spent on the way in and
    /// out (0 to 2), or [`GIVEN_AWAY`]. In `Node::sleep`: whether covering it may cost more
    /// preemptions than running it later does, so it cannot sleep under a preemption bound.
    cost: u32,
}

/// The cost of an explored actor that another part of a split search explores
/// ([`Dpor::split_off`]): it counts as explored at its node, so it is never scheduled there
/// again, and its accesses are not known, so under the preemption bound it never sleeps
/// (every cost above the one spent keeps a sleeper awake).
const GIVEN_AWAY: u32 = u32::MAX;

/// One event of the current execution and the choices at the state before it.
#[derive(Debug, Default)]
struct Node {
    /// Actors that could run here: runnable tasks in id order, then the pending faults.
    enabled: Vec<Actor>,
    /// The task that ran before, if it could go on here.
    current: Option<TaskId>,
    current_yields: bool,
    /// Runnable tasks waiting at `yield_now` here (see `PickView::yielding`).
    yielding: Vec<TaskId>,
    preemptions: u32,
    faults: u32,
    /// Asleep on entry, with the accesses of their event here.
    sleep: Vec<Sleeper>,
    /// Explored here in earlier executions, with the accesses of their event.
    done: Vec<Sleeper>,
    /// Still to explore here.
    backtrack: Vec<Actor>,
    /// Why each alternative of this node was scheduled (first reason wins), for statistics.
    origins: BTreeMap<Actor, Origin>,
    /// Actors that would have slept here but for the preemption bound, for statistics.
    kept_awake: Vec<Actor>,
    chosen: Actor,
    accesses: Vec<Access>,
    /// Index of the actor in the clock vectors, and its count of events including this one.
    actor_idx: usize,
    actor_seq: u32,
    clock: Vec<u32>,
}

/// Why an alternative was scheduled at a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    /// Reversing a race at the race's earlier event.
    Race,
    /// Bounded POR's conservative point: the last task switch before a race.
    LastSwitch,
    /// The task a fault was fired before (faults go first at a node).
    FaultFirst,
}

/// Where a search's executions came from, to see what a reduction would have to cut
/// (`Dpor::stats`; `VIGIL_DPOR_STATS=1` prints them when the search is dropped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DporStats {
    /// Executions that ended with only sleeping actors left (redundant).
    pub sleep_blocked: u64,
    /// Executions started by reversing a race where it happened.
    pub from_races: u64,
    /// Executions started at the last task switch before a race (bounded POR).
    pub from_last_switch: u64,
    /// Executions started by running a task where a fault went first.
    pub from_fault_first: u64,
    /// Executions whose first new event is a fault.
    pub fault_branches: u64,
    /// Actors kept out of a sleep set because their cover might cost more preemptions.
    pub kept_awake: u64,
    /// Executions started by an actor that was kept awake that way.
    pub from_kept_awake: u64,
}

/// The events of one execution that later events on an object may race with.
#[derive(Debug, Default)]
struct History {
    last_write: Option<usize>,
    reads: Vec<usize>,
    /// When the last write is a mutex release: the acquire it ended (same actor).
    acquire_released: Option<usize>,
}

impl Default for Actor {
    fn default() -> Self {
        Actor::Task(TaskId(0))
    }
}

/// Systematic search with partial-order reduction within preemption and fault bounds.
#[derive(Debug)]
pub struct Dpor {
    preemptions_max: u32,
    faults_max: u32,
    nodes: Vec<Node>,
    /// The next event's index in `nodes`.
    cursor: usize,
    /// Nodes below this index replay the previous execution.
    replay_len: usize,
    /// Actors seen in this search, for clock indices (ordered by first appearance).
    actors: Vec<Actor>,
    /// Per task id: the node of the event that spawned it, in this execution.
    spawned_by: Vec<Option<usize>>,
    /// The join of every clock so far (what a barrier event comes after).
    all_clock: Vec<u32>,
    /// Per object, its last write and the reads since, in this execution.
    objects: BTreeMap<ObjectKey, History>,
    /// Per actor index, its latest event in this execution.
    last_of_actor: Vec<Option<usize>>,
    /// The sleep set of the next new node.
    next_sleep: Vec<Sleeper>,
    /// `pick` was asked for the event about to be reported.
    picked: bool,
    divergence: Option<Divergence>,
    executions: u64,
    exhausted: bool,
    redundant: u64,
    blocked: bool,
    /// Outcomes of draws with few of them: the search runs once per assignment.
    data: DataChoices,
    rng: ChaCha8Rng,
    seed: u64,
    /// Set by a split search (`super::split`): the choice the next new node takes.
    forced: Option<Choice>,
    /// Nodes below this index are a split unit's fixed prefix, explored exhaustively by the
    /// split itself: never backtracked into, their alternatives never counted as open.
    floor: usize,
    stats: DporStats,
    /// The actors the next new node keeps awake only because of the bound (statistics).
    next_kept_awake: Vec<Actor>,
    print_stats: bool,
}

impl Dpor {
    pub fn new(preemptions_max: u32, faults_max: u32) -> Self {
        Dpor {
            preemptions_max,
            faults_max,
            nodes: Vec::new(),
            cursor: 0,
            replay_len: 0,
            actors: Vec::new(),
            spawned_by: Vec::new(),
            all_clock: Vec::new(),
            objects: BTreeMap::new(),
            last_of_actor: Vec::new(),
            next_sleep: Vec::new(),
            picked: false,
            divergence: None,
            executions: 0,
            exhausted: false,
            redundant: 0,
            blocked: false,
            data: DataChoices::default(),
            rng: ChaCha8Rng::seed_from_u64(0),
            seed: splitmix64((u64::from(preemptions_max) << 32) | u64::from(faults_max)),
            forced: None,
            floor: 0,
            stats: DporStats::default(),
            next_kept_awake: Vec::new(),
            print_stats: std::env::var_os("VIGIL_DPOR_STATS").is_some_and(|value| value != "0"),
        }
    }

    /// Executions that could only follow sleeping actors (redundant, counted for reports).
    pub fn redundant_executions(&self) -> u64 {
        self.redundant
    }

    /// Where this search's executions came from so far.
    pub fn stats(&self) -> DporStats {
        DporStats {
            sleep_blocked: self.redundant,
            ..self.stats
        }
    }

    fn actor_idx(&mut self, actor: &Actor) -> usize {
        match self.actors.iter().position(|known| known == actor) {
            Some(idx) => idx,
            None => {
                self.actors.push(actor.clone());
                self.actors.len() - 1
            }
        }
    }

    /// Moves to the deepest node with an alternative left; `false` when there is none.
    fn backtrack(&mut self) -> bool {
        // The task that could go on after the popped node's event, unless it yielded.
        let mut went_on: Option<TaskId> = None;
        while self.nodes.len() > self.floor {
            let node = self
                .nodes
                .last_mut()
                .expect("[internal bug] above the floor");
            let actor = std::mem::take(&mut node.chosen);
            let accesses = Rc::from(std::mem::take(&mut node.accesses));
            let cost = u32::from(Self::preempts(node, &actor))
                + u32::from(matches!(actor, Actor::Task(task) if went_on == Some(task)));
            node.done.push(Sleeper {
                actor,
                accesses,
                cost,
            });
            went_on = node.current.filter(|_| !node.current_yields);
            while let Some(next) = node.backtrack.pop() {
                let asleep = node.sleep.iter().any(|sleeper| sleeper.actor == next);
                let done = node.done.iter().any(|sleeper| sleeper.actor == next);
                if !asleep && !done {
                    Self::count_branch(&mut self.stats, node, &next);
                    node.chosen = next;
                    self.replay_len = self.nodes.len();
                    return true;
                }
            }
            self.nodes.pop();
        }
        false
    }

    /// Counts where the execution about to branch off at `node` with `next` came from.
    fn count_branch(stats: &mut DporStats, node: &Node, next: &Actor) {
        match node.origins.get(next) {
            Some(Origin::Race) => stats.from_races += 1,
            Some(Origin::LastSwitch) => stats.from_last_switch += 1,
            Some(Origin::FaultFirst) => stats.from_fault_first += 1,
            None => {}
        }
        stats.fault_branches += u64::from(matches!(next, Actor::Fault(_)));
        stats.from_kept_awake += u64::from(node.kept_awake.contains(next));
    }

    fn enabled(&self, view: &PickView<'_>, faults: u32) -> Vec<Actor> {
        let mut enabled: Vec<Actor> = view.runnable.iter().map(|t| Actor::Task(*t)).collect();
        if faults < self.faults_max {
            for name in view.fault_names {
                let actor = Actor::Fault(name.clone());
                if !enabled.contains(&actor) {
                    enabled.push(actor);
                }
            }
        }
        enabled
    }

    /// Whether `enabled` equals what [`Dpor::enabled`] would build from `view` (a replayed
    /// node's check, done without copying every fault's name).
    fn enabled_is(&self, enabled: &[Actor], view: &PickView<'_>, faults: u32) -> bool {
        let mut expected = enabled.iter();
        for task in view.runnable {
            if !matches!(expected.next(), Some(Actor::Task(known)) if known == task) {
                return false;
            }
        }
        if faults < self.faults_max {
            for (k, name) in view.fault_names.iter().enumerate() {
                // A name pending twice is one actor (a task never equals a fault).
                if view.fault_names[..k].contains(name) {
                    continue;
                }
                if !matches!(expected.next(), Some(Actor::Fault(known)) if known == name) {
                    return false;
                }
            }
        }
        expected.next().is_none()
    }

    /// Whether choosing `actor` at `node` preempts its current task.
    fn preempts(node: &Node, actor: &Actor) -> bool {
        match (actor, node.current) {
            (Actor::Task(task), Some(current)) => *task != current && !node.current_yields,
            _ => false,
        }
    }

    fn within_bounds(&self, node: &Node, actor: &Actor) -> bool {
        let preemptions = node.preemptions + u32::from(Self::preempts(node, actor));
        preemptions <= self.preemptions_max
            && node.enabled.contains(actor)
            && !Self::spins(node, actor)
    }

    /// Whether `actor` waits at `yield_now` while a task that does not yield could run: the
    /// search never lets it go first there, so spin loops end (as loom does).
    fn spins(node: &Node, actor: &Actor) -> bool {
        let Actor::Task(task) = actor else {
            return false;
        };
        node.yielding.contains(task)
            && node
                .enabled
                .iter()
                .any(|other| matches!(other, Actor::Task(other) if !node.yielding.contains(other)))
    }

    /// The default choice at a new node, and what else to explore there.
    fn choose_new(&self, node: &mut Node) -> Actor {
        let awake = |actor: &Actor| !node.sleep.iter().any(|asleep| asleep.actor == *actor);
        let faults: Vec<Actor> = node
            .enabled
            .iter()
            .filter(|actor| matches!(actor, Actor::Fault(_)) && awake(actor))
            .cloned()
            .collect();
        let current = node.current.map(Actor::Task);
        let tasks = node
            .enabled
            .iter()
            .filter(|actor| matches!(actor, Actor::Task(_)));
        let default_task = match current.clone().filter(|c| awake(c) && !node.current_yields) {
            Some(current) => Some(current),
            None => tasks
                .clone()
                .find(|actor| {
                    awake(actor) && Some(*actor) != current.as_ref() && !Self::spins(node, actor)
                })
                .or_else(|| current.as_ref().filter(|c| awake(c)))
                .cloned(),
        };
        if let Some(first) = faults.first() {
            // Faults go first, so they sleep in the siblings explored after them.
            let mut rest: Vec<Actor> = faults[1..].to_vec();
            rest.extend(default_task);
            rest.reverse();
            for actor in &rest {
                node.origins
                    .entry(actor.clone())
                    .or_insert(Origin::FaultFirst);
            }
            node.backtrack = rest;
            return first.clone();
        }
        // Everything else is asleep: run something anyway (the execution is redundant), but
        // never keep a task spinning on `yield_now` while another could run.
        let other = tasks
            .clone()
            .find(|actor| Some(*actor) != current.as_ref() && !Self::spins(node, actor))
            .cloned();
        let spins = node.current_yields && other.is_some();
        let fallback = match (&current, spins) {
            (Some(current), false) => current.clone(),
            _ => other
                .clone()
                .or(current.clone())
                .expect("[internal bug] nothing enabled"),
        };
        default_task
            .filter(|actor| self.within_bounds(node, actor))
            .filter(|actor| !(spins && Some(actor) == current.as_ref()))
            .unwrap_or(fallback)
    }

    /// Adds `actor` as an alternative at node `idx` (and, under the preemption bound, at the
    /// last switch before it), if the bounds allow it there.
    fn schedule(&mut self, idx: usize, actor: &Actor) {
        self.add_alternative(idx, actor, Origin::Race);
        if self.preemptions_max == u32::MAX {
            return;
        }
        if let Some(switch) = self.last_switch(idx)
            && switch != idx
        {
            self.add_alternative(switch, actor, Origin::LastSwitch);
        }
    }

    /// The last node at or before `idx` where the schedule ran a task other than the one
    /// that ran the previous task event. Fault events in between are no task switch: a
    /// fault fired while a task was blocked and the task that runs after it (often the
    /// fault's own, enabled only by it) is a switch after the fault, not at it.
    fn last_switch(&self, idx: usize) -> Option<usize> {
        let task_at = |k: usize| match &self.nodes[k].chosen {
            Actor::Task(task) => Some(*task),
            Actor::Fault(_) => None,
        };
        let mut later: Option<(usize, TaskId)> = None;
        for k in (0..=idx).rev() {
            let Some(task) = task_at(k) else { continue };
            if let Some((switch, after)) = later
                && after != task
            {
                return Some(switch);
            }
            later = Some((k, task));
        }
        None
    }

    fn add_alternative(&mut self, idx: usize, actor: &Actor, origin: Origin) {
        let node = &self.nodes[idx];
        let known = node.chosen == *actor
            || node.backtrack.contains(actor)
            || node.done.iter().any(|done| done.actor == *actor);
        if known || !self.within_bounds(node, actor) {
            return;
        }
        let node = &mut self.nodes[idx];
        node.origins.entry(actor.clone()).or_insert(origin);
        node.backtrack.insert(0, actor.clone());
    }

    /// Records the event at `self.cursor`: its clock, its races, the next sleep set.
    fn record(&mut self, event: &Event<'_>) {
        let idx = self.cursor;
        let actor_idx = self.actor_idx(event.actor);
        let width = self.actors.len();
        let (clock, seq, races) = if idx + 1 < self.replay_len {
            // A replayed event keeps the clock it had (the prefix before it is the same), and
            // its races were handled by the execution that first ran it, so of the clock it
            // would start from only its own entry is needed: its count of events.
            let seq = self.base_entry(event, actor_idx) + 1;
            let clock = std::mem::take(&mut self.nodes[idx].clock);
            (clock, seq, Vec::new())
        } else {
            self.clock_and_races(event, actor_idx, width)
        };
        join(&mut self.all_clock, &clock);
        for access in event.accesses {
            let acquire_released = match access.lock {
                LockRole::Release => self.acquire_before(idx, actor_idx, access.object),
                _ => None,
            };
            let history = self.objects.entry(access.object).or_default();
            if access.write {
                history.last_write = Some(idx);
                history.reads.clear();
                history.acquire_released = acquire_released;
            } else {
                history.reads.push(idx);
            }
        }
        if self.last_of_actor.len() <= actor_idx {
            self.last_of_actor.resize(actor_idx + 1, None);
        }
        self.last_of_actor[actor_idx] = Some(idx);
        for task in event.spawned {
            let slot = task.0 as usize;
            if self.spawned_by.len() <= slot {
                self.spawned_by.resize(slot + 1, None);
            }
            self.spawned_by[slot] = Some(idx);
        }
        let node = &mut self.nodes[idx];
        // A replayed node's buffer is reused: same accesses, no allocation.
        node.accesses.clear();
        node.accesses.extend_from_slice(event.accesses);
        node.actor_idx = actor_idx;
        node.actor_seq = seq;
        node.clock = clock;
        self.next_kept_awake.clear();
        self.next_sleep = if event.barrier {
            Vec::new()
        } else {
            self.sleep_after(idx)
        };
        // Races of a replayed event were handled by the execution that first ran it.
        if idx + 1 >= self.replay_len && !self.blocked {
            for earlier in races {
                self.race(earlier, idx);
            }
        }
    }

    /// The sleep set of the node after `idx`: the actors asleep or explored at `idx` whose
    /// events are independent of the event taken there. When that node exists already (it
    /// is replayed and keeps the set it was created with, and nothing reads this one before
    /// the next event's `record` replaces it), the set is only counted for the statistics,
    /// not copied.
    fn sleep_after(&mut self, idx: usize) -> Vec<Sleeper> {
        let bounded = self.preemptions_max != u32::MAX;
        let needed = idx + 1 >= self.nodes.len();
        let node = &self.nodes[idx];
        let spent = u32::from(Self::preempts(node, &node.chosen));
        let sleeping = node.sleep.iter().map(|sleeper| (sleeper, sleeper.cost));
        let explored = node
            .done
            .iter()
            .map(|done| (done, u32::from(done.cost > spent)));
        let mut sleep = Vec::new();
        for (sleeper, cost) in sleeping.chain(explored) {
            if sleeper.actor == node.chosen || dependent(&sleeper.accesses, &node.accesses) {
                continue;
            }
            // Under a preemption bound, the execution that covers a sleeping task (its event
            // moved back to where it was explored) may need more preemptions than running it
            // here: such a task cannot sleep (faults cost no preemption and always may).
            let bound_wakes = bounded && cost > 0;
            if bound_wakes {
                self.stats.kept_awake += 1;
                if needed {
                    self.next_kept_awake.push(sleeper.actor.clone());
                }
            } else if needed {
                sleep.push(Sleeper {
                    actor: sleeper.actor.clone(),
                    accesses: Rc::clone(&sleeper.accesses),
                    cost,
                });
            }
        }
        sleep
    }

    /// The count entry of the clock [`Dpor::base_clock`] would build for `event` (its
    /// actor's own entry), without building the clock.
    fn base_entry(&self, event: &Event<'_>, actor_idx: usize) -> u32 {
        let entry = |clock: &[u32]| clock.get(actor_idx).copied().unwrap_or(0);
        let barrier = if event.barrier {
            entry(&self.all_clock)
        } else {
            0
        };
        let inherited = match self.last_of_actor.get(actor_idx).copied().flatten() {
            Some(previous) => entry(&self.nodes[previous].clock),
            None => match event.actor {
                Actor::Task(task) => match self.spawned_by.get(task.0 as usize) {
                    Some(Some(spawner)) => entry(&self.nodes[*spawner].clock),
                    _ => 0,
                },
                Actor::Fault(_) => 0,
            },
        };
        barrier.max(inherited)
    }

    /// The clock of a new event at `self.cursor` (`base_clock` joined with every earlier
    /// dependent event's), its count of events, and the earlier events it races with.
    fn clock_and_races(
        &self,
        event: &Event<'_>,
        actor_idx: usize,
        width: usize,
    ) -> (Vec<u32>, u32, Vec<usize>) {
        let mut clock = self.base_clock(event, actor_idx, width);
        let mut races = Vec::new();
        // Only earlier events on the same objects can race with this one, and of those only
        // the object's last write and (for a write) the reads since: everything before that
        // write happened before it. Visit them latest first.
        // A candidate is an earlier event and, for a release raced by a lock attempt, the
        // acquire that release ended (the race is reversed there instead).
        let mut candidates: Vec<(usize, Option<usize>)> = Vec::new();
        for access in event.accesses {
            if let Some(history) = self.objects.get(&access.object) {
                let acquire = history
                    .acquire_released
                    .filter(|_| access.lock == LockRole::Acquire);
                candidates.extend(history.last_write.map(|write| (write, acquire)));
                if access.write {
                    candidates.extend(history.reads.iter().map(|&read| (read, None)));
                }
            }
        }
        candidates.sort_unstable_by(|a, b| b.cmp(a));
        candidates.dedup_by_key(|candidate| candidate.0);
        for (earlier, acquire) in candidates {
            let other = &self.nodes[earlier];
            if other.actor_idx == actor_idx || !dependent(&other.accesses, event.accesses) {
                continue;
            }
            let unordered =
                |node: &Node| clock.get(node.actor_idx).copied().unwrap_or(0) < node.actor_seq;
            if unordered(other) && !ends_wait(&other.accesses, event.accesses) {
                match acquire {
                    Some(acquire) if unordered(&self.nodes[acquire]) => races.push(acquire),
                    _ => races.push(earlier),
                }
            }
            join(&mut clock, &other.clock);
        }
        let seq = clock.get(actor_idx).copied().unwrap_or(0) + 1;
        clock.resize(width, 0);
        clock[actor_idx] = seq;
        (clock, seq, races)
    }

    /// The latest lock attempt on `object` by actor `actor_idx` before node `idx`: the
    /// acquire a release at `idx` ends. Critical sections are short; a longer one is not
    /// searched and its races are reversed at the release.
    fn acquire_before(&self, idx: usize, actor_idx: usize, object: ObjectKey) -> Option<usize> {
        const CRITICAL_SECTION_EVENTS_MAX: usize = 512;
        (idx.saturating_sub(CRITICAL_SECTION_EVENTS_MAX)..idx)
            .rev()
            .find(|&k| {
                let node = &self.nodes[k];
                node.actor_idx == actor_idx
                    && node
                        .accesses
                        .iter()
                        .any(|access| access.object == object && access.lock == LockRole::Acquire)
            })
    }

    /// The clock an event starts from: its actor's previous event, its spawner, a barrier.
    fn base_clock(&self, event: &Event<'_>, actor_idx: usize, width: usize) -> Vec<u32> {
        let mut clock = vec![0; width];
        if event.barrier {
            join(&mut clock, &self.all_clock);
        }
        let previous = self.last_of_actor.get(actor_idx).copied().flatten();
        match previous {
            Some(previous) => join(&mut clock, &self.nodes[previous].clock),
            None => {
                if let Actor::Task(task) = event.actor
                    && let Some(Some(spawner)) = self.spawned_by.get(task.0 as usize)
                {
                    join(&mut clock, &self.nodes[*spawner].clock);
                }
            }
        }
        clock
    }

    /// Schedules an alternative at node `earlier` that reverses its race with event `later`.
    fn race(&mut self, earlier: usize, later: usize) {
        let (first_idx, first_seq) = (self.nodes[earlier].actor_idx, self.nodes[earlier].actor_seq);
        let after_first =
            |node: &Node| node.clock.get(first_idx).copied().unwrap_or(0) >= first_seq;
        // The initials of the events after `earlier` that do not depend on it, then `later`.
        let mut lowest: Vec<u32> = vec![u32::MAX; self.actors.len()];
        let mut initials: BTreeSet<Actor> = BTreeSet::new();
        for k in earlier + 1..=later {
            let node = &self.nodes[k];
            if k != later && after_first(node) {
                continue;
            }
            let covered = node.clock.iter().enumerate().any(|(actor, &count)| {
                let seen = lowest[actor];
                seen != u32::MAX && count >= seen
            });
            if !covered {
                initials.insert(self.actors[node.actor_idx].clone());
            }
            let slot = &mut lowest[node.actor_idx];
            *slot = (*slot).min(node.actor_seq);
        }
        let node = &self.nodes[earlier];
        let present = |actor: &Actor| {
            node.chosen == *actor
                || node.backtrack.contains(actor)
                || node.done.iter().any(|done| done.actor == *actor)
        };
        if initials.iter().any(present) {
            return;
        }
        let later_actor = &self.actors[self.nodes[later].actor_idx];
        let pick = if initials.contains(later_actor) && node.enabled.contains(later_actor) {
            Some(later_actor.clone())
        } else {
            node.enabled.iter().find(|a| initials.contains(*a)).cloned()
        };
        // No initial can run before `earlier`: it enabled the later event (a wake-up, a
        // release of a hold), so the race cannot be reversed from here.
        if let Some(actor) = pick {
            self.schedule(earlier, &actor);
        }
    }

    fn open_branches(&self) -> u64 {
        self.nodes[self.floor.min(self.nodes.len())..]
            .iter()
            .map(|node| node.backtrack.len() as u64)
            .sum()
    }
}

/// Whether `later` releases a mutex that `earlier` tried to acquire: when the two are not
/// ordered otherwise, that attempt found the mutex held (it is the mutex's last write before
/// the release, and no task releases a mutex another holds), so it parked until this release
/// or a later one woke it. Reversing the pair only moves the attempt after the release, where
/// it takes the mutex at once: the same critical sections in the same order, without the
/// wait, and never for fewer preemptions (see "Mutexes" in `crate::dependency`).
fn ends_wait(earlier: &[Access], later: &[Access]) -> bool {
    later.iter().any(|release| {
        release.lock == LockRole::Release
            && earlier.iter().any(|attempt| {
                attempt.lock == LockRole::Acquire && attempt.object == release.object
            })
    })
}

/// The actor a split unit's prefix choice names at this pick.
fn forced_actor(choice: Choice, view: &PickView<'_>) -> Actor {
    match choice {
        Choice::Task(task) => Actor::Task(task),
        Choice::Fault(k) => Actor::Fault(view.fault_names[k as usize].clone()),
        Choice::Draw(_) => panic!("[internal bug] a draw forced at a pick"),
    }
}

fn join(into: &mut Vec<u32>, other: &[u32]) {
    if into.len() < other.len() {
        into.resize(other.len(), 0);
    }
    for (mine, theirs) in into.iter_mut().zip(other) {
        *mine = (*mine).max(*theirs);
    }
}

impl Strategy for Dpor {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        if execution_idx == 0 {
            self.data = DataChoices::default();
        }
        // The interleavings of one assignment of data choices are exhausted: search them
        // afresh under the next assignment.
        let next_data = execution_idx > 0 && !self.backtrack();
        if next_data && !self.data.advance() {
            self.exhausted = true;
            return None;
        }
        if execution_idx == 0 || next_data {
            self.nodes.clear();
            self.replay_len = 0;
        }
        self.data.start_execution();
        self.executions = execution_idx + 1;
        self.cursor = 0;
        self.spawned_by.clear();
        self.all_clock.clear();
        // Histories are emptied rather than removed, keeping the map's nodes and the read
        // lists' buffers for the next execution: an empty history reads as an absent one.
        for history in self.objects.values_mut() {
            history.last_write = None;
            history.reads.clear();
            history.acquire_released = None;
        }
        self.last_of_actor.clear();
        self.next_sleep.clear();
        self.next_kept_awake.clear();
        self.picked = false;
        self.blocked = false;
        self.divergence = None;
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        Some(Start { seed: self.seed })
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        if let Some(divergence) = self.divergence.take() {
            return Err(divergence);
        }
        let idx = self.cursor;
        let (preemptions, faults) = self.counts(idx);
        let actor = if idx < self.nodes.len() {
            let node = &self.nodes[idx];
            if !self.enabled_is(&node.enabled, view, faults) {
                let enabled = self.enabled(view, faults);
                return Err(Divergence {
                    step: view.step,
                    expected: format!("the choices {:?}", node.enabled),
                    found: format!("the choices {enabled:?}"),
                });
            }
            node.chosen.clone()
        } else {
            let current = view.current.filter(|task| view.runnable.contains(task));
            let mut node = Node {
                enabled: self.enabled(view, faults),
                current,
                current_yields: view.current_yields,
                yielding: view.yielding.to_vec(),
                preemptions,
                faults,
                sleep: std::mem::take(&mut self.next_sleep),
                kept_awake: std::mem::take(&mut self.next_kept_awake),
                ..Node::default()
            };
            let mut chosen = self.choose_new(&mut node);
            if let Some(forced) = self.forced.take() {
                chosen = forced_actor(forced, view);
            }
            if node.sleep.iter().any(|asleep| asleep.actor == chosen) {
                if !self.blocked {
                    self.redundant += 1;
                }
                self.blocked = true;
            }
            if self.blocked {
                node.backtrack.clear();
            }
            node.chosen = chosen.clone();
            self.nodes.push(node);
            chosen
        };
        self.picked = true;
        Ok(match actor {
            Actor::Task(task) => Choice::Task(task),
            Actor::Fault(name) => {
                let k = view.fault_names.iter().position(|known| *known == name);
                Choice::Fault(k.expect("[internal bug] a chosen fault is not pending") as u32)
            }
        })
    }

    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence> {
        Ok(self.data.draw(view).unwrap_or_else(|| self.rng.next_u64()))
    }

    fn end(&mut self, _steps: u64) -> Result<(), Divergence> {
        match self.divergence.take() {
            Some(divergence) => Err(divergence),
            None => Ok(()),
        }
    }

    fn tracks_dependencies(&self) -> bool {
        true
    }

    fn stepped(&mut self, event: &Event<'_>) {
        let idx = self.cursor;
        if !std::mem::take(&mut self.picked) {
            if idx < self.nodes.len() {
                if self.nodes[idx].chosen != *event.actor && self.divergence.is_none() {
                    self.divergence = Some(Divergence {
                        step: idx as u64,
                        expected: format!("{:?} to run", self.nodes[idx].chosen),
                        found: format!("{:?} ran", event.actor),
                    });
                }
            } else {
                let (preemptions, faults) = self.counts(idx);
                let Actor::Task(task) = event.actor else {
                    panic!("[internal bug] a fault fired without a pick");
                };
                self.nodes.push(Node {
                    enabled: vec![event.actor.clone()],
                    current: Some(*task),
                    preemptions,
                    faults,
                    sleep: std::mem::take(&mut self.next_sleep),
                    kept_awake: std::mem::take(&mut self.next_kept_awake),
                    chosen: event.actor.clone(),
                    ..Node::default()
                });
            }
        }
        self.record(event);
        self.cursor += 1;
    }

    fn coverage(&self) -> Option<Coverage> {
        Some(Coverage {
            preemptions_max: self.preemptions_max,
            faults_max: self.faults_max,
            exhaustive: self.exhausted,
            open_branches: if self.exhausted {
                0
            } else {
                self.open_branches() + self.data.open()
            },
            explored_branches: self.executions.saturating_sub(1),
        })
    }
}

impl Dpor {
    /// Preemptions and faults taken by the events before node `idx`.
    fn counts(&self, idx: usize) -> (u32, u32) {
        match idx.checked_sub(1).map(|k| &self.nodes[k]) {
            None => (0, 0),
            Some(node) => (
                node.preemptions + u32::from(Self::preempts(node, &node.chosen)),
                node.faults + u32::from(matches!(node.chosen, Actor::Fault(_))),
            ),
        }
    }
}

/// A split search (`super::split`) fixes the nodes above its split depth: each is explored
/// exhaustively by the split, so this search neither backtracks into them nor keeps sleep
/// sets there (nothing is explored at a node before its unit starts, so none are asleep).
impl super::split::Subtree for Dpor {
    fn alternatives(&self, view: &PickView<'_>) -> Vec<Choice> {
        let (preemptions, faults) = self.counts(self.cursor);
        let node = Node {
            enabled: self.enabled(view, faults),
            current: view.current.filter(|task| view.runnable.contains(task)),
            current_yields: view.current_yields,
            yielding: view.yielding.to_vec(),
            preemptions,
            faults,
            ..Node::default()
        };
        let allowed = node
            .enabled
            .iter()
            .filter(|actor| self.within_bounds(&node, actor));
        allowed
            .map(|actor| match actor {
                Actor::Task(task) => Choice::Task(*task),
                Actor::Fault(name) => {
                    let k = view.fault_names.iter().position(|known| known == name);
                    Choice::Fault(k.expect("[internal bug] an enabled fault is not pending") as u32)
                }
            })
            .collect()
    }

    fn force_next(&mut self, choice: Choice) {
        self.forced = Some(choice);
    }

    fn freeze(&mut self) {
        self.floor = self.nodes.len();
        for node in &mut self.nodes {
            node.backtrack.clear();
        }
    }
}

impl Drop for Dpor {
    fn drop(&mut self) {
        if self.print_stats {
            eprintln!(
                "dpor: {} executions ({}): {:?}",
                self.executions,
                if self.exhausted {
                    "exhaustive"
                } else {
                    "not exhaustive"
                },
                self.stats()
            );
        }
    }
}

mod saved;

#[cfg(test)]
mod tests;
