//! The runner and the library API: explore a model under a strategy and report the outcome.
//!
//! [`run`] (or a [`Runner`] with observers) runs executions until one fails, the budget is
//! spent or the strategy has nothing left, and returns a [`Report`]. The helpers of
//! [`crate::check`] wrap it for `#[test]`s: they panic with the [`Failure`]'s text, which ends
//! with the command that replays it.
//!
//! Every failure is confirmed before it is reported: its schedule is replayed once and must
//! give the same trace, otherwise the failure is reported as nondeterminism instead. With
//! [`Config::determinism_check`] every passing execution is checked the same way.

use std::env;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::executor::{Executor, Model, Outcome, Verdict};
use crate::failure::{Failure, FailureKind, REPLAY_ENV};
use crate::fault::{Faults, NoFaults};
use crate::observer::Observer;
use crate::part::Part;
use crate::schedule::{Schedule, ScheduleError};
use crate::shrink::{Bench, ShrinkLimits, Shrunk, Signature};
use crate::strategy::{Coverage, Replay, Strategy};
use crate::trace::Trace;
use crate::wall_clock;

/// The environment variable that sets the root seed (decimal or `0x` hex).
pub const SEED_ENV: &str = "VIGIL_SEED";

/// The root seed used when [`SEED_ENV`] is not set.
pub const DEFAULT_SEED: u64 = 0x5eed_f00d;

const UNWINDING_NOTE: &str = "\nnote: a task was left parked while unwinding a panic, so this \
     thread still counts as panicking; the failure was not re-run to confirm it. Replay it in a \
     fresh test process.";

/// Limits and switches of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The root seed; every random choice of the run derives from it.
    pub seed: u64,
    /// How many executions to run at most.
    pub executions: u64,
    /// Steps one execution may take before it fails with `StepLimit` (livelock).
    pub steps_max: u64,
    /// Tasks one execution may create, main included, before it fails with `TaskLimit`.
    pub tasks_max: usize,
    /// Run every passing execution a second time from its recorded schedule and fail with
    /// `Nondeterminism` if the traces differ. Doubles the cost; failures are always checked.
    pub determinism_check: bool,
    /// Stop exploring (without failing) once this much real time has passed. Checked only
    /// between executions, never inside one; the only use of the wall clock in vigil-sim.
    pub wall_time_max: Option<Duration>,
    /// Shrink every failure before reporting it (see [`crate::shrink`]), within these limits;
    /// `None` reports failures as found.
    pub shrink: Option<ShrinkLimits>,
    /// Stamped into every schedule the run records (see [`Schedule::fingerprint`]); scenario
    /// runs set it to their scenario's fingerprint.
    pub fingerprint: Option<u64>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            seed: DEFAULT_SEED,
            executions: 1000,
            steps_max: 100_000,
            tasks_max: 256,
            determinism_check: false,
            wall_time_max: None,
            shrink: Some(ShrinkLimits::default()),
            fingerprint: None,
        }
    }
}

/// An environment variable vigil reads is set to something it cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error(
        "{SEED_ENV}={value:?} is not a seed; use a decimal or 0x-prefixed hex u64, e.g. {SEED_ENV}=0x2a"
    )]
    BadSeed { value: String },
    #[error("{REPLAY_ENV} is set but is not a schedule: {0}")]
    BadReplay(#[source] ScheduleError),
}

impl Config {
    /// The defaults, with the seed from [`SEED_ENV`] when it is set.
    pub fn from_env() -> Result<Config, EnvError> {
        let mut config = Config::default();
        if let Ok(value) = env::var(SEED_ENV) {
            config.seed = parse_seed(&value).ok_or(EnvError::BadSeed { value })?;
        }
        Ok(config)
    }
}

/// A seed as text: decimal or `0x`-prefixed hex, any u64 (surrounding blanks ignored).
pub fn parse_seed(text: &str) -> Option<u64> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// The schedule in [`REPLAY_ENV`], if the variable is set.
pub fn replay_from_env() -> Result<Option<Schedule>, EnvError> {
    match env::var(REPLAY_ENV) {
        Ok(text) => Schedule::decode(&text)
            .map(Some)
            .map_err(EnvError::BadReplay),
        Err(_) => Ok(None),
    }
}

