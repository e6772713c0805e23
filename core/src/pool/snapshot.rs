//! The snapshot: how the pool's entries become the `DispatchWorker` list routing sees.
//!
//! The original algorithm (spec c.7) prunes the whole entry list, upgrades every weak entry,
//! and deep-copies each worker's id twice and its tag list once into the result. This one
//! reads the same things in one pass and copies nothing: the parts of an entry that never
//! change (id, participant, limit, tags) live in a [`EntryView`] the channel holds strongly,
//! and a projection shares the id and the tag list with it. Only the in-flight count and the
//! active flag are read, once each, per entry. Pruning happens in the same pass and only moves
//! anything when an entry has become inactive.

use std::sync::{Arc, Weak};

use super::WorkerEntry;
use crate::SharedStr;
use crate::aion::{ActivityRequest, AionSurfaceError, ChannelName, WorkerCapacity};
use crate::process::ParticipantPid;
use crate::routing::{ConsumerId, ConsumerStateView};
use crate::sync::{AtomicBool, AtomicU32, Ordering};

/// A worker as dispatch sees it in one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DispatchWorker {
    pub worker_id: SharedStr,
    pub participant: ParticipantPid,
    pub consumer_state: ConsumerStateView,
}

impl DispatchWorker {
    /// A one-slot view: consumer id = worker id, 0 in flight, max 1, no buffer, no tags.
    pub fn new(worker_id: impl Into<SharedStr>, participant: ParticipantPid) -> Self {
        let worker_id = worker_id.into();
        let consumer_state = ConsumerStateView {
            consumer: ConsumerId(worker_id.clone()),
            current_in_flight: 0,
            max_in_flight: 1,
            buffer_depth: 0,
            affinity_tags: Arc::from([]),
        };
        DispatchWorker::with_state(worker_id, participant, consumer_state)
    }

    /// A worker with an explicit view; nothing forces the view's consumer id to match.
    pub fn with_state(
        worker_id: impl Into<SharedStr>,
        participant: ParticipantPid,
        consumer_state: ConsumerStateView,
    ) -> Self {
        DispatchWorker {
            worker_id: worker_id.into(),
            participant,
            consumer_state,
        }
    }
}

/// The pool seam of dispatch: a fresh list of candidates for every attempt.
pub trait DispatchWorkerPool: std::fmt::Debug + Send + Sync {
    fn workers_for(
        &self,
        channel: &ChannelName,
        request: &ActivityRequest,
    ) -> Result<Vec<DispatchWorker>, AionSurfaceError>;
}

/// What a snapshot reads of one worker: fixed at registration except the two atomics.
///
/// `repr(C)` keeps the two atomics, the only fields a snapshot reads through the pointer, at
/// the front, together in the allocation's first cache line.
#[repr(C)]
pub(crate) struct EntryView {
    pub(super) current_in_flight: AtomicU32,
    pub(super) active: AtomicBool,
    pub(super) worker_id: SharedStr,
    pub(super) participant: ParticipantPid,
    /// `max_concurrent` saturated into `u32` once, at registration (spec b.6).
    max_in_flight: u32,
    /// The raw activity types, shared with every projection.
    affinity_tags: Arc<[String]>,
}

impl EntryView {
    pub(super) fn new(
        worker_id: SharedStr,
        participant: ParticipantPid,
        capacity: &WorkerCapacity,
    ) -> Self {
        EntryView {
            current_in_flight: AtomicU32::named("entry.in_flight", 0),
            active: AtomicBool::named("entry.active", true),
            worker_id,
            participant,
            max_in_flight: u32::try_from(capacity.max_concurrent).unwrap_or(u32::MAX),
            affinity_tags: Arc::from(capacity.activity_types.as_slice()),
        }
    }
}

/// One registered worker in its channel's list: a copy of the fixed part of its view (so a
/// snapshot walks contiguous memory and follows one pointer per worker, to the atomics), the
/// view itself, and the owner the observers' `peek_channels` reports (`None` once its
/// registration is gone).
pub(super) struct Slot {
    worker_id: SharedStr,
    participant: ParticipantPid,
    max_in_flight: u32,
    /// The entry's tag list, or an equal list already in the roster: workers of one queue
    /// usually share their activity types, so their projections share one list and one
    /// reference count that stays in cache.
    affinity_tags: Arc<[String]>,
    pub(super) view: Arc<EntryView>,
    pub(super) owner: Weak<WorkerEntry>,
}

