//! Runs scenario files: the workload as simulated tasks, the fault plan as a fault source,
//! the invariants as observers, and the expected outcome compared with what happened.

mod checkpoint;
pub use checkpoint::SplitReport;
mod checks;
mod coverage;
mod dispatch;
mod dispatch_checks;
mod dispatch_stats;
mod explore;
mod faults;
mod generate;
mod rows;
mod shard;
mod units;
mod workload;
mod world;

pub use coverage::Reach;
pub use dispatch_stats::DispatchTally;
pub use explore::Log;
pub use generate::Workload;
pub use shard::{ShardLog, ShardMode};

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use explore::PartRun;

use faults::{FaultTally, PlanFaults};

use crate::failure::{Failure, FailureKind};
use crate::part::{Part, Shard};
use crate::runner::{Config, Runner, StopReason};
use crate::scenario::{Expect, Invariant, Scenario, StrategyKind};
use crate::schedule::{Choice, Schedule};
use crate::strategy::{Coverage, Prefixed, Random, Replay, Strategy};
use crate::trace::Trace;

/// Changes to a scenario's own settings for one run (`vigil explore`).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub strategy: Option<StrategyKind>,
    pub executions: Option<u64>,
    /// Report failures as found, without shrinking them.
    pub no_shrink: bool,
    /// Set (by a Ctrl-C handler) to stop exploring between executions.
    pub interrupt: Option<Arc<std::sync::atomic::AtomicBool>>,
    /// OS threads for a search that can be split by execution (0 or 1: this thread only).
    pub jobs: u64,
    /// Run only this shard of the search (see [`Shard`]); `None` runs all of it.
    pub shard: Option<Shard>,
    /// Split a systematic search at this many deviations (see [`crate::Split`]); `None`
    /// keeps the scenario's `split_depth`.
    pub split_depth: Option<u32>,
    /// Save a whole systematic search's state to this file as it goes, and resume from it
    /// when it exists (see [`checkpoint`]).
    pub checkpoint: Option<std::path::PathBuf>,
    /// Executions between two saves of the checkpoint (`None`: a million).
    pub checkpoint_every: Option<u64>,
}

/// What a scenario run observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observed {
    /// Every execution passed and every configured fault fired at least once.
    Pass,
    /// An execution failed; `invariant` is the property it broke, when it maps to one.
    Fail { invariant: Option<Invariant> },
    /// Every execution passed, but a configured fault never fired: the pass means nothing.
    Vacuous { unfired: Vec<String> },
    /// The harness itself could not run the scenario faithfully (nondeterminism, a replay
    /// that diverged, a limit of the harness).
    Error { message: String },
}

/// The result of running one scenario.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ScenarioRun {
    pub scenario: Arc<Scenario>,
    pub file: String,
    pub observed: Observed,
    pub executions: u64,
    pub distinct_schedules: u64,
    pub failure: Option<Failure>,
    /// The failing execution's full trace (empty when nothing failed).
    pub trace: Trace,
    pub schedule: Option<Schedule>,
    /// Lock-dependent checks that looked at the pool, and ones skipped because the lock they
    /// read was held at that step (they look again at the next step).
    pub checks_read: u64,
    pub checks_skipped: u64,
    /// The generated workload of the failing execution (`None` for fixed-step scenarios).
    pub workload: Option<Arc<Workload>>,
    /// How much of its bounds a systematic strategy covered; see [`ScenarioRun::certificate`].
    pub coverage: Option<Coverage>,
    /// What the run had to say besides its verdict (a pinned schedule that no longer fits).
    pub notes: Vec<String>,
    /// A failing generated workload, shrunk and written as a fixed-step scenario with its
    /// shrunk schedule pinned (what `vigil run` saves as `<name>.regression.toml`).
    pub regression: Option<String>,
    /// Why a run without failures stopped (`None` when one failed).
    pub stop: Option<StopReason>,
    /// The distinct abstract pool states the search reached, and when.
    pub reach: Reach,
    /// What this machine's shard of the search ran, for `vigil merge` (sharded runs only).
    pub shard_log: Option<ShardLog>,
    /// How the search's dispatches ended, up to its first failure (`None` when none ran).
    pub dispatch: Option<DispatchTally>,
}

impl ScenarioRun {
    fn with_stop_note(mut self, budget: u64) -> Self {
        if self.stop == Some(StopReason::Interrupted) {
            self.notes.push(format!(
                "interrupted after {} of {budget} executions; the results cover those only",
                self.executions
            ));
        }
        if self.stop == Some(StopReason::WallTime) {
            self.notes.push(format!(
                "stopped by the wall-time cap (strategy.wall_time_max_secs) after {} of {budget} \
                 executions",
                self.executions
            ));
        }
        self
    }

