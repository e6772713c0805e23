//! Workloads: the fixed steps of a scenario, plus, when it has a `[generate]` table, steps
//! drawn afresh for every execution.
//!
//! A generated workload comes from one number the execution draws from its scheduler, so
//! the draw is a choice in the recorded schedule and a replay rebuilds exactly the same
//! workload. With `swarm` on (the default), each execution also draws which step kinds and
//! which fault kinds are switched on, as swarm testing does (Groce et al., ISSTA 2012): a
//! workload without unregisters, say, reaches states that one full of them keeps away from.

use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use vigil_core::process::ExitReason;

use crate::scenario::{
    DispatchPolicy, FaultKind, GenerateSpec, OpKind, RoutingScript, Scenario, Step, TaskSpec,
    WorkerSpec,
};

/// The steps one execution runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    pub tasks: Vec<TaskSpec>,
    /// Every registration the steps make, in the order they were written.
    pub workers: Vec<WorkerSpec>,
    /// The fault kinds switched on for this execution.
    pub fault_kinds: Vec<FaultKind>,
    /// The step kinds switched on (every kind of the mix when nothing was generated).
    pub op_kinds: Vec<OpKind>,
    /// Whether any step was generated.
    pub generated: bool,
}

impl Workload {
    /// The scenario's fixed steps only.
    pub fn fixed(scenario: &Scenario) -> Workload {
        Workload {
            tasks: scenario.tasks.clone(),
            workers: scenario.workers.clone(),
            fault_kinds: scenario.faults.kinds.clone(),
            op_kinds: OpKind::ALL.to_vec(),
            generated: false,
        }
    }

    /// The fixed steps plus a workload drawn from `seed` as `scenario.generate` describes.
    pub fn generate(scenario: &Scenario, spec: &GenerateSpec, seed: u64) -> Workload {
        let mut workload = Workload::fixed(scenario);
        Generator::new(scenario, spec, seed, &mut workload).run();
        // In file order (task by task), as a fixed-step file of these steps lists them, so
        // fault choices enumerate registrations alike and a saved failure replays.
        workload.workers = workers_of(&workload.tasks);
        workload.generated = true;
        workload
    }

    /// The steps as `[[tasks]]` tables, as a person reads them and a scenario file holds them.
    pub fn to_toml(&self) -> String {
        crate::scenario::render::tasks(&self.tasks)
    }

    /// Whether any step dispatches.
    pub fn dispatches(&self) -> bool {
        self.tasks
            .iter()
            .flat_map(|task| &task.steps)
            .any(|step| matches!(step, Step::Dispatch { .. }))
    }

    /// Every queue the registrations use, once each, in first-use order.
    pub fn queues(&self) -> Vec<String> {
        let mut queues: Vec<String> = Vec::new();
        for worker in &self.workers {
            if !queues.contains(&worker.queue) {
                queues.push(worker.queue.clone());
            }
        }
        queues
    }
}

/// A registration the generator has written, as later steps may refer to it.
struct Written {
    name: String,
    /// The worker id of a supplied registration (the pool picks one for `register`).
    id: Option<String>,
    /// Whether it has a process of its own that others may share.
    owns_participant: bool,
    /// The workload task that registers it.
    owner: usize,
    queue: String,
    /// Whether it answers dispatches (a pool-owned registration in a dispatch workload;
    /// supplied processes never answer).
    serves: bool,
}

struct Generator<'a> {
    spec: &'a GenerateSpec,
    rng: ChaCha8Rng,
    workload: &'a mut Workload,
    queues: Vec<String>,
    owners: Vec<usize>,
    written: Vec<Written>,
    next_id: u32,
}

