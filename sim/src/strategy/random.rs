//! Random walk: every choice uniform, from a ChaCha8 stream derived from the root seed.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::fault_timer::{FaultTimer, below};
use super::{Divergence, DrawView, PickView, Start, Strategy};
use crate::schedule::Choice;

/// Picks uniformly among the runnable tasks at every step, and fires faults at uniformly
/// random points of the execution (see [`FaultTimer`]).
///
/// Execution `i` of a run with root seed `s` uses `ChaCha8Rng::seed_from_u64(derive(s, i))`,
/// so each execution is reproducible on its own and independent of how many draws earlier
/// executions made. ChaCha8 and `seed_from_u64` are value-stable across versions, unlike
/// `StdRng` or `SmallRng`.
#[derive(Debug)]
pub struct Random {
    root_seed: u64,
    rng: ChaCha8Rng,
    faults: FaultTimer,
}

impl Random {
    pub fn new(root_seed: u64) -> Self {
        Random {
            root_seed,
            rng: ChaCha8Rng::seed_from_u64(root_seed),
            faults: FaultTimer::new(),
        }
    }

    /// A random walk whose fault timer starts every execution from `fault_horizon` steps
    /// instead of learning from earlier executions: execution `i` then depends on the root
    /// seed and `i` alone, so a search can be split over threads and machines.
    pub fn calibrated(root_seed: u64, fault_horizon: u64) -> Self {
        Random {
            faults: FaultTimer::calibrated(fault_horizon),
            ..Random::new(root_seed)
        }
    }

    /// The fault horizon learned from the executions run so far (see [`Random::calibrated`]).
    pub fn fault_horizon(&self) -> u64 {
        self.faults.horizon()
    }

    /// The seed of execution `execution_idx` of a run with `root_seed`.
    pub fn execution_seed(root_seed: u64, execution_idx: u64) -> u64 {
        execution_seed(root_seed, execution_idx)
    }
}

impl Strategy for Random {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        let seed = execution_seed(self.root_seed, execution_idx);
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self.faults.start(&mut self.rng);
        Some(Start { seed })
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        if let Some(fault) = self.faults.choose(view, &mut self.rng) {
            return Ok(fault);
        }
        let idx = below(&mut self.rng, view.runnable.len() as u64) as usize;
        Ok(Choice::Task(view.runnable[idx]))
    }

    fn draw(&mut self, _view: &DrawView) -> Result<u64, Divergence> {
        Ok(self.rng.next_u64())
    }
}

/// The seed of execution `execution_idx` of a run with `root_seed` (shared by strategies).
pub(crate) fn execution_seed(root_seed: u64, execution_idx: u64) -> u64 {
    splitmix64(root_seed ^ splitmix64(execution_idx))
}

/// Steele, Lea and Flood's SplitMix64 finaliser: a fixed, well-mixed bijection on `u64`.
pub(crate) fn splitmix64(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