    /// The outcome as every output names it: [`Observed::label`], plus "(wall-time stop)"
    /// when the wall-time cap ended a passing run before its budget.
    pub fn outcome(&self) -> String {
        let label = self.observed.label();
        match self.stop {
            Some(StopReason::WallTime) => format!("{label} (wall-time stop)"),
            Some(StopReason::Interrupted) => format!("{label} (interrupted)"),
            _ => label,
        }
    }
}

impl ScenarioRun {
    /// The coverage sentence of a systematic search that found nothing: "no violation within
    /// k preemptions and f faults, N executions, exhaustive", or how much it covered.
    pub fn certificate(&self) -> Option<String> {
        if self.failure.is_some() {
            return None;
        }
        Some(self.coverage?.describe(self.executions))
    }

    /// Whether the run exhausted the bounds the scenario requires (`[expect] certify`).
    pub fn certified(&self) -> bool {
        let Some(required) = self.scenario.certify else {
            return true;
        };
        self.coverage.is_some_and(|coverage| {
            coverage.exhaustive
                && coverage.preemptions_max >= required.preemptions
                && coverage.faults_max >= required.faults
        })
    }

    /// Whether what happened is what the scenario expects.
    pub fn as_expected(&self) -> bool {
        if self
            .shard_log
            .as_ref()
            .is_some_and(|log| log.mode == ShardMode::Elsewhere)
        {
            return true;
        }
        if matches!(self.observed, Observed::Pass) && !self.certified() {
            return false;
        }
        match (&self.scenario.expect, &self.observed) {
            (Expect::Pass, Observed::Pass) => true,
            (
                Expect::Fail { invariant },
                Observed::Fail {
                    invariant: Some(found),
                },
            ) => invariant == found,
            _ => false,
        }
    }
}

impl Observed {
    /// A short word for tables: `pass`, `fail(<invariant>)`, `vacuous`, `error`.
    pub fn label(&self) -> String {
        match self {
            Observed::Pass => "pass".into(),
            Observed::Fail {
                invariant: Some(invariant),
            } => format!("fail({invariant})"),
            Observed::Fail { invariant: None } => "fail(?)".into(),
            Observed::Vacuous { .. } => "vacuous".into(),
            Observed::Error { .. } => "error".into(),
        }
    }
}

/// The label of an expectation, in the same words as [`Observed::label`].
pub fn expect_label(expect: &Expect) -> String {
    match expect {
        Expect::Pass => "pass".into(),
        Expect::Fail { invariant } => format!("fail({invariant})"),
    }
}

/// The invariant a failed execution broke.
pub fn invariant_of(kind: &FailureKind) -> Option<Invariant> {
    match kind {
        FailureKind::Invariant { name } => Invariant::from_name(name),
        FailureKind::Deadlock { .. } | FailureKind::StepLimit { .. } => {
            Some(Invariant::ShutdownBounded)
        }
        FailureKind::Panic => Some(Invariant::NoPanic),
        _ => None,
    }
}

fn config_of(scenario: &Scenario, overrides: &Overrides) -> Config {
    Config {
        seed: overrides.seed.unwrap_or(scenario.seed),
        executions: overrides.executions.unwrap_or(scenario.strategy.executions),
        steps_max: scenario.strategy.steps_max,
        tasks_max: scenario.strategy.tasks_max,
        wall_time_max: scenario.strategy.wall_time_max,
        fingerprint: Some(scenario.fingerprint()),
        // The runner never shrinks here: `finish` shrinks the failure a search or replay
        // reports when the run asks for it, once, after the search's figures are taken.
        // (A search that shrank each found failure itself did the work twice, and under
        // `--no-shrink` it still shrank: minutes on a large generated workload.)
        shrink: None,
        ..Config::default()
    }
}

fn runner_for(
    scenario: &Arc<Scenario>,
    file: &str,
    config: Config,
    tally: &Rc<RefCell<FaultTally>>,
) -> Runner {
    let faults = PlanFaults::new(scenario.faults.clone(), tally.clone());
    let mut runner = Runner::new(config)
        .faults(faults)
        .replay_command(format!("vigil replay {file} {{schedule}}"));
    for invariant in &scenario.invariants {
        runner = runner.observer(checks::Check::new(*invariant));
    }
    runner
}

