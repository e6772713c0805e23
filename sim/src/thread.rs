//! A `std::thread`-shaped facade: spawn, join, park, sleep and yield on the scheduler seam.
//!
//! Each thread is a task of the current scheduler: a coroutine under `vigil_sim::run`, an OS
//! thread in production. Unnamed threads appear in traces as `thread-1`, `thread-2`, ... in
//! spawn order (counted afresh in every simulated execution, so replays line up);
//! [`Builder::name`] names one.
//!
//! # Differences from `std::thread`
//!
//! - **Panics.** Under simulation a panic in a spawned thread is a bug the run reports
//!   (`FailureKind::Panic`), so [`JoinHandle::join`] returns `Err` only in production or for
//!   a deliberate fault whose message starts with
//!   [`INJECTED_FAULT_MARKER`](crate::INJECTED_FAULT_MARKER). The `Err` payload is always the
//!   panic message as a `String`, also for `panic!("literal")`.
//! - **Parking.** [`park`] returns spuriously at most [`SPURIOUS_WAKEUPS_MAX`] times per task
//!   (a recorded random choice); [`park_timeout`] never does.
//! - **Time.** [`sleep`] and [`park_timeout`] use the scheduler's clock: virtual time under
//!   simulation, which passes only when every task is blocked.
//! - **Names.** [`Thread::name`] is `None` for unnamed threads and for the main task.
//! - **Not provided:** `thread_local!`. Simulated tasks share one OS thread, so a std
//!   `thread_local!` is shared by all of them; keep per-task state in the closure.

use std::any::Any;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use vigil_core::rt::{self, Op, RawLock, Scheduler, Site, TaskId};
use vigil_core::sync::Mutex;
use vigil_core::thread as core_thread;

mod scoped;

pub use scoped::{Scope, ScopedJoinHandle, scope};

/// Per-run thread bookkeeping, kept in the scheduler's globals so that every simulated
/// execution starts from `thread-1` with no names registered.
struct Threads {
    unnamed_spawned: AtomicU32,
    /// Spurious wake-ups each task has had from [`park`], against [`SPURIOUS_WAKEUPS_MAX`].
    /// A raw lock: bookkeeping, not a scheduling point.
    spurious: RawLock<Vec<(TaskId, u32)>>,
    /// Whether any named thread was ever spawned; until then `current()` skips the lookup,
    /// and so adds no scheduling points.
    any_named: AtomicBool,
    named: Mutex<Vec<(TaskId, Arc<str>)>>,
}

fn threads() -> Arc<Threads> {
    rt::current().globals().get_or_init(|| Threads {
        unnamed_spawned: AtomicU32::new(0),
        spurious: RawLock::new(Vec::new()),
        any_named: AtomicBool::new(false),
        named: Mutex::named("thread.names", Vec::new()),
    })
}

/// A named thread's entry in [`Threads::named`], removed when the thread's body ends.
struct NameEntry {
    threads: Arc<Threads>,
    task: TaskId,
}

impl NameEntry {
    fn register(name: Arc<str>) -> NameEntry {
        let threads = threads();
        let task = rt::current().current();
        threads.any_named.store(true, Ordering::Release);
        threads.named.lock().push((task, name));
        NameEntry { threads, task }
    }
}

impl Drop for NameEntry {
    fn drop(&mut self) {
        let task = self.task;
        self.threads
            .named
            .lock()
            .retain(|(named, _)| *named != task);
    }
}

/// Thread configuration, as in std. Only the name has an effect.
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the thread; the name shows in traces and in [`Thread::name`].
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// Accepted and ignored: simulated tasks all get the executor's stack size.
    pub fn stack_size(self, _size: usize) -> Builder {
        self
    }

    /// Spawns the thread. Never `Err`: when a simulated execution runs out of tasks the
    /// execution itself ends with `FailureKind::TaskLimit`.
    pub fn spawn<F, T>(self, body: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (inner, thread) = self.spawn_task(body);
        Ok(JoinHandle { inner, thread })
    }

    /// Spawns a thread of `scope` that may borrow what outlives the scope (see [`scope`]).
    /// Never `Err`, as [`spawn`](Self::spawn).
    pub fn spawn_scoped<'scope, 'env, F, T>(
        self,
        scope: &'scope Scope<'scope, 'env>,
        body: F,
    ) -> io::Result<ScopedJoinHandle<'scope, T>>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        Ok(scoped::spawn(self, scope, body))
    }

    /// Names the task and spawns `body` as it; the name is registered for [`current`].
    fn spawn_task<F, T>(self, body: F) -> (core_thread::JoinHandle<T>, Thread)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let name: Option<Arc<str>> = self.name.map(Arc::from);
        let task_name = match &name {
            Some(name) => name.to_string(),
            None => {
                let count = threads().unnamed_spawned.fetch_add(1, Ordering::Relaxed) + 1;
                format!("thread-{count}")
            }
        };
        let registered = name.clone();
        let inner = core_thread::spawn(&task_name, move || {
            let _entry = registered.map(NameEntry::register);
            body()
        });
        let thread = Thread {
            id: ThreadId(inner.id()),
            name,
        };
        (inner, thread)
    }
}

