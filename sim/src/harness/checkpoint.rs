//! Checkpoints of a long systematic search (`vigil explore --checkpoint FILE`).
//!
//! A DPOR search that certifies a large scenario can take hours. With a checkpoint file it
//! runs in chunks of [`CHUNK`] executions and, after each chunk (and when it stops for any
//! reason, Ctrl-C included), saves what it has learnt: the search's own state between two
//! executions and the log of everything it ran, its per-execution rows folded into totals
//! (`Log::fold`), so the file stays the size of the search's stack and can be committed and
//! resumed on another machine by a build of the same sources (`sim/build.rs`). Run again
//! with the same file, it goes on from the first execution it had not run, with the same
//! execution indices, so the resumed run reports exactly what one uninterrupted run would
//! have (the same executions, schedules, states, failure and certificate).
//!
//! The file starts with a magic line and ends with a checksum of everything before it, and
//! it names the scenario (a digest of its parsed form), the seed and the bounds it was
//! saved for: a file for another scenario or setting, a truncated or corrupt file, is an
//! error that says which, and is left as it was. It is replaced atomically (written beside
//! and renamed), so an interrupted save leaves the previous checkpoint whole. The checksum
//! (FNV-1a) catches damage, not deliberate edits; a file edited under a matching checksum is
//! still read without panicking (a test damages every part of one), and a search that would
//! run an actor where it could not run is refused.

use std::cell::RefCell;
use std::path::Path;
use std::rc::Rc;

use super::dispatch_stats::{DISPATCH_FIELDS, DispatchTally};
use super::explore::{Folded, Log, PartRun, run_part};
use super::rows::{FirstSeen, Rows};
use super::shard::{Settings, ShardLog, ShardMode};
use crate::dependency::Actor;
use crate::part::Shard;
use crate::runner::StopReason;
use crate::scenario::{Scenario, StrategyKind};
use crate::strategy::Dpor;
use crate::trace::{FNV_OFFSET_BASIS, fnv1a64_extend};
use crate::wire::{Reader, Writer};

/// The digest `sim/build.rs` takes of the sources, the lock file and the compiler.
const SOURCE_DIGEST: u64 = match u64::from_str_radix(env!("VIGIL_SOURCE_DIGEST"), 16) {
    Ok(digest) => digest,
    Err(_) => panic!("sim/build.rs writes the digest in hexadecimal"),
};

/// Executions between two saves by default: about four minutes of a large scenario's search.
pub(crate) const CHUNK: u64 = 1_000_000;

/// Where a search is saved, and how often.
pub(crate) struct Saved<'a> {
    pub(crate) path: &'a Path,
    /// Executions between two saves.
    pub(crate) every: u64,
}

const MAGIC: &[u8] = b"vigil search checkpoint, format 2\n";

/// What a checkpoint must have been saved for to be resumed here.
struct Identity {
    version: String,
    /// A digest of the sources this build was compiled from (`sim/build.rs`): the search
    /// is a function of the code, so a checkpoint resumes only with a build of the same
    /// sources, on any machine and from any folder.
    build: u64,
    scenario: u64,
    seed: u64,
    preemptions_max: u32,
    faults_max: u32,
}

impl Identity {
    fn of(scenario: &Scenario, seed: u64, preemptions_max: u32, faults_max: u32) -> Self {
        Identity {
            version: env!("CARGO_PKG_VERSION").to_owned(),
            build: SOURCE_DIGEST,
            scenario: fnv1a64_extend(FNV_OFFSET_BASIS, format!("{scenario:?}").as_bytes()),
            seed,
            preemptions_max,
            faults_max,
        }
    }

    fn write(&self, out: &mut Writer) {
        out.str(&self.version);
        out.u64(self.build);
        out.u64(self.scenario);
        out.u64(self.seed);
        out.u32(self.preemptions_max);
        out.u32(self.faults_max);
    }

    fn read(input: &mut Reader<'_>) -> Result<Identity, String> {
        Ok(Identity {
            version: input.str("vigil version")?,
            build: input.u64("build digest")?,
            scenario: input.u64("scenario digest")?,
            seed: input.u64("seed")?,
            preemptions_max: input.u32("preemption bound")?,
            faults_max: input.u32("fault bound")?,
        })
    }

