//! vigil-benches: the baseline the pool benches compare against, and shared bench helpers.
//!
//! [`original`] is a literal copy of the original pool's snapshot algorithm (spec c.7) over
//! the original entry layout, built on the same `vigil_core::sync` primitives as the pool, so
//! both sides pay the same for locks and atomics and every bench run compares both in one
//! process. Criterion benches live in `benches/`, the soak and report programs in `examples/`.

pub mod original;
pub mod procfs;

use vigil_core::aion::{ChannelName, WorkerCapacity, dispatch_channel};
use vigil_core::pool::{WorkerContext, WorkerRegistration};
use vigil_core::process::{IdleWorkerProcess, Pid};

pub const NAMESPACE: &str = "bench";
pub const TASK_QUEUE: &str = "email";

/// The capacity every bench worker registers with: two activity types, as a small real
/// worker would have. Both algorithms project the same list.
pub fn capacity() -> WorkerCapacity {
    WorkerCapacity {
        max_concurrent: 4,
        activity_types: vec!["send-email".to_owned(), "send-sms".to_owned()],
    }
}

pub fn bench_channel() -> ChannelName {
    dispatch_channel(NAMESPACE, TASK_QUEUE).expect("the bench channel name is valid")
}

/// Spawns an idle participant on the context's node.
pub fn spawn_participant(context: &WorkerContext) -> Pid {
    let node = context
        .supervisor_for(&bench_channel())
        .expect("a fresh context has a supervisor")
        .node()
        .clone();
    node.spawn("participant", Box::new(IdleWorkerProcess), false)
        .expect("the node accepts a new process")
}

/// Registers worker `idx` on the bench channel, backed by a new idle participant.
pub fn register(context: &WorkerContext, idx: usize) -> WorkerRegistration {
    let participant = spawn_participant(context);
    context
        .register_worker_with_participant(
            NAMESPACE,
            TASK_QUEUE,
            format!("worker-{idx}"),
            participant,
            capacity(),
        )
        .expect("registration on a fresh context succeeds")
}

/// A fresh context with `count` registered workers on the bench channel.
pub fn pool_with(count: usize) -> (WorkerContext, Vec<WorkerRegistration>) {
    let context = WorkerContext::new();
    let registrations = (0..count).map(|idx| register(&context, idx)).collect();
    (context, registrations)
}

/// A small deterministic generator (splitmix64) for bench workloads with fixed seeds.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound as u64) as usize
    }
}
