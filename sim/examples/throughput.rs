//! Exploration throughput on a small model: 3 tasks, a mutex and a one-shot channel.
//!
//! Run with `cargo run --release -p vigil-sim --example throughput -- 200000` under `time`;
//! it reads no clock itself (the determinism bans apply to examples too).

use std::sync::Arc;

use vigil_core::sync::{Mutex, channel};
use vigil_core::thread;
use vigil_sim::{Config, Random, run};

fn model() {
    let counter = Arc::new(Mutex::named("counter", 0u32));
    let (result_tx, result_rx) = channel::<u32>("result", 1);
    let adder_counter = counter.clone();
    let adder = thread::spawn("adder", move || {
        for _ in 0..3 {
            *adder_counter.lock() += 1;
        }
        result_tx.send(*adder_counter.lock()).unwrap();
    });
    let other_counter = counter.clone();
    let other = thread::spawn("other", move || {
        for _ in 0..3 {
            *other_counter.lock() += 1;
        }
    });
    let seen = result_rx.recv().unwrap();
    assert!((3..=6).contains(&seen));
    adder.join().unwrap();
    other.join().unwrap();
    assert_eq!(*counter.lock(), 6);
}

fn main() {
    let executions = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(100_000);
    let mut config = Config::default();
    config.executions = executions;
    let report = run(&config, &mut Random::new(config.seed), model);
    match report.result() {
        Ok(stats) => println!(
            "{} executions, {} steps ({:.1} steps per execution, at most {})",
            stats.executions,
            stats.steps_total,
            stats.steps_total as f64 / stats.executions as f64,
            stats.steps_max_seen
        ),
        Err(failure) => {
            eprintln!("{failure}");
            std::process::exit(1);
        }
    }
}
