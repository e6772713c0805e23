//! A portfolio: random walk and PCT at several depths, taking turns by execution index.

use super::pct::Pct;
use super::random::{Random, execution_seed};
use super::{Divergence, DrawView, PickView, Start, Strategy};
use crate::schedule::Choice;

/// PCT depths in the portfolio, after the random walk: shallow bugs first, deeper ones later.
const PCT_DEPTHS: [u32; 3] = [2, 3, 5];

/// Execution `i` runs member `i % 4`: the random walk, then PCT at depths 2, 3 and 5. Every
/// member starts afresh for each execution (PCT with its initial horizon, not one learned
/// from earlier executions, and every fault timer from the same calibrated horizon), so an execution depends on the root seed and its index alone and
/// any thread or machine can run it (see [`crate::Part`]).
#[derive(Debug)]
pub struct Portfolio {
    root_seed: u64,
    fault_horizon: u64,
    member: Member,
}

#[derive(Debug)]
enum Member {
    Random(Random),
    Pct(Pct),
}

impl Portfolio {
    /// A portfolio whose members' fault timers start every execution from `fault_horizon`
    /// steps (see [`Random::calibrated`]).
    pub fn new(root_seed: u64, fault_horizon: u64) -> Self {
        Portfolio {
            root_seed,
            fault_horizon,
            member: Member::Random(Random::calibrated(root_seed, fault_horizon)),
        }
    }

    /// The member that runs execution `execution_idx`, as reports name it.
    pub fn member_name(execution_idx: u64) -> String {
        match Self::depth_of(execution_idx) {
            None => "random".to_owned(),
            Some(depth) => format!("pct (depth {depth})"),
        }
    }

    /// The seed execution `execution_idx` of a run with `root_seed` records.
    pub fn execution_seed(root_seed: u64, execution_idx: u64) -> u64 {
        execution_seed(root_seed, execution_idx)
    }

    fn depth_of(execution_idx: u64) -> Option<u32> {
        let turn = (execution_idx % (PCT_DEPTHS.len() as u64 + 1)) as usize;
        turn.checked_sub(1).map(|member| PCT_DEPTHS[member])
    }

    fn strategy(&mut self) -> &mut dyn Strategy {
        match &mut self.member {
            Member::Random(random) => random,
            Member::Pct(pct) => pct,
        }
    }
}

impl Strategy for Portfolio {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        self.member = match Self::depth_of(execution_idx) {
            None => Member::Random(Random::calibrated(self.root_seed, self.fault_horizon)),
            Some(depth) => Member::Pct(Pct::calibrated(self.root_seed, depth, self.fault_horizon)),
        };
        self.strategy().start(execution_idx)
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        self.strategy().pick(view)
    }

    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence> {
        self.strategy().draw(view)
    }

    fn end(&mut self, steps: u64) -> Result<(), Divergence> {
        self.strategy().end(steps)
    }
}
