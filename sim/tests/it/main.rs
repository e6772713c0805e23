//! vigil-sim's integration tests: one binary, one module per concern.
//!
//! Tests never sleep or read the wall clock; everything timing-dependent runs under the
//! deterministic executor. Tests that need a fresh process run this same binary again with
//! an environment variable that tells one test to act as the child.

mod checkpoint;
mod cli;
mod corpus;
mod dependency_events;
mod determinism;
mod dpor;
mod dpor_generated;
mod dpor_generated_facade;
mod explorer;
mod facade;
mod facade_choices;
mod facade_local;
mod facade_loom;
mod facade_std;
mod facade_stray;
mod faults;
mod generated;
mod helpers;
mod limits;
mod lock_order;
mod models;
mod ordering;
mod pool;
mod replay;
mod schedule_codec;
mod shrink;
mod split;
mod spread;
mod strategies;
mod time;

use vigil_sim::{Config, Random, Report, run};

/// The root seed the tests explore with (fixed, so results do not depend on `VIGIL_SEED`).
const SEED: u64 = 0x7e57;

/// Explores `model` with the random walk for `executions` executions from `seed`.
fn explore_from(seed: u64, executions: u64, model: impl Fn() + Send + Sync + 'static) -> Report {
    let mut config = Config::default();
    config.seed = seed;
    config.executions = executions;
    run(&config, &mut Random::new(seed), model)
}

fn explore(executions: u64, model: impl Fn() + Send + Sync + 'static) -> Report {
    explore_from(SEED, executions, model)
}

/// Set in the environment of a child process to name the test that should act as the child.
const CHILD_ENV: &str = "VIGIL_IT_CHILD";

/// Whether this process was started by [`run_child`] for the test named `role`.
fn is_child(role: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|value| value == role)
}

/// Runs test `test` of this binary in a fresh process as child `role`, with extra `env`.
fn run_child(test: &str, role: &str, env: &[(&str, &str)]) -> std::process::Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut command = std::process::Command::new(exe);
    command
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, role)
        .env_remove(vigil_sim::SEED_ENV)
        .env_remove(vigil_sim::REPLAY_ENV);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the test binary runs again")
}
