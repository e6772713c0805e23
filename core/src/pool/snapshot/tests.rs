//! The snapshot against a literal copy of the original algorithm (spec c.7): random register,
//! unregister, crash, drop and set-in-flight sequences, and equal snapshots after every step.
//!
//! Both algorithms read the same `WorkerEntry` values. The original keeps its own list in the
//! original layout (`Vec<Weak<WorkerEntry>>`) and prunes it the original way; the new one
//! keeps the pool's `Vec<Slot>`. The runs are single-threaded on the production scheduler, so
//! the atomics' scheduling points are no-ops and every step is deterministic.

use std::sync::{Arc, Weak};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

use super::{CellAllocator, EntryView, Roster, Slot};
use crate::aion::{WorkerCapacity, dispatch_channel};
use crate::census::{Census, Counted};
use crate::pool::{RegistrationId, WorkerEntry};
use crate::process::Pid;
use crate::sync::{Mutex, Ordering};

/// A `DispatchWorker` with every shared part copied out, so the two algorithms' results
/// compare field by field.
#[derive(Debug, PartialEq, Eq)]
struct Flat {
    worker_id: String,
    participant: Pid,
    consumer: String,
    current_in_flight: u32,
    max_in_flight: u32,
    buffer_depth: u32,
    affinity_tags: Vec<String>,
}

/// The original's `retain_active`: keep an entry while it upgrades and is active.
fn original_retain_active(entries: &mut Vec<Weak<WorkerEntry>>) {
    entries.retain(|weak| {
        weak.upgrade()
            .is_some_and(|entry| entry.view.active().load(Ordering::Acquire))
    });
}

/// The original's `workers_for_channel` body (spec c.7): prune, then upgrade every remaining
/// entry and project it with fresh copies of its id (twice) and its tag list.
fn original_snapshot(entries: &mut Vec<Weak<WorkerEntry>>) -> Vec<Flat> {
    original_retain_active(entries);
    entries
        .iter()
        .filter_map(Weak::upgrade)
        .map(|entry| Flat {
            worker_id: entry.view.worker_id.to_string(),
            participant: entry.view.participant,
            consumer: entry.view.worker_id.to_string(),
            current_in_flight: entry.view.in_flight().load(Ordering::Acquire),
            max_in_flight: u32::try_from(entry.capacity.max_concurrent).unwrap_or(u32::MAX),
            buffer_depth: 0,
            affinity_tags: entry.capacity.activity_types.clone(),
        })
        .collect()
}