/// Explores `scenario` (read from `file`) with its strategy and budget, or `overrides`.
pub fn run_scenario(scenario: &Scenario, file: &str, overrides: &Overrides) -> ScenarioRun {
    run_scenario_with_progress(scenario, file, overrides, |_| {})
}

/// [`run_scenario`], calling `progress` with the executions finished after each one.
pub fn run_scenario_with_progress(
    scenario: &Scenario,
    file: &str,
    overrides: &Overrides,
    progress: impl FnMut(u64) + 'static,
) -> ScenarioRun {
    search_scenario(scenario, file, overrides, Search::Run(Box::new(progress)))
}

/// The run of `scenario` that the shards in `logs` did together (`vigil merge`): the same
/// pinned replays, then their searches combined, the first failure reproduced and shrunk
/// here, exactly as one unsharded run would have.
pub fn merge_scenario(
    scenario: &Scenario,
    file: &str,
    logs: Vec<ShardLog>,
) -> Result<ScenarioRun, String> {
    let (overrides, log) = shard::combine(scenario, logs)?;
    Ok(search_scenario(
        scenario,
        file,
        &overrides,
        Search::Merged(Box::new(log)),
    ))
}

/// Where the main search's log comes from.
enum Search {
    /// Run it here (all of it, or this machine's shard), reporting progress.
    Run(Box<dyn FnMut(u64)>),
    /// The shards' logs, combined.
    Merged(Box<explore::Log>),
}

fn search_scenario(
    scenario: &Scenario,
    file: &str,
    overrides: &Overrides,
    search: Search,
) -> ScenarioRun {
    let scenario = Arc::new(scenario.clone());
    let config = config_of(&scenario, overrides);
    let options = RunOptions {
        shrink: !overrides.no_shrink,
        interrupt: overrides.interrupt.clone(),
    };
    // Pinned failures first: a pinned schedule that still fails as expected is the verdict;
    // one that passes is followed by the search. One that no longer fits the code (it
    // diverges) is reported with where, and the search first explores from the part that
    // still fits.
    let mut notes = Vec::new();
    let mut prefixes = Vec::new();
    for (index, pinned) in scenario.pinned.iter().enumerate() {
        let mut replay = Replay::new(pinned.clone());
        let mut run = run_with(
            &scenario,
            file,
            replay_config(&config, pinned),
            &mut replay,
            &options,
            Box::new(|_| {}),
        );
        if matches!(run.observed, Observed::Fail { .. }) && run.as_expected() {
            run.notes.insert(
                0,
                format!("pinned schedule {} reproduced the failure", index + 1),
            );
            return run;
        }
        if let Some(divergence) = replay.divergence() {
            let fits = replay.fitting_prefix();
            notes.push(format!(
                "pinned schedule {} no longer fits the code: {divergence}; the search went on \
                 from the {fits} of its {} choices that still fit",
                index + 1,
                pinned.choices.len()
            ));
            prefixes.push(Schedule {
                seed: pinned.seed,
                choices: pinned.choices[..fits].to_vec(),
                fingerprint: pinned.fingerprint,
            });
        } else {
            notes.push(format!(
                "pinned schedule {} replayed and {}; the search went on",
                index + 1,
                run.observed.label()
            ));
        }
    }
    let kind = overrides.strategy.unwrap_or(scenario.strategy.kind);
    // The searches from pinned prefixes are short and run whole on every machine.
    for prefix in prefixes {
        let mut config = config.clone();
        config.executions = (config.executions / 2).max(1);
        let mut from_prefix = Prefixed::new(prefix, Random::new(config.seed));
        let mut run = run_with(
            &scenario,
            file,
            config,
            &mut from_prefix,
            &options,
            Box::new(|_| {}),
        );
        if run.failure.is_some() {
            notes.append(&mut run.notes);
            run.notes = notes;
            return run;
        }
    }
    let shard = overrides.shard.unwrap_or(Shard::WHOLE);
    let part = PartRun {
        scenario: &scenario,
        file,
        config: config.clone(),
        part: shard.part(),
        lowest: Arc::new(AtomicU64::new(u64::MAX)),
        interrupt: options.interrupt.clone(),
        key_base: 0,
        first: 0,
    };
    let split_depth = overrides
        .split_depth
        .unwrap_or(scenario.strategy.split_depth);
    let split = split_depth > 0 && units::systematic(kind);
    let (log, mode) = match search {
        Search::Merged(log) => (*log, None),
        Search::Run(progress) if split => {
            let jobs = overrides.jobs.max(1);
            let log = units::run_jobs(part, kind, split_depth, jobs, progress);
            (log, Some(ShardMode::Split))
        }
        Search::Run(progress) if explore::splittable(kind) => {
            let jobs = overrides.jobs.max(1);
            let log = explore::run_jobs(part, kind, jobs, progress);
            (log, Some(ShardMode::Split))
        }
        Search::Run(progress) if shard.owns_unit(shard::unit_of(&scenario)) => {
            // Not splittable: the horizons are not used.
            let horizons = explore::Horizons::default();
            let whole = PartRun {
                part: Part::WHOLE,
                ..part
            };
            let log = match &overrides.checkpoint {
                Some(path) => {
                    let every = overrides
                        .checkpoint_every
                        .unwrap_or(checkpoint::CHUNK)
                        .max(1);
                    let saved = checkpoint::Saved { path, every };
                    match checkpoint::run_checkpointed(whole, kind, options.shrink, saved, progress)
                    {
                        Ok(log) => log,
                        Err(message) => {
                            return nothing_ran(&scenario, file, Observed::Error { message });
                        }
                    }
                }
                None => {
                    let mut strategy = explore::strategy_of(kind, config.seed, horizons);
                    explore::run_part(whole, &mut *strategy, progress)
                }
            };
            (log, Some(ShardMode::Whole))
        }
        Search::Run(_) => (explore::Log::default(), Some(ShardMode::Elsewhere)),
    };
    // A split search's log keeps its unit keys for the merge; the run counts in the global
    // order.
    let settled = units::settle(log.clone(), kind);
    let mut run = match mode {
        Some(ShardMode::Elsewhere) => shard::elsewhere(&scenario, file, shard),
        _ => finish(&scenario, file, config.clone(), &options, &settled, shard),
    };
    if let Some(mode) = mode.filter(|_| shard.count > 1) {
        let settings = shard::Settings::of(&config, kind, options.shrink);
        run.shard_log = Some(ShardLog {
            shard,
            mode,
            settings: shard::Settings {
                split_depth: if split { split_depth } else { 0 },
                ..settings
            },
            log,
        });
    }
    if let (StrategyKind::Portfolio, Some(failure)) = (kind, &run.failure) {
        let seed = crate::strategy::Portfolio::execution_seed(config.seed, failure.execution_idx);
        run.notes.push(format!(
            "found by the portfolio's {} at execution {} (execution seed {seed:#x}, root seed \
             {:#x})",
            crate::strategy::Portfolio::member_name(failure.execution_idx),
            failure.execution_idx,
            config.seed
        ));
    }
    notes.append(&mut run.notes);
    run.notes = notes;
    run
}

