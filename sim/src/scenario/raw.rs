//! Phase one of scenario parsing: the TOML text as typed, spanned values, with unknown fields
//! rejected. Nothing here checks cross-references; `validate.rs` does that.

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawScenario {
    pub(crate) name: Spanned<String>,
    #[serde(default)]
    pub(crate) description: String,
    pub(crate) seed: Spanned<RawSeed>,
    #[serde(default)]
    pub(crate) namespace: Option<Spanned<String>>,
    pub(crate) strategy: Spanned<RawStrategy>,
    #[serde(default)]
    pub(crate) tasks: Vec<Spanned<RawTask>>,
    #[serde(default)]
    pub(crate) faults: Option<Spanned<RawFaults>>,
    #[serde(default)]
    pub(crate) invariants: Option<Spanned<Vec<Spanned<String>>>>,
    pub(crate) expect: Spanned<RawExpect>,
    #[serde(default)]
    pub(crate) mutant: Option<Spanned<RawMutant>>,
    #[serde(default)]
    pub(crate) generate: Option<Spanned<RawGenerate>>,
}

/// A seed as written: a TOML integer (which stops at `i64::MAX`), or a string holding a
/// decimal or `0x` hex u64, for the seeds above that.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawSeed {
    Number(i64),
    Text(String),
}

/// `[generate]`: ranges are a number or `[min, max]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawGenerate {
    #[serde(default)]
    pub(crate) owners: Option<Spanned<RawRange>>,
    #[serde(default)]
    pub(crate) channels: Option<Spanned<RawRange>>,
    #[serde(default)]
    pub(crate) workers: Option<Spanned<RawRange>>,
    #[serde(default)]
    pub(crate) steps: Option<Spanned<RawRange>>,
    #[serde(default)]
    pub(crate) mix: Option<Spanned<std::collections::BTreeMap<Spanned<String>, Spanned<i64>>>>,
    #[serde(default)]
    pub(crate) swarm: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawRange {
    One(i64),
    Two(Vec<i64>),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMutant {
    pub(crate) patch: Spanned<String>,
    pub(crate) invariant: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStrategy {
    pub(crate) kind: Spanned<String>,
    pub(crate) executions: Spanned<i64>,
    #[serde(default)]
    pub(crate) steps_max: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) wall_time_max_secs: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) depth: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) preemptions_max: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) tasks_max: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) faults_max: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) split_depth: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTask {
    pub(crate) name: Spanned<String>,
    pub(crate) steps: Vec<Spanned<RawStep>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStep {
    pub(crate) op: Spanned<String>,
    #[serde(default)]
    pub(crate) worker: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) queue: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) capacity: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) tags: Vec<String>,
    #[serde(default)]
    pub(crate) value: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) reason: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) activity_type: Option<String>,
    #[serde(default)]
    pub(crate) shares: Option<Spanned<String>>,
    /// The registration's own name, when several registrations share a worker id.
    #[serde(default, rename = "as")]
    pub(crate) as_name: Option<Spanned<String>>,
    /// A dispatch step's routing policy.
    #[serde(default)]
    pub(crate) policy: Option<Spanned<String>>,
    /// A dispatch step's misbehaving routing function.
    #[serde(default)]
    pub(crate) routing: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFaults {
    #[serde(default)]
    pub(crate) budget: Option<Spanned<i64>>,
    #[serde(default)]
    pub(crate) kinds: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) targets: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) reasons: Vec<Spanned<String>>,
    #[serde(default)]
    pub(crate) at: Vec<Spanned<RawSiteFault>>,
    #[serde(default)]
    pub(crate) delay: Vec<Spanned<RawDelay>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSiteFault {
    pub(crate) task: Spanned<String>,
    pub(crate) site: Spanned<String>,
    #[serde(default)]
    pub(crate) kind: Option<Spanned<String>>,
    pub(crate) worker: Spanned<String>,
    #[serde(default)]
    pub(crate) reason: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) occurrence: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawDelay {
    pub(crate) task: Spanned<String>,
    pub(crate) site: Spanned<String>,
    pub(crate) steps: Spanned<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawExpect {
    pub(crate) outcome: Spanned<String>,
    #[serde(default)]
    pub(crate) invariant: Option<Spanned<String>>,
    #[serde(default)]
    pub(crate) schedule: Vec<Spanned<RawPinned>>,
    #[serde(default)]
    pub(crate) certify: Option<Spanned<RawCertify>>,
}

/// `[[expect.schedule]]`: a recorded schedule replayed before exploring.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPinned {
    pub(crate) schedule: Spanned<String>,
}

/// `certify = { preemptions = 2, faults = 1 }`: the run must exhaust these bounds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCertify {
    pub(crate) preemptions: Spanned<i64>,
    #[serde(default)]
    pub(crate) faults: Option<Spanned<i64>>,
}
