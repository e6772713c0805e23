//! The search of a scenario spread over threads (`--jobs`) and machines (`--shard`).
//!
//! Each part of a run (see [`Part`]) runs its executions with its own executor, observers and
//! fault source on its own OS thread, and logs per execution index what the reports count:
//! lock-dependent checks read and skipped, the schedule's digest and the abstract states
//! reached. The parts share the lowest failing index found so far and skip everything above
//! it, so together they stop at the first failure in the global order with everything below
//! it run. [`Log::cut`] then counts only the executions up to that failure: the figures, the
//! failure and every report are the same however many threads or machines ran the parts and
//! whichever finished first.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::checks;
use super::coverage::{Reach, StateProbe};
use super::dispatch_stats::{DispatchProbe, DispatchTally};
use super::faults::FaultTally;
use super::rows::{FirstSeen, Rows};
use super::{runner_for, workload};
use crate::part::Part;
use crate::runner::{Config, StopReason};
use crate::scenario::{Scenario, StrategyKind};
use crate::schedule::Schedule;
use crate::strategy::{Coverage, Dfs, Dpor, Pct, Portfolio, Random, Strategy};

/// What one part (or several, absorbed) of a search ran and found, per execution index.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Log {
    /// Per execution index run: lock-dependent checks `(read, skipped)`.
    pub(crate) executions: Rows<(u64, u64)>,
    /// Schedule digest to the first execution index that made it.
    pub(crate) schedules: FirstSeen,
    /// Abstract state hash to the first execution index that reached it.
    pub(crate) states: FirstSeen,
    /// Per execution index that dispatched: how its dispatches ended.
    pub(crate) dispatch: Rows<DispatchTally>,
    /// How often each part of the fault plan fired, summed over the parts.
    pub(crate) tally: FaultTally,
    /// The lowest failing execution index found and its schedule.
    pub(crate) found: Option<(u64, Schedule)>,
    /// Why the search stopped, when nothing failed.
    pub(crate) stop: Option<StopReason>,
    /// A systematic search's coverage (whole searches only).
    pub(crate) coverage: Option<Coverage>,
    /// A split systematic search's units (see [`super::units`]); its indices are then unit
    /// keys, turned into the global order by [`super::units::settle`].
    pub(crate) units: Option<super::units::Units>,
    /// Executions whose rows were folded into totals ([`Log::fold`]); all of them come
    /// before every execution still held in the rows.
    pub(crate) folded: Folded,
}

/// The totals of executions folded out of a [`Log`]'s rows.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Folded {
    pub(crate) executions: u64,
    pub(crate) distinct_schedules: u64,
    /// Lock-dependent checks `(read, skipped)`.
    pub(crate) checks: (u64, u64),
    pub(crate) dispatch: Option<DispatchTally>,
}

impl Folded {
    fn absorb(&mut self, other: Folded) {
        self.executions += other.executions;
        self.distinct_schedules += other.distinct_schedules;
        self.checks.0 += other.checks.0;
        self.checks.1 += other.checks.1;
        self.dispatch = add_tallies(self.dispatch, other.dispatch);
    }
}

fn add_tallies(a: Option<DispatchTally>, b: Option<DispatchTally>) -> Option<DispatchTally> {
    match (a, b) {
        (Some(mut a), Some(b)) => {
            a.absorb(&b);
            Some(a)
        }
        (a, b) => a.or(b),
    }
}

/// The figures of a search up to its first failure (or of all of it).
#[derive(Clone, Debug)]
pub(crate) struct Cut {
    pub(crate) executions: u64,
    pub(crate) distinct_schedules: u64,
    pub(crate) checks: (u64, u64),
    pub(crate) reach: Reach,
    /// How the dispatches ended (`None` when no execution dispatched).
    pub(crate) dispatch: Option<DispatchTally>,
}