/// A one-execution config whose seed is the schedule's, so a replayed failure names the seed
/// its execution ran with, not the scenario file's.
fn replay_config(config: &Config, schedule: &Schedule) -> Config {
    let mut config = config.clone();
    config.executions = 1;
    config.seed = schedule.seed;
    config
}

/// Replays one recorded schedule of `scenario`.
pub fn replay_scenario(scenario: &Scenario, file: &str, schedule: Schedule) -> ScenarioRun {
    let scenario = Arc::new(scenario.clone());
    let config = replay_config(&config_of(&scenario, &Overrides::default()), &schedule);
    let mut run = run_with(
        &scenario,
        file,
        config.clone(),
        &mut Replay::new(schedule.clone()),
        &RunOptions::default(),
        Box::new(|_| {}),
    );
    if run.failure.is_none() {
        // A failure comes with its trace; a pass is run once more to take its trace too
        // (`vigil replay --trace` shows what a passing schedule did).
        let tally = Rc::new(RefCell::new(FaultTally::default()));
        let mut runner = runner_for(&scenario, file, config, &tally);
        let model_scenario = scenario.clone();
        let report = runner.reproduce(move || workload::run(&model_scenario), &schedule, 0);
        checks::take_tally();
        run.trace = report.trace().clone();
    }
    run
}

/// Replays `schedule` of `scenario` and, when it fails, shrinks the failure (the run's
/// failure then carries [`Failure::shrunk`] and the shrunk schedule and trace).
pub fn shrink_scenario(scenario: &Scenario, file: &str, schedule: Schedule) -> ScenarioRun {
    let scenario = Arc::new(scenario.clone());
    let config = replay_config(&config_of(&scenario, &Overrides::default()), &schedule);
    run_with(
        &scenario,
        file,
        config,
        &mut Replay::new(schedule),
        &RunOptions {
            shrink: true,
            interrupt: None,
        },
        Box::new(|_| {}),
    )
}

