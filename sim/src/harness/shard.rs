//! Shards: one CI machine's part of a search, written into the JSON report, and the merge
//! of all of them into the run one machine would have made.
//!
//! A search that can be split by execution (random, PCT, portfolio) is split by index: shard
//! `K` of `N` runs the indices `i` with `i % N == K - 1` and logs them. A systematic search
//! split at a depth is split by unit (see `units.rs`) and logs its units too. One that is not
//! split runs whole on the one shard its scenario's name hashes to. Pinned schedules are replayed on every shard and
//! again on merging: they are cheap and decide the verdict before any search.

use std::sync::Arc;

use serde_json::{Value, json};

use std::collections::BTreeMap;

use super::dispatch_stats;
use super::explore::Log;
use super::faults::FaultTally;
use super::rows::FirstSeen;
use super::units::{UnitRecord, Units};
use super::{Observed, Overrides, ScenarioRun};
use crate::part::Shard;
use crate::runner::{Config, StopReason};
use crate::scenario::{Scenario, StrategyKind};
use crate::schedule::Schedule;
use crate::strategy::Coverage;
use crate::trace::{FNV_OFFSET_BASIS, fnv1a64_extend};

/// How a shard took part in a scenario's search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardMode {
    /// It ran its share of the execution indices.
    Split,
    /// It ran the whole (unsplittable) search.
    Whole,
    /// Another shard runs the whole search.
    Elsewhere,
}

impl ShardMode {
    fn name(self) -> &'static str {
        match self {
            ShardMode::Split => "split",
            ShardMode::Whole => "whole",
            ShardMode::Elsewhere => "elsewhere",
        }
    }
}

/// The settings a shard searched with; every shard of a merge must share them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    pub seed: u64,
    pub executions: u64,
    pub kind: StrategyKind,
    pub shrink: bool,
    /// The depth a systematic search was split at (zero: not split).
    pub split_depth: u32,
}

impl Settings {
    pub(crate) fn of(config: &Config, kind: StrategyKind, shrink: bool) -> Settings {
        Settings {
            seed: config.seed,
            executions: config.executions,
            kind,
            shrink,
            split_depth: 0,
        }
    }
}

/// One shard's log of one scenario's search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardLog {
    pub shard: Shard,
    pub mode: ShardMode,
    pub settings: Settings,
    pub log: Log,
}

/// The unit number of a scenario's unsplittable search: a hash of its name, so the same
/// scenario lands on the same shard whatever else the command runs.
pub(crate) fn unit_of(scenario: &Scenario) -> u64 {
    fnv1a64_extend(FNV_OFFSET_BASIS, scenario.name.as_bytes())
}

/// The run a shard reports for a search another shard runs whole.
pub(crate) fn elsewhere(scenario: &Arc<Scenario>, file: &str, shard: Shard) -> ScenarioRun {
    let mut run = super::nothing_ran(scenario, file, Observed::Pass);
    run.stop = Some(StopReason::ExecutionsDone);
    let owner = unit_of(scenario) % shard.count + 1;
    run.notes.push(format!(
        "its search cannot be split by execution, so it runs whole on shard {owner}/{}",
        shard.count
    ));
    run
}