    /// How the identity a file was saved with differs from `self`, if it does.
    fn check(&self, saved: &Identity) -> Result<(), String> {
        if saved.version != self.version {
            return Err(format!(
                "it was saved by vigil {}, and this is vigil {}: searches of different \
                 versions may differ",
                saved.version, self.version
            ));
        }
        if saved.build != self.build {
            return Err(
                "it was saved by a build of other sources: resume it with a build of the \
                 commit that saved it (the search is a function of the code)"
                    .into(),
            );
        }
        if saved.scenario != self.scenario {
            return Err(
                "it was saved for another scenario (or this file has changed since)".into(),
            );
        }
        if saved.seed != self.seed {
            return Err(format!(
                "it was saved for seed {}, not {}",
                saved.seed, self.seed
            ));
        }
        let bounds = (saved.preemptions_max, saved.faults_max);
        if bounds != (self.preemptions_max, self.faults_max) {
            return Err(format!(
                "it was saved for {} preemptions and {} faults, not {} and {}",
                bounds.0, bounds.1, self.preemptions_max, self.faults_max
            ));
        }
        Ok(())
    }
}

/// A search loaded from a checkpoint, or a fresh one.
struct Resumed {
    next: u64,
    log: Log,
    dpor: Dpor,
    /// The settings the search was saved with (as a shard report has them).
    settings: Settings,
}

/// Runs the whole systematic search `run` with checkpoints in `path`, resuming from it when
/// it exists. Errors (a checkpoint that cannot be read, used or written) say what and where.
pub(crate) fn run_checkpointed(
    run: PartRun<'_>,
    kind: StrategyKind,
    shrink: bool,
    saved: Saved<'_>,
    progress: Box<dyn FnMut(u64)>,
) -> Result<Log, String> {
    let path = saved.path;
    let (preemptions_max, faults_max) = bounds(kind)?;
    let identity = Identity::of(run.scenario, run.config.seed, preemptions_max, faults_max);
    let settings = Settings::of(&run.config, kind, shrink);
    let shown = path.display();
    let Resumed {
        mut next,
        mut log,
        mut dpor,
        ..
    } = read(path, &identity)?.unwrap_or_else(|| Resumed {
        next: 0,
        log: Log::default(),
        dpor: Dpor::new(preemptions_max, faults_max),
        settings,
    });
    let progress = Rc::new(RefCell::new(progress));
    let budget = run.config.executions;
    while !finished(&log) && next < budget {
        let end = next.saturating_add(saved.every).min(budget);
        let mut config = run.config.clone();
        config.executions = end;
        let part = PartRun {
            scenario: run.scenario,
            file: run.file,
            config,
            part: run.part,
            lowest: run.lowest.clone(),
            interrupt: run.interrupt.clone(),
            key_base: 0,
            first: next,
        };
        let (shown_progress, offset) = (progress.clone(), next);
        let count = Box::new(move |done: u64| (shown_progress.borrow_mut())(offset + done));
        let chunk = run_part(part, &mut dpor, count);
        next += chunk.executions.len() as u64;
        // The latest chunk says where the search stands: its coverage and why it stopped
        // replace the earlier chunks' (an interrupt before a resume is not the end).
        let (stop, coverage) = (chunk.stop, chunk.coverage);
        log.absorb(chunk);
        log.stop = stop;
        log.coverage = coverage;
        save(path, &identity, settings, next, &mut log, &dpor)
            .map_err(|error| format!("checkpoint {shown} cannot be written: {error}"))?;
        if stop != Some(StopReason::ExecutionsDone) {
            break;
        }
    }
    Ok(log)
}

/// What [`split`] did, for the command to say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SplitReport {
    /// Executions both parts had run when the search was split: each part's count includes
    /// them, so the whole search ran both counts added, less this.
    pub executions: u64,
    /// The depth (choice point) where the new part's alternative was scheduled.
    pub depth: usize,
    /// The actor the new part runs there: `task N` or a fault's description.
    pub actor: String,
}

