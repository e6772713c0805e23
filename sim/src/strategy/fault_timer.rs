//! When a randomised strategy fires a fault: at a due step drawn uniformly over the horizon.
//!
//! At the start of an execution the timer draws a due step uniformly below its horizon (the
//! longest stretch of any execution so far in which faults could fire, at least 64 steps);
//! the first time a fault is pending at or after that step it fires one, chosen uniformly,
//! and draws the next due step. A fixed per-step probability would bunch faults near the
//! start of long executions; a uniform due step spreads them over the whole workload.

use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;

use super::PickView;
use crate::schedule::Choice;

/// The horizon before any execution has been seen.
const HORIZON_MIN: u64 = 64;

/// Shared by the random walk and PCT; all draws come from the strategy's own stream.
#[derive(Debug)]
pub(crate) struct FaultTimer {
    horizon: u64,
    due: u64,
    /// A calibrated timer starts every execution from this horizon instead of the one
    /// learned from earlier executions, so each execution depends on its own seed alone and
    /// can run on any thread or machine (see [`crate::Part`]).
    calibrated: Option<u64>,
}

impl FaultTimer {
    pub(crate) fn new() -> Self {
        FaultTimer {
            horizon: HORIZON_MIN,
            due: 0,
            calibrated: None,
        }
    }

    /// A timer that starts every execution from `horizon` (at least the minimum).
    pub(crate) fn calibrated(horizon: u64) -> Self {
        let horizon = horizon.max(HORIZON_MIN);
        FaultTimer {
            horizon,
            due: 0,
            calibrated: Some(horizon),
        }
    }

    /// The horizon learned so far (for calibrating other timers from a first execution).
    pub(crate) fn horizon(&self) -> u64 {
        self.horizon
    }

    /// Draws the first due step of an execution. The horizon depends only on earlier
    /// executions (or is the calibrated one); replaying one execution uses its recorded
    /// choices, not this timer.
    pub(crate) fn start(&mut self, rng: &mut ChaCha8Rng) {
        if let Some(horizon) = self.calibrated {
            self.horizon = horizon;
        }
        self.due = below(rng, self.horizon);
    }

    /// The fault to fire at this pick, if one is pending and due.
    pub(crate) fn choose(&mut self, view: &PickView<'_>, rng: &mut ChaCha8Rng) -> Option<Choice> {
        if view.faults_window {
            self.horizon = self.horizon.max(view.step + 1);
        }
        if view.faults_pending == 0 || view.step < self.due {
            return None;
        }
        let fault = below(rng, u64::from(view.faults_pending)) as u32;
        self.due = view.step + 1 + below(rng, self.horizon);
        Some(Choice::Fault(fault))
    }
}

/// A number in `0..bound`, by multiply-and-shift (no modulo; bias is below 2^-32 here).
pub(crate) fn below(rng: &mut ChaCha8Rng, bound: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(bound)) >> 64) as u64
}
