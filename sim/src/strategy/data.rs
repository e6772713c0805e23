//! Enumerates data choices for a search whose tree holds only interleavings (DPOR): every
//! outcome of every draw with few outcomes, by running the whole search once per assignment.
//!
//! A draw is local to its task: what the `n`th draw of a task returns changes nothing another
//! task can see until the task acts on it. So an assignment fixes the outcome of each key
//! `(task, n, number of outcomes)`, and within one assignment the model is deterministic and
//! the interleaving search is sound as it is. Keys are found as executions draw (a new key
//! takes its first outcome); when the interleaving search of an assignment is exhausted, the
//! next assignment moves the latest-found key with an outcome left to its next one and forgets
//! the keys found after it, which later executions find again. That is a depth-first search of
//! the assignments in discovery order: each execution with some outcomes is reached from the
//! assignment that agrees with it on every key it draws, since any key it draws is found by
//! the search of an assignment agreeing on the keys before it. Partial-order reduction never
//! prunes a data choice: alternatives of a draw are never equivalent.

use vigil_core::rt::TaskId;

use super::DrawView;

/// A draw's identity across executions of one assignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key {
    task: TaskId,
    /// The task's draws before this one, in this execution.
    nth: u32,
    outcomes: usize,
}

/// The current assignment of outcomes to keys, and the draws of the running execution.
#[derive(Debug, Default)]
pub(crate) struct DataChoices {
    /// Keys in order of discovery, each with the outcome it takes in this assignment.
    keys: Vec<(Key, usize)>,
    /// Per task id, the draws with few outcomes it made so far in this execution.
    drawn: Vec<u32>,
}

impl DataChoices {
    pub(crate) fn start_execution(&mut self) {
        self.drawn.clear();
    }

    /// The word for `view`'s draw under the current assignment; `None` for a draw with
    /// fewer than two outcomes (a seeded sample).
    pub(crate) fn draw(&mut self, view: &DrawView<'_>) -> Option<u64> {
        if view.alternatives.len() < 2 {
            return None;
        }
        let slot = view.task.0 as usize;
        if self.drawn.len() <= slot {
            self.drawn.resize(slot + 1, 0);
        }
        let key = Key {
            task: view.task,
            nth: self.drawn[slot],
            outcomes: view.alternatives.len(),
        };
        self.drawn[slot] += 1;
        let taken = match self.keys.iter().find(|(known, _)| *known == key) {
            Some((_, taken)) => *taken,
            None => {
                self.keys.push((key, 0));
                0
            }
        };
        Some(view.alternatives[taken])
    }

    /// Moves to the next assignment; `false` when every one was tried.
    pub(crate) fn advance(&mut self) -> bool {
        while let Some((key, taken)) = self.keys.last_mut() {
            if *taken + 1 < key.outcomes {
                *taken += 1;
                return true;
            }
            self.keys.pop();
        }
        false
    }

    /// Outcomes of the known keys not tried yet (each opens at least one more search).
    pub(crate) fn open(&self) -> u64 {
        (self.keys.iter())
            .map(|(key, taken)| (key.outcomes - 1 - taken) as u64)
            .sum()
    }
}

impl DataChoices {
    /// Writes the assignment being searched (between executions: what was drawn within the
    /// last one is not kept).
    pub(crate) fn save(&self, out: &mut crate::wire::Writer) {
        out.seq(&self.keys, |out, (key, taken)| {
            out.u32(key.task.0);
            out.u32(key.nth);
            out.len(key.outcomes);
            out.len(*taken);
        });
    }

    pub(crate) fn restore(input: &mut crate::wire::Reader<'_>) -> Result<Self, String> {
        let keys = input.seq("data choices", |input| {
            let key = Key {
                task: TaskId(input.u32("draw task")?),
                nth: input.u32("draw number")?,
                outcomes: input.len("draw outcomes")?,
            };
            let taken = input.len("outcome taken")?;
            if taken >= key.outcomes {
                return Err(format!(
                    "outcome {taken} of a draw with {} outcomes",
                    key.outcomes
                ));
            }
            Ok((key, taken))
        })?;
        Ok(DataChoices {
            keys,
            drawn: Vec::new(),
        })
    }
}
