//! A systematic search split at a depth (see [`crate::strategy::split`]) and spread over
//! threads and machines, and the parts' logs settled into the run one thread would make.
//!
//! Every part walks the upper tree in the same order. It runs the units it owns (unit `u`
//! belongs to the part that owns index `u` shifted by the scenario's hash, as for split
//! executions, see [`Part::owns`]) and logs their executions under the key `(u, k)`, `k`
//! counting within the unit; for the others it runs only their first execution, to learn the
//! next prefix, and logs nothing. The global order of executions is that of the keys. A part
//! stops once it has run the budget's worth of its own executions: everything it has not run
//! then comes after the budget in the global order, so [`settle`] can cut there exactly.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::checks;
use super::explore::{Log, PartRun, run_part};
use super::faults::{FaultTally, PlanFaults};
use super::workload;
use crate::executor::{Executor, Model};
use crate::part::Part;
use crate::runner::StopReason;
use crate::scenario::StrategyKind;
use crate::strategy::Coverage;
use crate::strategy::split::{Below, Subtree, Unit, Upper};

/// A unit's key is its number shifted by this; the low bits count its executions.
const UNIT_SHIFT: u32 = 32;

/// What the parts of a split search learned about its units.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Units {
    /// Executions one unsplit run would make at most.
    pub(crate) budget: u64,
    /// How many units the upper tree has, when a part walked all of it.
    pub(crate) total: Option<u64>,
    /// Per unit run: how its search ended.
    pub(crate) records: BTreeMap<u64, UnitRecord>,
}

/// How one unit's search ended.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct UnitRecord {
    /// Alternatives of the upper tree left once the unit's prefix was known.
    pub(crate) upper_open: u64,
    /// The unit's search ran out of alternatives.
    pub(crate) exhausted: bool,
    /// Its open alternatives after each of its executions.
    pub(crate) opens: Vec<u64>,
}

impl Units {
    pub(crate) fn absorb(&mut self, other: Units) {
        self.total = self.total.or(other.total);
        self.records.extend(other.records);
    }
}

/// Whether `kind` is a systematic search that can be split at a depth.
pub(crate) fn systematic(kind: StrategyKind) -> bool {
    matches!(kind, StrategyKind::Dfs { .. } | StrategyKind::Dpor { .. })
}

fn inner_of(kind: StrategyKind) -> Box<dyn Subtree> {
    let below = match kind {
        StrategyKind::Dfs { preemptions_max } => Below::Dfs { preemptions_max },
        StrategyKind::Dpor {
            preemptions_max,
            faults_max,
        } => Below::Dpor {
            preemptions_max,
            faults_max,
        },
        other => panic!("[internal bug] {} is not a systematic search", other.name()),
    };
    below.search()
}

/// Runs `run.part` of a search of `kind` split at `depth` as `jobs` parts on as many OS
/// threads, this one included, and returns their logs absorbed into one (unit keys, not yet
/// settled).
pub(crate) fn run_jobs(
    run: PartRun<'_>,
    kind: StrategyKind,
    depth: u32,
    jobs: u64,
    progress: Box<dyn FnMut(u64)>,
) -> Log {
    super::explore::on_jobs(&run, jobs, progress, |part, count| {
        run_units(part, kind, depth, count)
    })
}