impl Log {
    /// Adds another part's log to this one: the union of what they ran, the lower failure.
    pub fn absorb(&mut self, other: Log) {
        self.executions.absorb(other.executions);
        self.schedules.absorb(other.schedules);
        self.states.absorb(other.states);
        self.dispatch.absorb(other.dispatch);
        self.tally.absorb(&other.tally);
        self.found = match (self.found.take(), other.found) {
            (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
            (a, b) => a.or(b),
        };
        self.stop = match (self.stop, other.stop) {
            (Some(a), Some(b)) => Some(later_stop(a, b)),
            (a, b) => a.or(b),
        };
        self.coverage = self.coverage.or(other.coverage);
        self.units = match (self.units.take(), other.units) {
            (Some(mut a), Some(b)) => {
                a.absorb(b);
                Some(a)
            }
            (a, b) => a.or(b),
        };
        self.folded.absorb(other.folded);
    }

    /// Folds every execution's row, schedule and dispatch tally into [`Log::folded`], so a
    /// long search's log stays small (a checkpoint saves it after every chunk). Only for a
    /// log that has found nothing, whose figures are then those of every execution; and it
    /// counts distinct schedules by adding the distinct schedules of each fold, which is
    /// exact only when no schedule recurs across folds. That holds for the one search that
    /// folds, a whole DPOR search: each of its executions branches from every earlier one at
    /// a choice point where it takes an actor not taken there before.
    pub(crate) fn fold(&mut self) {
        if self.found.is_some() {
            return;
        }
        // Nothing failed, so the cut is every execution, the folded ones included.
        let cut = self.cut();
        self.folded = Folded {
            executions: cut.executions,
            distinct_schedules: cut.distinct_schedules,
            checks: cut.checks,
            dispatch: cut.dispatch,
        };
        self.executions = Rows::default();
        self.schedules = FirstSeen::default();
        self.dispatch = Rows::default();
    }

    /// The figures counting only the executions up to and including the first failure.
    pub(crate) fn cut(&self) -> Cut {
        let limit = self.found.as_ref().map_or(u64::MAX, |(idx, _)| *idx);
        let ran = self.executions.up_to(limit);
        let folded = self.folded;
        let checks = ran
            .clone()
            .fold(folded.checks, |(read, skipped), (_, (r, s))| {
                (read + r, skipped + s)
            });
        let executions = folded.executions + ran.count() as u64;
        let firsts = self.states.firsts_up_to(limit);
        let dispatch = self
            .dispatch
            .up_to(limit)
            .fold(folded.dispatch, |total, (_, tally)| {
                add_tallies(total, Some(*tally))
            });
        Cut {
            executions,
            distinct_schedules: folded.distinct_schedules + self.schedules.count_up_to(limit),
            checks,
            reach: Reach::new(firsts, executions),
            dispatch,
        }
    }
}

/// Of two parts' stop reasons, the one that describes the whole: an interrupt or a wall-time
/// stop in any part cuts the search short.
fn later_stop(a: StopReason, b: StopReason) -> StopReason {
    let rank = |stop| match stop {
        StopReason::Interrupted => 3,
        StopReason::WallTime => 2,
        StopReason::StrategyExhausted => 1,
        StopReason::ExecutionsDone => 0,
    };
    if rank(b) > rank(a) { b } else { a }
}

/// Whether every execution of `kind` depends on the root seed and its index alone, so the
/// search can be split by index across threads and machines (PCT with its horizons fixed by
/// pilot executions). The systematic searches learn from earlier executions and run whole,
/// unless split into units (see [`super::units`]).
pub(crate) fn splittable(kind: StrategyKind) -> bool {
    matches!(
        kind,
        StrategyKind::Random | StrategyKind::Portfolio | StrategyKind::Pct { .. }
    )
}

/// The horizons a splittable search's executions start from instead of learning them.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Horizons {
    /// Steps, for fault timers (see [`fault_horizon`]).
    pub(crate) faults: u64,
    /// Shared points, for PCT's change points (see [`pct_horizon`]).
    pub(crate) pct: u64,
}

/// The strategy of `kind` for a run with root seed `seed`; the splittable ones with their
/// horizons fixed to `horizons`.
pub(crate) fn strategy_of(kind: StrategyKind, seed: u64, horizons: Horizons) -> Box<dyn Strategy> {
    match kind {
        StrategyKind::Random => Box::new(Random::calibrated(seed, horizons.faults)),
        StrategyKind::Portfolio => Box::new(Portfolio::new(seed, horizons.faults)),
        StrategyKind::Pct { depth } => {
            Box::new(Pct::fixed(seed, depth, horizons.faults, horizons.pct))
        }
        StrategyKind::Dfs { preemptions_max } => Box::new(Dfs::new(preemptions_max)),
        StrategyKind::Dpor {
            preemptions_max,
            faults_max,
        } => Box::new(Dpor::new(preemptions_max, faults_max)),
    }
}

/// The shared points PCT of `depth` spreads its change points over: those of the run's first
/// execution, which a learning PCT would use from its second execution on.
pub(crate) fn pct_horizon(
    scenario: &Arc<Scenario>,
    file: &str,
    config: &Config,
    depth: u32,
) -> u64 {
    let mut pilot = Pct::new(config.seed, depth);
    run_pilot(scenario, file, config, &mut pilot);
    pilot.horizon()
}

/// Runs one execution of `pilot` to learn from, counting nothing.
fn run_pilot(scenario: &Arc<Scenario>, file: &str, config: &Config, pilot: &mut dyn Strategy) {
    let mut config = config.clone();
    config.executions = 1;
    config.shrink = None;
    let tally = Rc::new(RefCell::new(FaultTally::default()));
    let mut runner = runner_for(scenario, file, config, &tally);
    let model = scenario.clone();
    checks::take_tally();
    runner.run(pilot, move || workload::run(&model));
    checks::take_tally();
}

/// The fault horizon every execution of a splittable search starts from: the one a random
/// walk learns in the run's first execution. A random walk that learned from all earlier
/// executions would make execution `i` depend on which executions ran before it on the same
/// thread; this pilot is the same for every part, thread and machine.
pub(crate) fn fault_horizon(scenario: &Arc<Scenario>, file: &str, config: &Config) -> u64 {
    let mut pilot = Random::new(config.seed);
    run_pilot(scenario, file, config, &mut pilot);
    pilot.fault_horizon()
}

