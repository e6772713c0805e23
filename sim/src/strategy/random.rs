//! Random walk: every choice uniform, from a ChaCha8 stream derived from the root seed.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::{Divergence, DrawView, PickView, Start, Strategy};
use crate::schedule::Choice;

/// Picks uniformly among the runnable tasks at every step, and fires faults at uniformly
/// random points of the execution.
///
/// Faults: at the start of an execution the strategy draws a "due" step uniformly below a
/// horizon (the longest stretch of any execution so far in which faults could fire, at least
/// 64 steps); the first time a fault is pending at or after that step it fires one (chosen
/// uniformly) and draws the next due step.
/// Choosing a fault with a fixed probability per step would cluster faults near the start of
/// long executions; a uniform due step spreads them over the whole run.
///
/// Execution `i` of a run with root seed `s` uses `ChaCha8Rng::seed_from_u64(derive(s, i))`,
/// so each execution is reproducible on its own and independent of how many draws earlier
/// executions made. ChaCha8 and `seed_from_u64` are value-stable across versions, unlike
/// `StdRng` or `SmallRng`.
#[derive(Debug)]
pub struct Random {
    root_seed: u64,
    rng: ChaCha8Rng,
    fault_horizon: u64,
    fault_due: u64,
}

/// The fault horizon before any execution has been seen.
const HORIZON_MIN: u64 = 64;

impl Random {
    pub fn new(root_seed: u64) -> Self {
        Random {
            root_seed,
            rng: ChaCha8Rng::seed_from_u64(root_seed),
            fault_horizon: HORIZON_MIN,
            fault_due: 0,
        }
    }

    /// The seed of execution `execution_idx` of a run with `root_seed`.
    pub fn execution_seed(root_seed: u64, execution_idx: u64) -> u64 {
        execution_seed(root_seed, execution_idx)
    }

    fn below_u64(&mut self, bound: u64) -> u64 {
        ((u128::from(self.rng.next_u64()) * u128::from(bound)) >> 64) as u64
    }

    fn pick_task(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        let idx = self.below(view.runnable.len());
        Ok(Choice::Task(view.runnable[idx]))
    }

    /// A number in `0..bound`, by multiply-and-shift (no modulo; bias is below 2^-32 here).
    fn below(&mut self, bound: usize) -> usize {
        ((u128::from(self.rng.next_u64()) * bound as u128) >> 64) as usize
    }
}

impl Strategy for Random {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        let seed = execution_seed(self.root_seed, execution_idx);
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        // The horizon depends only on earlier executions' lengths; replaying one execution
        // on its own uses the recorded choices, not this strategy.
        self.fault_due = self.below_u64(self.fault_horizon);
        Some(Start { seed })
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        if view.faults_window {
            // Faults are spread over the longest stretch in which they were possible.
            self.fault_horizon = self.fault_horizon.max(view.step + 1);
        }
        if view.faults_pending == 0 {
            return self.pick_task(view);
        }
        if view.step >= self.fault_due {
            let fault = self.below(view.faults_pending as usize) as u32;
            self.fault_due = view.step + 1 + self.below_u64(self.fault_horizon);
            return Ok(Choice::Fault(fault));
        }
        self.pick_task(view)
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
