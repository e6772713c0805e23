//! Shrinking: from a failing schedule to a small one that fails the same way.
//!
//! A failing schedule found by random or PCT search is mostly noise: context switches,
//! faults and steps that play no part in the bug. The shrinker replays edited copies of the
//! schedule and keeps an edit when the execution still fails in the same way (the same
//! [`FailureKind`] and, for invariants, the same invariant; for panics, the same first line
//! of the message) and is strictly smaller. Sizes compare as (faults, preemptions, steps), in
//! that order, so a candidate with one fault fewer wins even when it takes more steps.
//!
//! Edits do not have to fit the program: candidates are replayed by [`Guided`], which follows
//! the edited choices while they make sense and otherwise continues with the fixed default of
//! "keep running the current task" (then the lowest-numbered runnable task, and never a
//! fault). What is kept is the schedule the replay actually made, so every accepted candidate
//! replays exactly.
//!
//! The passes, repeated until a whole round changes nothing or the budget is spent:
//!
//! 1. drop each fault;
//! 2. undo each preemption (continue the preempted task instead, or drop the choice);
//! 3. cut the tail of the schedule (the default finishes the execution);
//! 4. drop chunks of choices, halving the chunk size down to single choices.
//!
//! Everything is deterministic: the same schedule, model and limits give the same result.

use std::fmt;

use vigil_core::rt::TaskId;

use crate::executor::{Executor, Model, Verdict};
use crate::failure::FailureKind;
use crate::fault::Faults;
use crate::observer::Observer;
use crate::schedule::{Choice, Schedule};
use crate::strategy::{Divergence, DrawView, PickView, Start, Strategy};

/// The budget of one shrink.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShrinkLimits {
    /// Candidate executions to replay at most.
    pub runs_max: u64,
    /// Steps to replay at most, over all candidates (long executions cost more).
    pub steps_max: u64,
    /// Executions the systematic search may spend on each smaller bound when it checks the
    /// shrunk failure's depth (zero skips the check).
    pub depth_executions_max: u64,
}

impl Default for ShrinkLimits {
    fn default() -> Self {
        ShrinkLimits {
            runs_max: 2_000,
            steps_max: 4_000_000,
            depth_executions_max: 4_000,
        }
    }
}

impl ShrinkLimits {
    /// These limits with `executions` for each smaller bound of the depth check.
    pub fn depth_executions(mut self, executions: u64) -> Self {
        self.depth_executions_max = executions;
        self
    }

    pub fn new(runs_max: u64, steps_max: u64) -> Self {
        ShrinkLimits {
            runs_max,
            steps_max,
            depth_executions_max: ShrinkLimits::default().depth_executions_max,
        }
    }
}

/// What a failing execution needs: the measure the shrinker minimises, in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Size {
    /// Faults chosen by the schedule.
    pub faults: u32,
    /// Switches away from a task that could have continued (not counting switches away from
    /// a task at a `yield_now`).
    pub preemptions: u32,
    pub steps: u64,
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u64| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} preemption{}, {} fault{}, {} step{}",
            self.preemptions,
            plural(self.preemptions.into()),
            self.faults,
            plural(self.faults.into()),
            self.steps,
            plural(self.steps)
        )
    }
}

/// The result of a shrink.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Shrunk {
    /// The failure as found.
    pub original: Size,
    /// The failure after shrinking.
    pub size: Size,
    /// The shrunk schedule (replays exactly with [`Replay`](crate::Replay)).
    pub schedule: Schedule,
    /// Candidates replayed.
    pub runs: u64,
    /// Whether the budget ran out before the passes stopped finding smaller schedules.
    pub stopped_early: bool,
    /// The systematic searches run at smaller bounds to check that `size` is the bug's
    /// depth, smallest bound first.
    pub below: Vec<BoundCheck>,
}

/// One systematic search at a bound smaller than the shrunk failure's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoundCheck {
    pub preemptions: u32,
    pub faults: u32,
    pub executions: u64,
    /// The search exhausted the bound without the failure: a proof that it needs more.
    pub exhaustive: bool,
}

