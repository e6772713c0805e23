//! The scenario's fault plan as a fault source for the executor.
//!
//! Scheduler-chosen faults are enumerated afresh before every step from what exists right
//! now (a live participant, a live monitor actor, a running listener...), in a fixed order:
//! fault kind, then worker in scenario order, then exit reason. Site faults fire when their
//! task reaches their site, with that task held until the fault's own task has finished, so
//! the fault lands exactly in the window. Every fault's code is `core`'s own terminate path
//! running as a task, so its locks interleave with the pool's.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use vigil_core::pool::RegistrationId;
use vigil_core::process::{ExitReason, Node, NodeView, Pid};
use vigil_core::rt::{Site, TaskId};

use super::world::{self, Status, World};
use crate::fault::{FaultAction, FaultView, Faults};
use crate::scenario::{FaultKind, FaultPlan, SiteFault};

/// How often each part of the plan fired over a whole run, to report faults that never did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FaultTally {
    /// Scheduler-chosen faults fired, over all executions.
    pub(crate) chosen: u64,
    /// Per site fault (plan order): executions in which it fired.
    pub(crate) at: Vec<u64>,
    /// Per delay (plan order): executions in which it applied.
    pub(crate) delays: Vec<u64>,
}

impl FaultTally {
    /// Adds another part's counts (of other executions of the same plan) to these.
    pub(crate) fn absorb(&mut self, other: &FaultTally) {
        self.chosen += other.chosen;
        let add = |mine: &mut Vec<u64>, theirs: &[u64]| {
            if mine.len() < theirs.len() {
                mine.resize(theirs.len(), 0);
            }
            for (mine, theirs) in mine.iter_mut().zip(theirs) {
                *mine += theirs;
            }
        };
        add(&mut self.at, &other.at);
        add(&mut self.delays, &other.delays);
    }
}

/// One fault that could fire now.
#[derive(Clone, Debug)]
struct Candidate {
    kind: FaultKind,
    /// The registration's index in the world.
    worker: usize,
    reason: ExitReason,
    target: Target,
}

#[derive(Clone, Debug)]
enum Target {
    Process(Pid),
    Listener(TaskId),
}

pub(crate) struct PlanFaults {
    plan: FaultPlan,
    tally: Rc<RefCell<FaultTally>>,
    fired: u32,
    candidates: Vec<Candidate>,
    /// Arrivals of each site fault's task at its site, this execution.
    arrivals: Vec<u32>,
    delay_arrivals: Vec<bool>,
}

impl PlanFaults {
    pub(crate) fn new(plan: FaultPlan, tally: Rc<RefCell<FaultTally>>) -> Self {
        {
            let mut tally = tally.borrow_mut();
            tally.at = vec![0; plan.at.len()];
            tally.delays = vec![0; plan.delays.len()];
        }
        PlanFaults {
            arrivals: vec![0; plan.at.len()],
            delay_arrivals: vec![false; plan.delays.len()],
            plan,
            tally,
            fired: 0,
            candidates: Vec::new(),
        }
    }

    fn enumerate(&mut self, world: &World, view: &FaultView<'_>) {
        self.candidates.clear();
        let Some(node) = world.node() else {
            return;
        };
        // The plan's targets, or every registration of this execution's workload.
        let targets: Vec<usize> = if self.plan.targets.is_empty() {
            (0..world.registrations.len()).collect()
        } else {
            self.plan
                .targets
                .iter()
                .filter_map(|name| world.index_of(name))
                .collect()
        };
        let channels = self.plan.kinds.iter().any(|kind| {
            matches!(kind, FaultKind::Subscriber | FaultKind::Channel) && world.fault_kind_on(*kind)
        });
        let lookup = Lookup::new(world, view, channels);
        let (plan, candidates) = (&self.plan, &mut self.candidates);
        node.peek_view(|nodes| {
            for &kind in &plan.kinds {
                if !world.fault_kind_on(kind) {
                    continue;
                }
                let reasons: &[ExitReason] = if kind == FaultKind::Participant {
                    &plan.reasons
                } else {
                    &[ExitReason::Error]
                };
                for &worker in &targets {
                    let Some(target) = resolve(kind, worker, world, nodes, &lookup) else {
                        continue;
                    };
                    for reason in reasons {
                        candidates.push(Candidate {
                            kind,
                            worker,
                            reason: *reason,
                            target: target.clone(),
                        });
                    }
                    if kind == FaultKind::Listener {
                        // Every worker's listener is the same task: one candidate, named
                        // after the first worker it watches.
                        break;
                    }
                }
            }
        });
    }