/// Counts of a run that found no failure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    pub executions: u64,
    pub steps_total: u64,
    /// The most steps any one execution took.
    pub steps_max_seen: u64,
    /// How many executions made a schedule no earlier execution of the run made.
    pub distinct_schedules: u64,
    pub stop: StopReason,
    /// How much of its bounds a systematic strategy covered (see [`Coverage::describe`]).
    pub coverage: Option<Coverage>,
}

impl Stats {
    /// The counts of a run of one execution (a replay) that took `steps` steps.
    fn one_execution(steps: u64) -> Stats {
        Stats {
            executions: 1,
            steps_total: steps,
            steps_max_seen: steps,
            distinct_schedules: 1,
            stop: StopReason::StrategyExhausted,
            coverage: None,
        }
    }
}

/// Why a run without failures stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// `Config::executions` executions ran.
    ExecutionsDone,
    /// The strategy had nothing left to explore.
    StrategyExhausted,
    /// `Config::wall_time_max` passed.
    WallTime,
    /// The stop check set with [`Runner::stop_when`] said stop (an interrupt).
    Interrupted,
}

/// The result of a run: its stats or its first failure, plus the last execution's trace and
/// schedule (the failing execution's, when one failed).
#[derive(Clone, Debug)]
pub struct Report {
    result: Result<Stats, Failure>,
    /// Counts up to and including the last execution run (the failing one, if any).
    progress: Stats,
    trace: Trace,
    schedule: Schedule,
}

impl Report {
    /// How many executions ran (and distinct schedules they made), whether or not one failed.
    pub fn progress(&self) -> &Stats {
        &self.progress
    }

    pub fn result(&self) -> Result<&Stats, &Failure> {
        self.result.as_ref()
    }

    #[expect(
        clippy::result_large_err,
        reason = "a run yields at most one failure, once; boxing it would only make matching harder"
    )]
    pub fn into_result(self) -> Result<Stats, Failure> {
        self.result
    }

    pub fn failure(&self) -> Option<&Failure> {
        self.result.as_ref().err()
    }

    pub fn stats(&self) -> Option<&Stats> {
        self.result.as_ref().ok()
    }

    /// The full trace of the last execution run (the failing one, when one failed).
    pub fn trace(&self) -> &Trace {
        &self.trace
    }

    /// The schedule of the last execution run (the failing one, when one failed).
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

/// Runs `model` under `strategy` with `config`; see [`Runner`] for observers.
pub fn run<F>(config: &Config, strategy: &mut dyn Strategy, model: F) -> Report
where
    F: Fn() + Send + Sync + 'static,
{
    Runner::new(config.clone()).run(strategy, model)
}

/// The per-execution hook of [`Runner::after_execution`]: the index and schedule of an
/// execution once examined.
type AfterExecution = dyn FnMut(u64, &Schedule);

/// A run's configuration plus its observers and the form of the replay command.
pub struct Runner {
    config: Config,
    observers: Vec<Box<dyn Observer>>,
    faults: Box<dyn Faults>,
    on_execution: Option<Box<dyn FnMut(u64)>>,
    stop_when: Option<Box<dyn Fn() -> bool>>,
    replay_template: Option<String>,
    part: Part,
    lowest_failure: Option<Arc<AtomicU64>>,
    after_execution: Option<Box<AfterExecution>>,
    /// The first execution index [`Runner::run`] runs (a resumed search's).
    first: u64,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.observers.iter().map(|o| o.name()).collect();
        f.debug_struct("Runner")
            .field("config", &self.config)
            .field("observers", &names)
            .finish()
    }
}

impl Runner {
    pub fn new(config: Config) -> Self {
        Runner {
            config,
            observers: Vec::new(),
            faults: Box::new(NoFaults),
            on_execution: None,
            stop_when: None,
            replay_template: None,
            part: Part::WHOLE,
            lowest_failure: None,
            after_execution: None,
            first: 0,
        }
    }