/// Splits the search saved at `path` in two (see `Dpor::split_off`): the file at `into`
/// (which must not exist) explores the shallowest alternative the search had scheduled
/// and `path` everything else, each resumed like any checkpoint by a build of the sources
/// that saved it, on any core or machine. Both files keep the identity `path` was saved
/// with, so any build can split a file that only its own build can resume. The new part
/// is written first: if `path` then cannot be rewritten, the alternative is explored twice
/// rather than lost.
pub(crate) fn split(path: &Path, into: &Path) -> Result<SplitReport, String> {
    let shown = path.display();
    let bytes = std::fs::read(path)
        .map_err(|error| format!("checkpoint {shown} cannot be read: {error}"))?;
    let (identity, mut resumed) = load(&bytes, None)
        .map_err(|error| format!("checkpoint {shown} cannot be split: {error}"))?;
    if finished(&resumed.log) {
        return Err(format!(
            "checkpoint {shown} cannot be split: its search has ended ({})",
            if resumed.log.found.is_some() {
                "it failed"
            } else {
                "it exhausted its bounds"
            }
        ));
    }
    if into.exists() {
        return Err(format!(
            "{} exists already: a split writes a new file and never replaces one",
            into.display()
        ));
    }
    let (other, hand_over) = resumed
        .dpor
        .split_off()
        .map_err(|error| format!("checkpoint {shown} cannot be split: {error}"))?;
    // Both parts save the same log: `save` folds it in place and hands it back whole.
    let Resumed {
        next,
        mut log,
        dpor,
        settings,
    } = resumed;
    save(into, &identity, settings, next, &mut log, &other)
        .map_err(|error| format!("{} cannot be written: {error}", into.display()))?;
    save(path, &identity, settings, next, &mut log, &dpor)
        .map_err(|error| format!("checkpoint {shown} cannot be written: {error}"))?;
    Ok(SplitReport {
        executions: next,
        depth: hand_over.node,
        actor: match hand_over.actor {
            Actor::Task(task) => format!("task {}", task.0),
            Actor::Fault(name) => name,
        },
    })
}

/// Whether the logged search has ended for good (it failed, or exhausted its bounds).
fn finished(log: &Log) -> bool {
    log.found.is_some() || log.stop == Some(StopReason::StrategyExhausted)
}

/// How many executions the checkpoint at `path` has run when it can be resumed for this
/// search (`None`: there is no file yet), or why it cannot (for `vigil explore` to refuse
/// before anything runs).
pub(crate) fn status(
    path: &Path,
    scenario: &Scenario,
    seed: u64,
    kind: StrategyKind,
) -> Result<Option<u64>, String> {
    let (preemptions_max, faults_max) = bounds(kind)?;
    let identity = Identity::of(scenario, seed, preemptions_max, faults_max);
    Ok(read(path, &identity)?.map(|resumed| resumed.next))
}

/// The preemption and fault bounds of a dpor search (the only one a checkpoint is kept for).
fn bounds(kind: StrategyKind) -> Result<(u32, u32), String> {
    match kind {
        StrategyKind::Dpor {
            preemptions_max,
            faults_max,
        } => Ok((preemptions_max, faults_max)),
        _ => Err("a checkpoint is only kept for the dpor strategy".into()),
    }
}

/// The search saved at `path` for `identity`, `None` when there is no file yet, or why it
/// cannot be read or resumed.
fn read(path: &Path, identity: &Identity) -> Result<Option<Resumed>, String> {
    let shown = path.display();
    match std::fs::read(path) {
        Ok(bytes) => load(&bytes, Some(identity))
            .map(|(_, resumed)| Some(resumed))
            .map_err(|error| format!("checkpoint {shown} cannot be resumed: {error}")),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(format!("checkpoint {shown} cannot be read: {error}")),
    }
}