impl fmt::Display for BoundCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: u32| if n == 1 { "" } else { "s" };
        let bound = format!(
            "{} preemption{} and {} fault{}",
            self.preemptions,
            plural(self.preemptions),
            self.faults,
            plural(self.faults)
        );
        if self.exhaustive {
            write!(
                f,
                "none within {bound} (exhaustive, {} executions)",
                self.executions
            )
        } else {
            write!(
                f,
                "none found within {bound} in {} executions (not exhaustive)",
                self.executions
            )
        }
    }
}

impl Shrunk {
    /// One line for reports: "shrunk from … to … in N replays".
    pub fn describe(&self) -> String {
        let early = if self.stopped_early {
            " (budget spent; it may shrink further)"
        } else {
            ""
        };
        format!(
            "shrunk from {} to {} in {} replays{early}",
            self.original, self.size, self.runs
        )
    }

    /// Whether the systematic search proved that no failure of this kind needs fewer
    /// preemptions (with as many faults) or fewer faults (with as many preemptions).
    pub fn depth_proven(&self) -> bool {
        let proven = |preemptions: u32, faults: u32| {
            self.below.iter().any(|check| {
                check.exhaustive && check.preemptions >= preemptions && check.faults >= faults
            })
        };
        (self.size.preemptions == 0 || proven(self.size.preemptions - 1, self.size.faults))
            && (self.size.faults == 0 || proven(self.size.preemptions, self.size.faults - 1))
    }

    /// The bug's depth in words: what it needs, and whether that is a proven minimum.
    pub fn depth(&self) -> String {
        let mut text = format!("needs {}", self.size);
        if self.below.is_empty() {
            return text;
        }
        text.push_str(if self.depth_proven() {
            " (a proven minimum: "
        } else {
            " (smallest found, not proven: "
        });
        let checks: Vec<String> = self.below.iter().map(BoundCheck::to_string).collect();
        text.push_str(&checks.join("; "));
        text.push(')');
        text
    }
}

/// What makes two failures "the same" for the shrinker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Signature {
    Panic { first_line: String },
    Deadlock,
    StepLimit,
    TaskLimit,
    Invariant { name: String },
}

impl Signature {
    /// The signature of a failure, or `None` for failures of the harness itself
    /// (nondeterminism, divergence), which are not shrunk.
    pub(crate) fn of(kind: &FailureKind, message: &str) -> Option<Signature> {
        Some(match kind {
            FailureKind::Panic => Signature::Panic {
                first_line: message.lines().next().unwrap_or("").to_owned(),
            },
            FailureKind::Deadlock { .. } => Signature::Deadlock,
            FailureKind::StepLimit { .. } => Signature::StepLimit,
            FailureKind::TaskLimit { .. } => Signature::TaskLimit,
            FailureKind::Invariant { name } => Signature::Invariant { name: name.clone() },
            FailureKind::Nondeterminism { .. } | FailureKind::Divergence { .. } => return None,
        })
    }
}

/// One pick the guided replay answered, for the preemption pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Pick {
    /// Index of the answer in the execution's schedule.
    index: usize,
    /// The task that ran the step before, when it could have continued.
    continuing: Option<TaskId>,
    /// Whether the answer switched away from `continuing`.
    preemptive: bool,
}

/// Replays a schedule that may not fit: recorded choices are used while they are valid, and
/// anything else gets the default (keep the current task, else the lowest runnable one; a
/// random draw without a recorded value gets zero). Never diverges.
#[derive(Clone, Debug)]
pub(crate) struct Guided {
    seed: u64,
    choices: Vec<Choice>,
    cursor: usize,
    started: bool,
    answered: usize,
    faults: u32,
    picks: Vec<Pick>,
}

impl Guided {
    pub(crate) fn new(seed: u64, choices: Vec<Choice>) -> Self {
        Guided {
            seed,
            choices,
            cursor: 0,
            started: false,
            answered: 0,
            faults: 0,
            picks: Vec::new(),
        }
    }

    fn preemptions(&self) -> u32 {
        self.picks.iter().filter(|pick| pick.preemptive).count() as u32
    }

