//! vigil-sim: deterministic simulation of `vigil-core` under a controlled scheduler.
//!
//! A model is a closure written against `vigil_core`'s primitives (`sync::Mutex`, atomics,
//! channels, `thread::spawn`, `rt::sleep`). The [`Executor`] runs it as coroutines on one
//! thread, switching only at scheduling points and asking a [`Strategy`] which task runs
//! next; time is virtual. Each execution is recorded as a [`Schedule`] (a short string) and a
//! [`Trace`] (stable text), and a failing execution comes back as a [`Failure`] value that
//! ends with the command that replays it.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use vigil_core::sync::Mutex;
//! use vigil_core::thread;
//! use vigil_sim::{Config, FailureKind, Random, run};
//!
//! let mut config = Config::default();
//! config.executions = 200;
//! let report = run(&config, &mut Random::new(config.seed), || {
//!     let a = Arc::new(Mutex::named("a", ()));
//!     let b = Arc::new(Mutex::named("b", ()));
//!     let (a2, b2) = (a.clone(), b.clone());
//!     let worker = thread::spawn("worker", move || {
//!         let _b = b2.lock();
//!         let _a = a2.lock();
//!     });
//!     {
//!         let _a = a.lock();
//!         let _b = b.lock();
//!     }
//!     worker.join().unwrap();
//! });
//! let failure = report.failure().expect("the lock-order inversion is found");
//! assert!(matches!(failure.kind, FailureKind::Deadlock { .. }));
//! assert!(failure.to_string().contains("VIGIL_REPLAY=v1:"));
//! ```
//!
//! In a `#[test]`, [`check_random`] does the same and panics with the failure's text.

/// The README's examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeExamples;

pub mod cell;
pub mod check;
mod dependency;
mod executor;
mod failure;
mod fault;
pub mod future;
mod harness;
pub mod hint;
mod lazy;
pub mod model;
mod observer;
mod part;
pub mod rand;
pub mod report;
mod runner;
pub mod scenario;
mod schedule;
pub mod shrink;
mod stall;
mod strategy;
pub mod sync;
pub mod thread;
mod trace;
mod wall_clock;
mod wire;
mod workers;

pub use check::{check_dfs, check_dpor, check_pct, check_random, check_replay, model};
pub use dependency::{Access, Actor, Event, LockRole, ObjectKey, dependent};
pub use executor::{Execution, Executor, INJECTED_FAULT_MARKER, Model, Outcome, Status, Verdict};
pub use failure::{BlockedTask, Failure, FailureKind, REPLAY_ENV, TRACE_TAIL_LINES};
pub use fault::{FaultAction, FaultView, Faults, NoFaults};
pub use harness::{
    DispatchTally, Log, Observed, Overrides, Reach, ScenarioRun, ShardLog, ShardMode, SplitReport,
    Workload, checkpoint_status, expect_label, invariant_of, merge_scenario, pinned_regression,
    regression_scenario, replay_scenario, run_scenario, run_scenario_with_progress,
    shrink_scenario, split_checkpoint,
};
pub use observer::{Observer, StepView};
pub use part::{Part, Shard};
pub use runner::{
    Config, DEFAULT_SEED, EnvError, Report, Runner, SEED_ENV, Stats, StopReason, parse_seed,
    replay_from_env, run,
};
pub use schedule::{CHOICES_MAX, Choice, Schedule, ScheduleError};
pub use stall::{STALL_ENV, STALL_SECS_DEFAULT};
pub use strategy::{
    Below, Coverage, Dfs, Divergence, Dpor, DporStats, DrawView, Pct, PickView, Portfolio,
    Prefixed, Random, Replay, Split, Start, Strategy,
};
pub use trace::Trace;
pub use wall_clock::stopwatch;
