//! A systematic search split into units that any thread or machine can run.
//!
//! At a branching choice point (a pick where the search's bounds allow two or more
//! alternatives) the search's own first choice is its *default*; any other is a
//! *deviation*. The *split depth* `D` counts deviations: the *upper tree* holds every path
//! with fewer than `D` deviations, and on it the search is exhaustive (every alternative the
//! bounds allow is explored at every branching point, with no sleep sets and no pruning that
//! depends on what is found elsewhere). A path that takes its `D`-th deviation there roots a
//! *unit*: below that choice the ordinary DFS or DPOR runs from the prefix, starting fresh.
//! A path of the upper tree that never takes its `D`-th deviation is a unit of one execution.
//! Units are numbered in the depth-first order of the upper tree, so unit `u`'s executions
//! depend on `u` alone, which is what lets [`crate::Part`]s share them out.
//!
//! Counting deviations rather than branching points keeps units of similar size: under a
//! preemption bound the subtree of the default choices (keep running the current task) holds
//! nearly every execution at any depth of branching points, because each deviation spends
//! some of the bound. For DFS the units partition its tree exactly (same executions, same
//! order). For DPOR it stays sound: every execution either stays in the upper tree (explored
//! exhaustively) or leaves it at a unit's root, and each unit is a whole DPOR from its root's
//! state; a race found in a unit that would add an alternative at a node of the upper tree
//! adds one the upper tree explores anyway (it explores every alternative the bounds allow,
//! the only ones DPOR ever adds). It costs executions DPOR's sleep sets would have pruned.
//!
//! Discovering unit `u + 1`'s prefix takes an execution through the upper tree: unit
//! `u + 1`'s first one. [`Unit`] runs that execution as the unit's first (when its part owns
//! the unit) or only to learn the prefix (when it does not; the caller does not count it).

use super::{Divergence, DrawView, PickView, Start, Strategy};
use crate::schedule::Choice;

/// A systematic search that can run as one unit of a split.
pub(crate) trait Subtree: Strategy {
    /// The alternatives the bounds allow at this pick, asked before [`Strategy::pick`].
    fn alternatives(&self, view: &PickView<'_>) -> Vec<Choice>;

    /// The next pick (at a new choice point) takes `choice`.
    fn force_next(&mut self, choice: Choice);

    /// Every choice point so far is the unit's fixed prefix: never backtracked into.
    fn freeze(&mut self);
}

/// One choice point of the upper tree: what the bounds allow, and what was taken so far
/// (the current choice last).
#[derive(Clone, Debug)]
struct UpperPoint {
    options: Vec<Choice>,
    taken: Vec<Choice>,
}

impl UpperPoint {
    /// Whether the path takes another choice here than the search's first (its default).
    fn deviates(&self) -> bool {
        self.taken.len() > 1
    }
}

/// The upper tree's current path, from the root to the current unit's prefix.
#[derive(Clone, Debug)]
pub(crate) struct Upper {
    depth: u32,
    path: Vec<UpperPoint>,
}

impl Upper {
    pub(crate) fn new(depth: u32) -> Self {
        Upper {
            depth,
            path: Vec::new(),
        }
    }

    /// Moves to the next unit's (partly known) prefix: the deepest choice point with an
    /// alternative left takes its first untried one, in the order the bounds listed them.
    /// `false` when every unit has been visited.
    pub(crate) fn advance(&mut self) -> bool {
        while let Some(point) = self.path.last_mut() {
            let untried = point.options.iter().find(|o| !point.taken.contains(o));
            if let Some(next) = untried.copied() {
                point.taken.push(next);
                return true;
            }
            self.path.pop();
        }
        false
    }

