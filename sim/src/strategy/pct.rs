//! PCT (probabilistic concurrency testing, Burckhardt et al. 2010) with a depth knob.
//!
//! Each task gets a random priority when it first becomes runnable, and the runnable task
//! with the highest priority always runs. `depth - 1` change points are drawn uniformly over
//! the execution's expected number of *shared points*: the choices made while the running
//! task waits at a point on a shared object (a lock, an atomic, a channel), the only places
//! where lowering its priority can change what another task observes. At a change point the
//! running task drops below every other. A bug that needs `d` ordering constraints is found
//! with probability at least `1 / (n * k^(d-1))` per execution (n tasks, k shared points), so
//! leaving out points where a change cannot matter (spawns, joins, parks, named steps, picks
//! with one task runnable) raises the odds. A task that yields drops below every other too,
//! without using up a change point, so spin loops on `yield_now` end. Faults are placed by
//! the shared fault timer (`fault_timer.rs`), as in the random walk.

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
    /// Indices into the execution's shared points, in increasing order.
    change_points: Vec<u64>,
    /// Shared points seen so far in this execution.
    shared_points: u64,
    /// The next priority handed out at a change point or a yield (counts down from below
    /// every initial one, far enough never to reach zero).
    next_low: u64,
    /// The most shared points an execution has had so far; zero before the first ends.
    horizon: u64,
    /// Whether `horizon` grows with the executions run (not when fixed, see [`Pct::fixed`]).
    learns: bool,
    faults: FaultTimer,
}

/// The horizon assumed until the first execution has ended.
const HORIZON_FIRST: u64 = 64;
/// Initial priorities are at or above this; lowered ones count down from just below it.
const INITIAL_MIN: u64 = 1 << 63;

impl Pct {
    /// PCT whose fault timer starts every execution from `fault_horizon` steps (see
    /// [`crate::Random::calibrated`]); its priority-change horizon still learns.
    pub fn calibrated(root_seed: u64, depth: u32, fault_horizon: u64) -> Self {
        Pct {
            faults: FaultTimer::calibrated(fault_horizon),
            ..Pct::new(root_seed, depth)
        }
    }

    pub fn new(root_seed: u64, depth: u32) -> Self {
        Pct {
            root_seed,
            depth: depth.max(1),
            rng: ChaCha8Rng::seed_from_u64(splitmix64(root_seed)),
            priorities: Vec::new(),
            change_points: Vec::new(),
            shared_points: 0,
            next_low: 0,
            horizon: 0,
            learns: true,
            faults: FaultTimer::new(),
        }
    }

    /// PCT whose every execution spreads its change points over `horizon` shared points and
    /// starts its fault timer from `fault_horizon` steps, learning neither from earlier
    /// executions: execution `i` then depends on the root seed and `i` alone, so a search can
    /// be split by index over threads and machines. [`Pct::horizon`] after one execution of
    /// [`Pct::new`] is the horizon the learning PCT would use from its second execution on.
    pub fn fixed(root_seed: u64, depth: u32, fault_horizon: u64, horizon: u64) -> Self {
        Pct {
            horizon: horizon.max(1),
            learns: false,
            ..Pct::calibrated(root_seed, depth, fault_horizon)
        }
    }

    /// The horizon learned so far: the most shared points an execution has had.
    pub fn horizon(&self) -> u64 {
        self.horizon
    }

    /// Applies due change points (and a yield), then runs the runnable task with the highest
    /// priority.
    fn pick_task(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        if view.current_shared {
            while self
                .change_points
                .first()
                .is_some_and(|point| *point <= self.shared_points)
            {
                self.change_points.remove(0);
                self.lower(view);
            }
            self.shared_points += 1;
        }
        if view.current_yields {
            self.lower(view);
        }
        // A task spinning on `yield_now` never goes first while one that does not yield can.
        let mut eligible = view.runnable.iter().filter(|task| !view.spins(**task));
        let mut best = *eligible
            .next()
            .expect("[internal bug] every runnable task spins");
        let mut best_priority = self.priority(best.0 as usize);
        for task in eligible {
            let priority = self.priority(task.0 as usize);
            if priority > best_priority {
                best = *task;
                best_priority = priority;
            }
        }
        Ok(Choice::Task(best))
    }

    /// Drops the running task below every other.
    fn lower(&mut self, view: &PickView<'_>) {
        if let Some(current) = view.current {
            self.priority(current.0 as usize);
            self.priorities[current.0 as usize] = Some(self.next_low);
            self.next_low -= 1;
        }
    }

    fn priority(&mut self, task: usize) -> u64 {
        if self.priorities.len() <= task {
            self.priorities.resize(task + 1, None);
        }
        if let Some(priority) = self.priorities[task] {
            return priority;
        }
        // Initial priorities sit above every lowered one.
        let priority = INITIAL_MIN | self.rng.next_u64();
        self.priorities[task] = Some(priority);
        priority
    }
}

impl Strategy for Pct {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        let seed = execution_seed(self.root_seed, execution_idx);
        self.rng = ChaCha8Rng::seed_from_u64(seed);
        self.priorities.clear();
        let horizon = match self.horizon {
            0 => HORIZON_FIRST,
            seen => seen,
        };
        self.change_points = (1..self.depth)
            .map(|_| below(&mut self.rng, horizon))
            .collect();
        self.change_points.sort_unstable();
        self.shared_points = 0;
        self.next_low = INITIAL_MIN - 1;
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

    fn end(&mut self, _steps: u64) -> Result<(), Divergence> {
        // The horizon is the most shared points an execution has had: change points are
        // spread over whole executions, not bunched at their start.
        if self.learns {
            self.horizon = self.horizon.max(self.shared_points);
        }
        Ok(())
    }
}
