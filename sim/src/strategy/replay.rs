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
}

impl Replay {
    pub fn new(schedule: Schedule) -> Self {
        Replay {
            schedule,
            cursor: 0,
            started: false,
        }
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
            _ => Err(Divergence {
                step: view.step,
                expected: Replay::expected(choice),
                found: format!(
                    "a pick among runnable {} with {} faults pending",
                    task_list(view.runnable),
                    view.faults_pending
                ),
            }),
        }
    }

    fn draw(&mut self, view: &DrawView) -> Result<u64, Divergence> {
        match self.next() {
            Some(Choice::Draw(value)) => Ok(value),
            other => Err(Divergence {
                step: view.step,
                expected: Replay::expected(other),
                found: format!("a random draw by {}", view.task),
            }),
        }
    }

    fn end(&mut self, steps: u64) -> Result<(), Divergence> {
        let left = self.schedule.choices.len() - self.cursor;
        if left == 0 {
            return Ok(());
        }
        Err(Divergence {
            step: steps,
            expected: format!(
                "{left} more choices, starting with {}",
                Replay::expected(self.schedule.choices.get(self.cursor).copied())
            ),
            found: "every task finished".to_owned(),
        })
    }
}