/// How one part runs besides its strategy.
pub(crate) struct PartRun<'a> {
    pub(crate) scenario: &'a Arc<Scenario>,
    pub(crate) file: &'a str,
    pub(crate) config: Config,
    pub(crate) part: Part,
    pub(crate) lowest: Arc<AtomicU64>,
    pub(crate) interrupt: Option<Arc<AtomicBool>>,
    /// Added to every execution index this part logs (a split unit's key, see
    /// [`super::units`]); zero otherwise.
    pub(crate) key_base: u64,
    /// The first execution index to run (a search resumed from a checkpoint); zero otherwise.
    pub(crate) first: u64,
}

/// Runs one part of a search on this thread and logs it.
pub(crate) fn run_part(
    run: PartRun<'_>,
    strategy: &mut dyn Strategy,
    progress: Box<dyn FnMut(u64)>,
) -> Log {
    let tally = Rc::new(RefCell::new(FaultTally::default()));
    let seen = Rc::new(RefCell::new(Vec::new()));
    let dispatched = Rc::new(RefCell::new(DispatchTally::default()));
    let log = Rc::new(RefCell::new(Log::default()));
    let (probe_seen, hook_log) = (seen.clone(), log.clone());
    let probe_dispatched = dispatched.clone();
    let base = run.key_base;
    let mut runner = runner_for(run.scenario, run.file, run.config, &tally)
        .observer(StateProbe::new(seen))
        .observer(DispatchProbe::new(dispatched))
        .part(run.part)
        .starting_at(run.first)
        .lowest_failure(run.lowest)
        .on_execution(progress)
        .after_execution(move |idx, schedule| {
            let mut log = hook_log.borrow_mut();
            let key = base + idx;
            log.executions.insert(key, checks::take_tally());
            log.schedules.note(schedule.digest(), key);
            for state in probe_seen.borrow_mut().drain(..) {
                log.states.note(state, key);
            }
            let dispatched = probe_dispatched.take();
            if dispatched.dispatches > 0 {
                log.dispatch.insert(key, dispatched);
            }
        });
    if let Some(flag) = run.interrupt {
        runner = runner.stop_when(move || flag.load(Ordering::Relaxed));
    }
    let scenario = run.scenario.clone();
    checks::take_tally();
    let report = runner.run(strategy, move || workload::run(&scenario));
    checks::take_tally();
    let mut log = log.take();
    log.found = report
        .failure()
        .map(|failure| (base + failure.execution_idx, report.schedule().clone()));
    log.stop = report.stats().map(|stats| stats.stop);
    log.coverage = report.progress().coverage;
    log.tally = tally.borrow().clone();
    log
}

/// Runs a splittable search's `part` (a shard, or the whole run) as `jobs` parts on as many
/// OS threads, this one included, and returns their logs absorbed into one.
pub(crate) fn run_jobs(
    run: PartRun<'_>,
    kind: StrategyKind,
    jobs: u64,
    progress: Box<dyn FnMut(u64)>,
) -> Log {
    let horizons = Horizons {
        faults: fault_horizon(run.scenario, run.file, &run.config),
        pct: match kind {
            StrategyKind::Pct { depth } => pct_horizon(run.scenario, run.file, &run.config, depth),
            _ => 0,
        },
    };
    let seed = run.config.seed;
    on_jobs(&run, jobs, progress, |part, count| {
        run_part(part, &mut *strategy_of(kind, seed, horizons), count)
    })
}

/// Runs `body` once per job on `jobs` OS threads, this one included, each with its job's part
/// of `run` and a callback for each execution it finishes; this thread's callback also shows
/// the total across jobs through `progress`. Returns the jobs' logs absorbed into one.
pub(crate) fn on_jobs(
    run: &PartRun<'_>,
    jobs: u64,
    mut progress: Box<dyn FnMut(u64)>,
    body: impl Fn(PartRun<'_>, Box<dyn FnMut(u64)>) -> Log + Sync,
) -> Log {
    let done = Arc::new(AtomicU64::new(0));
    let part_of = |job_idx| PartRun {
        scenario: run.scenario,
        file: run.file,
        config: run.config.clone(),
        part: run.part.job(job_idx, jobs),
        lowest: run.lowest.clone(),
        interrupt: run.interrupt.clone(),
        key_base: 0,
        first: 0,
    };
    let logs = crate::workers::on_threads(
        jobs,
        |job_idx| {
            let done = done.clone();
            let count = Box::new(move |_| {
                done.fetch_add(1, Ordering::Relaxed);
            });
            body(part_of(job_idx), count)
        },
        |job_idx| {
            // This thread runs its own job and shows the progress of all of them.
            let done = done.clone();
            let count = Box::new(move |_| progress(done.fetch_add(1, Ordering::Relaxed) + 1));
            body(part_of(job_idx), count)
        },
    );
    let mut logs = logs.into_iter();
    let mut log = logs.next().unwrap_or_default();
    for other in logs {
        log.absorb(other);
    }
    log
}