    /// The default answer: no preemption, no fault; at a `yield_now`, another task.
    fn default_pick(view: &PickView<'_>, continuing: Option<TaskId>) -> TaskId {
        if let Some(task) = continuing {
            return task;
        }
        let current = view.current.filter(|task| view.runnable.contains(task));
        view.runnable
            .iter()
            .copied()
            .find(|&task| Some(task) != current)
            .unwrap_or(view.runnable[0])
    }
}

impl Strategy for Guided {
    fn start(&mut self, _execution_idx: u64) -> Option<Start> {
        if self.started {
            return None;
        }
        self.started = true;
        Some(Start { seed: self.seed })
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        while let Some(Choice::Draw(_)) = self.choices.get(self.cursor) {
            self.cursor += 1;
        }
        let recorded = self.choices.get(self.cursor).copied();
        self.cursor += usize::from(recorded.is_some());
        let continuing = view
            .current
            .filter(|task| view.runnable.contains(task) && !view.current_yields);
        let choice = match recorded {
            Some(Choice::Task(task)) if view.runnable.contains(&task) => Choice::Task(task),
            Some(Choice::Fault(index)) if index < view.faults_pending => Choice::Fault(index),
            _ => Choice::Task(Guided::default_pick(view, continuing)),
        };
        let preemptive = match choice {
            Choice::Task(task) => continuing.is_some_and(|current| current != task),
            Choice::Fault(_) => {
                self.faults += 1;
                false
            }
            Choice::Draw(_) => false,
        };
        self.picks.push(Pick {
            index: self.answered,
            continuing,
            preemptive,
        });
        self.answered += 1;
        Ok(choice)
    }

    fn draw(&mut self, _view: &DrawView) -> Result<u64, Divergence> {
        self.answered += 1;
        match self.choices.get(self.cursor) {
            Some(Choice::Draw(value)) => {
                self.cursor += 1;
                Ok(*value)
            }
            _ => Ok(0),
        }
    }
}

/// A candidate that failed the same way: its actual schedule and what it needed.
#[derive(Clone, Debug)]
struct Candidate {
    choices: Vec<Choice>,
    size: Size,
    picks: Vec<Pick>,
}

/// The pieces of a runner a shrink replays with.
pub(crate) struct Bench<'a> {
    pub(crate) executor: &'a mut Executor,
    pub(crate) observers: &'a mut [Box<dyn Observer>],
    pub(crate) faults: &'a mut dyn Faults,
    pub(crate) model: &'a Model,
}

impl Bench<'_> {
    /// Searches systematically within `preemptions` and `faults` for a failure with
    /// `target`'s signature: its schedule if found, with the executions run and whether the
    /// bound was exhausted.
    pub(crate) fn search_bound(
        &mut self,
        target: &Signature,
        (preemptions, faults): (u32, u32),
        executions_max: u64,
    ) -> (Option<Schedule>, BoundCheck) {
        let mut dpor = crate::strategy::Dpor::new(preemptions, faults);
        let mut check = BoundCheck {
            preemptions,
            faults,
            executions: 0,
            exhaustive: false,
        };
        while check.executions < executions_max {
            let Some(outcome) = self.executor.execute(
                check.executions,
                &mut dpor,
                self.observers,
                self.faults,
                self.model,
            ) else {
                check.exhaustive = true;
                return (None, check);
            };
            check.executions += 1;
            if let Verdict::Fail { kind, message } = &outcome.verdict
                && Signature::of(kind, message).as_ref() == Some(target)
            {
                return (Some(self.executor.schedule()), check);
            }
        }
        check.exhaustive = dpor.coverage().is_some_and(|coverage| coverage.exhaustive);
        (None, check)
    }

    /// Replays `choices` guided; the failure signature and the size, if it failed.
    fn replay(&mut self, seed: u64, choices: Vec<Choice>) -> (Option<Signature>, Guided, u64) {
        let mut guided = Guided::new(seed, choices);
        let outcome = self
            .executor
            .execute(0, &mut guided, self.observers, self.faults, self.model)
            .expect("[internal bug] a guided replay had no execution to run");
        let signature = match &outcome.verdict {
            Verdict::Pass => None,
            Verdict::Fail { kind, message } => Signature::of(kind, message),
        };
        (signature, guided, outcome.steps)
    }
}