impl Slot {
    pub(super) fn new(entry: &Arc<WorkerEntry>) -> Self {
        let view = &entry.view;
        Slot {
            worker_id: view.worker_id.clone(),
            participant: view.participant,
            max_in_flight: view.max_in_flight,
            affinity_tags: view.affinity_tags.clone(),
            view: view.clone(),
            owner: Arc::downgrade(entry),
        }
    }
}

/// One channel's workers in registration order, with a count of entries known to have become
/// inactive since the last prune.
///
/// The original pruned the whole list on every unregister and crash (`remove_inactive`), which
/// made tearing down n workers cost n²/2 reads of `active`. Here a teardown only counts, and
/// the list is pruned when at least half of it may be inactive, so the work is amortised O(1)
/// per teardown and the list never holds more than twice the live entries (plus one). A list
/// whose every entry is gone is pruned by the last teardown, so nothing is left behind.
#[derive(Default)]
pub(super) struct Roster {
    pub(super) slots: Vec<Slot>,
    /// Teardowns since the last prune. May over-count (a worker torn down twice, by its
    /// listener and its owner), which only makes a prune come early.
    deactivated: usize,
}

impl Roster {
    pub(super) fn push(&mut self, mut slot: Slot) {
        if let Some(last) = self.slots.last()
            && !Arc::ptr_eq(&last.affinity_tags, &slot.affinity_tags)
            && last.affinity_tags == slot.affinity_tags
        {
            slot.affinity_tags = last.affinity_tags.clone();
        }
        self.slots.push(slot);
    }

    /// Called by a teardown after it cleared an entry's `active` flag.
    pub(super) fn remove_inactive(&mut self) {
        self.deactivated += 1;
        if self.deactivated * 2 >= self.slots.len() {
            self.prune();
        }
    }

    /// Keeps a slot only while it is active (the original's `retain_active`).
    pub(super) fn prune(&mut self) {
        self.slots
            .retain(|slot| slot.view.active.load(Ordering::Acquire));
        self.deactivated = 0;
    }

    /// Every active slot projected, in registration order, each atomic read once. A slot
    /// found inactive is pruned in the same pass; when none is, nothing in the list moves. A
    /// registration that is dropped has always cleared `active` first (its teardown, or
    /// `WorkerEntry::drop` as a backstop), so "active" here also means "still owned", which
    /// the original checked by upgrading a weak pointer.
    pub(super) fn snapshot(&mut self) -> Vec<DispatchWorker> {
        // Two passes. The first only reads the atomics, one pointer per slot: a short loop
        // whose independent loads the CPU overlaps, which matters once the entries no longer
        // fit in cache. The second builds the result from the slots alone.
        let reads: Vec<Option<u32>> = self
            .slots
            .iter()
            .map(|slot| {
                let active = slot.view.active.load(Ordering::Acquire);
                active.then(|| slot.view.current_in_flight.load(Ordering::Acquire))
            })
            .collect();
        let mut workers = Vec::with_capacity(self.slots.len());
        workers.extend(
            self.slots
                .iter()
                .zip(&reads)
                .filter_map(|(slot, read)| read.map(|in_flight| project(slot, in_flight))),
        );
        if workers.len() != self.slots.len() {
            let mut kept = reads.iter().map(Option::is_some);
            self.slots.retain(|_| kept.next().unwrap_or(false));
            self.deactivated = 0;
        }
        workers
    }
}

/// Projects a slot (spec b.6) with the in-flight count this snapshot read: the capacity
/// saturates into `u32`, tags are the raw activity types.
fn project(slot: &Slot, current_in_flight: u32) -> DispatchWorker {
    let consumer_state = ConsumerStateView {
        consumer: ConsumerId(slot.worker_id.clone()),
        current_in_flight,
        max_in_flight: slot.max_in_flight,
        buffer_depth: 0,
        affinity_tags: slot.affinity_tags.clone(),
    };
    DispatchWorker {
        worker_id: slot.worker_id.clone(),
        participant: slot.participant,
        consumer_state,
    }
}

#[cfg(test)]
mod tests;
