//! The stall watchdog: notices an execution that makes no progress for `VIGIL_STALL_SECS` and
//! aborts the process with what is stuck and what to change.
//!
//! The executor switches tasks only at scheduling points, on one OS thread. A model that
//! blocks that thread (a contended `std::sync::Mutex`, a blocking std call such as a std
//! channel's `recv` or `std::thread::sleep`, an endless loop with no scheduling point) hangs
//! the test for ever, and no step of the executor ever runs again to notice. So each executor
//! publishes a [`Progress`] (a step counter, the running task and step), and one watchdog
//! thread per process (started in `crate::workers`) ticks once a second: a running execution
//! whose counter did not move for the limit is reported on stderr and the process aborts,
//! since the stuck thread cannot be unwound from outside. The decision is [`StallDetector`],
//! driven by explicit ticks so it is tested without waiting.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use vigil_core::rt::RawLock;

/// The environment knob: seconds without progress before the watchdog aborts; 0 disables it.
pub const STALL_ENV: &str = "VIGIL_STALL_SECS";
/// The limit when [`STALL_ENV`] is not set.
pub const STALL_SECS_DEFAULT: u64 = 30;

/// What an executor publishes for the watchdog; written only by the executor's thread.
#[derive(Debug, Default)]
pub(crate) struct Progress {
    /// Bumped at every step and every execution start.
    ticks: AtomicU64,
    /// An execution is running (between executions nothing is expected to move).
    running: AtomicBool,
    task: AtomicU32,
    step: AtomicU64,
    /// Task names of the running execution, by id (appended as tasks are created).
    names: RawLock<Vec<String>>,
}

impl Progress {
    pub(crate) fn start_execution(&self) {
        self.names.with(Vec::clear);
        self.ticks.fetch_add(1, Ordering::Relaxed);
        self.running.store(true, Ordering::Release);
    }

    pub(crate) fn end_execution(&self) {
        self.running.store(false, Ordering::Release);
    }

    pub(crate) fn add_task(&self, name: &str) {
        self.names.with(|names| names.push(name.to_owned()));
    }

    /// A step of `task` is about to run.
    pub(crate) fn step(&self, task: u32, step: u64) {
        self.task.store(task, Ordering::Relaxed);
        self.step.store(step, Ordering::Relaxed);
        self.ticks.fetch_add(1, Ordering::Release);
    }

    fn stalled_view(&self, secs: u64) -> StallView {
        let task = self.task.load(Ordering::Relaxed);
        let name = self
            .names
            .with(|names| names.get(task as usize).cloned())
            .unwrap_or_else(|| "?".to_owned());
        StallView {
            task,
            name,
            step: self.step.load(Ordering::Relaxed),
            secs,
        }
    }
}

/// Decides, one tick at a time, whether an execution has stalled.
#[derive(Debug)]
pub(crate) struct StallDetector {
    ticks_max: u64,
    last: Option<u64>,
    still: u64,
}

impl StallDetector {
    /// Stalled after `ticks_max` ticks in a row that saw a running execution and no progress.
    pub(crate) fn new(ticks_max: u64) -> StallDetector {
        StallDetector {
            ticks_max,
            last: None,
            still: 0,
        }
    }

    /// One tick: whether the execution counts as stalled now. An idle executor (between
    /// executions, or done) and any movement of the counter start the count afresh.
    pub(crate) fn tick(&mut self, running: bool, progress: u64) -> bool {
        if !running || self.last != Some(progress) {
            // An idle tick learns nothing: the next running one starts the count.
            self.last = running.then_some(progress);
            self.still = 0;
            return false;
        }
        self.still += 1;
        self.still >= self.ticks_max
    }
}

/// Where an execution is stuck, for the message.
#[derive(Debug)]
pub(crate) struct StallView {
    pub(crate) task: u32,
    pub(crate) name: String,
    pub(crate) step: u64,
    pub(crate) secs: u64,
}

/// What the watchdog prints before it aborts.
pub(crate) fn stall_message(view: &StallView) -> String {
    format!(
        "vigil: no progress for {secs} s: task t{task} '{name}' has been running step {step} \
         all that time, and the simulator switches tasks only at scheduling points.\n\
         Likely causes:\n  \
         - a std lock (std::sync::Mutex, RwLock, Condvar) contended between simulated tasks: \
         use vigil_sim::sync's;\n  \
         - a blocking std call (std::sync::mpsc recv, std::thread::sleep or join, blocking \
         I/O): use vigil_sim::sync::mpsc, vigil_sim::thread::sleep and the facade's join;\n  \
         - an endless loop with no scheduling point (spinning on a plain variable): spin on a \
         facade atomic, or call vigil_sim::thread::yield_now in the loop.\n\
         Aborting, as the stuck thread cannot be unwound. Set {env}=0 to disable this \
         watchdog, or to more seconds if a step is really that slow.",
        secs = view.secs,
        task = view.task,
        name = view.name,
        step = view.step,
        env = STALL_ENV,
    )
}

/// The limit in seconds from the environment (0: disabled). A value that is not a number is
/// reported once on stderr and the default is used.
fn stall_secs() -> u64 {
    static SECS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *SECS.get_or_init(|| match std::env::var(STALL_ENV) {
        Err(_) => STALL_SECS_DEFAULT,
        Ok(text) => text.trim().parse().unwrap_or_else(|_| {
            eprintln!(
                "vigil: {STALL_ENV}={text:?} is not a whole number of seconds; using the \
                 default of {STALL_SECS_DEFAULT} (0 disables the stall watchdog)"
            );
            STALL_SECS_DEFAULT
        }),
    })
}

/// Executors being watched, each with its detector.
static WATCHED: RawLock<Vec<(Weak<Progress>, StallDetector)>> = RawLock::new(Vec::new());

/// A progress record for a new executor, watched unless the watchdog is disabled.
pub(crate) fn watch() -> Arc<Progress> {
    let progress = Arc::new(Progress::default());
    let secs = stall_secs();
    if secs > 0 {
        WATCHED.with(|watched| watched.push((Arc::downgrade(&progress), StallDetector::new(secs))));
        crate::workers::start_watchdog(tick_all);
    }
    progress
}

/// One watchdog tick (a second): checks every live executor, forgets the dropped ones, and
/// aborts on a stall.
fn tick_all() {
    let secs = stall_secs();
    let stalled = WATCHED.with(|watched| {
        watched.retain(|(progress, _)| progress.strong_count() > 0);
        watched.iter_mut().find_map(|(progress, detector)| {
            let progress = progress.upgrade()?;
            let running = progress.running.load(Ordering::Acquire);
            let ticks = progress.ticks.load(Ordering::Acquire);
            detector
                .tick(running, ticks)
                .then(|| progress.stalled_view(secs))
        })
    });
    if let Some(view) = stalled {
        eprintln!("{}", stall_message(&view));
        std::process::abort();
    }
}

#[cfg(test)]
mod tests;
