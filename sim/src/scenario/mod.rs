//! Scenario files: a seeded workload, a fault plan, a strategy with its budget, the
//! invariants to check and the expected outcome (see `scenarios/README.md` for the format).
//!
//! Parsing runs in two phases: `raw.rs` turns TOML into spanned values and rejects unknown
//! fields and wrong types; `validate.rs` checks ranges and cross-references (workers named by
//! steps and faults, sites, invariants) and builds a [`Scenario`]. Every error names the file,
//! line, column and field; nothing runs from a file that did not validate completely.

mod raw;
pub mod render;
mod validate;

use crate::schedule::Schedule;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use vigil_core::process::ExitReason;

pub use validate::parse;

/// A validated scenario, ready to run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    /// The namespace every worker registers under.
    pub namespace: String,
    pub strategy: StrategySpec,
    /// The fixed steps (run beside a generated workload when there is one).
    pub tasks: Vec<TaskSpec>,
    /// Every registration the fixed steps make, in file order.
    pub workers: Vec<WorkerSpec>,
    /// A workload each execution draws afresh (see [`GenerateSpec`]).
    pub generate: Option<GenerateSpec>,
    /// Schedules replayed before exploring (`[[expect.schedule]]`): failures kept as
    /// regressions, each expected to end as `expect` says.
    pub pinned: Vec<Schedule>,
    pub faults: FaultPlan,
    pub invariants: Vec<Invariant>,
    pub expect: Expect,
    /// The planted bug this scenario documents, if any (see `mutants/`).
    pub mutant: Option<MutantSpec>,
    /// The bounds a passing run must have searched exhaustively (`[expect] certify`).
    pub certify: Option<Certify>,
}

impl Scenario {
    /// A number that changes whenever the scenario would run differently: a hash of its
    /// namespace, fixed steps, workers, generated workload, fault plan, invariants and step
    /// and task limits. Not of its name, description, seed, budget or expectations, so pinning
    /// a schedule in the file, or renaming it, keeps the schedules recorded for it valid.
    /// Stamped into every schedule a scenario run records (`v2:`), and checked on replay.
    pub fn fingerprint(&self) -> u64 {
        let described = format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}|{:?}|{}|{}",
            self.namespace,
            self.tasks,
            self.workers,
            self.generate,
            self.faults,
            self.invariants,
            self.strategy.steps_max,
            self.strategy.tasks_max
        );
        crate::trace::fnv1a64(described.as_bytes())
    }

    /// `Err` with a message saying what to do when `schedule` was recorded for a scenario
    /// with another fingerprint; schedules without one (v1) are accepted.
    pub fn check_schedule(&self, schedule: &Schedule) -> Result<(), String> {
        match schedule.fingerprint {
            Some(recorded) if recorded != self.fingerprint() => Err(format!(
                "the schedule was recorded for another scenario (fingerprint {recorded:#018x}; \
                 scenario '{}' has {:#018x}): replay it against the scenario file that printed \
                 it, or record a new one with `vigil run`",
                self.name,
                self.fingerprint()
            )),
            _ => Ok(()),
        }
    }
}

/// Bounds a systematic search must exhaust for the scenario to pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Certify {
    pub preemptions: u32,
    pub faults: u32,
}

/// "With `mutants/<patch>.patch` applied, this scenario fails `invariant`."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MutantSpec {
    pub patch: String,
    pub invariant: Invariant,
}

/// How to explore and with what budget.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StrategySpec {
    pub kind: StrategyKind,
    /// Executions to run (an upper bound for exhaustive strategies).
    pub executions: u64,
    /// Steps per execution before the run counts as a livelock.
    pub steps_max: u64,
    /// Tasks one execution may create.
    pub tasks_max: usize,
    /// Wall-clock cap on the whole exploration, checked between executions.
    pub wall_time_max: Option<Duration>,
    /// Branching choice points above which a systematic search (dfs, dpor) is exhaustive
    /// and split into units that run on any thread or shard; zero runs it whole.
    pub split_depth: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrategyKind {
    Random,
    Pct {
        depth: u32,
    },
    Dfs {
        preemptions_max: u32,
    },
    /// Partial-order reduction within a preemption and a fault bound.
    Dpor {
        preemptions_max: u32,
        faults_max: u32,
    },
    /// Random walk and PCT at several depths by turns (see [`crate::Portfolio`]).
    Portfolio,
}

