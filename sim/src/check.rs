//! Helpers for `#[test]`s, in the shape shuttle and loom users know: each explores a model with
//! one strategy and panics with the failure (the shrunk schedule, the seed and the command that
//! replays it), so a test fails the way a failing assertion does. [`Runner`] returns a
//! [`Report`](crate::Report) instead, for callers who want one.
//!
//! Every helper reads the same environment knobs:
//!
//! | variable | meaning |
//! |---|---|
//! | `VIGIL_SEED` | root seed, decimal or `0x` hex (random and PCT) |
//! | `VIGIL_REPLAY` | a `v1:` schedule: replay it once instead of exploring (every helper) |
//! | `VIGIL_EXECUTIONS` | the execution budget, overriding the one in the call |
//! | `VIGIL_PREEMPTIONS` | the preemption bound of `check_dfs`, `check_dpor` and `model` |
//! | `VIGIL_PCT_DEPTH` | PCT's depth in `check_pct` |
//! | `VIGIL_FAILURE_FILE` | also write each failing schedule to this file (schedule file format) |
//! | `VIGIL_NO_SHRINK` | set to anything but `0` to report failures as found |
//! | `VIGIL_SHARD` | `K/N`: `check_random` runs only shard `K` of `N` of its executions |
//! | `VIGIL_STALL_SECS` | seconds without progress before the stall watchdog aborts (default 30, `0` off; read by every executor) |
//!
//! Sharding follows nextest's partition conventions: `K/N` counts from one like
//! `cargo nextest run --partition count:K/N`, and the same `K/N` on every machine of a CI
//! matrix splits the work without overlap. nextest partitions whole tests, which suits the
//! systematic helpers (a DPOR search cannot be split by execution, so `check_dfs`,
//! `check_dpor`, `model` and PCT, which learns from earlier executions, ignore
//! `VIGIL_SHARD` and run whole wherever nextest puts them). A single long `check_random` is
//! the test nextest cannot split: with `VIGIL_SHARD=K/N` it runs the executions `i` with
//! `i % N == K - 1`, so the N machines together run exactly the unsharded test, and a
//! failure found on one replays anywhere with its `VIGIL_REPLAY` schedule.

use std::env;

use crate::failure::Failure;
use crate::part::{Part, Shard};
use crate::runner::{Config, EnvError, Runner, replay_from_env};
use crate::schedule::Schedule;
use crate::strategy::{Dfs, Dpor, Pct, Random, Replay, Strategy};

/// The execution budget knob.
pub const EXECUTIONS_ENV: &str = "VIGIL_EXECUTIONS";
/// The preemption bound knob of the systematic helpers.
pub const PREEMPTIONS_ENV: &str = "VIGIL_PREEMPTIONS";
/// PCT's depth knob.
pub const PCT_DEPTH_ENV: &str = "VIGIL_PCT_DEPTH";
/// Where to persist failing schedules.
pub const FAILURE_FILE_ENV: &str = "VIGIL_FAILURE_FILE";
/// Turns shrinking off.
pub const NO_SHRINK_ENV: &str = "VIGIL_NO_SHRINK";
/// Runs one shard (`K/N`) of a random exploration.
pub const SHARD_ENV: &str = "VIGIL_SHARD";

/// The shard of [`SHARD_ENV`], or the whole run.
fn shard_from_env() -> Part {
    match env::var(SHARD_ENV) {
        Ok(text) => Shard::parse(&text)
            .unwrap_or_else(|error| panic!("{SHARD_ENV}: {error}"))
            .part(),
        Err(_) => Part::WHOLE,
    }
}

/// How many executions the systematic helpers may run before giving up on exhausting their
/// bound (then they fail: a systematic check that did not finish proves nothing).
pub const SYSTEMATIC_EXECUTIONS_MAX: u64 = 1_000_000;

fn env_number(name: &str) -> Option<u64> {
    let value = env::var(name).ok()?;
    let text = value.trim();
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    };
    Some(parsed.unwrap_or_else(|| {
        panic!("{name}={value:?} is not a number; use a decimal or 0x-prefixed hex integer")
    }))
}

fn env_u32(name: &str) -> Option<u32> {
    env_number(name)
        .map(|value| u32::try_from(value).unwrap_or_else(|_| panic!("{name}={value} is too large")))
}

/// The systematic helpers' preemption bound: the knob, else the call's, else none.
pub(crate) fn preemption_bound(preemptions_max: Option<u32>) -> u32 {
    env_u32(PREEMPTIONS_ENV)
        .or(preemptions_max)
        .unwrap_or(u32::MAX)
}

/// The run's configuration: defaults, then the knobs.
pub(crate) fn config(executions: u64) -> Config {
    let mut config = Config::from_env().unwrap_or_else(|error: EnvError| panic!("{error}"));
    config.executions = env_number(EXECUTIONS_ENV).unwrap_or(executions).max(1);
    if env::var(NO_SHRINK_ENV).is_ok_and(|value| value != "0") {
        config.shrink = None;
    }
    config
}

