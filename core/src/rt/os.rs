//! The production scheduler: OS threads, the real monotonic clock, a seeded-from-time RNG.
//!
//! This is the only module of `core` allowed to touch `std::thread`, `std::sync::Mutex` and the
//! wall clock; `clippy.toml` bans them everywhere else and the expectations below are the
//! project's only exemptions.

#![expect(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the production scheduler is the one place that maps the seam onto the OS"
)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, PoisonError};
use std::thread::Thread;

use super::{Globals, Instant, Object, Scheduler, Site, TaskId};

/// A short critical-section lock for the bookkeeping inside `core`'s own primitives.
///
/// The closure-only API makes it impossible to hold across a scheduling point, so under
/// simulation (one OS thread, switches only at points) it is never contended. Public for
/// `vigil-sim`'s facade, whose condition variable keeps its waiter queue in one.
#[derive(Debug, Default)]
pub struct RawLock<T>(std::sync::Mutex<T>);

impl<T> RawLock<T> {
    pub const fn new(value: T) -> Self {
        RawLock(std::sync::Mutex::new(value))
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut guard)
    }
}

/// Runs tasks on OS threads with the real clock. The default scheduler of `core`.
#[derive(Debug)]
pub struct OsScheduler {
    globals: Globals,
    epoch: std::time::Instant,
    threads: RawLock<BTreeMap<TaskId, Thread>>,
    next_task: AtomicU32,
    rng_state: AtomicU64,
}

static GLOBAL: LazyLock<Arc<OsScheduler>> = LazyLock::new(|| Arc::new(OsScheduler::new()));

pub(super) fn global() -> Arc<dyn Scheduler> {
    GLOBAL.clone()
}

/// The production scheduler's scheduling point: nothing to do (the OS schedules), so this
/// does not even touch `GLOBAL`.
#[inline]
pub(super) fn point(_site: Site) {}

thread_local! {
    static THREAD_TASK: ThreadTask = const { ThreadTask { id: std::cell::Cell::new(None) } };
}

/// Removes the thread's entry from the registry when the thread exits.
struct ThreadTask {
    id: std::cell::Cell<Option<TaskId>>,
}

impl Drop for ThreadTask {
    fn drop(&mut self) {
        if let Some(id) = self.id.get() {
            GLOBAL.threads.with(|threads| threads.remove(&id));
        }
    }
}

impl OsScheduler {
    fn new() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x5eed, |d| d.as_nanos() as u64);
        OsScheduler {
            globals: Globals::new(),
            epoch: std::time::Instant::now(),
            threads: RawLock::new(BTreeMap::new()),
            next_task: AtomicU32::new(0),
            rng_state: AtomicU64::new(seed),
        }
    }
}

impl Scheduler for OsScheduler {
    fn spawn(&self, name: &str, body: Box<dyn FnOnce() + Send + 'static>) -> TaskId {
        // The id is chosen here and the new thread registers itself before it runs `body`, so
        // spawning does not wait for the thread to start (that round trip made registering
        // thousands of workers slow). Nothing can unpark the task before it registers: an
        // `unpark` names a task that put itself on a wait list, which only its body does.
        let id = TaskId(GLOBAL.next_task.fetch_add(1, Ordering::Relaxed));
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                THREAD_TASK.with(|task| task.id.set(Some(id)));
                GLOBAL
                    .threads
                    .with(|threads| threads.insert(id, std::thread::current()));
                body();
            })
            .expect("[internal bug] the OS refused to spawn a thread");
        id
    }

    fn current(&self) -> TaskId {
        THREAD_TASK.with(|task| match task.id.get() {
            Some(id) => id,
            None => {
                let id = TaskId(GLOBAL.next_task.fetch_add(1, Ordering::Relaxed));
                task.id.set(Some(id));
                GLOBAL
                    .threads
                    .with(|threads| threads.insert(id, std::thread::current()));
                id
            }
        })
    }

    fn point(&self, _site: Site) {}

    fn point_on(&self, site: Site, object: Object<'_>) {
        super::foreign::check(site, object);
    }

    fn park(&self, _site: Site, deadline: Option<Instant>) {
        self.current();
        match deadline {
            None => std::thread::park(),
            Some(deadline) => {
                let remaining = deadline.saturating_duration_since(self.now());
                if !remaining.is_zero() {
                    std::thread::park_timeout(remaining);
                }
            }
        }
    }

    fn unpark(&self, task: TaskId) {
        if let Some(thread) = self.threads.with(|threads| threads.get(&task).cloned()) {
            thread.unpark();
        }
    }

    fn now(&self) -> Instant {
        let nanos = self.epoch.elapsed().as_nanos();
        Instant::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }

    fn globals(&self) -> &Globals {
        &self.globals
    }

    fn random_u64(&self) -> u64 {
        // splitmix64 over a shared counter: good enough for ids, and lock-free.
        let mut z = self
            .rng_state
            .fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed)
            .wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