fn save(
    path: &Path,
    identity: &Identity,
    settings: Settings,
    next: u64,
    log: &mut Log,
    dpor: &Dpor,
) -> std::io::Result<()> {
    let mut out = Writer::default();
    out.bytes.extend_from_slice(MAGIC);
    identity.write(&mut out);
    out.u64(next);
    // Rows are folded into totals, so the file stays the size of the search's stack. The
    // totals and what is left of the per-execution tables (a failing chunk's) go in binary;
    // the rest of the log in the JSON a shard report uses (without them), which `vigil
    // merge` already reads back.
    log.fold();
    let folded = log.folded;
    out.u64(folded.executions);
    out.u64(folded.distinct_schedules);
    out.u64(folded.checks.0);
    out.u64(folded.checks.1);
    out.bool(folded.dispatch.is_some());
    for count in folded.dispatch.unwrap_or_default().to_row() {
        out.u64(count);
    }
    let executions = std::mem::take(&mut log.executions);
    let schedules = std::mem::take(&mut log.schedules);
    let shard = ShardLog {
        shard: Shard::WHOLE,
        mode: ShardMode::Whole,
        settings,
        log: std::mem::take(log),
    };
    out.str(&shard.to_json().to_string());
    *log = shard.log;
    out.len(executions.len());
    for (key, (read, skipped)) in executions.iter() {
        out.u64(key);
        out.u64(*read);
        out.u64(*skipped);
    }
    out.seq(&schedules.sorted(), |out, (item, key)| {
        out.u64(*item);
        out.u64(*key);
    });
    log.executions = executions;
    log.schedules = schedules;
    dpor.save(&mut out);
    let checksum = fnv1a64_extend(FNV_OFFSET_BASIS, &out.bytes);
    out.u64(checksum);
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, &out.bytes)?;
    std::fs::rename(&partial, path)
}

/// The search saved in `bytes`, and the identity it was saved with: checked against
/// `identity` when one is given, else any (a split keeps the file's own).
fn load(bytes: &[u8], identity: Option<&Identity>) -> Result<(Identity, Resumed), String> {
    let Some(body) = bytes.strip_prefix(MAGIC) else {
        return Err("it does not start as a vigil search checkpoint (format 2) does".into());
    };
    let Some(split) = bytes.len().checked_sub(8).filter(|&at| at >= MAGIC.len()) else {
        return Err("it is truncated".into());
    };
    let (covered, stored) = bytes.split_at(split);
    let stored = u64::from_le_bytes(stored.try_into().expect("eight bytes"));
    if fnv1a64_extend(FNV_OFFSET_BASIS, covered) != stored {
        return Err("its checksum does not match: it is truncated or corrupt".into());
    }
    let mut input = Reader::new(&body[..body.len() - 8]);
    let saved = Identity::read(&mut input)?;
    if let Some(identity) = identity {
        identity.check(&saved)?;
    }
    let next = input.u64("next execution")?;
    let mut folded = Folded {
        executions: input.u64("folded executions")?,
        distinct_schedules: input.u64("folded schedules")?,
        checks: (input.u64("folded checks")?, input.u64("folded checks")?),
        dispatch: None,
    };
    let dispatched = input.bool("folded dispatch flag")?;
    let mut row = [0; DISPATCH_FIELDS];
    for count in &mut row {
        *count = input.u64("folded dispatch tally")?;
    }
    folded.dispatch = dispatched.then(|| DispatchTally::from_row(row));
    let json = input.str("log")?;
    let value: serde_json::Value =
        serde_json::from_str(&json).map_err(|error| format!("its log: {error}"))?;
    let shard = ShardLog::from_json(&value).map_err(|error| format!("its log: {error}"))?;
    let (settings, mut log) = (shard.settings, shard.log);
    let rows = input.seq("execution rows", |input| {
        Ok((
            input.u64("execution")?,
            (input.u64("checks read")?, input.u64("checks skipped")?),
        ))
    })?;
    log.executions = rows.into_iter().collect::<Rows<_>>();
    let mut schedules = FirstSeen::default();
    for (item, key) in input.seq("schedules", |input| {
        Ok((input.u64("schedule digest")?, input.u64("execution")?))
    })? {
        schedules.note(item, key);
    }
    log.schedules = schedules;
    log.folded = folded;
    let dpor = Dpor::restore(saved.preemptions_max, saved.faults_max, &mut input)?;
    if !input.at_end() {
        return Err("it has bytes after the search's state".into());
    }
    let logged = folded.executions.checked_add(log.executions.len() as u64);
    if logged != Some(next) {
        return Err(format!(
            "it logs {} executions and {} more in totals but says {next} ran",
            log.executions.len(),
            folded.executions,
        ));
    }
    Ok((
        saved,
        Resumed {
            next,
            log,
            dpor,
            settings,
        },
    ))
}
