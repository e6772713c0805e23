//! Snapshot cost, the pool's `workers_for_channel` against the original algorithm
//! (`vigil_benches::original`), in one run: at 10, 100, 1,000 and 10,000 workers; at 1,000
//! workers while another thread registers, unregisters and crashes workers; and one
//! register+unregister cycle.
//!
//! Both sides hold the same workers (same ids, pids and capacities). The pool's workers are
//! real registrations, each with its monitor actor, subscription and a place on the context
//! listener's watch list; the
//! baseline holds only the entries its algorithm reads. Churn uses a fixed seed.

#![expect(
    clippy::disallowed_methods,
    reason = "benches run on the production scheduler and drive it from plain OS threads"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use vigil_benches::original::OriginalPool;
use vigil_benches::{SplitMix, bench_channel, capacity, pool_with, register};
use vigil_core::process::{ExitReason, Pid};

const POOL_SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
const CHURN_POOL: usize = 1_000;
const CHURN_SEED: u64 = 0x5eed_0c4a;

/// The baseline with the same workers as `registrations`.
fn original_like(
    ids: &[(String, Pid)],
) -> (
    OriginalPool,
    Vec<Arc<vigil_benches::original::OriginalEntry>>,
) {
    let pool = OriginalPool::new();
    let channel = bench_channel();
    let entries = ids
        .iter()
        .map(|(id, pid)| pool.register(&channel, id.clone(), *pid, capacity()))
        .collect();
    (pool, entries)
}

fn snapshot_by_size(c: &mut Criterion) {
    let channel = bench_channel();
    let mut group = c.benchmark_group("snapshot");
    for size in POOL_SIZES {
        let (context, registrations) = pool_with(size);
        let ids: Vec<_> = registrations
            .iter()
            .map(|registration| {
                (
                    registration.worker_id().to_owned(),
                    registration.participant(),
                )
            })
            .collect();
        let (original, _entries) = original_like(&ids);
        assert_eq!(context.workers_for_channel(&channel).unwrap().len(), size);
        assert_eq!(original.workers_for_channel(&channel).len(), size);
        group.bench_with_input(BenchmarkId::new("pool", size), &size, |bencher, _| {
            bencher.iter(|| black_box(context.workers_for_channel(&channel).unwrap()));
        });
        group.bench_with_input(BenchmarkId::new("original", size), &size, |bencher, _| {
            bencher.iter(|| black_box(original.workers_for_channel(&channel)));
        });
        drop(registrations);
    }
    group.finish();
}

/// Runs `churn` on another thread until the returned flag is raised.
fn churn_thread(
    churn: impl FnOnce(&AtomicBool) + Send + 'static,
) -> (Arc<AtomicBool>, thread::JoinHandle<()>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = thread::spawn(move || churn(&flag));
    (stop, handle)
}

fn snapshot_under_churn(c: &mut Criterion) {
    let channel = bench_channel();
    let mut group = c.benchmark_group("snapshot_under_churn");

    let (context, registrations) = pool_with(CHURN_POOL);
    let churn_context = context.clone();
    let (stop, churner) = churn_thread(move |stop| {
        let mut rng = SplitMix::new(CHURN_SEED);
        let mut live = Vec::new();
        let mut next = CHURN_POOL;
        while !stop.load(Ordering::Relaxed) {
            match rng.below(3) {
                0 | 1 if live.len() < 64 => {
                    live.push(register(&churn_context, next));
                    next += 1;
                }
                0 => drop(live.swap_remove(rng.below(live.len()))),
                _ if !live.is_empty() => {
                    // A crash: end the process; its listener removes the worker.
                    let victim = live.swap_remove(rng.below(live.len()));
                    let node = churn_context
                        .supervisor_for(&bench_channel())
                        .unwrap()
                        .node()
                        .clone();
                    node.terminate(victim.participant(), ExitReason::Error);
                    drop(victim);
                }
                _ => live.push(register(&churn_context, next)),
            }
        }
    });
    group.bench_function(BenchmarkId::new("pool", CHURN_POOL), |bencher| {
        bencher.iter(|| black_box(context.workers_for_channel(&channel).unwrap()));
    });
    stop.store(true, Ordering::Relaxed);
    churner.join().unwrap();
    drop(registrations);

    let ids: Vec<_> = (0..CHURN_POOL)
        .map(|idx| (format!("worker-{idx}"), Pid(idx as u64)))
        .collect();
    let (original, _entries) = original_like(&ids);
    let original = Arc::new(original);
    let churn_pool = original.clone();
    let (stop, churner) = churn_thread(move |stop| {
        let mut rng = SplitMix::new(CHURN_SEED);
        let mut live = Vec::new();
        let mut next = CHURN_POOL;
        let channel = bench_channel();
        while !stop.load(Ordering::Relaxed) {
            if live.len() < 64 && rng.below(3) < 2 {
                live.push(churn_pool.register(
                    &channel,
                    format!("worker-{next}"),
                    Pid(next as u64),
                    capacity(),
                ));
                next += 1;
            } else if !live.is_empty() {
                let victim = live.swap_remove(rng.below(live.len()));
                churn_pool.deactivate(&channel, &victim);
            }
        }
    });
    group.bench_function(BenchmarkId::new("original", CHURN_POOL), |bencher| {
        bencher.iter(|| black_box(original.workers_for_channel(&channel)));
    });
    stop.store(true, Ordering::Relaxed);
    churner.join().unwrap();
    group.finish();
}

fn register_cycle(c: &mut Criterion) {
    let (context, registrations) = pool_with(100);
    let mut next = 100;
    c.bench_function("register_unregister_cycle", |bencher| {
        bencher.iter(|| {
            let registration = register(&context, next);
            next += 1;
            registration.unregister().unwrap();
        });
    });
    drop(registrations);
}

criterion_group!(
    benches,
    snapshot_by_size,
    snapshot_under_churn,
    register_cycle
);
criterion_main!(benches);
