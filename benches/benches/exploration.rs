//! Exploration throughput: executions per second of the random walk on a small model.
//!
//! The model mirrors `sim/examples/throughput.rs`: three tasks, a `vigil_core` mutex and a
//! one-shot channel, about thirty scheduling points per execution. Each iteration explores a
//! fixed batch from a fixed seed, so every iteration does the same work and criterion's
//! elements/s is executions per second.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vigil_core::sync::{Mutex, channel};
use vigil_core::thread;
use vigil_sim::{Config, Random, run};

const SEED: u64 = 0x5eed_f00d;
const EXECUTIONS_PER_ITERATION: u64 = 1_000;

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

/// Explores the model for one batch and returns the steps taken, so nothing is optimised out.
fn explore_batch() -> u64 {
    let mut config = Config::default();
    config.seed = SEED;
    config.executions = EXECUTIONS_PER_ITERATION;
    let report = run(&config, &mut Random::new(SEED), model);
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("the bench model failed: {}", report.failure().unwrap()));
    assert_eq!(stats.executions, EXECUTIONS_PER_ITERATION);
    stats.steps_total
}

fn exploration(c: &mut Criterion) {
    let steps = explore_batch();
    println!(
        "exploration: {:.1} steps per execution",
        steps as f64 / EXECUTIONS_PER_ITERATION as f64
    );
    let mut group = c.benchmark_group("exploration");
    group.throughput(Throughput::Elements(EXECUTIONS_PER_ITERATION));
    group.bench_function("random_3_tasks_mutex_oneshot", |bencher| {
        bencher.iter(|| black_box(explore_batch()));
    });
    group.finish();
}

criterion_group!(benches, exploration);
criterion_main!(benches);