/// How [`run_with`] treats a run besides its strategy and budget.
#[derive(Clone, Debug, Default)]
struct RunOptions {
    shrink: bool,
    interrupt: Option<Arc<std::sync::atomic::AtomicBool>>,
}

/// Runs all of a search with `strategy` on this thread.
fn run_with(
    scenario: &Arc<Scenario>,
    file: &str,
    config: Config,
    strategy: &mut dyn Strategy,
    options: &RunOptions,
    progress: Box<dyn FnMut(u64)>,
) -> ScenarioRun {
    let part = PartRun {
        scenario,
        file,
        config: config.clone(),
        part: Part::WHOLE,
        lowest: Arc::new(AtomicU64::new(u64::MAX)),
        interrupt: options.interrupt.clone(),
        key_base: 0,
        first: 0,
    };
    let log = explore::run_part(part, strategy, progress);
    finish(scenario, file, config, options, &log, Shard::WHOLE)
}

/// Turns a search's log into the scenario's run: the figures up to the first failure, and
/// that failure reproduced here (the same execution, index and replay command), its
/// generated workload or schedule shrunk.
fn finish(
    scenario: &Arc<Scenario>,
    file: &str,
    mut config: Config,
    options: &RunOptions,
    log: &explore::Log,
    shard: Shard,
) -> ScenarioRun {
    let shrink = options.shrink;
    let budget = config.executions;
    let cut = log.cut();
    let Some((found_idx, found_schedule)) = &log.found else {
        // A shard sees only some executions; whether every fault fired is judged on merging.
        let unfired = match shard.count {
            1 => unfired_faults(scenario, &log.tally),
            _ => Vec::new(),
        };
        let observed = if unfired.is_empty() {
            Observed::Pass
        } else {
            Observed::Vacuous { unfired }
        };
        return ScenarioRun {
            scenario: scenario.clone(),
            file: file.to_owned(),
            observed,
            executions: cut.executions,
            distinct_schedules: cut.distinct_schedules,
            failure: None,
            trace: Trace::default(),
            schedule: None,
            checks_read: cut.checks.0,
            checks_skipped: cut.checks.1,
            workload: None,
            coverage: log.coverage,
            notes: Vec::new(),
            regression: None,
            stop: Some(log.stop.unwrap_or(StopReason::ExecutionsDone)),
            reach: cut.reach,
            shard_log: None,
            dispatch: cut.dispatch,
        }
        .with_stop_note(budget);
    };
    let tally = Rc::new(RefCell::new(FaultTally::default()));
    // Shrinking happens below, after the exploration's figures are taken.
    config.shrink = None;
    let root_seed = config.seed;
    let mut runner = runner_for(scenario, file, config, &tally);
    let model_scenario = scenario.clone();
    let mut report = runner.reproduce(
        move || workload::run(&model_scenario),
        found_schedule,
        *found_idx,
    );
    checks::take_tally();
    let workload = world::last_workload().filter(|workload| workload.generated);
    if shrink
        && let (Some(found), Some(generated)) = (report.failure(), &workload)
        && let Some(invariant) = invariant_of(&found.kind)
    {
        let found = FoundGenerated {
            scenario,
            file,
            schedule: report.schedule(),
            workload: generated,
            invariant,
            executions: (cut.executions, cut.distinct_schedules),
            checks: cut.checks,
        };
        if let Some(mut run) = shrink_generated(&found) {
            run.reach = cut.reach;
            run.dispatch = cut.dispatch;
            return run;
        }
    }
    if shrink && report.failure().is_some() && workload.is_none() {
        let model_scenario = scenario.clone();
        let schedule = report.schedule().clone();
        let shrunk = runner.shrink(move || workload::run(&model_scenario), &schedule);
        if shrunk.failure().is_some() {
            report = shrunk;
        }
        checks::take_tally();
    }
    let workload = match &workload {
        Some(_) => world::last_workload()
            .filter(|workload| workload.generated)
            .or(workload),
        None => None,
    };
    let trace = report.trace().clone();
    let schedule = report.schedule().clone();
    let failure = match report.into_result() {
        Ok(_) => Failure {
            kind: FailureKind::Nondeterminism { step: 0 },
            seed: root_seed,
            execution_idx: *found_idx,
            steps: 0,
            schedule: found_schedule.encode(),
            trace_tail: Vec::new(),
            message: format!(
                "execution {found_idx} failed while exploring but passed when replayed to \
                 report it. Is the model fully deterministic?"
            ),
            replay_command: format!("vigil replay {file} {}", found_schedule.encode()),
            shrunk: None,
        },
        Err(failure) => failure,
    };
    let observed = match invariant_of(&failure.kind) {
        Some(invariant) => Observed::Fail {
            invariant: Some(invariant),
        },
        None => Observed::Error {
            message: failure.message.clone(),
        },
    };
    ScenarioRun {
        scenario: scenario.clone(),
        file: file.to_owned(),
        observed,
        executions: cut.executions,
        distinct_schedules: cut.distinct_schedules,
        failure: Some(failure),
        trace,
        schedule: Some(schedule),
        checks_read: cut.checks.0,
        checks_skipped: cut.checks.1,
        workload,
        coverage: log.coverage,
        notes: Vec::new(),
        regression: None,
        stop: None,
        reach: cut.reach,
        shard_log: None,
        dispatch: cut.dispatch,
    }
}

