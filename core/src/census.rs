//! Live-object counts: how many of each structure that grows with registrations exists now.
//!
//! Every node carries one [`Census`]. The objects it counts (pool entries, exit notifiers,
//! subscriptions, fan-out slots) each hold a [`Token`] that adds one on creation and takes
//! one away when dropped, wherever the object ends up: pruned from a vector, dropped with an
//! actor, or leaked by a bug. Observers compare the counts with what they were before the
//! first registration; nothing in the pool branches on them.
//!
//! The counters are plain `std` atomics, not `crate::sync` ones: they are bookkeeping nobody
//! waits on, so they are not scheduling points and do not change any interleaving.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a census counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Counted {
    /// Pool entries (`WorkerEntry`), whether or not a channel's vector still holds them.
    Entry,
    /// Exit notifiers registered with monitor actors and not yet woken or dropped.
    Notifier,
    /// Subscriptions (the handle side of a subscriber process).
    Subscription,
    /// Slots in channel fan-out lists.
    FanOut,
}

impl Counted {
    pub const ALL: [Counted; 4] = [
        Counted::Entry,
        Counted::Notifier,
        Counted::Subscription,
        Counted::FanOut,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Counted::Entry => "pool entries",
            Counted::Notifier => "exit notifiers",
            Counted::Subscription => "subscriptions",
            Counted::FanOut => "fan-out slots",
        }
    }
}

/// Live counts of every [`Counted`] kind on one node.
#[derive(Default)]
pub struct Census {
    counts: [AtomicUsize; Counted::ALL.len()],
}

impl Census {
    /// How many objects of `kind` are alive now.
    pub fn count(&self, kind: Counted) -> usize {
        self.counts[kind as usize].load(Ordering::Relaxed)
    }

    /// Counts one more object of `kind` until the token is dropped.
    pub(crate) fn token(self: &Arc<Self>, kind: Counted) -> Token {
        self.counts[kind as usize].fetch_add(1, Ordering::Relaxed);
        Token {
            census: self.clone(),
            kind,
        }
    }
}

impl fmt::Debug for Census {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for kind in Counted::ALL {
            map.entry(&kind.name(), &self.count(kind));
        }
        map.finish()
    }
}

/// One counted object; dropping it uncounts the object.
pub(crate) struct Token {
    census: Arc<Census>,
    kind: Counted,
}

impl Drop for Token {
    fn drop(&mut self) {
        self.census.counts[self.kind as usize].fetch_sub(1, Ordering::Relaxed);
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Token").field(&self.kind).finish()
    }
}