    /// Runs only the executions of `part` (the others belong to other threads or machines).
    pub fn part(mut self, part: Part) -> Self {
        self.part = part;
        self
    }

    /// Starts [`Runner::run`] at execution index `first` instead of zero: a search resumed
    /// from a checkpoint goes on where it stopped, with the same indices (and seeds) an
    /// uninterrupted run would give its executions.
    pub fn starting_at(mut self, first: u64) -> Self {
        self.first = first;
        self
    }

    /// Shares the lowest failing execution index with the runners of the other parts: each
    /// lowers it when it finds a failure and skips every execution above it, so the parts
    /// together stop at the first failure in the global order, having run everything below.
    pub fn lowest_failure(mut self, lowest: Arc<AtomicU64>) -> Self {
        self.lowest_failure = Some(lowest);
        self
    }

    /// Calls `done` with the index and schedule of each execution once it has been examined
    /// (for per-execution bookkeeping; it must not influence the run).
    pub fn after_execution(mut self, done: impl FnMut(u64, &Schedule) + 'static) -> Self {
        self.after_execution = Some(Box::new(done));
        self
    }

    /// Adds an observer (invariant checker) called after every step of every execution.
    pub fn observer(mut self, observer: impl Observer + 'static) -> Self {
        self.observers.push(Box::new(observer));
        self
    }

    /// Sets the source of faults offered to the strategy (none by default).
    pub fn faults(mut self, faults: impl Faults + 'static) -> Self {
        self.faults = Box::new(faults);
        self
    }

    /// Calls `progress` with the number of executions finished after each one (for progress
    /// bars; it must not influence the run).
    pub fn on_execution(mut self, progress: impl FnMut(u64) + 'static) -> Self {
        self.on_execution = Some(Box::new(progress));
        self
    }

    /// Checks `stop` between executions and ends the run with [`StopReason::Interrupted`]
    /// when it returns `true` (for Ctrl-C; it must not influence executions).
    pub fn stop_when(mut self, stop: impl Fn() -> bool + 'static) -> Self {
        self.stop_when = Some(Box::new(stop));
        self
    }

    /// Sets the replay command printed with failures; `{schedule}` is replaced by the
    /// encoded schedule. The default is a `cargo test` command naming the calling test (the
    /// name of the calling thread, which is how libtest names test threads).
    pub fn replay_command(mut self, template: impl Into<String>) -> Self {
        self.replay_template = Some(template.into());
        self
    }

    /// Explores until a failure, the execution budget, the wall-time cap or the strategy's
    /// end. Nothing survives from one execution to the next except the executor's buffers.
    pub fn run<F>(&mut self, strategy: &mut dyn Strategy, model: F) -> Report
    where
        F: Fn() + Send + Sync + 'static,
    {
        let part = self.part;
        let indices = (self.first..self.config.executions).filter(move |&idx| part.owns(idx));
        self.run_indices(strategy, Arc::new(model), indices)
    }

    /// Replays `schedule` as execution `execution_idx` of a run, confirming a failure as
    /// [`Runner::run`] does (a failure found by another thread or machine, reproduced here
    /// with the same index, seed and replay command).
    pub fn reproduce<F>(&mut self, model: F, schedule: &Schedule, execution_idx: u64) -> Report
    where
        F: Fn() + Send + Sync + 'static,
    {
        let mut replay = Replay::new(schedule.clone());
        let indices = std::iter::once(execution_idx);
        self.run_indices(&mut replay, Arc::new(model), indices)
    }