/// A run of `scenario` in which nothing ran, observed as `observed`.
pub(crate) fn nothing_ran(scenario: &Arc<Scenario>, file: &str, observed: Observed) -> ScenarioRun {
    ScenarioRun {
        scenario: scenario.clone(),
        file: file.to_owned(),
        observed,
        executions: 0,
        distinct_schedules: 0,
        failure: None,
        trace: Trace::default(),
        schedule: None,
        checks_read: 0,
        checks_skipped: 0,
        workload: None,
        coverage: None,
        notes: Vec::new(),
        regression: None,
        stop: None,
        reach: Reach::default(),
        shard_log: None,
        dispatch: None,
    }
}

/// Whether `overrides.checkpoint` can be used for `scenario`'s search: `Ok(Some(n))` when it
/// resumes after `n` executions, `Ok(None)` when no checkpoint is asked for or the file does
/// not exist yet, and why not otherwise: not a dpor search, a search split or sharded, or a
/// file that cannot be resumed for this scenario, seed and bounds (`vigil explore` refuses
/// before anything runs).
pub fn checkpoint_status(
    scenario: &Scenario,
    overrides: &Overrides,
) -> Result<Option<u64>, String> {
    let Some(path) = overrides.checkpoint.as_ref() else {
        return Ok(None);
    };
    let kind = overrides.strategy.unwrap_or(scenario.strategy.kind);
    let split = overrides
        .split_depth
        .unwrap_or(scenario.strategy.split_depth);
    if split > 0 {
        return Err("a checkpoint is kept for a whole search, not one split into units".into());
    }
    if overrides.shard.is_some_and(|shard| shard.count > 1) {
        return Err("a checkpoint is kept for a whole search, not a shard of one".into());
    }
    let seed = overrides.seed.unwrap_or(scenario.seed);
    checkpoint::status(path, scenario, seed, kind)
}

/// Splits the dpor search saved at `path` in two: `into` (a new file) takes the shallowest
/// alternative the search had scheduled, `path` keeps the rest, and each is resumed with
/// `vigil explore --checkpoint` by a build of the sources that saved it, so the two run on
/// two cores or machines. The bound is exhausted when both searches are.
pub fn split_checkpoint(
    path: &std::path::Path,
    into: &std::path::Path,
) -> Result<checkpoint::SplitReport, String> {
    checkpoint::split(path, into)
}

/// A failure of a generated workload, as the exploration found it.
struct FoundGenerated<'a> {
    scenario: &'a Arc<Scenario>,
    file: &'a str,
    schedule: &'a Schedule,
    workload: &'a Workload,
    invariant: Invariant,
    /// Executions and distinct schedules of the exploration.
    executions: (u64, u64),
    /// Checks read and skipped during the exploration.
    checks: (u64, u64),
}

/// Replays of candidate workloads at most when shrinking one.
const WORKLOAD_RUNS_MAX: u64 = 400;
/// Steps replayed at most over those candidates.
const WORKLOAD_STEPS_MAX: u64 = 2_000_000;

/// The workload's steps as a fixed-step scenario expecting `invariant` to fail.
fn fixed_scenario(scenario: &Scenario, workload: &Workload, invariant: Invariant) -> Scenario {
    let mut fixed = scenario.clone();
    fixed.name = format!("{}-regression", scenario.name);
    fixed.description = format!(
        "A workload that {} drew when it failed {invariant}, shrunk and saved as fixed steps; \
         the shrunk failing schedule is pinned below.",
        scenario.name
    );
    fixed.generate = None;
    fixed.tasks = workload.tasks.clone();
    fixed.workers = workload.workers.clone();
    fixed.faults.kinds = workload.fault_kinds.clone();
    fixed.faults.kinds.sort();
    fixed.expect = Expect::Fail { invariant };
    fixed.mutant = None;
    fixed.certify = None;
    fixed.pinned = Vec::new();
    fixed
}

