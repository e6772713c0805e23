//! Execution traces: one compact event per scheduler action, rendered lazily as stable text.
//!
//! The executor records events as small `Copy` structs while it runs and renders them as text
//! only when someone asks (a failure report, a determinism comparison, a digest), so the hot
//! path never formats strings.
//!
//! # Text format
//!
//! [`Trace::render`] writes one header line and then one line per event, in fixed columns
//! separated by two spaces:
//!
//! ```text
//!   step            time  task                                  site                      op
//!      0  0.000000000s  t0 main                               -                         start
//!      1  0.000000000s  t0 main                               thread                    spawn
//!      1  0.000000000s  t0 main                               -                         spawn t1 worker
//! ```
//!
//! - `step`: the step during which the event happened (right-aligned, 6 wide). A step resumes
//!   one task at its pending scheduling point and runs it to its next one; events between steps
//!   (a timer firing, an externally spawned task) carry the number of the step that follows.
//! - `time`: virtual time in seconds with nanosecond precision. It starts at zero in every
//!   execution and is the only time that ever appears in a trace.
//! - `task`: the acting task as `t<id> <name>` (left-aligned, 36 wide).
//! - `site`: the name of the scheduling point involved, or `-` (left-aligned, 24 wide).
//! - `op`: what happened. The operation of a scheduling point (`lock`, `recv`, ...) when a task
//!   proceeds past it; `<op> (woken)` when a task resumes after a park; `park` or
//!   `park until <time>` when it blocks; `park (token)` / `park (deadline passed)` when a park
//!   returns at once; `<op> (timed out)` when the clock jumped to wake it; `<op> (unwinding)`
//!   for a point reached while a panic unwinds (it never switches tasks); `unpark t<id>`,
//!   `unpark t<id> (token)`, `spawn t<id> <name>`, `spawn (external)` (on the new task's own line),
//!   `draw 0x<16 hex digits>`, `panic: <message>`, `injected fault: <message>`,
//!   `FAULT <what fired and why>` (a fault from the fault plan), `start`, `finish`,
//!   `unlock (no switch)` (a release that was not a scheduling point, traced for reports).
//!
//! Wider values overflow their column rather than being cut. Messages are rendered on one
//! line (newlines escaped). Traces contain no addresses, no wall-clock time and no
//! hash-ordered output, so equal executions render byte-identical text; [`Trace::digest`] is
//! FNV-1a 64 over that text.

use std::fmt::Write as _;

use vigil_core::rt::{Instant, Site, TaskId};

/// The events of one execution, with the task names and messages they refer to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    events: Vec<Event>,
    names: Vec<String>,
    texts: Vec<String>,
}

/// One event as a report draws it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Mark {
    pub(crate) step: u64,
    pub(crate) task: TaskId,
    pub(crate) kind: MarkKind,
    pub(crate) label: String,
    /// The scheduling point's name, or `-`.
    pub(crate) site: &'static str,
    /// The operation, as in the trace's `op` column.
    pub(crate) op: String,
}

/// How a report draws an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MarkKind {
    /// The task ran past a scheduling point (a scheduling decision).
    Run,
    Start,
    Block,
    Fault,
    Panic,
    Injected,
    Finish,
    Other,
}

/// One recorded event. `Copy` and small: recording one is a push onto a reused `Vec`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) step: u64,
    pub(crate) now: Instant,
    pub(crate) task: TaskId,
    pub(crate) kind: EventKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    Start,
    Point(Site),
    PointUnwinding(Site),
    Resume(Site),
    /// An operation recorded without a scheduling point (an unlock nobody waited for).
    Access(Site),
    Block(Site, Option<Instant>),
    ParkToken(Site),
    ParkExpired(Site),
    Timeout(Site),
    Unpark(TaskId),
    Token(TaskId),
    Spawn(TaskId),
    External,
    Draw(u64),
    /// Index into the trace's texts.
    Panic(u32),
    /// Index into the trace's texts.
    Injected(u32),
    /// A fault fired; index into the trace's texts.
    Fault(u32),
    Finish,
}

/// Which task took the most steps of an execution, and where it spent most of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Busiest {
    pub(crate) task: TaskId,
    pub(crate) steps: u64,
    pub(crate) site: Option<Site>,
    pub(crate) site_steps: u64,
}