/// Persists `failure`'s schedule when [`FAILURE_FILE_ENV`] is set, then panics with it.
#[track_caller]
fn fail(failure: &Failure) -> ! {
    if let Ok(path) = env::var(FAILURE_FILE_ENV) {
        match Schedule::decode(&failure.schedule) {
            Ok(schedule) => {
                if let Err(error) = std::fs::write(&path, schedule.to_file_text()) {
                    eprintln!("vigil-sim: cannot write {FAILURE_FILE_ENV}={path}: {error}");
                }
            }
            Err(error) => eprintln!("vigil-sim: cannot persist the schedule: {error}"),
        }
    }
    panic!("{failure}");
}

#[track_caller]
fn replay_or_panic<F>(model: F, schedule: Schedule)
where
    F: Fn() + Send + Sync + 'static,
{
    let mut config = config(1);
    config.executions = 1;
    config.shrink = None;
    let report = Runner::new(config).run(&mut Replay::new(schedule), model);
    if let Some(failure) = report.failure() {
        fail(failure);
    }
}

#[track_caller]
pub(crate) fn explore<F>(model: F, config: Config, strategy: &mut dyn Strategy, part: Option<Part>)
where
    F: Fn() + Send + Sync + 'static,
{
    let replay = replay_from_env().unwrap_or_else(|error| panic!("{error}"));
    if let Some(schedule) = replay {
        return replay_or_panic(model, schedule);
    }
    let systematic = part.is_none();
    let report = Runner::new(config)
        .part(part.unwrap_or(Part::WHOLE))
        .run(strategy, model);
    if let Some(failure) = report.failure() {
        fail(failure);
    }
    if systematic
        && let Some(stats) = report.stats()
        && let Some(coverage) = stats.coverage
        && !coverage.exhaustive
    {
        panic!(
            "vigil-sim: the systematic search did not finish: {}. Raise {EXECUTIONS_ENV} or lower \
             the preemption bound ({PREEMPTIONS_ENV}).",
            coverage.describe(stats.executions)
        );
    }
}

/// Explores `model` with the random walk for `executions` executions (`VIGIL_EXECUTIONS`
/// overrides) and panics with the failure if one is found.
#[track_caller]
pub fn check_random<F>(model: F, executions: u64)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = config(executions);
    let mut strategy = Random::new(config.seed);
    explore(model, config, &mut strategy, Some(shard_from_env()));
}

/// Explores `model` with PCT of `depth` (`VIGIL_PCT_DEPTH` overrides) for `executions`
/// executions and panics with the failure if one is found.
#[track_caller]
pub fn check_pct<F>(model: F, executions: u64, depth: u32)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = config(executions);
    let depth = env_u32(PCT_DEPTH_ENV).unwrap_or(depth);
    let mut strategy = Pct::new(config.seed, depth);
    explore(model, config, &mut strategy, Some(Part::WHOLE));
}

/// Explores every schedule of `model` within `preemptions_max` preemptions (`None`: no bound;
/// `VIGIL_PREEMPTIONS` overrides) by depth-first search, and panics with the failure if one
/// is found, or if the search could not finish within its budget.
#[track_caller]
pub fn check_dfs<F>(model: F, preemptions_max: Option<u32>)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = config(SYSTEMATIC_EXECUTIONS_MAX);
    let bound = preemption_bound(preemptions_max);
    let mut strategy = Dfs::new(bound);
    explore(model, config, &mut strategy, None);
}

/// Explores `model` with partial-order reduction within `preemptions_max` preemptions
/// (`None`: no bound; `VIGIL_PREEMPTIONS` overrides): one schedule per class of equivalent
/// ones. Panics with the failure if one is found, or if the search could not finish within its
/// budget; returning means "no failure within the bound, exhaustively".
#[track_caller]
pub fn check_dpor<F>(model: F, preemptions_max: Option<u32>)
where
    F: Fn() + Send + Sync + 'static,
{
    let config = config(SYSTEMATIC_EXECUTIONS_MAX);
    let bound = preemption_bound(preemptions_max);
    let mut strategy = Dpor::new(bound, 0);
    explore(model, config, &mut strategy, None);
}

/// loom's entry point: every interleaving of `model` (up to equivalence), without a preemption
/// bound unless `VIGIL_PREEMPTIONS` sets one. The same as [`check_dpor`]`(model, None)`.
#[track_caller]
pub fn model<F>(model: F)
where
    F: Fn() + Send + Sync + 'static,
{
    check_dpor(model, None);
}

/// Replays the encoded `schedule` once and panics with the failure if the replay fails (a
/// regression test for a fixed bug passes).
#[track_caller]
pub fn check_replay<F>(model: F, schedule: &str)
where
    F: Fn() + Send + Sync + 'static,
{
    let schedule = Schedule::decode(schedule).unwrap_or_else(|error| panic!("{error}"));
    replay_or_panic(model, schedule);
}