struct Shrinker<'b, 'a> {
    bench: &'b mut Bench<'a>,
    limits: ShrinkLimits,
    seed: u64,
    target: Signature,
    best: Candidate,
    runs: u64,
    steps: u64,
    stopped_early: bool,
}

impl Shrinker<'_, '_> {
    fn spent(&mut self) -> bool {
        // A candidate that ended with a task parked mid-unwind leaves this thread's panic
        // count raised, which changes how later replays behave: stop there.
        let over = self.runs >= self.limits.runs_max || self.steps >= self.limits.steps_max;
        if over || std::thread::panicking() {
            self.stopped_early = true;
        }
        self.stopped_early
    }

    /// Replays `choices`; keeps the result when it fails the same way and is smaller.
    fn attempt(&mut self, choices: Vec<Choice>) -> bool {
        if self.spent() {
            return false;
        }
        self.runs += 1;
        let (signature, guided, steps) = self.bench.replay(self.seed, choices);
        self.steps += steps;
        if signature.as_ref() != Some(&self.target) {
            return false;
        }
        let size = Size {
            faults: guided.faults,
            preemptions: guided.preemptions(),
            steps,
        };
        if size >= self.best.size {
            return false;
        }
        self.best = Candidate {
            choices: self.bench.executor.schedule().choices,
            size,
            picks: guided.picks,
        };
        true
    }

    fn run(&mut self) {
        loop {
            let before = self.best.size;
            self.drop_faults();
            self.undo_preemptions();
            self.cut_tail();
            self.drop_chunks();
            if self.best.size == before || self.spent() {
                break;
            }
        }
    }

    fn drop_faults(&mut self) {
        'restart: loop {
            let faults: Vec<usize> = (0..self.best.choices.len())
                .rev()
                .filter(|&i| matches!(self.best.choices[i], Choice::Fault(_)))
                .collect();
            for index in faults {
                let mut choices = self.best.choices.clone();
                choices.remove(index);
                if self.attempt(choices) {
                    continue 'restart;
                }
                if self.spent() {
                    return;
                }
            }
            return;
        }
    }

    fn undo_preemptions(&mut self) {
        'restart: loop {
            let preemptions: Vec<Pick> = self
                .best
                .picks
                .iter()
                .rev()
                .filter(|pick| pick.preemptive)
                .copied()
                .collect();
            for pick in preemptions {
                let Some(current) = pick.continuing else {
                    continue;
                };
                if let Some(moved) = move_block_forward(&self.best.choices, pick.index, current)
                    && self.attempt(moved)
                {
                    continue 'restart;
                }
                let mut stay = self.best.choices.clone();
                stay[pick.index] = Choice::Task(current);
                if self.attempt(stay) {
                    continue 'restart;
                }
                let mut dropped = self.best.choices.clone();
                dropped.remove(pick.index);
                if self.attempt(dropped) {
                    continue 'restart;
                }
                if self.spent() {
                    return;
                }
            }
            return;
        }
    }

    /// Tries ever longer prefixes, finished by the default, and keeps the first that fails.
    fn cut_tail(&mut self) {
        let len = self.best.choices.len();
        let draws = self
            .best
            .choices
            .iter()
            .take_while(|choice| matches!(choice, Choice::Draw(_)))
            .count();
        let mut cut = draws;
        while cut < len {
            if self.attempt(self.best.choices[..cut].to_vec()) || self.spent() {
                return;
            }
            cut += ((len - draws) / 4).max(1);
        }
    }

    /// Drops runs of choices (never draws: a draw decides data, not scheduling), from long
    /// runs down to single choices.
    fn drop_chunks(&mut self) {
        let mut chunk = self.best.choices.len() / 2;
        while chunk >= 1 {
            let mut start = 0;
            while start < self.best.choices.len() {
                let end = (start + chunk).min(self.best.choices.len());
                let choices: Vec<Choice> = self
                    .best
                    .choices
                    .iter()
                    .enumerate()
                    .filter(|&(i, choice)| {
                        !(start..end).contains(&i) || matches!(choice, Choice::Draw(_))
                    })
                    .map(|(_, choice)| *choice)
                    .collect();
                let unchanged = choices.len() == self.best.choices.len();
                if unchanged || !self.attempt(choices) {
                    start = end;
                }
                if self.spent() {
                    return;
                }
            }
            chunk /= 2;
        }
    }
}