/// Walks the upper tree and runs the units `run.part` owns, on this thread.
fn run_units(
    run: PartRun<'_>,
    kind: StrategyKind,
    depth: u32,
    progress: Box<dyn FnMut(u64)>,
) -> Log {
    let budget = run.config.executions.min(u64::from(u32::MAX));
    let offset = super::shard::unit_of(run.scenario) % run.part.shard_count;
    let shown = Rc::new(RefCell::new(0u64));
    let progress = Rc::new(RefCell::new(progress));
    let mut log = Log::default();
    let mut units = Units {
        budget: run.config.executions,
        ..Units::default()
    };
    let mut upper = Upper::new(depth);
    let mut done = 0;
    // The wall-time cap covers the whole part, not each unit's runner.
    let elapsed = run
        .config
        .wall_time_max
        .map(|_| crate::wall_clock::stopwatch());
    for unit_idx in 0_u64.. {
        if unit_idx > 0 && !upper.advance() {
            units.total = Some(unit_idx);
            break;
        }
        let base = unit_idx << UNIT_SHIFT;
        if done >= budget || run.lowest.load(Ordering::Acquire) < base {
            break;
        }
        if run
            .interrupt
            .as_ref()
            .is_some_and(|flag| flag.load(Ordering::Relaxed))
        {
            log.stop = Some(StopReason::Interrupted);
            break;
        }
        let mut unit = Unit::new(inner_of(kind), upper);
        if !run.part.owns(unit_idx + offset) {
            discover(&run, &mut unit);
            upper = unit.finish(0).upper;
            continue;
        }
        let mut config = run.config.clone();
        config.executions = budget - done;
        if let (Some(max), Some(elapsed)) = (run.config.wall_time_max, elapsed) {
            let spent = elapsed();
            if spent >= max && done > 0 {
                log.stop = Some(StopReason::WallTime);
                break;
            }
            config.wall_time_max = Some(max.saturating_sub(spent));
        }
        let part = PartRun {
            scenario: run.scenario,
            file: run.file,
            config,
            part: Part::WHOLE,
            lowest: Arc::new(AtomicU64::new(u64::MAX)),
            interrupt: run.interrupt.clone(),
            key_base: base,
            first: 0,
        };
        let (shown, progress) = (shown.clone(), progress.clone());
        let count = Box::new(move |_| {
            *shown.borrow_mut() += 1;
            let total = *shown.borrow();
            (progress.borrow_mut())(total);
        });
        let unit_log = run_part(part, &mut unit, count);
        let ran = unit_log.executions.len() as u64;
        done += ran;
        let finished = unit.finish(ran);
        upper = finished.upper;
        units.records.insert(
            unit_idx,
            UnitRecord {
                upper_open: finished.upper_open,
                exhausted: finished.exhausted,
                opens: finished.opens,
            },
        );
        let found = unit_log.found.as_ref().map(|(key, _)| *key);
        let stop = unit_log.stop;
        log.absorb(unit_log);
        if let Some(key) = found {
            run.lowest.fetch_min(key, Ordering::AcqRel);
            break;
        }
        if matches!(stop, Some(StopReason::WallTime | StopReason::Interrupted)) {
            break;
        }
    }
    log.units = Some(units);
    log.coverage = None;
    log
}

/// Runs a unit's first execution only to learn its prefix: no observers, nothing counted,
/// a failure ignored (the part that owns the unit runs and reports it).
fn discover(run: &PartRun<'_>, unit: &mut Unit) {
    let tally = Rc::new(RefCell::new(FaultTally::default()));
    let mut faults = PlanFaults::new(run.scenario.faults.clone(), tally);
    let mut executor = Executor::new(&run.config);
    let scenario = run.scenario.clone();
    let model: Model = Arc::new(move || workload::run(&scenario));
    crate::executor::quiet_injected_panics();
    checks::take_tally();
    let _ = executor.execute(0, unit, &mut [], &mut faults, &model);
    checks::take_tally();
}

/// Turns a split search's log (unit keys, possibly more than the budget) into the log one
/// unsplit run makes: executions numbered in the global order and cut at the budget, the
/// first failure within it, the coverage and the stop reason. Other logs are returned as
/// they are.
pub(crate) fn settle(mut log: Log, kind: StrategyKind) -> Log {
    let Some(units) = log.units.take() else {
        return log;
    };
    let all = log.executions.len() as u64;
    let rank: BTreeMap<u64, u64> = log
        .executions
        .keys()
        .take(usize::try_from(units.budget).unwrap_or(usize::MAX))
        .zip(0..)
        .collect();
    let ranked = |key: u64| rank.get(&key).copied();
    log.schedules = log.schedules.renumber(ranked);
    log.states = log.states.renumber(ranked);
    log.executions = (log.executions.iter())
        .filter_map(|(key, checks)| Some((*rank.get(&key)?, *checks)))
        .collect();
    log.dispatch = (log.dispatch.iter())
        .filter_map(|(key, tally)| Some((*rank.get(&key)?, *tally)))
        .collect();
    let found = log.found.take();
    let last = match &found {
        Some((key, _)) if rank.contains_key(key) => Some(*key),
        _ => rank.keys().next_back().copied(),
    };
    log.found = found.and_then(|(key, schedule)| Some((*rank.get(&key)?, schedule)));
    let every_unit_done = units.total.is_some_and(|total| {
        (0..total).all(|unit| units.records.get(&unit).is_some_and(|r| r.exhausted))
    });
    let exhaustive = log.found.is_none() && all < units.budget && every_unit_done;
    let open = match (exhaustive, last) {
        (false, Some(key)) => {
            let record = units.records.get(&(key >> UNIT_SHIFT));
            let k = (key & ((1 << UNIT_SHIFT) - 1)) as usize;
            record.map_or(0, |r| r.upper_open + r.opens.get(k).copied().unwrap_or(0))
        }
        _ => 0,
    };
    if let StrategyKind::Dpor {
        preemptions_max,
        faults_max,
    } = kind
    {
        log.coverage = Some(Coverage {
            preemptions_max,
            faults_max,
            exhaustive,
            open_branches: open,
            explored_branches: (rank.len() as u64).saturating_sub(1),
        });
    }
    log.stop = match log.stop {
        Some(stop @ (StopReason::WallTime | StopReason::Interrupted)) => Some(stop),
        _ if exhaustive => Some(StopReason::StrategyExhausted),
        _ => Some(StopReason::ExecutionsDone),
    };
    log
}