/// Spawns `body` as a new thread (task) of the current scheduler.
pub fn spawn<F, T>(body: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    Builder::new()
        .spawn(body)
        .expect("[internal bug] Builder::spawn returned an error")
}

/// Owns a spawned thread; [`join`](Self::join) waits for it. Dropping it detaches the thread.
pub struct JoinHandle<T> {
    inner: core_thread::JoinHandle<T>,
    thread: Thread,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish; `Err` with the panic message when it panicked (see
    /// the module docs for when that can happen under simulation).
    pub fn join(self) -> std::thread::Result<T> {
        self.inner
            .join()
            .map_err(|error| -> Box<dyn Any + Send + 'static> { Box::new(error.message) })
    }

    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has finished, without a scheduling point.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.thread)
            .finish()
    }
}

/// A thread's identity: the scheduler's task id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadId(TaskId);

/// A handle to a thread, for its id, its name and [`unpark`](Self::unpark).
#[derive(Clone, Debug)]
pub struct Thread {
    id: ThreadId,
    name: Option<Arc<str>>,
}

impl Thread {
    pub fn id(&self) -> ThreadId {
        self.id
    }

    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Wakes the thread from [`park`], or lets its next `park` return at once. A scheduling
    /// point (`thread.unpark step`).
    pub fn unpark(&self) {
        let scheduler = rt::current();
        scheduler.point(Site::step("thread.unpark"));
        scheduler.unpark(self.id.0);
    }
}

/// The calling thread.
pub fn current() -> Thread {
    let task = rt::current().current();
    let threads = threads();
    let name = if threads.any_named.load(Ordering::Acquire) {
        let named = threads.named.lock();
        named
            .iter()
            .find(|(named, _)| *named == task)
            .map(|(_, name)| name.clone())
    } else {
        None
    };
    Thread {
        id: ThreadId(task),
        name,
    }
}

/// How many times [`park`] may return spuriously in one task, per simulated execution (and
/// per thread outside simulation). Bounded so that a model which parks in a loop still ends.
pub const SPURIOUS_WAKEUPS_MAX: u32 = 2;

/// Blocks until [`Thread::unpark`] (or returns at once if a wakeup is pending). May return
/// spuriously, as std allows: until the task has used up [`SPURIOUS_WAKEUPS_MAX`], each park
/// draws a random number (a recorded choice, `draw` in traces) and returns at once on an odd
/// one, without consuming a pending unpark. So a model that parks without re-checking its
/// condition in a loop fails under the random walk and PCT, and replays reproduce it; DFS and
/// DPOR take such draws from their seeded generator and do not enumerate both outcomes.
pub fn park() {
    let scheduler = rt::current();
    let site = Site::new("thread", Op::Park);
    scheduler.point(site);
    if wakes_spuriously(&*scheduler) {
        return;
    }
    scheduler.park(site, None);
}

/// Draws whether this park returns spuriously, while the task has budget left.
fn wakes_spuriously(scheduler: &dyn Scheduler) -> bool {
    let me = scheduler.current();
    let threads = threads();
    let used = threads.spurious.with(|spent| {
        spent
            .iter()
            .find(|(task, _)| *task == me)
            .map_or(0, |(_, used)| *used)
    });
    if used >= SPURIOUS_WAKEUPS_MAX || scheduler.random_u64() & 1 == 0 {
        return false;
    }
    threads.spurious.with(
        |spent| match spent.iter_mut().find(|(task, _)| *task == me) {
            Some((_, used)) => *used += 1,
            None => spent.push((me, 1)),
        },
    );
    true
}

/// Like [`park`], but returns after at most `timeout` of scheduler time.
pub fn park_timeout(timeout: Duration) {
    let scheduler = rt::current();
    let site = Site::new("thread", Op::Park);
    let deadline = scheduler.now().saturating_add(timeout);
    scheduler.point(site);
    scheduler.park(site, Some(deadline));
}

/// A scheduling point that lets other threads run (`thread yield`).
pub fn yield_now() {
    rt::yield_now();
}

/// Blocks for `duration` of scheduler time (virtual under simulation).
pub fn sleep(duration: Duration) {
    rt::sleep(duration);
}