    /// Alternatives of the upper tree not yet visited on the current path: the units still to
    /// come, one per alternative (each may hold several).
    pub(crate) fn open(&self) -> u64 {
        let untried = |point: &UpperPoint| point.options.len() - point.taken.len();
        self.path.iter().map(|point| untried(point) as u64).sum()
    }
}

/// One unit of a split search: the inner search below the unit's prefix.
pub(crate) struct Unit {
    inner: Box<dyn Subtree>,
    upper: Upper,
    /// Upper choice points known before the unit's first execution (forced there).
    known: usize,
    /// Branching picks seen so far in the current execution (counted in the first only).
    branching: u32,
    /// Branching picks that belong to the upper tree on this unit's path.
    upper_levels: u32,
    first: bool,
    frozen: bool,
    exhausted: bool,
    /// The inner search's open alternatives after each execution.
    opens: Vec<u64>,
    /// The upper tree's open alternatives once the unit's prefix is known.
    upper_open: u64,
}

impl Unit {
    /// The next unit of `upper` (its path as [`Upper::advance`] left it), searched by
    /// `inner`, a fresh search.
    pub(crate) fn new(inner: Box<dyn Subtree>, upper: Upper) -> Self {
        // A prefix with `depth` deviations roots a unit; one with fewer is itself a path of
        // the upper tree, explored to its end as a unit of one execution.
        let deviations = upper.path.iter().filter(|point| point.deviates()).count();
        let upper_levels = match deviations >= upper.depth as usize {
            true => upper.path.len() as u32,
            false => u32::MAX,
        };
        // Split at depth zero, the one unit is the whole search: nothing is fixed.
        let whole = upper.depth == 0;
        Unit {
            upper_levels,
            known: upper.path.len(),
            inner,
            upper,
            branching: 0,
            first: true,
            frozen: whole,
            exhausted: false,
            opens: Vec::new(),
            upper_open: 0,
        }
    }

    /// Ends the unit after `executions` counted executions: the upper tree (with the unit's
    /// prefix), whether the inner search was exhausted, its open alternatives after each
    /// execution, and the upper tree's open alternatives.
    pub(crate) fn finish(mut self, executions: u64) -> Finished {
        if self.first {
            self.settle_first();
        }
        while (self.opens.len() as u64) < executions {
            // The run stopped after this execution without asking for another.
            let open = self.inner.coverage().map_or(0, |c| c.open_branches);
            self.opens.push(open);
        }
        Finished {
            upper: self.upper,
            exhausted: self.exhausted,
            opens: self.opens,
            upper_open: self.upper_open,
        }
    }

    /// After the first execution: the prefix is whatever it reached, even short of depth.
    fn settle_first(&mut self) {
        self.first = false;
        if !self.frozen {
            self.inner.freeze();
            self.frozen = true;
        }
        self.upper_open = self.upper.open();
    }
}

/// What a unit leaves behind (see [`Unit::finish`]).
pub(crate) struct Finished {
    pub(crate) upper: Upper,
    pub(crate) exhausted: bool,
    pub(crate) opens: Vec<u64>,
    pub(crate) upper_open: u64,
}

impl Strategy for Unit {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        if execution_idx > 0 {
            if self.first {
                self.settle_first();
            }
            let open = self.inner.coverage().map_or(0, |c| c.open_branches);
            self.opens.push(open);
        }
        self.branching = 0;
        let start = self.inner.start(execution_idx);
        if start.is_none() {
            self.exhausted = true;
            // The last execution's open alternatives were all explored: none are left.
            if let Some(last) = self.opens.last_mut() {
                *last = 0;
            }
        }
        start
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        if !self.first || self.branching >= self.upper_levels {
            return self.inner.pick(view);
        }
        let options = self.inner.alternatives(view);
        if options.len() < 2 {
            return self.inner.pick(view);
        }
        let level = self.branching as usize;
        if level < self.known {
            let point = &self.upper.path[level];
            if point.options != options {
                return Err(Divergence {
                    step: view.step,
                    expected: format!("the unit's prefix options {:?}", point.options),
                    found: format!("the options {options:?}"),
                });
            }
            let choice = *point.taken.last().expect("[internal bug] an untaken point");
            self.inner.force_next(choice);
        }
        let choice = self.inner.pick(view)?;
        if level >= self.known {
            self.upper.path.push(UpperPoint {
                options,
                taken: vec![choice],
            });
        }
        self.branching += 1;
        if self.branching == self.upper_levels {
            self.inner.freeze();
            self.frozen = true;
        }
        Ok(choice)
    }

    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence> {
        self.inner.draw(view)
    }