    fn run_indices(
        &mut self,
        strategy: &mut dyn Strategy,
        model: Model,
        indices: impl Iterator<Item = u64>,
    ) -> Report {
        crate::executor::quiet_injected_panics();
        let mut executor = Executor::new(&self.config);
        let mut first_trace = Trace::default();
        let elapsed = self.config.wall_time_max.map(|_| wall_clock::stopwatch());
        let mut stats = Stats {
            executions: 0,
            steps_total: 0,
            steps_max_seen: 0,
            distinct_schedules: 0,
            stop: StopReason::ExecutionsDone,
            coverage: None,
        };
        let mut seen_schedules = std::collections::BTreeSet::new();
        for execution_idx in indices {
            let lowest = self.lowest_failure.as_ref();
            if lowest.is_some_and(|lowest| execution_idx > lowest.load(Ordering::Acquire)) {
                break;
            }
            let over_time = elapsed.as_ref().zip(self.config.wall_time_max);
            if over_time.is_some_and(|(elapsed, max)| stats.executions > 0 && elapsed() >= max) {
                stats.stop = StopReason::WallTime;
                break;
            }
            if self.stop_when.as_ref().is_some_and(|stop| stop()) {
                stats.stop = StopReason::Interrupted;
                break;
            }
            let observers = &mut self.observers[..];
            let faults = &mut *self.faults;
            let Some(outcome) =
                executor.execute(execution_idx, strategy, observers, faults, &model)
            else {
                stats.stop = StopReason::StrategyExhausted;
                break;
            };
            stats.executions += 1;
            if let Some(progress) = &mut self.on_execution {
                progress(stats.executions);
            }
            stats.steps_total += outcome.steps;
            stats.steps_max_seen = stats.steps_max_seen.max(outcome.steps);
            let schedule = executor.schedule();
            if seen_schedules.insert(schedule.digest()) {
                stats.distinct_schedules += 1;
            }
            let examined = (execution_idx, &outcome, &schedule);
            let failure = self.examine(&mut executor, &model, &mut first_trace, examined);
            if let Some(done) = &mut self.after_execution {
                done(execution_idx, &schedule);
            }
            if let Some(failure) = failure {
                if let Some(lowest) = &self.lowest_failure {
                    lowest.fetch_min(execution_idx, Ordering::AcqRel);
                }
                stats.coverage = strategy.coverage();
                let (failure, schedule) = match self.config.shrink {
                    Some(limits) => {
                        self.shrink_found(&mut executor, &model, failure, schedule, limits)
                    }
                    None => (failure, schedule),
                };
                return Report {
                    result: Err(failure),
                    progress: stats,
                    trace: executor.trace().clone(),
                    schedule,
                };
            }
        }
        stats.coverage = strategy.coverage();
        Report {
            result: Ok(stats),
            progress: stats,
            trace: executor.trace().clone(),
            schedule: executor.schedule(),
        }
    }

    /// Replays `schedule` and, when it fails, shrinks the failure (with [`Config::shrink`]'s
    /// limits, or the default ones when shrinking is off for runs). The report's failure
    /// carries the shrunk schedule and [`Failure::shrunk`]; a schedule that passes gives a
    /// passing report of one execution.
    pub fn shrink<F>(&mut self, model: F, schedule: &Schedule) -> Report
    where
        F: Fn() + Send + Sync + 'static,
    {
        let model: Model = Arc::new(model);
        crate::executor::quiet_injected_panics();
        let mut executor = Executor::new(&self.config);
        let outcome = executor
            .execute(
                0,
                &mut Replay::new(schedule.clone()),
                &mut self.observers[..],
                &mut *self.faults,
                &model,
            )
            .expect("[internal bug] a fresh replay had no execution to run");
        let stats = Stats::one_execution(outcome.steps);
        let found = self.failure_of(&outcome, 0, schedule, executor.trace());
        let Some(failure) = found else {
            return Report {
                result: Ok(stats),
                progress: stats,
                trace: executor.trace().clone(),
                schedule: schedule.clone(),
            };
        };
        let limits = self.config.shrink.unwrap_or_default();
        let (failure, schedule) =
            self.shrink_found(&mut executor, &model, failure, schedule.clone(), limits);
        Report {
            result: Err(failure),
            progress: stats,
            trace: executor.trace().clone(),
            schedule,
        }
    }