/// `scenario` without the steps at `positions` (task index, step index), tasks left empty
/// dropped, checked by writing it out and reading it back (a step may refer to a registration
/// a dropped step made). `None` when the result is not a valid scenario.
fn without_steps(scenario: &Scenario, positions: &[(usize, usize)]) -> Option<Scenario> {
    let mut candidate = scenario.clone();
    for (task, spec) in candidate.tasks.iter_mut().enumerate() {
        let mut index = 0;
        spec.steps.retain(|_| {
            let keep = !positions.contains(&(task, index));
            index += 1;
            keep
        });
    }
    candidate.tasks.retain(|task| !task.steps.is_empty());
    if candidate.tasks.is_empty() {
        return None;
    }
    let text = crate::scenario::render::scenario(&candidate);
    crate::scenario::parse(&candidate.name, &text).ok()
}

/// Shrinks a failing generated workload: its drawn steps become fixed steps, runs of steps
/// are dropped (long runs first, down to single steps) while the workload still fails the
/// same invariant under the guided replay of its schedule, and the failing schedule of what is
/// left is then shrunk as any other. The run reported is the shrunk fixed-step scenario's
/// failure (replay it from the regression file), with a note of how to replay the failure as
/// found.
fn shrink_generated(found: &FoundGenerated<'_>) -> Option<ScenarioRun> {
    let mut fixed = fixed_scenario(found.scenario, found.workload, found.invariant);
    let mut schedule = found.schedule.clone();
    if let Some(Choice::Draw(_)) = schedule.choices.first() {
        schedule.choices.remove(0);
    }
    let steps_before: usize = fixed.tasks.iter().map(|task| task.steps.len()).sum();
    let regression_file = format!(
        "reports/failures/{}.regression.toml",
        crate::report::artefact_stem_of(&found.scenario.name)
    );
    let spent = std::cell::Cell::new((0u64, 0u64));
    let fails_with = |candidate: &Scenario, schedule: &Schedule| -> Option<Schedule> {
        let (runs, steps) = spent.get();
        let candidate = Arc::new(candidate.clone());
        let tally = Rc::new(RefCell::new(FaultTally::default()));
        let config = replay_config(&config_of(&candidate, &Overrides::default()), schedule);
        let mut runner = runner_for(&candidate, &regression_file, config, &tally);
        let model = candidate.clone();
        let report = runner.replay_guided(move || workload::run(&model), schedule);
        spent.set((runs + 1, steps + report.progress().steps_total));
        let failure = report.failure()?;
        (invariant_of(&failure.kind) == Some(found.invariant)).then(|| report.schedule().clone())
    };
    // The drawn workload must fail as fixed steps before anything is dropped.
    schedule = fails_with(&fixed, &schedule)?;
    let mut chunk = steps_before / 2;
    let mut stopped_early = false;
    while chunk >= 1 && !stopped_early {
        let mut start = 0;
        loop {
            let positions: Vec<(usize, usize)> = fixed
                .tasks
                .iter()
                .enumerate()
                .flat_map(|(task, spec)| (0..spec.steps.len()).map(move |step| (task, step)))
                .collect();
            if start >= positions.len() {
                break;
            }
            let (runs, steps) = spent.get();
            if runs >= WORKLOAD_RUNS_MAX || steps >= WORKLOAD_STEPS_MAX {
                stopped_early = true;
                break;
            }
            let end = (start + chunk).min(positions.len());
            let dropped = without_steps(&fixed, &positions[start..end]);
            match dropped.and_then(|candidate| {
                let kept = fails_with(&candidate, &schedule)?;
                Some((candidate, kept))
            }) {
                Some((candidate, kept)) => {
                    fixed = candidate;
                    schedule = kept;
                }
                None => start = end,
            }
        }
        chunk /= 2;
    }
    let steps_after: usize = fixed.tasks.iter().map(|task| task.steps.len()).sum();
    let runs = spent.get().0;
    let mut run = shrink_scenario(&fixed, &regression_file, schedule);
    let failure = run.failure.as_ref()?;
    if invariant_of(&failure.kind) != Some(found.invariant) {
        return None;
    }
    let mut saved = fixed.clone();
    pin(&mut saved, run.schedule.clone()?);
    run.regression = Some(crate::scenario::render::scenario(&saved));
    run.notes.push(format!(
        "the generated workload was shrunk from {steps_before} to {steps_after} steps in {runs} \
         replays{}; it is saved with its shrunk schedule pinned as {regression_file}, and the \
         failure as found replays with: vigil replay {} {}",
        if stopped_early {
            " (budget spent; it may shrink further)"
        } else {
            ""
        },
        found.file,
        found.schedule.encode()
    ));
    run.scenario = found.scenario.clone();
    run.file = found.file.to_owned();
    run.workload = Some(Arc::new(Workload {
        tasks: fixed.tasks.clone(),
        workers: fixed.workers.clone(),
        fault_kinds: fixed.faults.kinds.clone(),
        op_kinds: found.workload.op_kinds.clone(),
        generated: true,
    }));
    (run.executions, run.distinct_schedules) = found.executions;
    (run.checks_read, run.checks_skipped) = found.checks;
    Some(run)
}

