//! PCT (probabilistic concurrency testing, Burckhardt et al. 2010) with a depth knob.
//!
//! Each task gets a random priority when it first becomes runnable, and the runnable task
//! with the highest priority always runs. `depth - 1` change points are drawn uniformly over
//! the execution's expected length; at a change point the running task drops below every
//! other. A bug that needs `d` ordering constraints is found with probability at least
//! `1 / (n * k^(d-1))` per execution (n tasks, k steps). Faults are placed by the shared
//! fault timer (`fault_timer.rs`), as in the random walk.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use super::fault_timer::{FaultTimer, below};
use super::random::{execution_seed, splitmix64};
use super::{Divergence, DrawView, PickView, Start, Strategy};
use crate::schedule::Choice;

/// Priority-based scheduling with `depth - 1` random priority change points.
#[derive(Debug)]
pub struct Pct {
    root_seed: u64,
    depth: u32,
    rng: ChaCha8Rng,
    /// Priority per task id; `None` until the task is first seen runnable.
    priorities: Vec<Option<u64>>,
    change_points: Vec<u64>,
    /// The next priority handed out at a change point (counts down, below every initial one).
    next_low: u64,
    horizon: u64,
    faults: FaultTimer,
}

const HORIZON_MIN: u64 = 64;

impl Pct {
    pub fn new(root_seed: u64, depth: u32) -> Self {
        Pct {
            root_seed,
            depth: depth.max(1),
            rng: ChaCha8Rng::seed_from_u64(splitmix64(root_seed)),
            priorities: Vec::new(),
            change_points: Vec::new(),
            next_low: 0,
            horizon: HORIZON_MIN,
            faults: FaultTimer::new(),
        }
    }

    /// Applies due change points, then runs the runnable task with the highest priority.
    fn pick_task(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        while self
            .change_points
            .first()
            .is_some_and(|point| *point <= view.step)
        {
            self.change_points.remove(0);
            if let Some(current) = view.current {
                self.priority(current.0 as usize);
                self.priorities[current.0 as usize] = Some(self.next_low);
                self.next_low = self.next_low.saturating_sub(1);
            }
        }
        let mut best = view.runnable[0];
        let mut best_priority = self.priority(best.0 as usize);
        for task in &view.runnable[1..] {
            let priority = self.priority(task.0 as usize);
            if priority > best_priority {
                best = *task;
                best_priority = priority;
            }
        }
        Ok(Choice::Task(best))
    }

    fn priority(&mut self, task: usize) -> u64 {
        if self.priorities.len() <= task {
            self.priorities.resize(task + 1, None);
        }
        if let Some(priority) = self.priorities[task] {
            return priority;
        }
        // Initial priorities sit above every change-point priority.
        let priority = u64::from(self.depth) + 1 + (self.rng.next_u64() >> 1);
        self.priorities[task] = Some(priority);
        priority
    }
}

impl Strategy for Pct {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        let seed = execution_seed(self.root_seed, execution_idx);
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self.priorities.clear();
        self.change_points = (1..self.depth)
            .map(|_| below(&mut self.rng, self.horizon))
            .collect();
        self.change_points.sort_unstable();
        self.next_low = u64::from(self.depth);
        self.faults.start(&mut self.rng);
        Some(Start { seed })
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        if let Some(fault) = self.faults.choose(view, &mut self.rng) {
            return Ok(fault);
        }
        self.pick_task(view)
    }

    fn draw(&mut self, _view: &DrawView) -> Result<u64, Divergence> {
        Ok(self.rng.next_u64())
    }

    fn end(&mut self, steps: u64) -> Result<(), Divergence> {
        // The horizon is the longest execution seen: change points are spread
        // over whole executions, not bunched at their start.
        self.horizon = self.horizon.max(steps);
        Ok(())
    }
}