impl Trace {
    /// The task that ran the most steps (each step resumes one task at a scheduling point)
    /// and its most frequent site.
    pub(crate) fn busiest(&self) -> Option<Busiest> {
        let mut per_task: std::collections::BTreeMap<TaskId, u64> = Default::default();
        for event in &self.events {
            if let EventKind::Point(_) | EventKind::Resume(_) = event.kind {
                *per_task.entry(event.task).or_default() += 1;
            }
        }
        let (&task, &steps) = per_task
            .iter()
            .max_by_key(|(task, steps)| (**steps, std::cmp::Reverse(**task)))?;
        let mut per_site: std::collections::BTreeMap<(&str, &str), (Site, u64)> =
            Default::default();
        for event in self.events.iter().filter(|event| event.task == task) {
            if let EventKind::Point(site) | EventKind::Resume(site) = event.kind {
                per_site
                    .entry((site.name, site.op.as_str()))
                    .or_insert((site, 0))
                    .1 += 1;
            }
        }
        let busiest_site = per_site.values().max_by_key(|(_, count)| *count).copied();
        Some(Busiest {
            task,
            steps,
            site: busiest_site.map(|(site, _)| site),
            site_steps: busiest_site.map_or(0, |(_, count)| count),
        })
    }

    /// The number of events.
    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    /// The column header that [`Trace::render`] puts first.
    pub fn header() -> String {
        format!(
            "{:>6}  {:>14}  {:<36}  {:<24}  {}",
            "step", "time", "task", "site", "op"
        )
    }

    /// Event `idx` as one line of text (no newline), or `None` past the end.
    pub fn line(&self, idx: usize) -> Option<String> {
        let event = self.events.get(idx)?;
        let mut out = String::with_capacity(96);
        self.write_line(&mut out, event);
        Some(out)
    }