impl StrategyKind {
    pub fn name(self) -> &'static str {
        match self {
            StrategyKind::Random => "random",
            StrategyKind::Pct { .. } => "pct",
            StrategyKind::Dfs { .. } => "dfs",
            StrategyKind::Dpor { .. } => "dpor",
            StrategyKind::Portfolio => "portfolio",
        }
    }
}

/// One simulated task and the steps it runs in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskSpec {
    pub name: String,
    pub steps: Vec<Step>,
}

/// One registration as the workload names it. Several registrations may share a worker id
/// (a restart); the name is what tells them apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerSpec {
    /// The registration's name (`as`, or the worker field when there is no `as`).
    pub name: String,
    pub queue: String,
    /// Registered with a participant the scenario spawns itself (not owned by the pool).
    pub supplied: bool,
}

/// A workload to generate for every execution: sizes are drawn from the ranges, steps from
/// the mix (weights), all from a seed the execution draws (recorded in its schedule).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GenerateSpec {
    /// Owner tasks (inclusive range).
    pub owners: (u32, u32),
    /// Distinct queues the registrations spread over.
    pub channels: (u32, u32),
    /// Registrations.
    pub workers: (u32, u32),
    /// Other steps (everything but registrations), spread over the owners.
    pub steps: (u32, u32),
    /// Step kinds and their weights; a kind with weight 0 never appears.
    pub mix: Vec<(OpKind, u32)>,
    /// Swarm testing: each execution also draws which step kinds and fault kinds are on.
    pub swarm: bool,
}

/// The kinds of step a generated workload is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum OpKind {
    /// `register`: the pool spawns and owns the process and picks the id.
    Register,
    /// `register_with_participant` with a process of its own and a fresh id.
    RegisterSupplied,
    /// `register_with_participant` on the process of an earlier supplied registration.
    RegisterShared,
    /// `register_with_participant` under an id an earlier registration used (a restart).
    Restart,
    Unregister,
    Drop,
    SetInFlight,
    Snapshot,
    Publish,
    Crash,
    /// `dispatch_activity_with_context` on the pool: a request, a policy, and sometimes a
    /// scripted routing function that misbehaves. Off unless `[generate.mix]` weighs it.
    Dispatch,
}

impl OpKind {
    pub const ALL: [OpKind; 11] = [
        OpKind::Register,
        OpKind::RegisterSupplied,
        OpKind::RegisterShared,
        OpKind::Restart,
        OpKind::Unregister,
        OpKind::Drop,
        OpKind::SetInFlight,
        OpKind::Snapshot,
        OpKind::Publish,
        OpKind::Crash,
        OpKind::Dispatch,
    ];

    /// The key in `[generate.mix]`.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Register => "register",
            OpKind::RegisterSupplied => "register_supplied",
            OpKind::RegisterShared => "register_shared",
            OpKind::Restart => "restart",
            OpKind::Unregister => "unregister",
            OpKind::Drop => "drop",
            OpKind::SetInFlight => "set_in_flight",
            OpKind::Snapshot => "snapshot",
            OpKind::Publish => "publish",
            OpKind::Crash => "crash",
            OpKind::Dispatch => "dispatch",
        }
    }

    /// The weight a kind has when `[generate.mix]` is absent: 1, except dispatch (0), so
    /// workloads written before dispatch existed draw the same steps they always did.
    pub fn default_weight(self) -> u32 {
        u32::from(self != OpKind::Dispatch)
    }

    /// Whether the kind makes a registration (the rest act on one, or on a queue).
    pub fn registers(self) -> bool {
        matches!(
            self,
            OpKind::Register | OpKind::RegisterSupplied | OpKind::RegisterShared | OpKind::Restart
        )
    }
}

