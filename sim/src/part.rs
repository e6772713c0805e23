//! Which executions of a run one worker thread or one CI machine runs.
//!
//! A run's work is its execution indices `0..executions` in one fixed global order. A shard
//! (`--shard K/N`, one machine of a CI matrix) owns the indices `i` with `i % N == K - 1`, and
//! a job (one OS thread of `--jobs J`) owns every `J`-th index of its shard. Because each
//! index always maps to the same execution (the strategy derives it from the root seed and
//! the index alone), the union of all parts is exactly the unsharded run, whoever runs what
//! and whenever it finishes.

use std::fmt;

/// One disjoint part of a run's execution indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Part {
    /// Which shard, from zero, of `shard_count`.
    pub shard_idx: u64,
    pub shard_count: u64,
    /// Which job (thread), from zero, of `job_count` within the shard.
    pub job_idx: u64,
    pub job_count: u64,
}

impl Part {
    /// The whole run: one shard, one job.
    pub const WHOLE: Part = Part {
        shard_idx: 0,
        shard_count: 1,
        job_idx: 0,
        job_count: 1,
    };

    /// Whether execution `execution_idx` belongs to this part.
    pub fn owns(&self, execution_idx: u64) -> bool {
        execution_idx % self.shard_count == self.shard_idx
            && (execution_idx / self.shard_count) % self.job_count == self.job_idx
    }

    /// This part's shard split further into `job_count` jobs, of which this is `job_idx`.
    pub fn job(self, job_idx: u64, job_count: u64) -> Part {
        Part {
            job_idx,
            job_count,
            ..self
        }
    }

    /// Whether this part is a proper shard of a run (not the whole).
    pub fn is_shard(&self) -> bool {
        self.shard_count > 1
    }
}

/// A shard as `--shard K/N` names it: `K` counts from one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

    /// Parses `K/N` with `1 <= K <= N`.
    pub fn parse(text: &str) -> Result<Shard, String> {
        let bad = || format!("{text:?} is not a shard: use K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// The part of the executions this shard runs, as one job.
    pub fn part(self) -> Part {
        Part {
            shard_idx: self.index - 1,
            shard_count: self.count,
            job_idx: 0,
            job_count: 1,
        }
    }

    /// Whether a unit of work that cannot be split (a whole systematic search) numbered
    /// `unit_idx` belongs to this shard.
    pub fn owns_unit(self, unit_idx: u64) -> bool {
        unit_idx % self.count == self.index - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_every_shard_and_job_cover_each_index_once() {
        for shards in 1..5 {
            for jobs in 1..4 {
                for idx in 0..100 {
                    let owners = (1..=shards)
                        .flat_map(|k| {
                            (0..jobs).map(move |t| {
                                Shard {
                                    index: k,
                                    count: shards,
                                }
                                .part()
                                .job(t, jobs)
                            })
                        })
                        .filter(|part| part.owns(idx))
                        .count();
                    assert_eq!(
                        owners, 1,
                        "index {idx} with {shards} shards and {jobs} jobs"
                    );
                }
            }
        }
    }

    #[test]
    fn shard_text_is_checked() {
        assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
        for bad in ["0/4", "5/4", "1/0", "x/2", "3", ""] {
            assert!(
                Shard::parse(bad).unwrap_err().contains("is not a shard"),
                "{bad}"
            );
        }
    }
}
