//! loom's `model::Builder`, so a loom test that configures its search compiles unchanged.

use std::path::PathBuf;
use std::time::Duration;

use crate::check::{SYSTEMATIC_EXECUTIONS_MAX, config, explore, preemption_bound};
use crate::part::Part;
use crate::strategy::Dpor;

/// The settings of one systematic exploration, with loom's field names. [`check`](Self::check)
/// explores the model with DPOR, as [`check_dpor`](crate::check_dpor) does, and panics with the
/// first failure.
///
/// | field | under vigil |
/// |---|---|
/// | `preemption_bound` | DPOR's preemption bound (`None`: unbounded; `VIGIL_PREEMPTIONS` overrides) |
/// | `max_permutations` | the execution budget (`None`: the helpers' 1,000,000; `VIGIL_EXECUTIONS` overrides) |
/// | `max_threads` | `Config::tasks_max`, the tasks one execution may create, main included |
/// | `max_branches` | `Config::steps_max`, the scheduling points one execution may take |
/// | `max_duration` | `Config::wall_time_max`: stop exploring, without failing, after this long |
/// | `checkpoint_file`, `checkpoint_interval`, `expect_explicit_explore`, `location`, `log` | accepted and ignored: a failure always carries its replayable schedule (`VIGIL_REPLAY`), `VIGIL_FAILURE_FILE` persists it, and its trace names each step's site |
#[derive(Clone, Debug)]
pub struct Builder {
    pub max_threads: usize,
    pub max_branches: usize,
    pub max_permutations: Option<usize>,
    pub max_duration: Option<Duration>,
    pub preemption_bound: Option<usize>,
    pub checkpoint_file: Option<PathBuf>,
    pub checkpoint_interval: usize,
    pub expect_explicit_explore: bool,
    pub location: bool,
    pub log: bool,
}

impl Builder {
    /// The defaults of [`Config`](crate::Config) and the helpers: 256 tasks, 100,000 steps,
    /// no preemption bound, a budget of 1,000,000 executions.
    pub fn new() -> Builder {
        let defaults = crate::Config::default();
        Builder {
            max_threads: defaults.tasks_max,
            max_branches: usize::try_from(defaults.steps_max).unwrap_or(usize::MAX),
            max_permutations: None,
            max_duration: None,
            preemption_bound: None,
            checkpoint_file: None,
            checkpoint_interval: 20_000,
            expect_explicit_explore: false,
            location: false,
            log: false,
        }
    }

    /// Sets `checkpoint_file` (ignored; see the table above).
    pub fn checkpoint_file(&mut self, file: &str) -> &mut Self {
        self.checkpoint_file = Some(file.into());
        self
    }

    /// Explores `model` with DPOR within these settings and panics with the first failure.
    /// Without `max_permutations` or `max_duration` it also panics if the helpers' budget ran
    /// out before the bound was exhausted; with either, stopping there passes, as in loom.
    #[track_caller]
    pub fn check<F>(&self, model: F)
    where
        F: Fn() + Send + Sync + 'static,
    {
        let budget = self
            .max_permutations
            .map_or(SYSTEMATIC_EXECUTIONS_MAX, |max| max as u64);
        let mut config = config(budget);
        config.tasks_max = self.max_threads.max(1);
        config.steps_max = self.max_branches.max(1) as u64;
        config.wall_time_max = self.max_duration;
        let bound = self
            .preemption_bound
            .map(|bound| u32::try_from(bound).unwrap_or(u32::MAX));
        let mut strategy = Dpor::new(preemption_bound(bound), 0);
        // As in loom, a search the caller capped (by executions or time) passes when it stops
        // at the cap; `Some(Part::WHOLE)` runs everything and skips the exhaustiveness check.
        let capped = self.max_permutations.is_some() || self.max_duration.is_some();
        explore(model, config, &mut strategy, capped.then_some(Part::WHOLE));
    }
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}