/// One workload step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// `register` (generated participant) or `register_with_participant` (`supplied`).
    Register {
        /// The registration's name; later steps and faults refer to it.
        worker: String,
        /// The worker id given to the pool (supplied registrations; the pool picks one for
        /// `register`). Several registrations may use one id.
        id: String,
        queue: String,
        capacity: usize,
        tags: Vec<String>,
        supplied: bool,
        /// Register with another supplied worker's participant (spec d.3 item 15).
        shares: Option<String>,
    },
    Unregister {
        worker: String,
    },
    /// Drop the registration without calling `unregister`.
    Drop {
        worker: String,
    },
    SetInFlight {
        worker: String,
        value: u32,
    },
    Snapshot {
        queue: String,
    },
    Publish {
        queue: String,
        activity_type: String,
    },
    /// The workload itself terminates the worker's participant.
    Crash {
        worker: String,
        reason: ExitReason,
    },
    /// Dispatches one activity on `queue` and then replays it from the recorded outcome.
    /// Activity type `fail` makes the worker answer `Failed`.
    Dispatch {
        queue: String,
        activity_type: String,
        policy: DispatchPolicy,
        /// A misbehaving routing function used instead of the policy.
        routing: Option<RoutingScript>,
    },
}

/// The ready routing policies a dispatch step may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum DispatchPolicy {
    FirstWithCapacity,
    LeastLoaded,
    Affinity,
}

impl DispatchPolicy {
    pub const ALL: [DispatchPolicy; 3] = [
        DispatchPolicy::FirstWithCapacity,
        DispatchPolicy::LeastLoaded,
        DispatchPolicy::Affinity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            DispatchPolicy::FirstWithCapacity => "first-with-capacity",
            DispatchPolicy::LeastLoaded => "least-loaded",
            DispatchPolicy::Affinity => "affinity",
        }
    }
}

/// A scripted routing function that misbehaves in one way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RoutingScript {
    /// Panics.
    Panic,
    /// Sleeps past the supervision timeout (virtual time), then selects the first worker.
    Overrun,
    /// Selects a worker id no candidate has.
    Unknown,
}

impl RoutingScript {
    pub const ALL: [RoutingScript; 3] = [
        RoutingScript::Panic,
        RoutingScript::Overrun,
        RoutingScript::Unknown,
    ];

    pub fn name(self) -> &'static str {
        match self {
            RoutingScript::Panic => "panic",
            RoutingScript::Overrun => "overrun",
            RoutingScript::Unknown => "unknown",
        }
    }
}

/// What may go wrong, and how often.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultPlan {
    /// How many scheduler-chosen faults one execution may fire.
    pub budget: u32,
    pub kinds: Vec<FaultKind>,
    /// Workers whose processes faults may target (all workers when the file lists none).
    pub targets: Vec<String>,
    /// Exit reasons for participant crashes.
    pub reasons: Vec<ExitReason>,
    /// Faults fired when a task reaches a named site.
    pub at: Vec<SiteFault>,
    pub delays: Vec<Delay>,
}

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FaultKind {
    /// Terminate a worker's participant (with one of the plan's reasons).
    Participant,
    /// Crash the monitor actor watching a worker.
    Monitor,
    /// Panic the link-listener task of the context (one for every worker), while the worker
    /// is registered.
    Listener,
    /// Crash a worker's subscriber process.
    Subscriber,
    /// Crash the channel actor of a worker's queue.
    Channel,
}

impl FaultKind {
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Participant,
        FaultKind::Monitor,
        FaultKind::Listener,
        FaultKind::Subscriber,
        FaultKind::Channel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Participant => "participant",
            FaultKind::Monitor => "monitor",
            FaultKind::Listener => "listener",
            FaultKind::Subscriber => "subscriber",
            FaultKind::Channel => "channel",
        }
    }
}

/// "Crash `worker`'s process when `task` reaches `site`."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteFault {
    pub task: String,
    pub site: String,
    pub kind: FaultKind,
    pub worker: String,
    pub reason: ExitReason,
    /// Fire on the n-th arrival at the site (1 = the first).
    pub occurrence: u32,
}

/// "Hold `task` back for `steps` steps when it reaches `site`."
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delay {
    pub task: String,
    pub site: String,
    pub steps: u32,
}

