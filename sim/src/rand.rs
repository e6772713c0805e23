//! Seeded random data choices for models, shaped like the corner of the `rand` crate that
//! shuttle re-exports: `vigil_sim::rand::thread_rng().gen_range(0..10)`.
//!
//! Every number comes from the scheduler's `random_u64`, which under simulation is a *draw*:
//! a choice recorded in the execution's schedule (shown as `draw` in traces). So a failing
//! execution's data replays exactly with its schedule, and the random walk and PCT vary it
//! from seed to seed. DFS and DPOR enumerate draws with at most [`DRAW_OUTCOMES_MAX`]
//! outcomes (`gen_bool`, `r#gen::<bool>()`, `gen_range` over at most that many values): each
//! outcome is a choice they explore, as they explore interleavings. Draws over larger domains
//! (`gen_range(0..1000)`, `r#gen::<u64>()`, `next_u64`) come from their seeded generator, the
//! same in every execution: sampled, not enumerated. Outside a simulation the numbers come
//! from the production scheduler's source.

use std::ops::{Range, RangeInclusive};

use vigil_core::rt;

/// The generator of the calling task: a handle on the scheduler's source.
pub fn thread_rng() -> ThreadRng {
    ThreadRng(())
}

/// A handle on the scheduler's random source; cheap, `Copy`, holds no state of its own.
#[derive(Clone, Copy, Debug)]
pub struct ThreadRng(());

/// Draws with at most this many outcomes are enumerated by DFS and DPOR (each outcome
/// multiplies the executions of a search, so the limit keeps small models small).
pub const DRAW_OUTCOMES_MAX: u64 = 16;

/// The raw source of random words.
pub trait RngCore {
    fn next_u64(&mut self) -> u64;

    /// A word for a draw with few outcomes; `words` has one word per outcome, which the
    /// caller maps to that outcome. Systematic strategies try each; the default (and any
    /// generator outside a simulation) draws an ordinary [`next_u64`](Self::next_u64).
    fn choose_word(&mut self, words: &[u64]) -> u64 {
        let _ = words;
        self.next_u64()
    }

    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    /// Fills `dest` with random bytes.
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

impl RngCore for ThreadRng {
    fn next_u64(&mut self) -> u64 {
        rt::random_u64()
    }

    fn choose_word(&mut self, words: &[u64]) -> u64 {
        rt::random_choice(words)
    }
}

/// Values drawn uniformly from their whole type (`rng.r#gen::<u8>()`, `rng.gen_bool(0.5)`).
pub trait Standard: Sized {
    fn draw(rng: &mut dyn RngCore) -> Self;
}

/// Ranges `gen_range` accepts: `a..b` (non-empty) and `a..=b` of the integer types.
pub trait SampleRange<T> {
    fn sample(self, rng: &mut dyn RngCore) -> T;
}

/// The convenience methods, for every [`RngCore`].
pub trait Rng: RngCore {
    /// A value of `T` from its whole range, uniformly.
    fn r#gen<T: Standard>(&mut self) -> T
    where
        Self: Sized,
    {
        T::draw(self)
    }

    /// A value of `range`, uniformly. Panics on an empty range, as `rand` does.
    #[track_caller]
    fn gen_range<T, R: SampleRange<T>>(&mut self, range: R) -> T
    where
        Self: Sized,
    {
        range.sample(self)
    }

    /// `true` with probability `p` (0 to 1; panics outside it, as `rand` does).
    #[track_caller]
    fn gen_bool(&mut self, p: f64) -> bool
    where
        Self: Sized,
    {
        assert!((0.0..=1.0).contains(&p), "gen_bool: p={p} is not in 0..=1");
        // Two outcomes unless p is 0 or 1: the largest word gives `false`, zero `true`.
        let word = if p > 0.0 && p < 1.0 {
            self.choose_word(&[u64::MAX, 0])
        } else {
            self.next_u64()
        };
        // 53 random bits, as an f64 in [0, 1).
        let unit = (word >> 11) as f64 / (1u64 << 53) as f64;
        unit < p
    }
}

impl<R: RngCore> Rng for R {}

/// A uniform number below `span` (not zero), by multiplying and keeping the high word.
/// The bias is at most `span / 2^64`, negligible for the small ranges models draw from. A
/// span of at most [`DRAW_OUTCOMES_MAX`] offers the word of each outcome to enumerate.
fn below(rng: &mut dyn RngCore, span: u64) -> u64 {
    let word = if (2..=DRAW_OUTCOMES_MAX).contains(&span) {
        rng.choose_word(&outcome_words(span))
    } else {
        rng.next_u64()
    };
    ((u128::from(word) * u128::from(span)) >> 64) as u64
}

/// For each `i` below `span`, the least word that `below` maps to `i`: `ceil(i * 2^64 / span)`.
fn outcome_words(span: u64) -> Vec<u64> {
    (0..span)
        .map(|i| (u128::from(i) << 64).div_ceil(u128::from(span)) as u64)
        .collect()
}

impl Standard for bool {
    fn draw(rng: &mut dyn RngCore) -> bool {
        rng.choose_word(&[0, 1]) & 1 == 1
    }
}

macro_rules! integers {
    ($($int:ty => $unsigned:ty),*) => {$(
        impl Standard for $int {
            fn draw(rng: &mut dyn RngCore) -> $int {
                rng.next_u64() as $int
            }
        }

        impl SampleRange<$int> for Range<$int> {
            #[track_caller]
            fn sample(self, rng: &mut dyn RngCore) -> $int {
                assert!(self.start < self.end, "gen_range: the range {:?} is empty", self);
                let span = self.end.wrapping_sub(self.start) as $unsigned as u64;
                self.start.wrapping_add(below(rng, span) as $int)
            }
        }

        impl SampleRange<$int> for RangeInclusive<$int> {
            #[track_caller]
            fn sample(self, rng: &mut dyn RngCore) -> $int {
                let (start, end) = self.into_inner();
                assert!(start <= end, "gen_range: the range {start}..={end} is empty");
                let span = (end.wrapping_sub(start) as $unsigned as u64).wrapping_add(1);
                // A span of zero here means the whole of u64: every word is in range.
                let offset = if span == 0 { rng.next_u64() } else { below(rng, span) };
                start.wrapping_add(offset as $int)
            }
        }
    )*};
}

integers!(
    u8 => u8, u16 => u16, u32 => u32, u64 => u64, usize => usize,
    i8 => u8, i16 => u16, i32 => u32, i64 => u64, isize => usize
);
