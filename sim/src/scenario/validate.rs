//! Phase two of scenario parsing: ranges, names and cross-references, with locations.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use vigil_core::pool::SITE_NAMES;
use vigil_core::process::ExitReason;

use super::raw::{
    RawFaults, RawGenerate, RawMutant, RawRange, RawScenario, RawSeed, RawStep, RawStrategy,
};
use super::{
    Certify, Delay, DispatchPolicy, Expect, FaultKind, FaultPlan, GenerateSpec, Invariant,
    MutantSpec, OpKind, RoutingScript, Scenario, ScenarioError, SiteFault, Step, StrategyKind,
    StrategySpec, TaskSpec, WorkerSpec,
};
use crate::schedule::Schedule;

const DEFAULT_STEPS_MAX: u64 = 20_000;
/// A generated workload's default step limit: it may hold hundreds of registrations.
const DEFAULT_STEPS_MAX_GENERATED: u64 = 200_000;
const DEFAULT_TASKS_MAX: usize = 512;
const DEFAULT_QUEUE: &str = "q";
const DEFAULT_NAMESPACE: &str = "prod";

/// Parses and validates scenario `text` read from `file`.
pub fn parse(file: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let checker = Checker { file, text };
    if text.trim().is_empty() {
        return Err(checker.error(
            0..0,
            "(file)",
            "the file is empty; a scenario needs at least name, seed, strategy and expect",
        ));
    }
    let raw: RawScenario = toml::from_str(text).map_err(|error| {
        let span = error.span().unwrap_or(0..0);
        let message = error.message().to_owned();
        let field = field_of_message(&message)
            .or_else(|| key_before(text, span.start))
            .unwrap_or_else(|| "(syntax)".to_owned());
        checker.error(span, &field, &message)
    })?;
    checker.scenario(raw)
}

/// The offending key when the TOML error message names one.
fn field_of_message(message: &str) -> Option<String> {
    ["unknown field `", "missing field `"]
        .into_iter()
        .find_map(|marker| {
            let rest = message.split(marker).nth(1)?;
            rest.split('`').next().map(str::to_owned)
        })
}

/// The key assigned just before byte `offset` on its line (`key = <offset>`), if any.
fn key_before(text: &str, offset: usize) -> Option<String> {
    let before = text.get(..offset)?;
    let line = before.rsplit('\n').next()?;
    let (assignment, _) = line.rsplit_once('=')?;
    let key: String = assignment
        .trim_end()
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    (!key.is_empty()).then_some(key)
}

/// 1-based line and column of byte `offset` in `text`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (line, column)
}

struct Checker<'a> {
    file: &'a str,
    text: &'a str,
}

type Result<T, E = ScenarioError> = std::result::Result<T, E>;

