//! The routing vocabulary the aion dispatcher uses: consumer ids and per-consumer state views.

use std::fmt;
use std::sync::Arc;

use crate::SharedStr;

/// Identifies one consumer (for aion, one worker) to a routing function.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConsumerId(pub SharedStr);

impl fmt::Display for ConsumerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A read-only snapshot of one consumer's load, taken for a single routing decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerStateView {
    pub consumer: ConsumerId,
    pub current_in_flight: u32,
    pub max_in_flight: u32,
    pub buffer_depth: u32,
    /// Shared with the worker's registration: a snapshot hands out the same list each time.
    pub affinity_tags: Arc<[String]>,
}

impl ConsumerStateView {
    /// Free slots: `max_in_flight - current_in_flight`, or 0 when the consumer is over its
    /// limit (a snapshot can be taken while a limit is being lowered).
    pub fn available_capacity(&self) -> u32 {
        self.max_in_flight.saturating_sub(self.current_in_flight)
    }

    /// Whether at least one slot is free.
    pub fn has_capacity(&self) -> bool {
        self.available_capacity() > 0
    }

    /// Whether `tag` is one of the consumer's affinity tags, compared exactly.
    pub fn has_affinity(&self, tag: &str) -> bool {
        self.affinity_tags.iter().any(|own| own == tag)
    }
}

#[cfg(test)]
mod tests;
