//! The original pool's snapshot algorithm (spec b.6, c.7), copied literally as a baseline.
//!
//! Entries are `Weak<OriginalEntry>` in registration order under one `channels` mutex, as in
//! the original. A snapshot locks, runs `retain_active` (upgrade every weak entry, keep it if
//! active), upgrades every remaining entry again and projects it with a fresh copy of its id
//! (twice: worker id and consumer id) and of its tag list. No listeners, actors or
//! subscriptions: only what the snapshot touches, so the comparison isolates the algorithm.

use std::collections::BTreeMap;
use std::sync::{Arc, Weak};

use vigil_core::aion::{ChannelName, WorkerCapacity};
use vigil_core::process::Pid;
use vigil_core::sync::{AtomicBool, AtomicU32, Mutex, Ordering};

/// The original `ConsumerStateView`: owned strings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalView {
    pub consumer: String,
    pub current_in_flight: u32,
    pub max_in_flight: u32,
    pub buffer_depth: u32,
    pub affinity_tags: Vec<String>,
}

/// The original `DispatchWorker`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OriginalWorker {
    pub worker_id: String,
    pub participant: Pid,
    pub consumer_state: OriginalView,
}

/// The original `WorkerEntry`, minus the subscription the snapshot never reads.
#[derive(Debug)]
pub struct OriginalEntry {
    worker_id: String,
    participant: Pid,
    capacity: WorkerCapacity,
    current_in_flight: AtomicU32,
    active: AtomicBool,
}

impl OriginalEntry {
    pub fn set_in_flight(&self, in_flight: u32) {
        self.current_in_flight.store(in_flight, Ordering::Release);
    }
}

/// The original `WorkerContextInner::channels`.
#[derive(Debug, Default)]
pub struct OriginalPool {
    channels: Mutex<BTreeMap<String, Vec<Weak<OriginalEntry>>>>,
}

impl OriginalPool {
    pub fn new() -> Self {
        OriginalPool {
            channels: Mutex::named("pool.channels", BTreeMap::new()),
        }
    }

    /// Inserts an entry (the `pool.insert` step); the caller owns it, as a registration does.
    pub fn register(
        &self,
        channel: &ChannelName,
        worker_id: String,
        participant: Pid,
        capacity: WorkerCapacity,
    ) -> Arc<OriginalEntry> {
        let entry = Arc::new(OriginalEntry {
            worker_id,
            participant,
            capacity,
            current_in_flight: AtomicU32::named("entry.in_flight", 0),
            active: AtomicBool::named("entry.active", true),
        });
        self.channels
            .lock()
            .entry(channel.as_str().to_owned())
            .or_default()
            .push(Arc::downgrade(&entry));
        entry
    }

    /// `unregister` / a crash teardown: deactivate, then `remove_inactive`.
    pub fn deactivate(&self, channel: &ChannelName, entry: &OriginalEntry) {
        entry.active.store(false, Ordering::Release);
        if let Some(entries) = self.channels.lock().get_mut(channel.as_str()) {
            retain_active(entries);
        }
    }

    /// `workers_for_channel` exactly as spec c.7 describes it.
    pub fn workers_for_channel(&self, channel: &ChannelName) -> Vec<OriginalWorker> {
        let mut channels = self.channels.lock();
        let Some(entries) = channels.get_mut(channel.as_str()) else {
            return Vec::new();
        };
        retain_active(entries);
        entries
            .iter()
            .filter_map(Weak::upgrade)
            .map(|entry| project(&entry))
            .collect()
    }
}

fn retain_active(entries: &mut Vec<Weak<OriginalEntry>>) {
    entries.retain(|weak| {
        weak.upgrade()
            .is_some_and(|entry| entry.active.load(Ordering::Acquire))
    });
}

fn project(entry: &OriginalEntry) -> OriginalWorker {
    let consumer_state = OriginalView {
        consumer: entry.worker_id.clone(),
        current_in_flight: entry.current_in_flight.load(Ordering::Acquire),
        max_in_flight: u32::try_from(entry.capacity.max_concurrent).unwrap_or(u32::MAX),
        buffer_depth: 0,
        affinity_tags: entry.capacity.activity_types.clone(),
    };
    OriginalWorker {
        worker_id: entry.worker_id.clone(),
        participant: entry.participant,
        consumer_state,
    }
}