impl Checker<'_> {
    fn error(&self, span: Range<usize>, field: &str, message: &str) -> ScenarioError {
        let (line, column) = line_column(self.text, span.start);
        ScenarioError {
            file: self.file.to_owned(),
            line,
            column,
            field: field.to_owned(),
            message: message.to_owned(),
        }
    }

    fn count<T: TryFrom<i64>>(&self, value: &Spanned<i64>, field: &str, min: i64) -> Result<T> {
        let number = *value.get_ref();
        if number < min {
            return Err(self.error(
                value.span(),
                field,
                &format!("must be at least {min}, found {number}"),
            ));
        }
        T::try_from(number)
            .map_err(|_| self.error(value.span(), field, &format!("{number} is too large")))
    }

    fn seed(&self, value: &Spanned<RawSeed>) -> Result<u64> {
        let parsed = match value.get_ref() {
            RawSeed::Number(number) => u64::try_from(*number).ok(),
            RawSeed::Text(text) => crate::runner::parse_seed(text),
        };
        parsed.ok_or_else(|| {
            let found = match value.get_ref() {
                RawSeed::Number(number) => number.to_string(),
                RawSeed::Text(text) => format!("{text:?}"),
            };
            self.error(
                value.span(),
                "seed",
                &format!(
                    "{found} is not a seed: use an integer from 0, or a string holding a decimal \
                     or 0x-prefixed hex u64 (seed = \"0xffffffffffffffff\")"
                ),
            )
        })
    }

    fn name(&self, value: &Spanned<String>, field: &str) -> Result<String> {
        let text = value.get_ref().trim();
        if text.is_empty() {
            return Err(self.error(value.span(), field, "must not be empty"));
        }
        Ok(text.to_owned())
    }

    fn scenario(&self, raw: RawScenario) -> Result<Scenario> {
        let name = self.name(&raw.name, "name")?;
        let seed = self.seed(&raw.seed)?;
        let namespace = match &raw.namespace {
            Some(namespace) => {
                let name = self.name(namespace, "namespace")?;
                if name.contains('.') {
                    return Err(self.error(
                        namespace.span(),
                        "namespace",
                        "a namespace must not contain dots",
                    ));
                }
                name
            }
            None => DEFAULT_NAMESPACE.to_owned(),
        };
        let generate = match &raw.generate {
            Some(generate) => Some(self.generate(generate.get_ref())?),
            None => None,
        };
        let strategy = self.strategy(raw.strategy.get_ref(), generate.is_some())?;
        let (tasks, workers) = self.tasks(&raw, generate.is_some())?;
        let faults = match &raw.faults {
            Some(faults) => self.faults(faults.get_ref(), &tasks, &workers)?,
            None => FaultPlan::default(),
        };
        let invariants = self.invariants(&raw)?;
        let expect = self.expect(&raw, &invariants)?;
        let pinned = self.pinned(&raw)?;
        let certify = self.certify(&raw)?;
        let mutant = match &raw.mutant {
            Some(mutant) => Some(self.mutant(mutant.get_ref(), &invariants)?),
            None => None,
        };
        Ok(Scenario {
            name,
            description: raw.description.trim().to_owned(),
            seed,
            namespace,
            strategy,
            tasks,
            workers,
            generate,
            pinned,
            faults,
            invariants,
            expect,
            mutant,
            certify,
        })
    }

    fn pinned(&self, raw: &RawScenario) -> Result<Vec<Schedule>> {
        raw.expect
            .get_ref()
            .schedule
            .iter()
            .map(|pinned| {
                let text = pinned.get_ref().schedule.get_ref();
                Schedule::decode(text.trim()).map_err(|error| {
                    self.error(
                        pinned.get_ref().schedule.span(),
                        "expect.schedule.schedule",
                        &format!("not a recorded schedule: {error}"),
                    )
                })
            })
            .collect()
    }

    fn range(
        &self,
        value: Option<&Spanned<RawRange>>,
        field: &str,
        default: (u32, u32),
    ) -> Result<(u32, u32)> {
        let Some(value) = value else {
            return Ok(default);
        };
        let (min, max) = match value.get_ref() {
            RawRange::One(n) => (*n, *n),
            RawRange::Two(pair) if pair.len() == 2 => (pair[0], pair[1]),
            RawRange::Two(_) => {
                return Err(self.error(value.span(), field, "a range is a number or [min, max]"));
            }
        };
        if min < 0 || max < min || max > 100_000 {
            return Err(self.error(
                value.span(),
                field,
                &format!("[{min}, {max}] is not a range within 0..=100000 with min <= max"),
            ));
        }
        Ok((min as u32, max as u32))
    }

    fn generate(&self, raw: &RawGenerate) -> Result<GenerateSpec> {
        let owners = self.range(raw.owners.as_ref(), "generate.owners", (1, 4))?;
        if owners.0 == 0 {
            let span = raw.owners.as_ref().map_or(0..0, Spanned::span);
            return Err(self.error(
                span,
                "generate.owners",
                "a workload needs at least one owner",
            ));
        }
        let channels = self.range(raw.channels.as_ref(), "generate.channels", (1, 2))?;
        if channels.0 == 0 {
            let span = raw.channels.as_ref().map_or(0..0, Spanned::span);
            return Err(self.error(
                span,
                "generate.channels",
                "a workload needs at least one channel",
            ));
        }
        let workers = self.range(raw.workers.as_ref(), "generate.workers", (2, 8))?;
        let steps = self.range(raw.steps.as_ref(), "generate.steps", (4, 16))?;
        let mix = match &raw.mix {
            None => OpKind::ALL
                .iter()
                .map(|kind| (*kind, kind.default_weight()))
                .collect(),
            Some(table) => {
                let mut mix = Vec::new();
                for (key, weight) in table.get_ref() {
                    let name = key.get_ref();
                    let kind = OpKind::ALL
                        .into_iter()
                        .find(|kind| kind.name() == name)
                        .ok_or_else(|| {
                            let known: Vec<_> =
                                OpKind::ALL.iter().map(|kind| kind.name()).collect();
                            self.error(
                                key.span(),
                                "generate.mix",
                                &format!("unknown step kind '{name}'; known: {}", known.join(", ")),
                            )
                        })?;
                    let weight: u32 = self.count(weight, "generate.mix", 0)?;
                    mix.push((kind, weight));
                }
                mix.sort();
                mix
            }
        };
        let registers = mix
            .iter()
            .any(|(kind, weight)| kind.registers() && *weight > 0);
        if !registers && workers.1 > 0 {
            let span = raw.mix.as_ref().map_or(0..0, Spanned::span);
            return Err(self.error(
                span,
                "generate.mix",
                "the mix gives no registration step a weight, but generate.workers asks for registrations",
            ));
        }
        Ok(GenerateSpec {
            owners,
            channels,
            workers,
            steps,
            mix,
            swarm: raw.swarm.unwrap_or(true),
        })
    }

    fn strategy(&self, raw: &RawStrategy, generated: bool) -> Result<StrategySpec> {
        let kind = match raw.kind.get_ref().as_str() {
            "random" => StrategyKind::Random,
            "portfolio" => StrategyKind::Portfolio,
            "pct" => StrategyKind::Pct {
                depth: match &raw.depth {
                    Some(depth) => self.count(depth, "strategy.depth", 1)?,
                    None => 3,
                },
            },
            "dfs" => StrategyKind::Dfs {
                preemptions_max: match &raw.preemptions_max {
                    Some(bound) => self.count(bound, "strategy.preemptions_max", 0)?,
                    None => 2,
                },
            },
            "dpor" => StrategyKind::Dpor {
                preemptions_max: match &raw.preemptions_max {
                    Some(bound) => self.count(bound, "strategy.preemptions_max", 0)?,
                    None => 2,
                },
                faults_max: match &raw.faults_max {
                    Some(bound) => self.count(bound, "strategy.faults_max", 0)?,
                    None => 1,
                },
            },
            other => {
                return Err(self.error(
                    raw.kind.span(),
                    "strategy.kind",
                    &format!("unknown strategy '{other}'; expected one of: random, pct, dfs, dpor, portfolio"),
                ));
            }
        };
        let executions = self.count(&raw.executions, "strategy.executions", 1)?;
        let steps_max = match &raw.steps_max {
            Some(steps) => self.count(steps, "strategy.steps_max", 1)?,
            None if generated => DEFAULT_STEPS_MAX_GENERATED,
            None => DEFAULT_STEPS_MAX,
        };
        let tasks_max = match &raw.tasks_max {
            Some(tasks) => self.count(tasks, "strategy.tasks_max", 2)?,
            None => DEFAULT_TASKS_MAX,
        };
        let wall_time_max = match &raw.wall_time_max_secs {
            Some(secs) => Some(Duration::from_secs(self.count(
                secs,
                "strategy.wall_time_max_secs",
                1,
            )?)),
            None => None,
        };
        let split_depth = match &raw.split_depth {
            Some(depth)
                if !matches!(kind, StrategyKind::Dfs { .. } | StrategyKind::Dpor { .. }) =>
            {
                return Err(self.error(
                    depth.span(),
                    "strategy.split_depth",
                    "only a systematic search (kind = \"dfs\" or \"dpor\") is split at a depth",
                ));
            }
            Some(depth) => self.count(depth, "strategy.split_depth", 0)?,
            None => 0,
        };
        Ok(StrategySpec {
            kind,
            executions,
            steps_max,
            tasks_max,
            wall_time_max,
            split_depth,
        })
    }

    fn tasks(
        &self,
        raw: &RawScenario,
        generated: bool,
    ) -> Result<(Vec<TaskSpec>, Vec<WorkerSpec>)> {
        let mut tasks: Vec<TaskSpec> = Vec::new();
        let mut workers: BTreeMap<String, usize> = BTreeMap::new();
        let mut ordered: Vec<WorkerSpec> = Vec::new();
        // Registrations first, in file order, so any step may name any registered worker.
        for task in &raw.tasks {
            for step in &task.get_ref().steps {
                let step = step.get_ref();
                if let op @ ("register" | "register_with_participant") = step.op.get_ref().as_str()
                {
                    let worker = self.registration_name(step)?;
                    if workers.contains_key(&worker) {
                        let span = step
                            .as_name
                            .as_ref()
                            .or(step.worker.as_ref())
                            .map_or(step.op.span(), Spanned::span);
                        return Err(self.error(
                            span,
                            "tasks.steps.as",
                            &format!(
                                "a registration named '{worker}' already exists; give each \
                                 registration of a reused worker id its own name with `as`"
                            ),
                        ));
                    }
                    workers.insert(worker.clone(), ordered.len());
                    ordered.push(WorkerSpec {
                        name: worker,
                        queue: self.queue(step)?,
                        supplied: op == "register_with_participant",
                    });
                }
            }
        }
        for raw_task in &raw.tasks {
            let raw_task = raw_task.get_ref();
            let name = self.name(&raw_task.name, "tasks.name")?;
            if tasks.iter().any(|task| task.name == name) {
                return Err(self.error(
                    raw_task.name.span(),
                    "tasks.name",
                    &format!("task '{name}' is defined twice"),
                ));
            }
            let steps = raw_task
                .steps
                .iter()
                .map(|step| self.step(step.get_ref(), &workers))
                .collect::<Result<Vec<_>>>()?;
            tasks.push(TaskSpec { name, steps });
        }
        if tasks.is_empty() && !generated {
            return Err(self.error(
                0..0,
                "tasks",
                "a scenario needs at least one [[tasks]] entry",
            ));
        }
        Ok((tasks, ordered))
    }

    /// A registration's name: its `as`, or its worker id.
    fn registration_name(&self, step: &RawStep) -> Result<String> {
        match &step.as_name {
            Some(name) => self.name(name, "tasks.steps.as"),
            None => self.required_worker(step),
        }
    }

    fn required_worker(&self, step: &RawStep) -> Result<String> {
        match &step.worker {
            Some(worker) => self.name(worker, "tasks.steps.worker"),
            None => Err(self.error(
                step.op.span(),
                "tasks.steps.worker",
                &format!("step '{}' needs a worker", step.op.get_ref()),
            )),
        }
    }

    fn known_worker(&self, step: &RawStep, workers: &BTreeMap<String, usize>) -> Result<String> {
        let worker = self.required_worker(step)?;
        if !workers.contains_key(&worker) {
            let span = step.worker.as_ref().map_or(step.op.span(), Spanned::span);
            return Err(self.error(
                span,
                "tasks.steps.worker",
                &format!("unknown worker '{worker}': no step registers it"),
            ));
        }
        Ok(worker)
    }

    fn shares(
        &self,
        step: &RawStep,
        op: &str,
        workers: &BTreeMap<String, usize>,
    ) -> Result<Option<String>> {
        let Some(shares) = &step.shares else {
            return Ok(None);
        };
        if op != "register_with_participant" {
            return Err(self.error(
                shares.span(),
                "tasks.steps.shares",
                "only register_with_participant can share another worker's participant",
            ));
        }
        let other = self.name(shares, "tasks.steps.shares")?;
        if !workers.contains_key(&other) {
            return Err(self.error(
                shares.span(),
                "tasks.steps.shares",
                &format!("unknown worker '{other}': no step registers it"),
            ));
        }
        Ok(Some(other))
    }

    fn queue(&self, step: &RawStep) -> Result<String> {
        let queue = match &step.queue {
            Some(queue) => self.name(queue, "tasks.steps.queue")?,
            None => DEFAULT_QUEUE.to_owned(),
        };
        if queue.contains('.') {
            let span = step.queue.as_ref().map_or(step.op.span(), Spanned::span);
            return Err(self.error(
                span,
                "tasks.steps.queue",
                "a task queue must not contain dots",
            ));
        }
        Ok(queue)
    }

    fn reason(&self, reason: Option<&Spanned<String>>, field: &str) -> Result<ExitReason> {
        let Some(reason) = reason else {
            return Ok(ExitReason::Error);
        };
        parse_reason(reason.get_ref()).ok_or_else(|| {
            self.error(
                reason.span(),
                field,
                &format!(
                    "unknown exit reason '{}'; expected one of: normal, kill, killed, error, noconnection",
                    reason.get_ref()
                ),
            )
        })
    }

    fn step(&self, step: &RawStep, workers: &BTreeMap<String, usize>) -> Result<Step> {
        Ok(match step.op.get_ref().as_str() {
            op @ ("register" | "register_with_participant") => Step::Register {
                worker: self.registration_name(step)?,
                id: self.required_worker(step)?,
                queue: self.queue(step)?,
                capacity: match &step.capacity {
                    Some(capacity) => self.count(capacity, "tasks.steps.capacity", 0)?,
                    None => 1,
                },
                tags: step.tags.clone(),
                supplied: op == "register_with_participant",
                shares: self.shares(step, op, workers)?,
            },
            _ if step.as_name.is_some() => {
                return Err(self.error(
                    step.as_name.as_ref().map_or(step.op.span(), Spanned::span),
                    "tasks.steps.as",
                    "only a registration step names a registration with `as`; other steps name \
                     it in `worker`",
                ));
            }
            "dispatch" => self.dispatch(step)?,
            _ if step.policy.is_some() || step.routing.is_some() => {
                let field = step.policy.as_ref().or(step.routing.as_ref());
                let name = if step.policy.is_some() {
                    "policy"
                } else {
                    "routing"
                };
                return Err(self.error(
                    field.map_or(step.op.span(), Spanned::span),
                    &format!("tasks.steps.{name}"),
                    &format!("only a dispatch step takes `{name}`"),
                ));
            }
            "unregister" => Step::Unregister {
                worker: self.known_worker(step, workers)?,
            },
            "drop" => Step::Drop {
                worker: self.known_worker(step, workers)?,
            },
            "set_in_flight" => Step::SetInFlight {
                worker: self.known_worker(step, workers)?,
                value: match &step.value {
                    Some(value) => self.count(value, "tasks.steps.value", 0)?,
                    None => {
                        return Err(self.error(
                            step.op.span(),
                            "tasks.steps.value",
                            "set_in_flight needs a value",
                        ));
                    }
                },
            },
            "snapshot" => Step::Snapshot {
                queue: self.queue(step)?,
            },
            "publish" => Step::Publish {
                queue: self.queue(step)?,
                activity_type: step
                    .activity_type
                    .clone()
                    .unwrap_or_else(|| "activity".into()),
            },
            "crash" => Step::Crash {
                worker: self.known_worker(step, workers)?,
                reason: self.reason(step.reason.as_ref(), "tasks.steps.reason")?,
            },
            other => {
                return Err(self.error(
                    step.op.span(),
                    "tasks.steps.op",
                    &format!(
                        "unknown step '{other}'; expected one of: register, register_with_participant, unregister, drop, set_in_flight, snapshot, publish, crash, dispatch"
                    ),
                ));
            }
        })
    }

    fn dispatch(&self, step: &RawStep) -> Result<Step> {
        let policy = match &step.policy {
            None => DispatchPolicy::FirstWithCapacity,
            Some(policy) => self.named(
                policy,
                "tasks.steps.policy",
                &DispatchPolicy::ALL,
                DispatchPolicy::name,
            )?,
        };
        let routing = match &step.routing {
            None => None,
            Some(routing) => Some(self.named(
                routing,
                "tasks.steps.routing",
                &RoutingScript::ALL,
                RoutingScript::name,
            )?),
        };
        Ok(Step::Dispatch {
            queue: self.queue(step)?,
            activity_type: step
                .activity_type
                .clone()
                .unwrap_or_else(|| "activity".into()),
            policy,
            routing,
        })
    }

    /// One of `all`, by the name `name_of` gives it; an unknown name lists the known ones.
    fn named<T: Copy>(
        &self,
        value: &Spanned<String>,
        field: &str,
        all: &[T],
        name_of: fn(T) -> &'static str,
    ) -> Result<T> {
        all.iter()
            .copied()
            .find(|candidate| name_of(*candidate) == value.get_ref())
            .ok_or_else(|| {
                let known: Vec<_> = all.iter().map(|candidate| name_of(*candidate)).collect();
                self.error(
                    value.span(),
                    field,
                    &format!(
                        "unknown {} '{}'; expected one of: {}",
                        field.rsplit('.').next().unwrap_or(field),
                        value.get_ref(),
                        known.join(", ")
                    ),
                )
            })
    }

    fn fault_kind(&self, kind: &Spanned<String>, field: &str) -> Result<FaultKind> {
        FaultKind::ALL
            .into_iter()
            .find(|candidate| candidate.name() == kind.get_ref())
            .ok_or_else(|| {
                self.error(
                    kind.span(),
                    field,
                    &format!(
                        "unknown fault kind '{}'; expected one of: participant, monitor, listener, subscriber, channel",
                        kind.get_ref()
                    ),
                )
            })
    }

    fn site(&self, site: &Spanned<String>, field: &str) -> Result<String> {
        let name = site.get_ref();
        if SITE_NAMES.contains(&name.as_str()) {
            return Ok(name.clone());
        }
        Err(self.error(
            site.span(),
            field,
            &format!(
                "unknown site '{name}'; known sites: {}",
                SITE_NAMES.join(", ")
            ),
        ))
    }

    fn faults(
        &self,
        raw: &RawFaults,
        tasks: &[TaskSpec],
        workers: &[WorkerSpec],
    ) -> Result<FaultPlan> {
        let worker_named = |name: &Spanned<String>, field: &str| -> Result<String> {
            let worker = self.name(name, field)?;
            if workers.iter().any(|known| known.name == worker) {
                Ok(worker)
            } else {
                Err(self.error(
                    name.span(),
                    field,
                    &format!(
                        "unknown participant '{worker}': no step registers a worker with that name"
                    ),
                ))
            }
        };
        let task_named = |name: &Spanned<String>, field: &str| -> Result<String> {
            let task = self.name(name, field)?;
            if tasks.iter().any(|known| known.name == task) {
                Ok(task)
            } else {
                Err(self.error(name.span(), field, &format!("unknown task '{task}'")))
            }
        };
        let budget = match &raw.budget {
            Some(budget) => self.count(budget, "faults.budget", 0)?,
            None => 0,
        };
        let mut kinds = raw
            .kinds
            .iter()
            .map(|kind| self.fault_kind(kind, "faults.kinds"))
            .collect::<Result<Vec<_>>>()?;
        if kinds.is_empty() && budget > 0 {
            kinds.push(FaultKind::Participant);
        }
        kinds.sort();
        kinds.dedup();
        let targets = raw
            .targets
            .iter()
            .map(|target| worker_named(target, "faults.targets"))
            .collect::<Result<Vec<_>>>()?;
        let mut reasons = raw
            .reasons
            .iter()
            .map(|reason| self.reason(Some(reason), "faults.reasons"))
            .collect::<Result<Vec<_>>>()?;
        if reasons.is_empty() {
            reasons.push(ExitReason::Error);
        }
        let at = raw
            .at
            .iter()
            .map(|fault| {
                let fault = fault.get_ref();
                Ok(SiteFault {
                    task: task_named(&fault.task, "faults.at.task")?,
                    site: self.site(&fault.site, "faults.at.site")?,
                    kind: match &fault.kind {
                        Some(kind) => self.fault_kind(kind, "faults.at.kind")?,
                        None => FaultKind::Participant,
                    },
                    worker: worker_named(&fault.worker, "faults.at.worker")?,
                    reason: self.reason(fault.reason.as_ref(), "faults.at.reason")?,
                    occurrence: match &fault.occurrence {
                        Some(occurrence) => self.count(occurrence, "faults.at.occurrence", 1)?,
                        None => 1,
                    },
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let delays = raw
            .delay
            .iter()
            .map(|delay| {
                let delay = delay.get_ref();
                Ok(Delay {
                    task: task_named(&delay.task, "faults.delay.task")?,
                    site: self.site(&delay.site, "faults.delay.site")?,
                    steps: self.count(&delay.steps, "faults.delay.steps", 1)?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(FaultPlan {
            budget,
            kinds,
            targets,
            reasons,
            at,
            delays,
        })
    }

    fn invariants(&self, raw: &RawScenario) -> Result<Vec<Invariant>> {
        let Some(names) = &raw.invariants else {
            return Ok(Invariant::ALL.to_vec());
        };
        let mut invariants = Vec::new();
        for name in names.get_ref() {
            if name.get_ref() == "all" {
                invariants.extend(Invariant::ALL);
                continue;
            }
            let invariant = Invariant::from_name(name.get_ref()).ok_or_else(|| {
                let known: Vec<_> = Invariant::ALL.iter().map(|known| known.name()).collect();
                self.error(
                    name.span(),
                    "invariants",
                    &format!(
                        "unknown invariant '{}'; known: all, {}",
                        name.get_ref(),
                        known.join(", ")
                    ),
                )
            })?;
            invariants.push(invariant);
        }
        invariants.sort();
        invariants.dedup();
        Ok(invariants)
    }

    fn mutant(&self, raw: &RawMutant, invariants: &[Invariant]) -> Result<MutantSpec> {
        let patch = self.name(&raw.patch, "mutant.patch")?;
        if !patch.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(self.error(
                raw.patch.span(),
                "mutant.patch",
                "a patch name is the file name under mutants/ without '.patch' (letters, digits, '-')",
            ));
        }
        let invariant = Invariant::from_name(raw.invariant.get_ref())
            .filter(|invariant| invariants.contains(invariant))
            .ok_or_else(|| {
                self.error(
                    raw.invariant.span(),
                    "mutant.invariant",
                    &format!(
                        "'{}' is not one of this scenario's invariants",
                        raw.invariant.get_ref()
                    ),
                )
            })?;
        Ok(MutantSpec { patch, invariant })
    }

    fn certify(&self, raw: &RawScenario) -> Result<Option<Certify>> {
        let Some(certify) = &raw.expect.get_ref().certify else {
            return Ok(None);
        };
        let certify = certify.get_ref();
        let preemptions = self.count(&certify.preemptions, "expect.certify.preemptions", 0)?;
        let faults = match &certify.faults {
            Some(faults) => self.count(faults, "expect.certify.faults", 0)?,
            None => 0,
        };
        Ok(Some(Certify {
            preemptions,
            faults,
        }))
    }

    fn expect(&self, raw: &RawScenario, invariants: &[Invariant]) -> Result<Expect> {
        let expect = raw.expect.get_ref();
        match (expect.outcome.get_ref().as_str(), &expect.invariant) {
            ("pass", None) => Ok(Expect::Pass),
            ("pass", Some(invariant)) => Err(self.error(
                invariant.span(),
                "expect.invariant",
                "only a 'fail' outcome names an invariant",
            )),
            ("fail", Some(name)) => {
                let invariant = Invariant::from_name(name.get_ref()).ok_or_else(|| {
                    self.error(
                        name.span(),
                        "expect.invariant",
                        &format!("unknown invariant '{}'", name.get_ref()),
                    )
                })?;
                if !invariants.contains(&invariant) {
                    return Err(self.error(
                        name.span(),
                        "expect.invariant",
                        &format!(
                            "'{invariant}' is expected to fail but is not in the checked invariants"
                        ),
                    ));
                }
                Ok(Expect::Fail { invariant })
            }
            ("fail", None) => Err(self.error(
                expect.outcome.span(),
                "expect.invariant",
                "a 'fail' outcome must name the invariant it expects to fail",
            )),
            (other, _) => Err(self.error(
                expect.outcome.span(),
                "expect.outcome",
                &format!("unknown outcome '{other}'; expected 'pass' or 'fail'"),
            )),
        }
    }
}

/// Parses an exit reason as written in scenario files.
pub(crate) fn parse_reason(text: &str) -> Option<ExitReason> {
    Some(match text {
        "normal" => ExitReason::Normal,
        "kill" => ExitReason::Kill,
        "killed" => ExitReason::Killed,
        "error" => ExitReason::Error,
        "noconnection" => ExitReason::NoConnection,
        _ => return None,
    })
}