/// Checks that `logs` are the shards `1/N..N/N` of one search, once each, and combines them:
/// the settings to search with, and the log of the whole search.
pub(crate) fn combine(
    scenario: &Scenario,
    logs: Vec<ShardLog>,
) -> Result<(Overrides, Log), String> {
    let name = &scenario.name;
    let first = logs
        .first()
        .ok_or_else(|| format!("{name}: no shard logs"))?;
    let (count, settings) = (first.shard.count, first.settings);
    let mut seen = vec![false; count as usize];
    for log in &logs {
        if log.shard.count != count {
            return Err(format!(
                "{name}: shards of different splits ({} and {}/{count})",
                log.shard, first.shard.index
            ));
        }
        if log.settings != settings {
            return Err(format!(
                "{name}: shard {} searched with other settings (seed, budget, strategy or \
                 shrinking, split depth) than shard {}",
                log.shard, first.shard
            ));
        }
        let slot = &mut seen[(log.shard.index - 1) as usize];
        if *slot {
            return Err(format!("{name}: shard {} given twice", log.shard));
        }
        *slot = true;
    }
    if let Some(missing) = seen.iter().position(|seen| !seen) {
        return Err(format!("{name}: shard {}/{count} is missing", missing + 1));
    }
    let mut combined = Log::default();
    let whole: Vec<&ShardLog> = logs
        .iter()
        .filter(|log| log.mode == ShardMode::Whole)
        .collect();
    if logs.iter().all(|log| log.mode == ShardMode::Split) {
        for log in logs {
            combined.absorb(log.log);
        }
    } else if let [whole] = whole[..] {
        combined = whole.log.clone();
    } else {
        return Err(format!(
            "{name}: the shards disagree on who ran the search ({} ran it whole)",
            whole.len()
        ));
    }
    let overrides = Overrides {
        seed: Some(settings.seed),
        strategy: Some(settings.kind),
        executions: Some(settings.executions),
        no_shrink: !settings.shrink,
        split_depth: Some(settings.split_depth),
        ..Overrides::default()
    };
    Ok((overrides, combined))
}

fn kind_text(kind: StrategyKind) -> String {
    match kind {
        StrategyKind::Random => "random".to_owned(),
        StrategyKind::Portfolio => "portfolio".to_owned(),
        StrategyKind::Pct { depth } => format!("pct:{depth}"),
        StrategyKind::Dfs { preemptions_max } => format!("dfs:{preemptions_max}"),
        StrategyKind::Dpor {
            preemptions_max,
            faults_max,
        } => format!("dpor:{preemptions_max}:{faults_max}"),
    }
}

fn parse_kind(text: &str) -> Option<StrategyKind> {
    let mut parts = text.split(':');
    let name = parts.next()?;
    let mut number = || parts.next()?.parse::<u32>().ok();
    Some(match name {
        "random" => StrategyKind::Random,
        "portfolio" => StrategyKind::Portfolio,
        "pct" => StrategyKind::Pct { depth: number()? },
        "dfs" => StrategyKind::Dfs {
            preemptions_max: number()?,
        },
        "dpor" => StrategyKind::Dpor {
            preemptions_max: number()?,
            faults_max: number()?,
        },
        _ => return None,
    })
}

fn stop_text(stop: StopReason) -> &'static str {
    match stop {
        StopReason::ExecutionsDone => "executions-done",
        StopReason::StrategyExhausted => "strategy-exhausted",
        StopReason::WallTime => "wall-time",
        StopReason::Interrupted => "interrupted",
    }
}

fn parse_stop(text: &str) -> Option<StopReason> {
    [
        StopReason::ExecutionsDone,
        StopReason::StrategyExhausted,
        StopReason::WallTime,
        StopReason::Interrupted,
    ]
    .into_iter()
    .find(|stop| stop_text(*stop) == text)
}

