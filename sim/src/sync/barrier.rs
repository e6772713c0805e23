//! `Barrier` with std's signatures, built from the facade's [`Mutex`] and [`Condvar`], so its
//! scheduling points are theirs (`barrier lock`, `barrier.changed rmw`, ...).

use std::fmt;

use super::{Condvar, Mutex};

/// Blocks `n` threads until all have called [`wait`](Self::wait), then releases them all;
/// reusable, as std's. Exactly one waiter of each round is the leader.
pub struct Barrier {
    n: usize,
    state: Mutex<Round>,
    changed: Condvar,
}

#[derive(Debug)]
struct Round {
    arrived: usize,
    generation: u64,
}

/// What [`Barrier::wait`] returns: whether this thread was the round's leader.
#[derive(Debug)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one thread per round: here the last to arrive, as in std today.
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `n` threads; as in std, `n` of 0 or 1 never blocks.
    pub const fn new(n: usize) -> Barrier {
        Barrier {
            n,
            state: Mutex::named(
                "barrier",
                Round {
                    arrived: 0,
                    generation: 0,
                },
            ),
            changed: Condvar::named("barrier.changed"),
        }
    }

    /// Waits until `n` threads have arrived in this round.
    pub fn wait(&self) -> BarrierWaitResult {
        let mut round = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        round.arrived += 1;
        if round.arrived >= self.n {
            round.arrived = 0;
            round.generation += 1;
            drop(round);
            self.changed.notify_all();
            return BarrierWaitResult(true);
        }
        let generation = round.generation;
        let _round = self
            .changed
            .wait_while(round, |round| round.generation == generation)
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        BarrierWaitResult(false)
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier").field("n", &self.n).finish()
    }
}
