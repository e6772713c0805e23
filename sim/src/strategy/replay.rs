//! Replay: follows a recorded schedule choice by choice, and reports where it cannot.

use super::{Divergence, DrawView, PickView, Start, Strategy, task_list};
use crate::schedule::{Choice, Schedule};

/// Replays one recorded [`Schedule`] once.
///
/// Every answer comes from the recording. When the execution offers something the recording
/// cannot answer (its task is not runnable, a draw where a pick was recorded, the schedule
/// runs out while tasks remain, or choices are left over at the end) the replay stops with a
/// [`Divergence`] rather than guessing.
#[derive(Clone, Debug)]
pub struct Replay {
    schedule: Schedule,
    cursor: usize,
    started: bool,
    /// The first divergence, and how many recorded choices fitted before it.
    diverged: Option<(Divergence, usize)>,
}

impl Replay {
    pub fn new(schedule: Schedule) -> Self {
        Replay {
            schedule,
            cursor: 0,
            started: false,
            diverged: None,
        }
    }

    /// Where the replay stopped fitting the execution, if it did.
    pub fn divergence(&self) -> Option<&Divergence> {
        self.diverged.as_ref().map(|(divergence, _)| divergence)
    }

    /// How many recorded choices, from the start, the execution followed (all of them when
    /// it did not diverge).
    pub fn fitting_prefix(&self) -> usize {
        self.diverged
            .as_ref()
            .map_or(self.schedule.choices.len(), |(_, fits)| *fits)
    }

    fn diverge(&mut self, divergence: Divergence, fits: usize) -> Divergence {
        if self.diverged.is_none() {
            self.diverged = Some((divergence.clone(), fits));
        }
        divergence
    }

    fn next(&mut self) -> Option<Choice> {
        let choice = self.schedule.choices.get(self.cursor).copied();
        self.cursor += usize::from(choice.is_some());
        choice
    }

    fn expected(choice: Option<Choice>) -> String {
        match choice {
            Some(Choice::Task(task)) => format!("a pick of {task}"),
            Some(Choice::Draw(value)) => format!("a random draw of {value:#x}"),
            Some(Choice::Fault(idx)) => format!("fault {idx}"),
            None => "no more choices".to_owned(),
        }
    }
}

impl Strategy for Replay {
    fn start(&mut self, _execution_idx: u64) -> Option<Start> {
        if self.started {
            return None;
        }
        self.started = true;
        self.cursor = 0;
        Some(Start {
            seed: self.schedule.seed,
        })
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        let choice = self.next();
        let valid = match choice {
            Some(Choice::Task(task)) => view.runnable.contains(&task),
            Some(Choice::Fault(idx)) => idx < view.faults_pending,
            Some(Choice::Draw(_)) | None => false,
        };
        match choice {
            Some(choice) if valid => Ok(choice),
            _ => {
                let divergence = Divergence {
                    step: view.step,
                    expected: Replay::expected(choice),
                    found: format!(
                        "a pick among runnable {} with {} faults pending",
                        task_list(view.runnable),
                        view.faults_pending
                    ),
                };
                let fits = self.cursor.saturating_sub(usize::from(choice.is_some()));
                Err(self.diverge(divergence, fits))
            }
        }
    }

    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence> {
        match self.next() {
            Some(Choice::Draw(value)) => Ok(value),
            other => {
                let divergence = Divergence {
                    step: view.step,
                    expected: Replay::expected(other),
                    found: format!("a random draw by {}", view.task),
                };
                let fits = self.cursor.saturating_sub(usize::from(other.is_some()));
                Err(self.diverge(divergence, fits))
            }
        }
    }

    fn end(&mut self, steps: u64) -> Result<(), Divergence> {
        let left = self.schedule.choices.len() - self.cursor;
        if left == 0 {
            return Ok(());
        }
        let divergence = Divergence {
            step: steps,
            expected: format!(
                "{left} more choices, starting with {}",
                Replay::expected(self.schedule.choices.get(self.cursor).copied())
            ),
            found: "every task finished".to_owned(),
        };
        Err(self.diverge(divergence, self.cursor))
    }
}

/// Follows a recorded prefix while it fits the execution, then hands every choice to
/// `inner`: a search that continues from where a pinned schedule stopped fitting.
#[derive(Clone, Debug)]
pub struct Prefixed<S> {
    prefix: Vec<Choice>,
    cursor: usize,
    inner: S,
}

impl<S: Strategy> Prefixed<S> {
    pub fn new(prefix: Schedule, inner: S) -> Self {
        Prefixed {
            prefix: prefix.choices,
            cursor: 0,
            inner,
        }
    }

    fn next_fitting(&mut self, fits: impl Fn(Choice) -> bool) -> Option<Choice> {
        let choice = *self.prefix.get(self.cursor)?;
        if fits(choice) {
            self.cursor += 1;
            Some(choice)
        } else {
            self.cursor = self.prefix.len();
            None
        }
    }
}

impl<S: Strategy> Strategy for Prefixed<S> {
    fn start(&mut self, execution_idx: u64) -> Option<Start> {
        self.cursor = 0;
        self.inner.start(execution_idx)
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        let fits = |choice| match choice {
            Choice::Task(task) => view.runnable.contains(&task),
            Choice::Fault(index) => index < view.faults_pending,
            Choice::Draw(_) => false,
        };
        match self.next_fitting(fits) {
            Some(choice) => Ok(choice),
            None => self.inner.pick(view),
        }
    }

    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence> {
        match self.next_fitting(|choice| matches!(choice, Choice::Draw(_))) {
            Some(Choice::Draw(value)) => Ok(value),
            _ => self.inner.draw(view),
        }
    }
}