impl ShardLog {
    /// The log as the `shard` object of a scenario in the JSON report.
    pub fn to_json(&self) -> Value {
        let log = &self.log;
        let pairs = |seen: &FirstSeen| -> Vec<[u64; 2]> {
            seen.sorted()
                .into_iter()
                .map(|(item, idx)| [item, idx])
                .collect()
        };
        let executions: Vec<[u64; 3]> = log
            .executions
            .iter()
            .map(|(idx, (read, skipped))| [idx, *read, *skipped])
            .collect();
        let mut value = json!({
            "shard": self.shard.to_string(),
            "mode": self.mode.name(),
            "seed": self.settings.seed,
            "budget": self.settings.executions,
            "strategy": kind_text(self.settings.kind),
            "shrink": self.settings.shrink,
            "executions": executions,
            "schedules": pairs(&log.schedules),
            "states": pairs(&log.states),
            "tally": {
                "chosen": log.tally.chosen,
                "at": log.tally.at,
                "delays": log.tally.delays,
            },
            "found": log.found.as_ref().map(|(idx, schedule)| json!({
                "execution": idx,
                "schedule": schedule.encode(),
            })),
            "stop": log.stop.map(stop_text),
            "coverage": log.coverage.map(|coverage| json!({
                "preemptions_max": coverage.preemptions_max,
                "faults_max": coverage.faults_max,
                "exhaustive": coverage.exhaustive,
                "open_branches": coverage.open_branches,
                "explored_branches": coverage.explored_branches,
            })),
        });
        // Only split systematic searches carry these, so other reports stay as they were.
        if self.settings.split_depth > 0 {
            value["split_depth"] = json!(self.settings.split_depth);
        }
        if let Some(units) = &log.units {
            value["units"] = units_json(units);
        }
        // Only runs that dispatched carry these, so other reports stay as they were.
        if !log.dispatch.is_empty() {
            let rows: Vec<Vec<u64>> = (log.dispatch.iter())
                .map(|(idx, tally)| dispatch_stats::row_json(idx, tally))
                .collect();
            value["dispatch"] = json!(rows);
        }
        value
    }

    /// Reads the `shard` object back; the error names the field that is wrong.
    pub fn from_json(value: &Value) -> Result<ShardLog, String> {
        let field = |name: &str| value.get(name).ok_or_else(|| format!("no '{name}' field"));
        let number = |value: &Value, name: &str| {
            value
                .as_u64()
                .ok_or_else(|| format!("'{name}' is not a whole number"))
        };
        let text = |name: &str| -> Result<String, String> {
            field(name)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("'{name}' is not a string"))
        };
        let shard = Shard::parse(&text("shard")?)?;
        let mode = match text("mode")?.as_str() {
            "split" => ShardMode::Split,
            "whole" => ShardMode::Whole,
            "elsewhere" => ShardMode::Elsewhere,
            other => return Err(format!("'mode' {other:?} is not split, whole or elsewhere")),
        };
        let kind_name = text("strategy")?;
        let settings = Settings {
            seed: number(field("seed")?, "seed")?,
            executions: number(field("budget")?, "budget")?,
            kind: parse_kind(&kind_name).ok_or(format!("'strategy' {kind_name:?} is unknown"))?,
            shrink: field("shrink")?
                .as_bool()
                .ok_or("'shrink' is not true or false")?,
            split_depth: match value.get("split_depth") {
                None => 0,
                Some(depth) => u32::try_from(number(depth, "split_depth")?)
                    .map_err(|_| "'split_depth' is too large")?,
            },
        };
        let rows = |name: &str, width: usize| -> Result<Vec<Vec<u64>>, String> {
            let bad = || format!("'{name}' is not a list of {width}-number lists");
            let list = field(name)?.as_array().ok_or_else(bad)?;
            list.iter()
                .map(|row| {
                    let row = row
                        .as_array()
                        .filter(|row| row.len() == width)
                        .ok_or_else(bad)?;
                    row.iter()
                        .map(|cell| cell.as_u64().ok_or_else(bad))
                        .collect()
                })
                .collect()
        };
        let mut log = Log::default();
        for row in rows("executions", 3)? {
            log.executions.insert(row[0], (row[1], row[2]));
        }
        for row in rows("schedules", 2)? {
            log.schedules.note(row[0], row[1]);
        }
        for row in rows("states", 2)? {
            log.states.note(row[0], row[1]);
        }
        log.tally = parse_tally(field("tally")?)?;
        log.found = match field("found")? {
            Value::Null => None,
            found => Some(parse_found(found)?),
        };
        log.stop = match field("stop")? {
            Value::Null => None,
            stop => Some(
                stop.as_str()
                    .and_then(parse_stop)
                    .ok_or("'stop' is not a stop reason")?,
            ),
        };
        log.coverage = match field("coverage")? {
            Value::Null => None,
            coverage => Some(parse_coverage(coverage)?),
        };
        if value.get("dispatch").is_some() {
            for row in rows("dispatch", dispatch_stats::ROW_WIDTH)? {
                let (idx, tally) =
                    dispatch_stats::row_from(&row).ok_or("'dispatch' rows have the wrong width")?;
                log.dispatch.insert(idx, tally);
            }
        }
        log.units = match value.get("units") {
            None => None,
            Some(units) => Some(parse_units(units)?),
        };
        Ok(ShardLog {
            shard,
            mode,
            settings,
            log,
        })
    }
}