/// A failure of a generated workload as an ordinary fixed-step scenario file: the steps the
/// failing execution drew, the fault kinds it had on, and its schedule pinned (without the
/// workload draw, which a fixed-step scenario does not make), expecting the same failure.
/// `None` unless `run` failed on a generated workload.
pub fn regression_scenario(run: &ScenarioRun) -> Option<String> {
    let workload = run.workload.as_ref()?;
    let Observed::Fail {
        invariant: Some(invariant),
    } = run.observed
    else {
        return None;
    };
    let mut schedule = run.schedule.clone()?;
    match schedule.choices.first() {
        Some(Choice::Draw(_)) => {
            schedule.choices.remove(0);
        }
        _ => return None,
    }
    let mut fixed = fixed_scenario(&run.scenario, workload, invariant);
    fixed.description = format!(
        "The workload that {} drew when it failed {invariant}, saved as fixed steps; the \
         failing schedule is pinned below.",
        run.scenario.name
    );
    pin(&mut fixed, schedule);
    Some(crate::scenario::render::scenario(&fixed))
}

/// Any failure of `run` as a regression scenario: the scenario as it ran (for a generated
/// workload, its drawn steps as fixed steps; see [`regression_scenario`]) with the failing
/// schedule pinned and the failure's invariant expected. `None` when nothing failed or the
/// failure maps to no invariant.
pub fn pinned_regression(run: &ScenarioRun) -> Option<String> {
    if run.workload.is_some() {
        return regression_scenario(run);
    }
    let Observed::Fail {
        invariant: Some(invariant),
    } = run.observed
    else {
        return None;
    };
    let mut fixed = (*run.scenario).clone();
    fixed.name = format!("{}-regression", run.scenario.name);
    fixed.description = format!(
        "{} with the schedule that fails {invariant} pinned below (replayed before the search).",
        run.scenario.name
    );
    fixed.expect = Expect::Fail { invariant };
    fixed.mutant = None;
    fixed.certify = None;
    pin(&mut fixed, run.schedule.clone()?);
    Some(crate::scenario::render::scenario(&fixed))
}

/// Pins `schedule` in `scenario`, stamped with the scenario's own fingerprint: the schedule
/// fits it (a generated workload's, once its draw is dropped, fits the fixed steps it drew).
fn pin(scenario: &mut Scenario, schedule: Schedule) {
    let fingerprint = Some(scenario.fingerprint());
    scenario.pinned = vec![Schedule {
        fingerprint,
        ..schedule
    }];
}

/// Parts of the fault plan that never fired in the whole run.
fn unfired_faults(scenario: &Scenario, tally: &FaultTally) -> Vec<String> {
    let plan = &scenario.faults;
    let mut unfired = Vec::new();
    if plan.budget > 0 && tally.chosen == 0 {
        unfired.push(format!(
            "faults.budget = {} but no scheduler-chosen fault fired in any execution",
            plan.budget
        ));
    }
    for (index, fault) in plan.at.iter().enumerate() {
        if tally.at.get(index).copied().unwrap_or(0) == 0 {
            unfired.push(format!(
                "faults.at[{index}] ({} fault on '{}' when '{}' reaches {}) never fired",
                fault.kind.name(),
                fault.worker,
                fault.task,
                fault.site
            ));
        }
    }
    for (index, delay) in plan.delays.iter().enumerate() {
        if tally.delays.get(index).copied().unwrap_or(0) == 0 {
            unfired.push(format!(
                "faults.delay[{index}] ('{}' at {}) never applied",
                delay.task, delay.site
            ));
        }
    }
    unfired
}
