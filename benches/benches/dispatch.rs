//! One full dispatch (snapshot, route, link, send, the worker's loop answers, receive, close)
//! on the production scheduler, with each ready routing policy, at 10, 100 and 1,000
//! registered dispatch workers. Every worker declares the activity type, has room for four
//! requests and echoes its input; the recorder keeps nothing. `dispatch/snapshot-only` is the
//! first of those steps alone on the same pool in the same run, so the share of a dispatch
//! that the snapshot takes is read from one run, never across runs.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use vigil_core::aion::{
    ActivityRequest, ActivityResult, Payload, WorkerCapacity, dispatch_channel,
};
use vigil_core::dispatch::{
    DispatchContext, DispatchWorkerHandle, RoutingFunction, RoutingFunctionDispatchRouter,
    dispatch_activity_with_context, policy, register_dispatch_worker,
};
use vigil_core::pool::WorkerContext;

const POOL_SIZES: [usize; 3] = [10, 100, 1_000];

/// A ready policy by name.
type Policy = (&'static str, fn() -> RoutingFunction);

fn request() -> ActivityRequest {
    ActivityRequest {
        activity_type: "send-email".into(),
        input: Payload {
            data: b"hi".to_vec(),
            content_type: "text/plain".into(),
        },
        task_queue: "email".into(),
        schedule_to_close_timeout: None,
        start_to_close_timeout: None,
    }
}

fn workers(pool: &WorkerContext, size: usize) -> Vec<DispatchWorkerHandle> {
    (0..size)
        .map(|_| {
            let capacity = WorkerCapacity {
                max_concurrent: 4,
                activity_types: vec!["send-email".into()],
            };
            let echo = Arc::new(|request: &ActivityRequest| ActivityResult::Completed {
                output: request.input.clone(),
            });
            register_dispatch_worker(pool, "bench", "email", capacity, echo)
                .expect("a bench worker registers")
        })
        .collect()
}

fn dispatch_by_policy(c: &mut Criterion) {
    let policies: [Policy; 3] = [
        ("first-with-capacity", policy::first_with_capacity),
        ("least-loaded", policy::least_loaded),
        ("affinity", policy::affinity_by_activity_type),
    ];
    let mut group = c.benchmark_group("dispatch");
    for size in POOL_SIZES {
        let pool = WorkerContext::new();
        let registered = workers(&pool, size);
        let channel = dispatch_channel("bench", "email").expect("the bench channel is valid");
        assert_eq!(
            pool.workers_for_channel(&channel).map(|w| w.len()),
            Ok(size)
        );
        group.bench_with_input(BenchmarkId::new("snapshot-only", size), &size, |b, _| {
            b.iter(|| black_box(pool.workers_for_channel(&channel).expect("a snapshot")));
        });
        for (name, function) in policies {
            let router = RoutingFunctionDispatchRouter::new(function());
            let ctx = DispatchContext::for_pool(&pool, Arc::new(router));
            group.bench_with_input(BenchmarkId::new(name, size), &size, |b, _| {
                b.iter(|| {
                    let result = dispatch_activity_with_context(&ctx, "bench", "email", request());
                    black_box(result.expect("a bench dispatch completes"))
                });
            });
        }
        for worker in registered {
            worker.unregister().expect("a bench worker unregisters");
        }
    }
    group.finish();
}

criterion_group!(benches, dispatch_by_policy);
criterion_main!(benches);