/// A split search's units: `{"budget", "total", "list": [[unit, upper_open, exhausted,
/// [open after each execution]]]}`.
fn units_json(units: &Units) -> Value {
    let list: Vec<Value> = (units.records.iter())
        .map(|(unit, record)| json!([unit, record.upper_open, record.exhausted, record.opens]))
        .collect();
    json!({
        "budget": units.budget,
        "total": units.total,
        "list": list,
    })
}

fn parse_units(value: &Value) -> Result<Units, String> {
    let budget = value
        .get("budget")
        .and_then(Value::as_u64)
        .ok_or("'units.budget' is not a whole number")?;
    let total = match value.get("total") {
        Some(Value::Null) => None,
        Some(total) => Some(
            total
                .as_u64()
                .ok_or("'units.total' is not a whole number")?,
        ),
        None => return Err("no 'units.total' field".to_owned()),
    };
    let bad = || "'units.list' is not a list of [unit, upper_open, exhausted, opens]".to_owned();
    let list = value
        .get("list")
        .and_then(Value::as_array)
        .ok_or_else(bad)?;
    let mut records = BTreeMap::new();
    for row in list {
        let row = row
            .as_array()
            .filter(|row| row.len() == 4)
            .ok_or_else(bad)?;
        let opens = row[3].as_array().ok_or_else(bad)?;
        let record = UnitRecord {
            upper_open: row[1].as_u64().ok_or_else(bad)?,
            exhausted: row[2].as_bool().ok_or_else(bad)?,
            opens: (opens.iter())
                .map(|open| open.as_u64().ok_or_else(bad))
                .collect::<Result<_, _>>()?,
        };
        records.insert(row[0].as_u64().ok_or_else(bad)?, record);
    }
    Ok(Units {
        budget,
        total,
        records,
    })
}

fn parse_tally(value: &Value) -> Result<FaultTally, String> {
    let list = |name: &str| -> Result<Vec<u64>, String> {
        let bad = || format!("'tally.{name}' is not a list of whole numbers");
        value
            .get(name)
            .and_then(Value::as_array)
            .ok_or_else(bad)?
            .iter()
            .map(|cell| cell.as_u64().ok_or_else(bad))
            .collect()
    };
    Ok(FaultTally {
        chosen: value
            .get("chosen")
            .and_then(Value::as_u64)
            .ok_or("'tally.chosen' is not a whole number")?,
        at: list("at")?,
        delays: list("delays")?,
    })
}

fn parse_found(value: &Value) -> Result<(u64, Schedule), String> {
    let idx = value
        .get("execution")
        .and_then(Value::as_u64)
        .ok_or("'found.execution' is not a whole number")?;
    let text = value
        .get("schedule")
        .and_then(Value::as_str)
        .ok_or("'found.schedule' is not a string")?;
    let schedule = Schedule::decode(text).map_err(|error| format!("'found.schedule': {error}"))?;
    Ok((idx, schedule))
}

fn parse_coverage(value: &Value) -> Result<Coverage, String> {
    let number = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_u64)
            .ok_or(format!("'coverage.{name}' is not a whole number"))
    };
    let bound = |name: &str| {
        number(name)
            .and_then(|n| u32::try_from(n).map_err(|_| format!("'coverage.{name}' is too large")))
    };
    Ok(Coverage {
        preemptions_max: bound("preemptions_max")?,
        faults_max: bound("faults_max")?,
        exhaustive: value
            .get("exhaustive")
            .and_then(Value::as_bool)
            .ok_or("'coverage.exhaustive' is not true or false")?,
        open_branches: number("open_branches")?,
        explored_branches: number("explored_branches")?,
    })
}