    /// The whole trace: the header, then one line per event, each ending in a newline.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(80 + self.events.len() * 80);
        out.push_str(&Self::header());
        out.push('\n');
        for event in &self.events {
            self.write_line(&mut out, event);
            out.push('\n');
        }
        out
    }

    /// The names of the execution's tasks, indexed by task id.
    pub fn task_names(&self) -> &[String] {
        &self.names
    }

    /// The events as report marks: which task acted at which step, and how.
    pub(crate) fn marks(&self) -> Vec<Mark> {
        self.events
            .iter()
            .map(|event| {
                let (site, op) = self.site_and_op(event.kind);
                let kind = match event.kind {
                    EventKind::Fault(_) => MarkKind::Fault,
                    EventKind::Panic(_) => MarkKind::Panic,
                    EventKind::Injected(_) => MarkKind::Injected,
                    EventKind::Block(..) => MarkKind::Block,
                    EventKind::Finish => MarkKind::Finish,
                    EventKind::Start | EventKind::External => MarkKind::Start,
                    EventKind::Point(_) | EventKind::Resume(_) => MarkKind::Run,
                    _ => MarkKind::Other,
                };
                Mark {
                    step: event.step,
                    task: event.task,
                    kind,
                    label: if site == "-" {
                        op.clone()
                    } else {
                        format!("{site} {op}")
                    },
                    site,
                    op,
                }
            })
            .collect()
    }

    /// The last `count` lines (fewer when the trace is shorter), oldest first, no header.
    pub fn tail(&self, count: usize) -> Vec<String> {
        let first = self.events.len().saturating_sub(count);
        (first..self.events.len())
            .filter_map(|idx| self.line(idx))
            .collect()
    }

    /// FNV-1a 64 of [`Trace::render`]: equal traces have equal digests on every platform.
    pub fn digest(&self) -> u64 {
        fnv1a64(self.render().as_bytes())
    }

    /// The name of task `task` in this execution.
    pub fn task_name(&self, task: TaskId) -> Option<&str> {
        self.names.get(task.0 as usize).map(String::as_str)
    }

    /// The index of the first event that differs from `other`'s, or `None` when equal.
    /// When one trace is a prefix of the other, the index is the shorter one's length.
    pub fn first_difference(&self, other: &Trace) -> Option<usize> {
        let shared = self.events.len().min(other.events.len());
        (0..shared)
            .find(|&idx| !self.same_event(other, idx))
            .or((self.events.len() != other.events.len()).then_some(shared))
    }

    /// Events are compared with their referenced names and texts resolved.
    fn same_event(&self, other: &Trace, idx: usize) -> bool {
        let (mine, theirs) = (&self.events[idx], &other.events[idx]);
        if mine != theirs {
            return false;
        }
        let names_equal = self.task_name(mine.task) == other.task_name(theirs.task);
        let texts_equal = match mine.kind {
            EventKind::Panic(text) | EventKind::Injected(text) | EventKind::Fault(text) => {
                self.texts.get(text as usize) == other.texts.get(text as usize)
            }
            EventKind::Spawn(child) | EventKind::Unpark(child) | EventKind::Token(child) => {
                self.task_name(child) == other.task_name(child)
            }
            _ => true,
        };
        names_equal && texts_equal
    }

    /// The step of event `idx`.
    pub(crate) fn step_of(&self, idx: usize) -> Option<u64> {
        self.events.get(idx).map(|event| event.step)
    }

    pub(crate) fn clear(&mut self) {
        self.events.clear();
        self.names.clear();
        self.texts.clear();
    }

    pub(crate) fn push(&mut self, event: Event) {
        self.events.push(event);
    }

    /// Registers the name of the next task id.
    pub(crate) fn push_name(&mut self, name: String) {
        self.names.push(name);
    }

    /// Stores a message and returns the index an event refers to it by.
    pub(crate) fn push_text(&mut self, text: String) -> u32 {
        let idx = u32::try_from(self.texts.len()).expect("[internal bug] more than 2^32 texts");
        self.texts.push(text);
        idx
    }

    fn write_line(&self, out: &mut String, event: &Event) {
        let nanos = event.now.as_nanos();
        let time = format!("{}.{:09}s", nanos / 1_000_000_000, nanos % 1_000_000_000);
        let task = self.task_label(event.task);
        let (site, op) = self.site_and_op(event.kind);
        let _ = write!(
            out,
            "{:>6}  {time:>14}  {task:<36}  {site:<24}  {op}",
            event.step
        );
    }

    fn task_label(&self, task: TaskId) -> String {
        format!("{task} {}", self.task_name(task).unwrap_or("?"))
    }

    fn text(&self, idx: u32) -> String {
        // One line per event: line breaks and control characters are escaped, quotes are not.
        let text = self.texts.get(idx as usize).map_or("?", String::as_str);
        text.chars()
            .flat_map(|c| {
                let escaped: Vec<char> = if c.is_control() {
                    c.escape_default().collect()
                } else {
                    vec![c]
                };
                escaped
            })
            .collect()
    }

    fn site_and_op(&self, kind: EventKind) -> (&'static str, String) {
        match kind {
            EventKind::Start => ("-", "start".to_owned()),
            EventKind::Point(site) => (site.name, site.op.as_str().to_owned()),
            EventKind::PointUnwinding(site) => {
                (site.name, format!("{} (unwinding)", site.op.as_str()))
            }
            EventKind::Resume(site) => (site.name, format!("{} (woken)", site.op.as_str())),
            EventKind::Access(site) => (site.name, format!("{} (no switch)", site.op.as_str())),
            EventKind::Block(site, None) => (site.name, "park".to_owned()),
            EventKind::Block(site, Some(deadline)) => {
                let nanos = deadline.as_nanos();
                let until = format!("{}.{:09}s", nanos / 1_000_000_000, nanos % 1_000_000_000);
                (site.name, format!("park until {until}"))
            }
            EventKind::ParkToken(site) => (site.name, "park (token)".to_owned()),
            EventKind::ParkExpired(site) => (site.name, "park (deadline passed)".to_owned()),
            EventKind::Timeout(site) => (site.name, format!("{} (timed out)", site.op.as_str())),
            EventKind::Unpark(target) => ("-", format!("unpark {target}")),
            EventKind::Token(target) => ("-", format!("unpark {target} (token)")),
            EventKind::Spawn(child) => ("-", format!("spawn {}", self.task_label(child))),
            EventKind::External => ("-", "spawn (external)".to_owned()),
            EventKind::Draw(value) => ("-", format!("draw {value:#018x}")),
            EventKind::Panic(text) => ("-", format!("panic: {}", self.text(text))),
            EventKind::Injected(text) => ("-", format!("injected fault: {}", self.text(text))),
            EventKind::Fault(text) => ("-", format!("FAULT {}", self.text(text))),
            EventKind::Finish => ("-", "finish".to_owned()),
        }
    }
}

/// FNV-1a, 64-bit: a tiny, stable, platform-independent digest (not for security).
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    fnv1a64_extend(FNV_OFFSET_BASIS, bytes)
}

/// The FNV-1a 64 starting value, for hashing in pieces with [`fnv1a64_extend`].
pub(crate) const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// Continues an FNV-1a 64 hash over more bytes.
pub(crate) fn fnv1a64_extend(hash: u64, bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(hash, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    })
}

#[cfg(test)]
mod tests;