    fn action(
        candidate: &Candidate,
        world: &mut World,
        hold: Option<TaskId>,
    ) -> Option<FaultAction> {
        let state = world.registrations.get_mut(candidate.worker)?;
        // A panicked listener carries on watching every worker (it catches the panic and
        // finishes what it was doing), so no registration is excused from any check by it.
        state.faulted |= candidate.kind != FaultKind::Listener;
        if candidate.kind == FaultKind::Monitor
            && let Some(participant) = state.participant
        {
            // A crashed monitor takes its linked, non-trapping process down with it, and so
            // every worker registered on that process.
            world.fault_participant(participant);
        }
        match candidate.target {
            Target::Listener(task) => Some(FaultAction::Panic { task }),
            Target::Process(pid) => {
                if candidate.kind == FaultKind::Participant {
                    world.fault_participant(pid);
                }
                let node = world.node()?.clone();
                let reason = candidate.reason;
                let name = format!(
                    "fault:{}:{}:{}",
                    candidate.kind.name(),
                    world.registrations[candidate.worker].name,
                    reason.as_str()
                );
                Some(FaultAction::Spawn {
                    name,
                    body: Box::new(move || terminate(&node, pid, reason)),
                    hold,
                })
            }
        }
    }
}

fn terminate(node: &Node, pid: Pid, reason: ExitReason) {
    node.terminate(pid, reason);
}

/// What resolving faults needs beyond the node: the context's running listener task, and
/// each registration's subscriber and channel actor. Built once per step, not once per
/// candidate.
struct Lookup {
    listener: Option<TaskId>,
    /// `(subscriber, channel actor)` of each registration with an entry.
    channel_pids: BTreeMap<RegistrationId, (Option<Pid>, Option<Pid>)>,
}

impl Lookup {
    /// `channels`: whether subscriber or channel faults are on (only they need the pool's
    /// channels, whose peek copies every entry).
    fn new(world: &World, view: &FaultView<'_>, channels: bool) -> Lookup {
        let listener = world.context.peek_listener().map(|listener| listener.task);
        let listener = listener.filter(|task| {
            view.tasks
                .iter()
                .any(|(running, _, finished)| running == task && !finished)
        });
        let channel_pids = if channels {
            world
                .context
                .peek_channels(|channels| {
                    channels
                        .iter()
                        .flat_map(|channel| {
                            channel.entries.iter().flatten().map(|entry| {
                                (entry.registration, (entry.subscriber, channel.actor))
                            })
                        })
                        .collect()
                })
                .unwrap_or_default()
        } else {
            BTreeMap::new()
        };
        Lookup {
            listener,
            channel_pids,
        }
    }
}

/// The process or task a fault of `kind` on registration `worker` would hit now, if it
/// exists and is alive.
fn resolve(
    kind: FaultKind,
    worker: usize,
    world: &World,
    nodes: &NodeView<'_>,
    lookup: &Lookup,
) -> Option<Target> {
    let state = world.registrations.get(worker)?;
    match kind {
        FaultKind::Participant => state
            .participant
            .filter(|pid| nodes.alive(*pid))
            .map(Target::Process),
        FaultKind::Monitor => nodes
            .links(state.participant?)
            .find(|pid| nodes.name(*pid) == Some("conversation-actor"))
            .map(Target::Process),
        // One listener serves every worker of the context; a fault on it is offered while
        // the worker is registered, so it lands while the listener watches somebody.
        FaultKind::Listener => lookup
            .listener
            .filter(|_| state.id.is_some() && state.status == Status::Registered)
            .map(Target::Listener),
        FaultKind::Subscriber | FaultKind::Channel => {
            let (subscriber, actor) = lookup.channel_pids.get(&state.id?)?;
            let pid = if kind == FaultKind::Subscriber {
                *subscriber
            } else {
                *actor
            };
            pid.filter(|pid| nodes.alive(*pid)).map(Target::Process)
        }
    }
}