    fn end(&mut self, steps: u64) -> Result<(), Divergence> {
        self.inner.end(steps)
    }

    fn tracks_dependencies(&self) -> bool {
        self.inner.tracks_dependencies()
    }

    fn stepped(&mut self, event: &crate::dependency::Event<'_>) {
        self.inner.stepped(event);
    }

    fn coverage(&self) -> Option<super::Coverage> {
        self.inner.coverage()
    }
}

/// The systematic search a [`Split`] runs in each unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Below {
    Dfs {
        preemptions_max: u32,
    },
    Dpor {
        preemptions_max: u32,
        faults_max: u32,
    },
}

impl Below {
    pub(crate) fn search(self) -> Box<dyn Subtree> {
        match self {
            Below::Dfs { preemptions_max } => Box::new(super::Dfs::new(preemptions_max)),
            Below::Dpor {
                preemptions_max,
                faults_max,
            } => Box::new(super::Dpor::new(preemptions_max, faults_max)),
        }
    }
}

/// A split search run whole, unit after unit, on one runner: the executions every spread
/// of the split runs together, in the same global order (see the module documentation).
pub struct Split {
    below: Below,
    /// The current unit, and the execution index it started at.
    unit: Option<(Unit, u64)>,
    depth: u32,
    exhausted: bool,
    executions: u64,
}

impl std::fmt::Debug for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Split")
            .field("below", &self.below)
            .field("depth", &self.depth)
            .field("executions", &self.executions)
            .field("exhausted", &self.exhausted)
            .finish_non_exhaustive()
    }
}

impl Split {
    /// `below` split at `depth` deviations (zero: one unit, the whole search).
    pub fn new(below: Below, depth: u32) -> Self {
        Split {
            below,
            unit: None,
            depth,
            exhausted: false,
            executions: 0,
        }
    }

    fn current(&mut self) -> &mut Unit {
        &mut self
            .unit
            .as_mut()
            .expect("[internal bug] no unit started")
            .0
    }
}

impl Strategy for Split {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        self.executions = execution_idx + 1;
        let Some((unit, first)) = self.unit.take() else {
            let mut unit = Unit::new(self.below.search(), Upper::new(self.depth));
            let start = unit.start(0);
            self.unit = Some((unit, execution_idx));
            return start;
        };
        let mut unit = unit;
        if let Some(start) = unit.start(execution_idx - first) {
            self.unit = Some((unit, first));
            return Some(start);
        }
        let mut upper = unit.finish(execution_idx - first).upper;
        if !upper.advance() {
            self.exhausted = true;
            self.executions = execution_idx;
            return None;
        }
        let mut unit = Unit::new(self.below.search(), upper);
        let start = unit.start(0);
        self.unit = Some((unit, execution_idx));
        start
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        self.current().pick(view)
    }

    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence> {
        self.current().draw(view)
    }

    fn end(&mut self, steps: u64) -> Result<(), Divergence> {
        self.current().end(steps)
    }

    fn tracks_dependencies(&self) -> bool {
        matches!(self.below, Below::Dpor { .. })
    }

    fn stepped(&mut self, event: &crate::dependency::Event<'_>) {
        self.current().stepped(event);
    }

    fn coverage(&self) -> Option<super::Coverage> {
        let Below::Dpor {
            preemptions_max,
            faults_max,
        } = self.below
        else {
            return None;
        };
        let open = match &self.unit {
            Some((unit, _)) if !self.exhausted => {
                let below = unit.coverage().map_or(0, |c| c.open_branches);
                below + unit.upper.open()
            }
            _ => 0,
        };
        Some(super::Coverage {
            preemptions_max,
            faults_max,
            exhaustive: self.exhausted,
            open_branches: open,
            explored_branches: self.executions.saturating_sub(1),
        })
    }
}