    /// Replays `schedule` guided: recorded choices while they fit, the shrinker's default
    /// (no preemption, no fault) otherwise. The report's schedule is the one actually made;
    /// a failure is neither confirmed nor shrunk. For shrinking what the model runs (a
    /// workload) rather than its schedule.
    pub fn replay_guided<F>(&mut self, model: F, schedule: &Schedule) -> Report
    where
        F: Fn() + Send + Sync + 'static,
    {
        let model: Model = Arc::new(model);
        crate::executor::quiet_injected_panics();
        let mut executor = Executor::new(&self.config);
        let mut guided = crate::shrink::Guided::new(schedule.seed, schedule.choices.clone());
        let outcome = crate::executor::quietly(|| {
            executor.execute(
                0,
                &mut guided,
                &mut self.observers[..],
                &mut *self.faults,
                &model,
            )
        })
        .expect("[internal bug] a guided replay had no execution to run");
        let stats = Stats::one_execution(outcome.steps);
        let schedule = executor.schedule();
        let result = match self.failure_of(&outcome, 0, &schedule, executor.trace()) {
            Some(failure) => Err(failure),
            None => Ok(stats),
        };
        Report {
            result,
            progress: stats,
            trace: executor.trace().clone(),
            schedule,
        }
    }

    /// Turns a failed execution into a [`Failure`], confirming it by replay first (and, with
    /// `determinism_check`, checking a passing one the same way). Leaves the examined
    /// execution's trace in `executor`; `spare_trace` is scratch space for the replay's.
    fn examine(
        &mut self,
        executor: &mut Executor,
        model: &Model,
        spare_trace: &mut Trace,
        (execution_idx, outcome, schedule): (u64, &Outcome, &Schedule),
    ) -> Option<Failure> {
        // A task leaked mid-unwind leaves this thread's panic count raised, which changes how
        // later executions on it behave: report the failure as found, unconfirmed.
        let left_unwinding = std::thread::panicking();
        let recheck = match &outcome.verdict {
            Verdict::Pass => self.config.determinism_check,
            Verdict::Fail { kind, .. } => {
                !left_unwinding && !matches!(kind, FailureKind::Divergence { .. })
            }
        };
        if recheck {
            // Keep the first run's trace aside while the replay fills the executor's.
            executor.swap_trace(spare_trace);
            let first = (execution_idx, outcome, schedule, &*spare_trace);
            let nondeterminism = crate::executor::quietly(|| self.recheck(executor, model, first));
            executor.swap_trace(spare_trace);
            if nondeterminism.is_some() {
                return nondeterminism;
            }
        }
        let mut failure = self.failure_of(outcome, execution_idx, schedule, executor.trace())?;
        if left_unwinding {
            failure.message.push_str(UNWINDING_NOTE);
        }
        Some(failure)
    }

    /// Replays the first run's schedule and compares the result with the first run. Returns a
    /// `Nondeterminism` failure when they differ. Leaves the replay's trace in `executor`.
    fn recheck(
        &mut self,
        executor: &mut Executor,
        model: &Model,
        (execution_idx, first, schedule, first_trace): (u64, &Outcome, &Schedule, &Trace),
    ) -> Option<Failure> {
        let mut replay = Replay::new(schedule.clone());
        let second = executor
            .execute(
                0,
                &mut replay,
                &mut self.observers[..],
                &mut *self.faults,
                model,
            )
            .expect("[internal bug] a fresh replay had no execution to run");
        let second_trace = executor.trace();
        let difference = first_trace.first_difference(second_trace);
        if difference.is_none() && second.verdict == first.verdict {
            return None;
        }
        let idx = difference.unwrap_or(first_trace.len());
        let line = |trace: &Trace| {
            trace
                .line(idx)
                .unwrap_or_else(|| "<end of trace>".to_owned())
        };
        let step = first_trace.step_of(idx).unwrap_or(first.steps);
        let mut message = format!(
            "the same schedule gave a different execution the second time; first difference at \
             trace event {idx}:\n  first run:  {}\n  second run: {}",
            line(first_trace),
            line(second_trace)
        );
        if let Verdict::Fail {
            message: second_message,
            ..
        } = &second.verdict
        {
            message.push_str(&format!("\nthe second run ended with: {second_message}"));
        }
        message.push_str(
            "\nIs the model fully deterministic? Look for state kept in statics between \
             executions, HashMap iteration order, the wall clock, OS threads, or randomness \
             not drawn through vigil_core::rt::random_u64.",
        );
        Some(Failure {
            kind: FailureKind::Nondeterminism { step },
            seed: self.config.seed,
            execution_idx,
            steps: first.steps,
            schedule: schedule.encode(),
            trace_tail: Failure::tail_of(first_trace),
            message,
            replay_command: self.command_for(&schedule.encode()),
            shrunk: None,
        })
    }