impl PlanFaults {
    /// The action of site fault `index`, if its target exists right now.
    fn fire_site_fault(
        &self,
        index: usize,
        task: TaskId,
        view: &FaultView<'_>,
    ) -> Option<FaultAction> {
        let fault: &SiteFault = &self.plan.at[index];
        world::with(|world| {
            let node = world.node()?.clone();
            let worker = world.index_of(&fault.worker)?;
            let channels = matches!(fault.kind, FaultKind::Subscriber | FaultKind::Channel);
            let lookup = Lookup::new(world, view, channels);
            let target = node
                .peek_view(|nodes| resolve(fault.kind, worker, world, nodes, &lookup))
                .flatten()?;
            let candidate = Candidate {
                kind: fault.kind,
                worker,
                reason: fault.reason,
                target,
            };
            PlanFaults::action(&candidate, world, Some(task))
        })
        .flatten()
    }
}

impl Faults for PlanFaults {
    fn enabled(&self) -> bool {
        self.plan.budget > 0 || !self.plan.at.is_empty() || !self.plan.delays.is_empty()
    }

    fn start_execution(&mut self) {
        world::forget_leftover();
        self.fired = 0;
        self.arrivals.iter_mut().for_each(|count| *count = 0);
        self.delay_arrivals
            .iter_mut()
            .for_each(|seen| *seen = false);
    }

    fn window_open(&self) -> bool {
        world::with(|world| !world.faults_stopped).unwrap_or(false)
    }

    fn pending(&mut self, view: &FaultView<'_>) -> u32 {
        if self.fired >= self.plan.budget {
            return 0;
        }
        let stopped = world::with(|world| {
            if world.faults_stopped {
                return true;
            }
            self.enumerate(world, view);
            false
        });
        if stopped != Some(false) {
            return 0;
        }
        u32::try_from(self.candidates.len()).unwrap_or(u32::MAX)
    }

    fn fire(&mut self, k: u32, _view: &FaultView<'_>) -> Option<FaultAction> {
        let candidate = self.candidates.get(k as usize)?.clone();
        self.fired += 1;
        self.tally.borrow_mut().chosen += 1;
        world::with(|world| PlanFaults::action(&candidate, world, None)).flatten()
    }

    fn describe(&self, k: u32) -> String {
        let name = |index: usize| {
            world::with(|world| {
                world
                    .registrations
                    .get(index)
                    .map(|state| state.name.clone())
            })
            .flatten()
            .unwrap_or_else(|| format!("#{index}"))
        };
        match self.candidates.get(k as usize) {
            Some(candidate) => format!(
                "{} fault on worker '{}' ({})",
                candidate.kind.name(),
                name(candidate.worker),
                candidate.reason
            ),
            None => format!("fault {k}"),
        }
    }

    /// Counts the arrival for every site fault and delay on `(task, site)`; the first site
    /// fault whose occurrence this is fires (holding the task), otherwise the first delay not
    /// yet applied holds the task. Arrivals count every operation at a site name (a lock and
    /// its unlock are two arrivals at `pool.channels`).
    fn reached(
        &mut self,
        task: TaskId,
        task_name: &str,
        site: Site,
        view: &FaultView<'_>,
    ) -> Option<FaultAction> {
        let mut due = None;
        for (index, fault) in self.plan.at.iter().enumerate() {
            if fault.task == task_name && fault.site == site.name {
                self.arrivals[index] += 1;
                if self.arrivals[index] == fault.occurrence && due.is_none() {
                    due = Some(index);
                }
            }
        }
        if let Some(index) = due
            && let Some(action) = self.fire_site_fault(index, task, view)
        {
            self.tally.borrow_mut().at[index] += 1;
            return Some(action);
        }
        let index = self
            .plan
            .delays
            .iter()
            .enumerate()
            .position(|(index, delay)| {
                delay.task == task_name && delay.site == site.name && !self.delay_arrivals[index]
            })?;
        self.delay_arrivals[index] = true;
        self.tally.borrow_mut().delays[index] += 1;
        Some(FaultAction::Delay {
            task,
            steps: self.plan.delays[index].steps,
        })
    }
}