impl<'a> Generator<'a> {
    fn new(
        scenario: &Scenario,
        spec: &'a GenerateSpec,
        seed: u64,
        workload: &'a mut Workload,
    ) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let channels = between(&mut rng, spec.channels);
        let queues = if channels == 1 {
            vec!["q".to_owned()]
        } else {
            (1..=channels).map(|n| format!("q{n}")).collect()
        };
        let owners = between(&mut rng, spec.owners);
        let first = workload.tasks.len();
        for n in 1..=owners {
            workload.tasks.push(TaskSpec {
                name: format!("gen-owner-{n}"),
                steps: Vec::new(),
            });
        }
        let mut on: Vec<OpKind> = spec
            .mix
            .iter()
            .filter(|(_, weight)| *weight > 0)
            .map(|(kind, _)| *kind)
            .collect();
        let mut fault_kinds = scenario.faults.kinds.clone();
        if spec.swarm {
            on = swarm(&mut rng, &on, |kind| kind.registers());
            if scenario.faults.budget > 0 {
                fault_kinds = swarm(&mut rng, &fault_kinds, |_| true);
            }
            // Only pool-owned registrations answer dispatches: with them switched off every
            // dispatch would find an empty pool, and a quarter of the executions would test
            // nothing but that.
            let registers = spec
                .mix
                .iter()
                .any(|(kind, weight)| *kind == OpKind::Register && *weight > 0);
            if on.contains(&OpKind::Dispatch) && registers && !on.contains(&OpKind::Register) {
                on.push(OpKind::Register);
            }
        }
        workload.op_kinds = on;
        workload.fault_kinds = fault_kinds;
        Generator {
            spec,
            rng,
            workload,
            queues,
            owners: (first..first + owners as usize).collect(),
            written: Vec::new(),
            next_id: 0,
        }
    }

    fn run(mut self) {
        let mut registrations = between(&mut self.rng, self.spec.workers);
        let mut others = between(&mut self.rng, self.spec.steps);
        let registering: Vec<(OpKind, u32)> = self.weights(true);
        let acting: Vec<(OpKind, u32)> = self.weights(false);
        if acting.is_empty() {
            others = 0;
        }
        if registering.is_empty() {
            registrations = 0;
        }
        while registrations + others > 0 {
            let roll = self.rng.next_u64() % u64::from(registrations + others);
            let owner_index = self.index(self.owners.len());
            let owner = self.owners[owner_index];
            let step = if roll < u64::from(registrations) || self.written.is_empty() {
                if registrations == 0 {
                    // Nothing is registered yet and no registration may be written: every
                    // other step would name nothing.
                    break;
                }
                registrations -= 1;
                let kind = self.pick(&registering);
                self.register(kind, owner)
            } else {
                others -= 1;
                let kind = self.pick(&acting);
                if kind == OpKind::Dispatch && registrations > 0 && self.serve_first(owner) {
                    // A worker registered earlier in the same task is live when the dispatch
                    // starts unless a crash, an unregister or a fault ends it first: the
                    // races the dispatch oracle is for.
                    registrations -= 1;
                    let step = self.register(OpKind::Register, owner);
                    self.workload.tasks[owner].steps.push(step);
                }
                self.act(kind, owner)
            };
            self.workload.tasks[owner].steps.push(step);
        }
    }

    /// The switched-on kinds that register (or the others), with their weights.
    fn weights(&self, registering: bool) -> Vec<(OpKind, u32)> {
        self.spec
            .mix
            .iter()
            .filter(|(kind, weight)| {
                *weight > 0
                    && kind.registers() == registering
                    && self.workload.op_kinds.contains(kind)
            })
            .copied()
            .collect()
    }

    fn index(&mut self, len: usize) -> usize {
        (self.rng.next_u64() % len as u64) as usize
    }

    fn pick(&mut self, weights: &[(OpKind, u32)]) -> OpKind {
        let total: u64 = weights.iter().map(|(_, weight)| u64::from(*weight)).sum();
        let mut roll = self.rng.next_u64() % total;
        for (kind, weight) in weights {
            if roll < u64::from(*weight) {
                return *kind;
            }
            roll -= u64::from(*weight);
        }
        unreachable!("[internal bug] a weighted pick fell off the end")
    }

    fn queue(&mut self) -> String {
        let index = self.index(self.queues.len());
        self.queues[index].clone()
    }

    fn fresh_id(&mut self) -> String {
        self.next_id += 1;
        format!("w{}", self.next_id)
    }

    /// Whether to write a dispatch worker in `owner` before its dispatch: in half the cases
    /// where the task has none yet (the other half dispatches to whatever other tasks have
    /// registered by then, or to nothing).
    fn serve_first(&mut self, owner: usize) -> bool {
        let served = (self.written.iter()).any(|written| written.serves && written.owner == owner);
        self.workload.op_kinds.contains(&OpKind::Register) && !served && self.index(2) == 0
    }

    /// Writes one registration step of `kind` for task `owner`; a kind whose precondition is
    /// missing (nothing to share or restart yet) becomes a supplied registration with a fresh
    /// id.
    fn register(&mut self, kind: OpKind, owner: usize) -> Step {
        let shared = self.choose_written(|written| written.owns_participant);
        let restarted = self.choose_written(|written| written.id.is_some());
        let queue = self.queue();
        let capacity = 1 + self.index(3);
        let (name, id, supplied, shares, owns) = match (kind, shared, restarted) {
            (OpKind::Register, _, _) => {
                let name = format!("g{}", self.written.len() + 1);
                (name.clone(), name, false, None, false)
            }
            (OpKind::RegisterShared, Some(owner), _) => {
                let id = self.fresh_id();
                let owner = self.written[owner].name.clone();
                (id.clone(), id, true, Some(owner), false)
            }
            (OpKind::Restart, _, Some(earlier)) => {
                let id = self.written[earlier]
                    .id
                    .clone()
                    .expect("[internal bug] a restart needs an id");
                let uses = self
                    .written
                    .iter()
                    .filter(|written| written.id.as_deref() == Some(id.as_str()))
                    .count();
                (format!("{id}~{}", uses + 1), id, true, None, true)
            }
            _ => {
                let id = self.fresh_id();
                (id.clone(), id, true, None, true)
            }
        };
        let dispatching = self.workload.op_kinds.contains(&OpKind::Dispatch);
        self.written.push(Written {
            name: name.clone(),
            id: supplied.then(|| id.clone()),
            owns_participant: owns,
            owner,
            queue: queue.clone(),
            serves: dispatching && !supplied,
        });
        // Dispatch workloads declare the activity type they send, so affinity routing has
        // something to match; without dispatch the steps stay as they always were.
        let tags = if dispatching {
            vec!["activity".to_owned()]
        } else {
            Vec::new()
        };
        Step::Register {
            worker: name,
            id,
            queue,
            capacity,
            tags,
            supplied,
            shares,
        }
    }

    fn choose_written(&mut self, fits: impl Fn(&Written) -> bool) -> Option<usize> {
        let fitting: Vec<usize> = (0..self.written.len())
            .filter(|index| fits(&self.written[*index]))
            .collect();
        if fitting.is_empty() {
            return None;
        }
        Some(fitting[self.index(fitting.len())])
    }

    fn act(&mut self, kind: OpKind, owner: usize) -> Step {
        let target = self.target(kind, owner);
        let worker = self.written[target].name.clone();
        match kind {
            OpKind::Unregister => Step::Unregister { worker },
            OpKind::Drop => Step::Drop { worker },
            OpKind::SetInFlight => Step::SetInFlight {
                worker,
                value: self.index(3) as u32,
            },
            OpKind::Publish => Step::Publish {
                queue: self.queue(),
                activity_type: "activity".to_owned(),
            },
            OpKind::Crash => {
                let reasons = [ExitReason::Error, ExitReason::Kill, ExitReason::Normal];
                Step::Crash {
                    worker,
                    reason: reasons[self.index(reasons.len())],
                }
            }
            OpKind::Dispatch => self.dispatch(owner),
            _ => Step::Snapshot {
                queue: self.queue(),
            },
        }
    }

    /// The registration a step of `kind` in task `owner` names. In a dispatch workload,
    /// crashes, unregisters and drops name a dispatch worker three times in four, one that
    /// another task registered when there is one: that task's dispatches run concurrently
    /// with this step, so the step can reach the worker mid-activity (in its own task it
    /// would only ever come before or after them). Otherwise any registration written so far.
    fn target(&mut self, kind: OpKind, owner: usize) -> usize {
        let ends = matches!(kind, OpKind::Crash | OpKind::Unregister | OpKind::Drop);
        let aimed = ends && self.written.iter().any(|written| written.serves) && self.index(4) != 0;
        if !aimed {
            return self.index(self.written.len());
        }
        let elsewhere = self.choose_written(|written| written.serves && written.owner != owner);
        elsewhere
            .or_else(|| self.choose_written(|written| written.serves))
            .unwrap_or_else(|| self.index(self.written.len()))
    }

    /// The queue a dispatch of task `owner` goes to: seven times in eight, one that a
    /// dispatch worker written so far serves (this task's own first); otherwise, or when
    /// none serves any, any queue, so dispatches to an empty queue stay in the mix.
    fn dispatch_queue(&mut self, owner: usize) -> String {
        let served = |here: bool| -> Vec<String> {
            let mut queues: Vec<String> = Vec::new();
            for written in &self.written {
                let fits = written.serves && (!here || written.owner == owner);
                if fits && !queues.contains(&written.queue) {
                    queues.push(written.queue.clone());
                }
            }
            queues
        };
        let mut queues = served(true);
        if queues.is_empty() {
            queues = served(false);
        }
        if queues.is_empty() || self.index(8) == 0 {
            return self.queue();
        }
        let index = self.index(queues.len());
        queues.swap_remove(index)
    }

    /// A dispatch: one in five asks the worker to fail, one in four routes through a
    /// misbehaving function instead of a policy.
    fn dispatch(&mut self, owner: usize) -> Step {
        let queue = self.dispatch_queue(owner);
        let activity_type = if self.index(5) == 0 {
            "fail"
        } else {
            "activity"
        };
        let policy = DispatchPolicy::ALL[self.index(DispatchPolicy::ALL.len())];
        let routing =
            (self.index(4) == 0).then(|| RoutingScript::ALL[self.index(RoutingScript::ALL.len())]);
        Step::Dispatch {
            queue,
            activity_type: activity_type.to_owned(),
            policy,
            routing,
        }
    }
}