    fn failure_of(
        &self,
        outcome: &Outcome,
        execution_idx: u64,
        schedule: &Schedule,
        trace: &Trace,
    ) -> Option<Failure> {
        let Verdict::Fail { kind, message } = &outcome.verdict else {
            return None;
        };
        let schedule = schedule.encode();
        Some(Failure {
            kind: kind.clone(),
            seed: self.config.seed,
            execution_idx,
            steps: outcome.steps,
            trace_tail: Failure::tail_of(trace),
            message: message.clone(),
            replay_command: self.command_for(&schedule),
            schedule,
            shrunk: None,
        })
    }

    /// Shrinks a confirmed failure (when [`Config::shrink`] is on and the failure is one of the
    /// model's, not of the harness) and returns it with its schedule. Leaves the reported
    /// execution's trace in `executor`.
    fn shrink_found(
        &mut self,
        executor: &mut Executor,
        model: &Model,
        failure: Failure,
        schedule: Schedule,
        limits: ShrinkLimits,
    ) -> (Failure, Schedule) {
        let Some(target) = Signature::of(&failure.kind, &failure.message) else {
            return (failure, schedule);
        };
        if std::thread::panicking() {
            return (failure, schedule);
        }
        let mut bench = Bench {
            executor: &mut *executor,
            observers: &mut self.observers[..],
            faults: &mut *self.faults,
            model,
        };
        let shrunk = crate::executor::quietly(|| {
            crate::shrink::shrink_with_depth(&mut bench, &schedule, target.clone(), limits)
        });
        crate::executor::quietly(|| {
            if let Some(shrunk) = shrunk
                && let Some(found) = self.replay_shrunk(executor, model, &failure, &target, shrunk)
            {
                return found;
            }
            // Not reproducible guided (or the shrunk schedule did not replay): as found.
            let mut replay = Replay::new(schedule.clone());
            executor.execute(
                0,
                &mut replay,
                &mut self.observers[..],
                &mut *self.faults,
                model,
            );
            (failure, schedule)
        })
    }

    /// Replays the shrunk schedule exactly and builds its failure, or `None` when it does not
    /// fail the same way.
    fn replay_shrunk(
        &mut self,
        executor: &mut Executor,
        model: &Model,
        found: &Failure,
        target: &Signature,
        shrunk: Shrunk,
    ) -> Option<(Failure, Schedule)> {
        let mut replay = Replay::new(shrunk.schedule.clone());
        let outcome = executor.execute(
            0,
            &mut replay,
            &mut self.observers[..],
            &mut *self.faults,
            model,
        )?;
        let Verdict::Fail { kind, message } = &outcome.verdict else {
            return None;
        };
        if Signature::of(kind, message).as_ref() != Some(target) {
            return None;
        }
        let schedule = shrunk.schedule.clone();
        let mut failure =
            self.failure_of(&outcome, found.execution_idx, &schedule, executor.trace())?;
        failure.shrunk = Some(shrunk);
        Some((failure, schedule))
    }

    fn command_for(&self, schedule: &str) -> String {
        match &self.replay_template {
            Some(template) => template.replace("{schedule}", schedule),
            None => {
                let thread = std::thread::current();
                let test = thread.name().filter(|&name| name != "main");
                Failure::test_replay_command(schedule, test)
            }
        }
    }
}

#[cfg(test)]
mod tests;
