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

/// The two things a snapshot reads of a worker that change after registration.
pub(super) struct Cell {
    pub(super) current_in_flight: AtomicU32,
    pub(super) active: AtomicBool,
}

/// How many cells one block holds: a block is freed when its last cell's owners are gone, so
/// a small block bounds what a long-lived worker among short-lived ones keeps alive (one
/// block, 2 KiB), and a large one keeps a scan within fewer allocations.
const CELLS_PER_BLOCK: usize = 32;

/// A run of cells handed out to one channel's registrations in the order they begin, so
/// consecutive workers of a roster read consecutive memory.
pub(super) struct CellBlock {
    cells: [Cell; CELLS_PER_BLOCK],
}

/// One worker's cell: its block (kept alive by every holder) and its index in it.
#[derive(Clone)]
pub(super) struct CellRef {
    block: Arc<CellBlock>,
    index: usize,
}

impl CellRef {
    pub(super) fn get(&self) -> &Cell {
        &self.block.cells[self.index]
    }
}

/// Hands out one channel's cells, a block at a time. Cells are never reused: a block is
/// dropped once every entry and slot holding one of its cells is.
#[derive(Default)]
pub(super) struct CellAllocator {
    block: Option<Arc<CellBlock>>,
    next: usize,
}

impl CellAllocator {
    /// A fresh cell: in flight 0, active.
    pub(super) fn take(&mut self) -> CellRef {
        let block = match &self.block {
            Some(block) if self.next < CELLS_PER_BLOCK => block.clone(),
            _ => {
                let block = Arc::new(CellBlock {
                    cells: std::array::from_fn(|_| Cell {
                        current_in_flight: AtomicU32::named("entry.in_flight", 0),
                        active: AtomicBool::named("entry.active", true),
                    }),
                });
                self.block = Some(block.clone());
                self.next = 0;
                block
            }
        };
        let index = self.next;
        self.next += 1;
        CellRef { block, index }
    }
}

/// What a snapshot reads of one worker: fixed at registration except its cell.
pub(crate) struct EntryView {
    cell: CellRef,
    pub(super) worker_id: SharedStr,
    pub(super) participant: ParticipantPid,
    /// `max_concurrent` saturated into `u32` once, at registration (spec b.6).
    max_in_flight: u32,
    /// The raw activity types, shared with every projection.
    affinity_tags: Arc<[String]>,
}

impl EntryView {
    pub(super) fn new(
        cell: CellRef,
        worker_id: SharedStr,
        participant: ParticipantPid,
        capacity: &WorkerCapacity,
    ) -> Self {
        EntryView {
            cell,
            worker_id,
            participant,
            max_in_flight: u32::try_from(capacity.max_concurrent).unwrap_or(u32::MAX),
            affinity_tags: Arc::from(capacity.activity_types.as_slice()),
        }
    }

    pub(super) fn active(&self) -> &AtomicBool {
        &self.cell.get().active
    }

    pub(super) fn in_flight(&self) -> &AtomicU32 {
        &self.cell.get().current_in_flight
    }
}

/// One registered worker in its channel's list: a copy of the fixed part of its view, its
/// cell, and the owner the observers' `peek_channels` reports (`None` once its registration
/// is gone). A snapshot walks the contiguous slots and, through them, the cells, which lie
/// in registration order in a few blocks: no pointer into each worker's own allocations.
pub(super) struct Slot {
    worker_id: SharedStr,
    participant: ParticipantPid,
    max_in_flight: u32,
    /// The entry's tag list, or an equal list already in the roster: workers of one queue
    /// usually share their activity types, so their projections share one list and one
    /// reference count that stays in cache.
    affinity_tags: Arc<[String]>,
    cell: CellRef,
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
            cell: view.cell.clone(),
            owner: Arc::downgrade(entry),
        }
    }

    pub(super) fn active(&self) -> &AtomicBool {
        &self.cell.get().active
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
            .retain(|slot| slot.active().load(Ordering::Acquire));
        self.deactivated = 0;
    }

    /// Every active slot projected, in registration order, each atomic read once. A slot
    /// found inactive is pruned after the pass; when none is, nothing in the list moves and
    /// the only allocation is the result, at its exact size. A registration that is dropped
    /// has always cleared `active` first (its teardown, or `WorkerEntry::drop` as a
    /// backstop), so "active" here also means "still owned", which the original checked by
    /// upgrading a weak pointer.
    pub(super) fn snapshot(&mut self) -> Vec<DispatchWorker> {
        let mut workers = Vec::with_capacity(self.slots.len());
        // Positions of the slots read inactive, in order; allocated only if there are any.
        let mut inactive = Vec::new();
        for (idx, slot) in self.slots.iter().enumerate() {
            let cell = slot.cell.get();
            if cell.active.load(Ordering::Acquire) {
                let in_flight = cell.current_in_flight.load(Ordering::Acquire);
                workers.push(project(slot, in_flight));
            } else {
                inactive.push(idx);
            }
        }
        if !inactive.is_empty() {
            let mut idx = 0;
            let mut gone = inactive.into_iter().peekable();
            self.slots.retain(|_| {
                let keep = gone.next_if_eq(&idx).is_none();
                idx += 1;
                keep
            });
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