/// Every registration of `tasks`, task by task, in step order.
fn workers_of(tasks: &[TaskSpec]) -> Vec<WorkerSpec> {
    tasks
        .iter()
        .flat_map(|task| &task.steps)
        .filter_map(|step| match step {
            Step::Register {
                worker,
                queue,
                supplied,
                ..
            } => Some(WorkerSpec {
                name: worker.clone(),
                queue: queue.clone(),
                supplied: *supplied,
            }),
            _ => None,
        })
        .collect()
}

/// A number in the inclusive range `(min, max)`.
fn between(rng: &mut ChaCha8Rng, (min, max): (u32, u32)) -> u32 {
    let span = u64::from(max - min) + 1;
    min + (rng.next_u64() % span) as u32
}

/// A random subset of `kinds` (each kept with probability 1/2) that keeps at least one kind
/// for which `needed` holds, when `kinds` has one.
fn swarm<T: Copy>(rng: &mut ChaCha8Rng, kinds: &[T], needed: impl Fn(T) -> bool) -> Vec<T> {
    let mut on: Vec<T> = kinds
        .iter()
        .copied()
        .filter(|_| rng.next_u64() & 1 == 1)
        .collect();
    if !on.iter().any(|kind| needed(*kind)) {
        let candidates: Vec<T> = kinds.iter().copied().filter(|kind| needed(*kind)).collect();
        if !candidates.is_empty() {
            let index = (rng.next_u64() % candidates.len() as u64) as usize;
            on.push(candidates[index]);
        }
    }
    on
}
