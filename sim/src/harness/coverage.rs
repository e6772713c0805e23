//! Coverage: how many distinct abstract pool states a run reached, and when it found them.
//!
//! After every step a probe observer hashes what the invariants' observers can see: each
//! registration's status as the workload knows it and whether a fault hit it, and for each
//! channel of the pool which registrations are visible, active, monitored (linked to a live
//! monitor actor) and in flight. The hash is FNV-1a over a fixed encoding (no `RandomState`),
//! so the same run counts the same states on every machine. A run records, per distinct
//! state, the first execution index that reached it; from those the summary says how many
//! states the run found and how many of them the last tenth of its executions added.

use std::cell::RefCell;
use std::rc::Rc;

use vigil_core::pool::RegistrationId;

use super::checks::{peek_channels_at, watched};
use super::world::{self, Status, World};
use crate::observer::{Observer, StepView};
use crate::trace::{FNV_OFFSET_BASIS, fnv1a64_extend};

/// A run's state coverage: the execution index at which each distinct state was first
/// reached, ascending, over `executions` executions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Reach {
    pub firsts: Vec<u64>,
    pub executions: u64,
}

/// A run whose last tenth of executions added less than this share of its states is
/// called saturated: more of the same search is unlikely to find much.
const SATURATED_SHARE: f64 = 0.01;

impl Reach {
    pub fn new(mut firsts: Vec<u64>, executions: u64) -> Reach {
        firsts.sort_unstable();
        Reach { firsts, executions }
    }

    /// Distinct abstract states reached.
    pub fn states(&self) -> u64 {
        self.firsts.len() as u64
    }

    /// The first execution index of the run's last tenth (at least the last execution).
    fn tail_start(&self) -> u64 {
        self.executions - self.executions.div_ceil(10)
    }

    /// The share of the states first reached in the last tenth of the executions; `None`
    /// for a run without states.
    pub fn tail_share(&self) -> Option<f64> {
        if self.firsts.is_empty() || self.executions == 0 {
            return None;
        }
        let start = self.tail_start();
        let late = self.firsts.iter().filter(|&&first| first >= start).count();
        Some(late as f64 / self.firsts.len() as f64)
    }

    /// Whether the last tenth of the executions added under 1 % of the states.
    pub fn saturated(&self) -> bool {
        self.tail_share()
            .is_some_and(|share| share < SATURATED_SHARE && self.executions >= 10)
    }

    /// "the last 10 % of executions (90..99) found 0.4 % of the states (2 of 512)".
    pub fn saturation_line(&self) -> String {
        let Some(share) = self.tail_share() else {
            return "no states observed".to_owned();
        };
        let start = self.tail_start();
        let late = self.firsts.iter().filter(|&&first| first >= start).count();
        format!(
            "the last 10 % of executions ({start}..{}) found {:.1} % of the states ({late} of {})",
            self.executions.saturating_sub(1),
            share * 100.0,
            self.firsts.len()
        )
    }

    /// `(executions run, distinct states so far)` after each execution that found a new
    /// state, starting from `(0, 0)`: the curve the report plots.
    pub fn curve(&self) -> Vec<(u64, u64)> {
        let mut points = vec![(0, 0)];
        for (count, &first) in self.firsts.iter().enumerate() {
            let x = first + 1;
            match points.last_mut() {
                Some(last) if last.0 == x => last.1 = count as u64 + 1,
                _ => points.push((x, count as u64 + 1)),
            }
        }
        points
    }
}

/// The observer that hashes the abstract state after every step into `seen` (the caller
/// drains it after each execution).
#[derive(Debug)]
pub(crate) struct StateProbe {
    seen: Rc<RefCell<Vec<u64>>>,
    /// `state_hash`'s index of registrations, kept to reuse its buffer at every step.
    indices: Vec<(RegistrationId, u32)>,
}

impl StateProbe {
    pub(crate) fn new(seen: Rc<RefCell<Vec<u64>>>) -> Self {
        StateProbe {
            seen,
            indices: Vec::new(),
        }
    }
}

impl Observer for StateProbe {
    fn name(&self) -> &str {
        "state-coverage"
    }

    fn start_execution(&mut self) {
        self.seen.borrow_mut().clear();
    }

    fn after_step(&mut self, view: &StepView<'_>) -> Result<(), String> {
        let indices = &mut self.indices;
        if let Some(hash) = world::with(|world| state_hash(world, view.step, indices)) {
            self.seen.borrow_mut().push(hash);
        }
        Ok(())
    }
}

fn status_code(status: Status) -> u8 {
    match status {
        Status::NotYet => 0,
        Status::Registering => 1,
        Status::Registered => 2,
        Status::Failed => 3,
        Status::Stopping => 4,
        Status::Gone => 5,
    }
}

/// The hash of what the observers see after step `step`.
fn state_hash(world: &World, step: u64, indices: &mut Vec<(RegistrationId, u32)>) -> u64 {
    let mut hash = FNV_OFFSET_BASIS;
    for state in &world.registrations {
        hash = fnv1a64_extend(hash, &[status_code(state.status), u8::from(state.faulted)]);
    }
    let (Some(node), Some(channels)) = (world.node(), peek_channels_at(world, step)) else {
        // No pool yet, or its lock is held: the registrations alone, marked as such.
        return fnv1a64_extend(hash, &[0xff]);
    };
    // The workload's index of each registration the pool has named, by the pool's id.
    indices.clear();
    let named = world.registrations.iter().enumerate();
    indices.extend(named.filter_map(|(index, state)| Some((state.id?, index as u32))));
    indices.sort_unstable();
    let pool = node.peek_view(|view| {
        let mut hash = hash;
        for channel in channels.iter() {
            hash = fnv1a64_extend(hash, channel.name.as_bytes());
            hash = fnv1a64_extend(hash, &[0xfe, u8::from(channel.fan_out.is_some())]);
            for entry in &channel.entries {
                let Some(entry) = entry else {
                    hash = fnv1a64_extend(hash, &[0xfd]);
                    continue;
                };
                // The workload's index of the registration, not the pool's id, so the same
                // situation reached in two executions hashes alike.
                let index = indices
                    .binary_search_by_key(&entry.registration, |(id, _)| *id)
                    .map_or(u32::MAX, |found| indices[found].1);
                hash = fnv1a64_extend(hash, &index.to_le_bytes());
                let flags = [
                    u8::from(entry.active),
                    u8::from(entry.in_flight > 0),
                    u8::from(entry.subscriber.is_some()),
                    u8::from(watched(view, entry.participant)),
                ];
                hash = fnv1a64_extend(hash, &flags);
            }
        }
        hash
    });
    pool.unwrap_or_else(|| fnv1a64_extend(hash, &[0xfc]))
}