fn new_snapshot(roster: &mut Roster) -> Vec<Flat> {
    roster
        .snapshot()
        .into_iter()
        .map(|worker| Flat {
            worker_id: worker.worker_id.to_string(),
            participant: worker.participant,
            consumer: worker.consumer_state.consumer.0.to_string(),
            current_in_flight: worker.consumer_state.current_in_flight,
            max_in_flight: worker.consumer_state.max_in_flight,
            buffer_depth: worker.consumer_state.buffer_depth,
            affinity_tags: worker.consumer_state.affinity_tags.to_vec(),
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Op {
    /// Register a worker with this limit and these tags (an index into `TAGS`).
    Register {
        max_concurrent: usize,
        tags: usize,
    },
    /// `unregister` (c.9): deactivate, prune, drop the registration.
    Unregister(usize),
    /// A crash handled by the listener: deactivate and prune; the registration stays owned.
    Crash(usize),
    /// The window inside a teardown: deactivated, not yet pruned.
    Deactivate(usize),
    /// The registration dropped with its entry still active (never happens in the pool,
    /// whose teardown deactivates first; `WorkerEntry::drop` is the backstop).
    Forget(usize),
    SetInFlight(usize, u32),
    Snapshot,
}

const TAGS: [&[&str]; 4] = [&[], &["send-email"], &["send-email", "send-sms"], &["gpu"]];

fn op() -> impl Strategy<Value = Op> {
    let max_concurrent = prop_oneof![0..8usize, Just(usize::MAX), Just(u32::MAX as usize + 1)];
    prop_oneof![
        3 => (max_concurrent, 0..TAGS.len())
            .prop_map(|(max_concurrent, tags)| Op::Register { max_concurrent, tags }),
        1 => any::<usize>().prop_map(Op::Unregister),
        1 => any::<usize>().prop_map(Op::Crash),
        1 => any::<usize>().prop_map(Op::Deactivate),
        1 => any::<usize>().prop_map(Op::Forget),
        2 => (any::<usize>(), 0..10u32).prop_map(|(idx, n)| Op::SetInFlight(idx, n)),
        3 => Just(Op::Snapshot),
    ]
}

/// Both lists and the registrations that own the entries.
#[derive(Default)]
struct Model {
    registrations: Vec<Option<Arc<WorkerEntry>>>,
    original: Vec<Weak<WorkerEntry>>,
    roster: Roster,
    cells: CellAllocator,
    next_id: u64,
    census: Arc<Census>,
}

impl Model {
    fn register(&mut self, max_concurrent: usize, tags: usize) {
        self.next_id += 1;
        let capacity = WorkerCapacity {
            max_concurrent,
            activity_types: TAGS[tags].iter().map(|tag| (*tag).to_owned()).collect(),
        };
        let worker_id = format!("worker-{}", self.next_id);
        let entry = Arc::new(WorkerEntry {
            registration: RegistrationId(self.next_id),
            channel_name: dispatch_channel("prod", "email").unwrap(),
            view: EntryView::new(
                self.cells.take(),
                worker_id.into(),
                Pid(self.next_id),
                &capacity,
            ),
            capacity,
            subscription: Mutex::named("entry.subscription", None),
            _counted: self.census.token(Counted::Entry),
        });
        self.original.push(Arc::downgrade(&entry));
        self.roster.push(Slot::new(&entry));
        self.registrations.push(Some(entry));
    }

    /// The live registration `idx` picks, if any (indices wrap over every registration ever
    /// made, so removed ones are picked too and do nothing).
    fn pick(&self, idx: usize) -> Option<&Arc<WorkerEntry>> {
        let count = self.registrations.len();
        (count > 0)
            .then(|| self.registrations[idx % count].as_ref())
            .flatten()
    }

    /// `remove_inactive` in both layouts.
    fn prune(&mut self) {
        original_retain_active(&mut self.original);
        self.roster.remove_inactive();
    }

    fn apply(&mut self, op: &Op) -> Result<(), TestCaseError> {
        match *op {
            Op::Register {
                max_concurrent,
                tags,
            } => self.register(max_concurrent, tags),
            Op::Unregister(idx) | Op::Crash(idx) | Op::Deactivate(idx) => {
                let Some(entry) = self.pick(idx) else {
                    return Ok(());
                };
                entry.view.active().store(false, Ordering::Release);
                if !matches!(op, Op::Deactivate(_)) {
                    self.prune();
                }
                if matches!(op, Op::Unregister(_)) {
                    let count = self.registrations.len();
                    self.registrations[idx % count] = None;
                }
            }
            Op::Forget(idx) => {
                let count = self.registrations.len();
                if count > 0 {
                    self.registrations[idx % count] = None;
                }
            }
            Op::SetInFlight(idx, in_flight) => {
                if let Some(entry) = self.pick(idx) {
                    entry.view.in_flight().store(in_flight, Ordering::Release);
                }
            }
            Op::Snapshot => {
                let original = original_snapshot(&mut self.original);
                let new = new_snapshot(&mut self.roster);
                prop_assert_eq!(&new, &original);
                // Both pruned everything inactive: the lists name the same workers.
                let original_ids: Vec<_> = self
                    .original
                    .iter()
                    .map(|weak| weak.as_ptr() as usize)
                    .collect();
                let new_ids: Vec<_> = self
                    .roster
                    .slots
                    .iter()
                    .map(|slot| slot.owner.as_ptr() as usize)
                    .collect();
                prop_assert_eq!(new_ids, original_ids);
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(Config {
        cases: 256,
        rng_seed: RngSeed::Fixed(0x5eed_0011),
        failure_persistence: None,
        ..Config::default()
    })]

    /// After any sequence of operations, the new snapshot and the original algorithm return
    /// the same workers, in the same order, with the same projected fields.
    #[test]
    fn snapshot_equals_the_original_algorithm(ops in prop::collection::vec(op(), 1..80)) {
        let mut model = Model::default();
        for op in &ops {
            model.apply(op)?;
        }
        model.apply(&Op::Snapshot)?;
    }
}

#[test]
fn a_snapshot_shares_the_tag_list_with_the_entry() {
    let mut model = Model::default();
    model.register(2, 2);
    let first = model.roster.snapshot();
    let second = model.roster.snapshot();
    assert_eq!(first[0].worker_id, second[0].worker_id);
    assert!(Arc::ptr_eq(
        &first[0].consumer_state.affinity_tags,
        &second[0].consumer_state.affinity_tags
    ));
    assert_eq!(first[0].consumer_state.consumer.0, "worker-1");
}

#[test]
fn a_snapshot_moves_nothing_when_every_entry_is_active() {
    let mut model = Model::default();
    for _ in 0..3 {
        model.register(1, 1);
    }
    let before: Vec<_> = model
        .roster
        .slots
        .iter()
        .map(|slot| slot.owner.as_ptr())
        .collect();
    assert_eq!(model.roster.snapshot().len(), 3);
    let after: Vec<_> = model
        .roster
        .slots
        .iter()
        .map(|slot| slot.owner.as_ptr())
        .collect();
    assert_eq!(after, before);
    model.apply(&Op::Deactivate(1)).unwrap();
    assert_eq!(model.roster.snapshot().len(), 2);
    assert_eq!(
        model.roster.slots.len(),
        2,
        "the inactive entry is pruned by the snapshot"
    );
}
