//! Dispatch snapshot cost: one `workers_for_channel` call on the production scheduler, with
//! 1, 16 and 256 workers registered on the channel.
//!
//! Workers are registered the way `core/src/pool/tests.rs` does it: an idle participant
//! spawned on the context's supervisor node, then `register_worker_with_participant`. Each
//! registration starts one listener thread, so the 256-worker pool runs 256 OS threads while
//! it is measured; they sit parked and do not touch the snapshot path.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use vigil_core::aion::{ChannelName, WorkerCapacity, dispatch_channel};
use vigil_core::pool::{WorkerContext, WorkerRegistration};
use vigil_core::process::IdleWorkerProcess;

const NAMESPACE: &str = "bench";
const TASK_QUEUE: &str = "email";
const WORKER_COUNTS: [usize; 3] = [1, 16, 256];

/// A fresh context with `count` registered workers on the bench channel.
fn pool_with(count: usize) -> (WorkerContext, ChannelName, Vec<WorkerRegistration>) {
    let context = WorkerContext::new();
    let channel = dispatch_channel(NAMESPACE, TASK_QUEUE).unwrap();
    let node = context.supervisor_for(&channel).unwrap().node().clone();
    let registrations = (0..count)
        .map(|idx| {
            let participant = node
                .spawn("participant", Box::new(IdleWorkerProcess), false)
                .unwrap();
            let capacity = WorkerCapacity {
                max_concurrent: 4,
                activity_types: vec!["send-email".to_owned()],
            };
            context
                .register_worker_with_participant(
                    NAMESPACE,
                    TASK_QUEUE,
                    format!("worker-{idx}"),
                    participant,
                    capacity,
                )
                .unwrap()
        })
        .collect();
    (context, channel, registrations)
}

fn snapshot(c: &mut Criterion) {
    let mut group = c.benchmark_group("workers_for_channel");
    for count in WORKER_COUNTS {
        let (context, channel, registrations) = pool_with(count);
        assert_eq!(context.workers_for_channel(&channel).unwrap().len(), count);
        group.bench_with_input(BenchmarkId::from_parameter(count), &count, |bencher, _| {
            bencher.iter(|| black_box(context.workers_for_channel(&channel).unwrap()));
        });
        for registration in registrations {
            registration.unregister().unwrap();
        }
    }
    group.finish();
}

criterion_group!(benches, snapshot);
criterion_main!(benches);