/// The schedule with the next run of `task`'s choices after `index` moved to `index`: the
/// preempted task continues at once, and every other task keeps its order. `None` when
/// `task` is never chosen again.
fn move_block_forward(choices: &[Choice], index: usize, task: TaskId) -> Option<Vec<Choice>> {
    let start = index
        + choices[index..]
            .iter()
            .position(|c| *c == Choice::Task(task))?;
    let end = start
        + choices[start..]
            .iter()
            .take_while(|c| **c == Choice::Task(task))
            .count();
    let mut moved = Vec::with_capacity(choices.len());
    moved.extend_from_slice(&choices[..index]);
    moved.extend_from_slice(&choices[start..end]);
    moved.extend_from_slice(&choices[index..start]);
    moved.extend_from_slice(&choices[end..]);
    Some(moved)
}

/// Shrinks `schedule` (see [`shrink`]), then checks the result's depth: the systematic search
/// runs at each smaller preemption bound (smallest first, with the shrunk fault count) and at
/// each smaller fault bound. A failure found there is shrunk in turn and replaces the result
/// when smaller, so the reported size is at most the smallest bound at which the search
/// finds the bug within its budget.
pub(crate) fn shrink_with_depth(
    bench: &mut Bench<'_>,
    schedule: &Schedule,
    target: Signature,
    limits: ShrinkLimits,
) -> Option<Shrunk> {
    let mut best = shrink(bench, schedule, target.clone(), limits)?;
    if limits.depth_executions_max == 0 {
        return Some(best);
    }
    let mut below: Vec<BoundCheck> = Vec::new();
    let mut runs = best.runs;
    let mut probe = |best: &mut Shrunk, bound: (u32, u32)| -> bool {
        let (found, check) = bench.search_bound(&target, bound, limits.depth_executions_max);
        below.push(check);
        let Some(smaller) = found.and_then(|found| shrink(bench, &found, target.clone(), limits))
        else {
            return false;
        };
        runs += smaller.runs;
        if smaller.size >= best.size {
            return false;
        }
        *best = Shrunk {
            original: best.original,
            ..smaller
        };
        true
    };
    // A smaller failure found at a bound restarts the preemption bounds from zero.
    let mut bound = 0;
    while bound < best.size.preemptions {
        let faults = best.size.faults;
        bound = if probe(&mut best, (bound, faults)) {
            0
        } else {
            bound + 1
        };
    }
    for faults in 0..best.size.faults {
        let preemptions = best.size.preemptions;
        if probe(&mut best, (preemptions, faults)) {
            break;
        }
    }
    below.retain(|check| {
        check.preemptions < best.size.preemptions || check.faults < best.size.faults
    });
    below.sort_by_key(|check| (check.faults, check.preemptions));
    below.dedup();
    best.below = below;
    best.runs = runs;
    Some(best)
}

/// Shrinks `schedule`, which must fail with `target` when replayed.
///
/// Returns `None` when the schedule, replayed guided, does not fail that way (so there is
/// nothing to shrink).
pub(crate) fn shrink(
    bench: &mut Bench<'_>,
    schedule: &Schedule,
    target: Signature,
    limits: ShrinkLimits,
) -> Option<Shrunk> {
    let (signature, guided, steps) = bench.replay(schedule.seed, schedule.choices.clone());
    if signature.as_ref() != Some(&target) {
        return None;
    }
    let original = Size {
        faults: guided.faults,
        preemptions: guided.preemptions(),
        steps,
    };
    let best = Candidate {
        choices: bench.executor.schedule().choices,
        size: original,
        picks: guided.picks,
    };
    let mut shrinker = Shrinker {
        bench,
        limits,
        seed: schedule.seed,
        target,
        best,
        runs: 1,
        steps,
        stopped_early: false,
    };
    shrinker.run();
    Some(Shrunk {
        original,
        size: shrinker.best.size,
        schedule: Schedule {
            seed: schedule.seed,
            choices: shrinker.best.choices,
            fingerprint: schedule.fingerprint,
        },
        runs: shrinker.runs,
        stopped_early: shrinker.stopped_early,
        below: Vec::new(),
    })
}
