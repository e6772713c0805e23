//! Bounded-preemption depth-first search: every schedule with at most `preemptions_max`
//! preemptions, in a fixed order, one per execution.
//!
//! A preemption is running a task other than the previous one while the previous one could
//! still run. Each execution replays the decisions of the previous one up to its deepest
//! decision with an untried alternative, takes that alternative, and continues with the
//! first option everywhere after (the previous task first, then the others in id order, then
//! pending faults). The search ends when no decision has an untried alternative. A task that
//! yields (`yield_now`) while another can run is not an option at that decision, and switching
//! away from it is no preemption, as in loom: a spin loop on `yield_now` lets the task it waits
//! for run, so the loop ends. There is no
//! partial-order reduction: schedules that differ only in the order of independent steps are
//! all explored, which the preemption bound keeps finite. A random draw with few outcomes
//! (`DrawView::alternatives`) is a decision too, every outcome an option (costing no
//! preemption); a draw over a large domain comes from a generator seeded the same way in every
//! execution.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use vigil_core::rt::TaskId;

use super::random::splitmix64;
use super::{Divergence, DrawView, PickView, Start, Strategy};
use crate::schedule::Choice;

#[derive(Debug)]
struct Decision {
    options: Vec<Choice>,
    taken: usize,
}

/// Systematic search of all schedules within a preemption bound.
#[derive(Debug)]
pub struct Dfs {
    preemptions_max: u32,
    path: Vec<Decision>,
    cursor: usize,
    preemptions: u32,
    /// Draws over large domains are not enumerated: every execution sees the same seeded
    /// stream.
    rng: ChaCha8Rng,
    seed: u64,
    /// Set by a split search (`super::split`): the choice the next pick takes.
    forced: Option<Choice>,
    /// Decisions below this index are a split unit's fixed prefix: never backtracked into.
    floor: usize,
}

impl Dfs {
    pub fn new(preemptions_max: u32) -> Self {
        Dfs {
            preemptions_max,
            path: Vec::new(),
            cursor: 0,
            preemptions: 0,
            rng: ChaCha8Rng::seed_from_u64(0),
            seed: splitmix64(u64::from(preemptions_max)),
            forced: None,
            floor: 0,
        }
    }

    /// Moves to the next unexplored branch; `false` when the tree is exhausted.
    fn backtrack(&mut self) -> bool {
        while self.path.len() > self.floor {
            let last = self
                .path
                .last_mut()
                .expect("[internal bug] above the floor");
            if last.taken + 1 < last.options.len() {
                last.taken += 1;
                return true;
            }
            self.path.pop();
        }
        false
    }

    fn options(&self, view: &PickView<'_>) -> Vec<Choice> {
        let current = running(view);
        let mut options = Vec::with_capacity(view.runnable.len() + view.faults_pending as usize);
        if let Some(current) = current {
            options.push(Choice::Task(current));
        }
        let yielder = view
            .current
            .filter(|_| current.is_none() && view.current_yields);
        if current.is_none() || self.preemptions < self.preemptions_max {
            let others = (view.runnable.iter()).filter(|task| {
                Some(**task) != current && Some(**task) != yielder && !view.spins(**task)
            });
            options.extend(others.map(|task| Choice::Task(*task)));
        }
        options.extend((0..view.faults_pending).map(Choice::Fault));
        options
    }

    /// Follows the decision recorded at the cursor, or records a new one taking the first
    /// option (or, for a pick of a split unit's prefix, the forced one), and moves on.
    fn decide(
        &mut self,
        options: Vec<Choice>,
        step: u64,
        forceable: bool,
    ) -> Result<Choice, Divergence> {
        let choice = match self.path.get(self.cursor) {
            Some(decision) if decision.options == options => decision.options[decision.taken],
            Some(decision) => {
                return Err(Divergence {
                    step,
                    expected: format!("the options {:?}", decision.options),
                    found: format!("the options {options:?}"),
                });
            }
            None => {
                let forced = if forceable { self.forced.take() } else { None };
                let taken = match forced {
                    Some(forced) => forced_position(&options, forced, step)?,
                    None => 0,
                };
                let chosen = options[taken];
                self.path.push(Decision { options, taken });
                chosen
            }
        };
        self.cursor += 1;
        Ok(choice)
    }
}

/// Where `forced` is among `options`; a split unit's prefix that no longer fits diverges.
fn forced_position(options: &[Choice], forced: Choice, step: u64) -> Result<usize, Divergence> {
    options
        .iter()
        .position(|option| *option == forced)
        .ok_or_else(|| Divergence {
            step,
            expected: format!("the unit's prefix choice {forced:?}"),
            found: format!("the options {options:?}"),
        })
}

/// The task that ran the previous step, if it can run on and did not yield while another
/// task can run (a yielding task is not continued, and leaving it is no preemption).
fn running(view: &PickView<'_>) -> Option<TaskId> {
    let current = view.current.filter(|task| view.runnable.contains(task))?;
    let others = view.runnable.len() > 1;
    (!(view.current_yields && others)).then_some(current)
}

impl Strategy for Dfs {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        if execution_idx > 0 && !self.backtrack() {
            return None;
        }
        self.cursor = 0;
        self.preemptions = 0;
        self.rng = ChaCha8Rng::seed_from_u64(self.seed);
        Some(Start { seed: self.seed })
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        let options = self.options(view);
        let choice = self.decide(options, view.step, true)?;
        let current = running(view);
        if let (Choice::Task(task), Some(current)) = (choice, current)
            && task != current
        {
            self.preemptions += 1;
        }
        Ok(choice)
    }

    /// A draw with few outcomes is a decision like a pick, whose options are its outcomes
    /// (each tried, in the order given); a draw over a large domain is a seeded sample.
    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence> {
        if view.alternatives.len() < 2 {
            return Ok(self.rng.next_u64());
        }
        let options: Vec<Choice> = view.alternatives.iter().map(|w| Choice::Draw(*w)).collect();
        match self.decide(options, view.step, false)? {
            Choice::Draw(word) => Ok(word),
            choice => panic!("[internal bug] a draw decision holds {choice}"),
        }
    }
}

impl super::split::Subtree for Dfs {
    fn alternatives(&self, view: &PickView<'_>) -> Vec<Choice> {
        self.options(view)
    }

    fn force_next(&mut self, choice: Choice) {
        self.forced = Some(choice);
    }

    fn freeze(&mut self) {
        self.floor = self.path.len();
    }
}