/// The expected outcome of the whole exploration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    Pass,
    Fail { invariant: Invariant },
}

/// The named properties the oracle checks (design brief section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Invariant {
    /// Safety: a worker visible to a snapshot has an armed monitor on its live process.
    SnapshotMonitored,
    /// Safety: a snapshot never returns an entry that was already inactive when it began.
    SnapshotActive,
    /// Safety: a successful registration stays visible until it is removed or crashes.
    RegistrationVisible,
    /// Safety: one channel actor per channel name (one session and one entry vector).
    OneSession,
    /// Safety: every participant a visible entry names is a worker process on the context's node.
    OneNode,
    /// Safety: a graceful unregister or drop is never handled as a crash by the listener.
    GracefulNotCrash,
    /// Safety: a visible worker whose subscriber is alive is in its channel actor's fan-out.
    Reachable,
    /// Safety: unregister removes exactly that worker; others keep their order and counts.
    UnregisterExact,
    /// Liveness: a crashed worker has left every snapshot once the system is quiet.
    CrashRemoved,
    /// Liveness: unregister, drop and the whole workload finish (no deadlock, no livelock).
    ShutdownBounded,
    /// Quiescence: once every registration is gone no task, process or entry is left.
    NoLeak,
    /// Every task finished without panicking.
    NoPanic,
    /// Safety: each dispatch's recorded operations follow spec (e.1)'s table, an exited
    /// worker is never selected again within it, its conversation is closed exactly once,
    /// and it ends completed, failed by its worker, or failed with a named error.
    DispatchSequence,
    /// Safety: replaying a dispatch returns its recorded outcome with no pool, router or
    /// conversation call and no recorded operation.
    DispatchReplay,
    /// Quiescence: once the system is quiet, no dispatch conversation is left and every
    /// worker's in-flight count is back to zero (unless the workload set it).
    DispatchIdle,
}

impl Invariant {
    pub const ALL: [Invariant; 15] = [
        Invariant::SnapshotMonitored,
        Invariant::SnapshotActive,
        Invariant::RegistrationVisible,
        Invariant::OneSession,
        Invariant::OneNode,
        Invariant::GracefulNotCrash,
        Invariant::Reachable,
        Invariant::UnregisterExact,
        Invariant::CrashRemoved,
        Invariant::ShutdownBounded,
        Invariant::NoLeak,
        Invariant::NoPanic,
        Invariant::DispatchSequence,
        Invariant::DispatchReplay,
        Invariant::DispatchIdle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Invariant::SnapshotMonitored => "snapshot-monitored",
            Invariant::SnapshotActive => "snapshot-active",
            Invariant::RegistrationVisible => "registration-visible",
            Invariant::OneSession => "one-session",
            Invariant::OneNode => "one-node",
            Invariant::GracefulNotCrash => "graceful-not-crash",
            Invariant::Reachable => "reachable",
            Invariant::UnregisterExact => "unregister-exact",
            Invariant::CrashRemoved => "crash-removed",
            Invariant::ShutdownBounded => "shutdown-bounded",
            Invariant::NoLeak => "no-leak",
            Invariant::NoPanic => "no-panic",
            Invariant::DispatchSequence => "dispatch-sequence",
            Invariant::DispatchReplay => "dispatch-replay",
            Invariant::DispatchIdle => "dispatch-idle",
        }
    }

    pub fn from_name(name: &str) -> Option<Invariant> {
        Invariant::ALL
            .into_iter()
            .find(|invariant| invariant.name() == name)
    }
}

impl fmt::Display for Invariant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scenario file that could not be used: where, which field, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

/// Reads and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|error| ScenarioError {
        file: file.clone(),
        line: 0,
        column: 0,
        field: "(file)".into(),
        message: format!("cannot read the file: {error}"),
    })?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let offset = error.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&error.as_bytes()[..offset]).into_owned();
        let (line, column) = validate::line_column(&prefix, offset);
        ScenarioError {
            file: file.clone(),
            line,
            column,
            field: "(file)".into(),
            message: "the file is not UTF-8 text; scenario files are TOML".into(),
        }
    })?;
    parse(&file, &text)
}

#[cfg(test)]
mod tests;
