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
//! - **Names.** [`Thread::name`] is `None` for unnamed threads and for the main task. A name
//!   lives with its task (not in the execution's globals), so a thread that outlives the main
//!   task keeps it.
//! - **`thread_local!`.** [`thread_local!`](crate::thread_local) takes std's syntax and gives a
//!   [`LocalKey`] whose value is per *simulated task* (std's would be shared by every task, as
//!   they all run on one OS thread), initialised lazily, fresh in every execution. Destructors
//!   run when the task's body returns, inside the task (so they may lock, send or touch other
//!   keys), latest-initialised first; a key already destroyed gives [`AccessError`] (`with`
//!   panics), a key not yet touched is initialised and destroyed in turn. The main task's run
//!   when the model returns, before the execution's globals are cleared (std does not promise
//!   to run the main thread's at all). An execution that fails leaks the values of tasks that
//!   never ended, with everything else those tasks own (see the executor). Outside simulation
//!   a key is std's thread-local of the OS thread.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use vigil_core::rt::{self, Op, Scheduler, Site, TaskId};
use vigil_core::thread as core_thread;

pub(crate) mod local;
mod scoped;

pub use local::{AccessError, LocalKey};
pub use scoped::{Scope, ScopedJoinHandle, scope};

/// Per-run thread bookkeeping, kept in the scheduler's globals so that every simulated
/// execution starts from `thread-1`. Names and spurious-wakeup budgets are per task, in the
/// task's own storage (see `local`), so they outlive the end of the main task.
struct Threads {
    unnamed_spawned: AtomicU32,
}

fn threads() -> Arc<Threads> {
    rt::current().globals().get_or_init(|| Threads {
        unnamed_spawned: AtomicU32::new(0),
    })
}

std::thread_local! {
    /// Outside simulation, the calling OS thread's name as given to [`Builder::name`].
    static OS_NAME: RefCell<Option<Arc<str>>> = const { RefCell::new(None) };
    /// Outside simulation, the spurious wake-ups `park` gave the calling OS thread.
    static OS_SPURIOUS: Cell<u32> = const { Cell::new(0) };
}

/// Records the calling task's name (in its storage, or the OS thread's outside simulation).
fn register_name(name: Arc<str>) {
    let stored =
        crate::executor::with_locals(|store| *store.name.borrow_mut() = Some(name.clone()));
    if stored.is_none() {
        OS_NAME.with(|slot| *slot.borrow_mut() = Some(name));
    }
}

/// The calling task's name, if it was given one.
fn current_name() -> Option<Arc<str>> {
    crate::executor::with_locals(|store| store.name.borrow().clone())
        .unwrap_or_else(|| OS_NAME.with(|slot| slot.borrow().clone()))
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
            if let Some(name) = registered {
                register_name(name);
            }
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
    Thread {
        id: ThreadId(task),
        name: current_name(),
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
/// DPOR enumerate both outcomes of each such draw.
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
    let used = crate::executor::with_locals(|store| store.spurious.get())
        .unwrap_or_else(|| OS_SPURIOUS.with(Cell::get));
    // Two outcomes, staying parked first: systematic strategies try both.
    if used >= SPURIOUS_WAKEUPS_MAX || scheduler.random_choice(&[0, 1]) & 1 == 0 {
        return false;
    }
    let counted = crate::executor::with_locals(|store| store.spurious.set(used + 1));
    if counted.is_none() {
        OS_SPURIOUS.with(|spent| spent.set(used + 1));
    }
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
