//! The runtime seam: the `Scheduler` trait every other module in `core` is written against.
//!
//! `core` touches concurrency, time and randomness only through this module. The production
//! implementation (`os.rs`) runs tasks on OS threads with the real clock; `vigil-sim` installs a
//! deterministic one that runs every task as a coroutine on one thread and switches only at the
//! scheduling points declared here.

mod foreign;
mod os;

use std::any::{Any, TypeId};
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub use foreign::{generation_ended, generation_started, take_foreign_use};
pub use os::OsScheduler;
pub use os::RawLock;

/// Identifies one task of a scheduler. Ids are small, dense and never reused within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t{}", self.0)
    }
}

/// What a task is about to do at a scheduling point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    Lock,
    /// `try_lock`: takes the mutex if it is free and never waits (a search must try it while
    /// the mutex is held, where a `Lock` would only wait).
    TryLock,
    Unlock,
    /// A shared (read) lock attempt on a reader-writer lock: it only reads the lock, so two
    /// of them commute; a write lock attempt is an ordinary `Lock`.
    Read,
    /// The release of a shared lock: a read too, for the same reason.
    ReadUnlock,
    Load,
    Store,
    Rmw,
    Send,
    Recv,
    Spawn,
    Join,
    Park,
    Yield,
    /// A named step of the pool with no memory effect of its own, such as `pool.insert`.
    Step,
}

impl Op {
    /// Whether the operation only reads its object (so two of them commute, for a scheduler
    /// that reduces by dependencies): a load, a join, a shared lock and its release.
    pub fn only_reads(self) -> bool {
        matches!(self, Op::Load | Op::Join | Op::Read | Op::ReadUnlock)
    }

    /// The lower-case word used in traces and schedule files.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lock => "lock",
            Op::TryLock => "try_lock",
            Op::Unlock => "unlock",
            Op::Read => "read",
            Op::ReadUnlock => "read_unlock",
            Op::Load => "load",
            Op::Store => "store",
            Op::Rmw => "rmw",
            Op::Send => "send",
            Op::Recv => "recv",
            Op::Spawn => "spawn",
            Op::Join => "join",
            Op::Park => "park",
            Op::Yield => "yield",
            Op::Step => "step",
        }
    }
}

/// A scheduling point: a static name for the shared object or pool step, and the operation.
///
/// Faults and replays target sites by name (`pool.insert`, `monitor.arm`), so names are part of
/// the public contract of `core`: renaming one breaks recorded schedules that mention it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Site {
    pub name: &'static str,
    pub op: Op,
}

impl Site {
    pub const fn new(name: &'static str, op: Op) -> Self {
        Site { name, op }
    }

    /// A named pool step with no memory effect (`Op::Step`).
    pub const fn step(name: &'static str) -> Self {
        Site { name, op: Op::Step }
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.name, self.op.as_str())
    }
}

/// The identity of one shared object (a mutex, an atomic, a channel, a once-cell), for a
/// scheduler that tracks which operations touch the same object (partial-order reduction).
///
/// Addresses would do within one run, but they differ between runs and get reused after a
/// drop, so a simulator could not tell two executions apart from their ids. Instead the
/// scheduler hands out small numbers in the order objects are first touched, which a replayed
/// prefix of an execution reproduces exactly. The cell remembers the number together with the
/// generation (execution) it belongs to, so an object that outlives an execution (a `static`)
/// is numbered afresh in the next one.
#[derive(Debug, Default)]
pub struct ObjectId(AtomicU64);

impl ObjectId {
    pub const fn new() -> Self {
        ObjectId(AtomicU64::new(0))
    }

    /// The number of this object in `generation` (which must not be zero), calling `assign`
    /// for a fresh one the first time the object is touched in that generation.
    pub fn resolve(&self, generation: u32, assign: impl FnOnce() -> u32) -> u32 {
        let stored = self.0.load(Ordering::Relaxed);
        if stored >> 32 == u64::from(generation) {
            return stored as u32;
        }
        let fresh = assign();
        self.0.store(
            (u64::from(generation) << 32) | u64::from(fresh),
            Ordering::Relaxed,
        );
        fresh
    }
}

/// What the operation at a scheduling point touches, for [`Scheduler::point_on`].
#[derive(Clone, Copy, Debug)]
pub enum Object<'a> {
    /// A shared object of `core::sync`.
    Shared(&'a ObjectId),
    /// A task: joining it reads its end.
    Task(TaskId),
}

/// A point on a scheduler's monotonic clock, in nanoseconds since the scheduler's epoch.
///
/// Under simulation this is virtual time; it starts at zero for every execution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    pub const ZERO: Instant = Instant(0);

    pub const fn from_nanos(nanos: u64) -> Self {
        Instant(nanos)
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// `self + duration`, saturating at the end of time.
    pub fn saturating_add(self, duration: Duration) -> Instant {
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        Instant(self.0.saturating_add(nanos))
    }

    /// The time from `earlier` to `self`, or zero when `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

/// The runtime seam. Implementations decide which task runs, when time passes and where
/// random numbers come from.
///
/// # Contract
///
/// - `point` is called before every operation on shared state that another task can observe
///   apart from its neighbours, made through `core`'s primitives (every lock, contended unlock,
///   atomic load/store/read-modify-write, channel send/recv and park) and at named pool steps.
///   A deterministic scheduler may switch tasks there and nowhere else. Operations no other
///   task can tell apart from the step they fall in (an uncontended unlock after a critical
///   section with a point in it, a spawn, a join) are reported through `access` instead.
/// - `park` blocks the calling task until `unpark` names it or the deadline passes. An
///   `unpark` that arrives before the `park` is remembered (one token per task), so a waiter
///   that registers itself and then parks never loses its wakeup. `park` may return spuriously;
///   callers re-check their condition in a loop.
/// - `spawn` starts `body` as a new task. The body never unwinds into the scheduler: `core`
///   catches panics in its spawn wrapper and reports them through `task_panicked`.
/// - `now` is monotonic. `random_u64` is the only source of randomness in `core`.
pub trait Scheduler: Send + Sync + 'static {
    /// Starts `body` as a new task named `name` and returns its id.
    fn spawn(&self, name: &str, body: Box<dyn FnOnce() + Send + 'static>) -> TaskId;
    /// The id of the calling task.
    fn current(&self) -> TaskId;
    /// A scheduling point before the operation described by `site`.
    fn point(&self, site: Site);
    /// A scheduling point before `site`'s operation on `object`. Schedulers that reduce the
    /// interleavings they explore use the object to tell which operations commute; the
    /// default ignores it.
    fn point_on(&self, site: Site, object: Object<'_>) {
        let _ = object;
        self.point(site);
    }
    /// Counts `site`'s operation on `object` into the calling task's current step, without a
    /// scheduling point: for operations no other task can tell apart from the step they join
    /// (an uncontended unlock, a join, a condition variable's waiter registration). Schedulers
    /// that reduce interleavings record the access; the default ignores it.
    fn access(&self, site: Site, object: Object<'_>) {
        let _ = (site, object);
    }
    /// A number that changes every time the calling task passes a scheduling point where the
    /// scheduler could have switched tasks. Equal readings mean nothing ran in between, so no
    /// task can have observed the state in between. The default (production) is always 0,
    /// which never tells two moments apart.
    fn epoch(&self) -> u64 {
        0
    }
    /// Blocks the calling task until unparked or until `deadline` passes (see the contract).
    fn park(&self, site: Site, deadline: Option<Instant>);
    /// Wakes `task` if it is parked, or leaves it a token for its next `park`.
    fn unpark(&self, task: TaskId);
    /// The scheduler's monotonic clock.
    fn now(&self) -> Instant;
    /// A random number from the scheduler's source.
    fn random_u64(&self) -> u64;
    /// A random number for a draw with few outcomes: `words` holds one word per outcome (the
    /// caller maps any word to an outcome, and each of these to a different one). A scheduler
    /// that searches systematically may return each of them in turn; the default draws an
    /// ordinary [`random_u64`](Self::random_u64), so outcomes keep their probabilities.
    fn random_choice(&self, words: &[u64]) -> u64 {
        let _ = words;
        self.random_u64()
    }
    /// Which part of a simulated system the calling task acts for (a madsim node, for
    /// example), or 0 for none. Processes remember it when they are spawned, so a simulator
    /// that kills a part can end every process that part owned (`Node::terminate_owned`).
    /// Production has one part, so the default is always 0.
    fn owner(&self) -> u64 {
        0
    }
    /// Called by `core`'s spawn wrapper when a task's body panicked.
    fn task_panicked(&self, _task: TaskId, _message: &str) {}
    /// The execution this scheduler runs, as a number that differs between executions (a
    /// simulator's object-numbering generation; never zero there). A facade `static` that must
    /// start fresh in every simulated execution compares it with the one it was set in.
    /// Production is one long "execution": 0.
    fn generation(&self) -> u32 {
        0
    }
    /// Storage for what would otherwise be process-global statics (the default worker
    /// context). Production returns one process-wide instance; a simulator returns one per
    /// execution and clears it before the execution ends, so nothing leaks between runs.
    fn globals(&self) -> &Globals;
}

/// Type-keyed slots for per-run singletons; see [`Scheduler::globals`].
#[derive(Default)]
pub struct Globals {
    slots: RawLock<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,
}

impl Globals {
    pub const fn new() -> Self {
        Globals {
            slots: RawLock::new(Vec::new()),
        }
    }

    /// The value of type `T`, created by `init` on first use. `init` runs without the slot
    /// lock held, so it may use the scheduler; if two callers race, the first stored wins.
    pub fn get_or_init<T: Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Arc<T> {
        if let Some(found) = self.find::<T>() {
            return found;
        }
        let fresh: Arc<dyn Any + Send + Sync> = Arc::new(init());
        let stored =
            self.slots.with(
                |slots| match slots.iter().find(|(id, _)| *id == TypeId::of::<T>()) {
                    Some((_, existing)) => existing.clone(),
                    None => {
                        slots.push((TypeId::of::<T>(), fresh.clone()));
                        fresh.clone()
                    }
                },
            );
        drop(fresh);
        stored
            .downcast::<T>()
            .unwrap_or_else(|_| panic!("[internal bug] globals slot holds the wrong type"))
    }

    fn find<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let found = self.slots.with(|slots| {
            slots
                .iter()
                .find(|(id, _)| *id == TypeId::of::<T>())
                .map(|(_, value)| value.clone())
        })?;
        found.downcast::<T>().ok()
    }

    /// Drops every slot, in reverse order of creation, outside the slot lock.
    pub fn clear(&self) {
        let slots = self.slots.with(std::mem::take);
        for slot in slots.into_iter().rev() {
            drop(slot);
        }
    }

    /// The number of occupied slots.
    pub fn len(&self) -> usize {
        self.slots.with(|slots| slots.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Globals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Globals")
            .field("slots", &self.len())
            .finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<dyn Scheduler>>> = const { RefCell::new(None) };
    /// Whether `CURRENT` holds a scheduler: a plain flag with no destructor, so the check on
    /// every scheduling point in production is one thread-local load.
    static INSTALLED: Cell<bool> = const { Cell::new(false) };
}

/// The calling thread's execution number (see [`Scheduler::generation`]); 0 in production.
pub fn generation() -> u32 {
    if !INSTALLED.with(Cell::get) {
        return 0;
    }
    current().generation()
}

/// The scheduler of the calling thread: the one installed by [`enter`], or the production
/// scheduler when none is.
pub fn current() -> Arc<dyn Scheduler> {
    CURRENT
        .with(|slot| slot.borrow().clone())
        .unwrap_or_else(os::global)
}

/// Installs `scheduler` as the calling thread's scheduler until the guard is dropped.
///
/// `vigil-sim` calls this on its executor thread; every coroutine it runs then sees the
/// simulated scheduler. Production code never needs it.
pub fn enter(scheduler: Arc<dyn Scheduler>) -> EnterGuard {
    let previous = CURRENT.with(|slot| slot.borrow_mut().replace(scheduler));
    INSTALLED.with(|installed| installed.set(true));
    EnterGuard { previous }
}

/// Restores the previously installed scheduler when dropped.
#[must_use = "the scheduler is uninstalled when the guard is dropped"]
pub struct EnterGuard {
    previous: Option<Arc<dyn Scheduler>>,
}

impl fmt::Debug for EnterGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnterGuard").finish_non_exhaustive()
    }
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let previous = self.previous.take();
        INSTALLED.with(|installed| installed.set(previous.is_some()));
        CURRENT.with(|slot| *slot.borrow_mut() = previous);
    }
}

/// A scheduling point at `site` on the calling thread's scheduler.
///
/// Cheaper than `current().point(site)` when no scheduler is installed (production): it does
/// not clone the global scheduler's `Arc`, whose shared counter every thread would otherwise
/// bump at every lock, atomic access and pool step. The flag check is inlined into every
/// caller (a snapshot makes two points per worker); the lookup is not.
#[inline]
pub fn point(site: Site) {
    if !INSTALLED.with(Cell::get) {
        return os::point(site);
    }
    point_installed(site);
}

#[inline(never)]
fn point_installed(site: Site) {
    match CURRENT.with(|slot| slot.borrow().clone()) {
        Some(scheduler) => scheduler.point(site),
        None => os::point(site),
    }
}

/// A scheduling point on a shared `object` (see [`Scheduler::point_on`]), with the same
/// one-flag fast path as [`point`] when no scheduler is installed.
#[inline]
pub fn point_on(site: Site, object: Object<'_>) {
    if !INSTALLED.with(Cell::get) {
        foreign::check(site, object);
        return os::point(site);
    }
    point_on_installed(site, object);
}

#[inline(never)]
fn point_on_installed(site: Site, object: Object<'_>) {
    match CURRENT.with(|slot| slot.borrow().clone()) {
        Some(scheduler) => scheduler.point_on(site, object),
        None => {
            foreign::check(site, object);
            os::point(site)
        }
    }
}

/// An access without a scheduling point (see [`Scheduler::access`]), free when no scheduler
/// is installed.
pub fn access(site: Site, object: Object<'_>) {
    if !INSTALLED.with(Cell::get) {
        return;
    }
    if let Some(scheduler) = CURRENT.with(|slot| slot.borrow().clone()) {
        scheduler.access(site, object);
    }
}

/// The owner of the calling task (see [`Scheduler::owner`]); 0 when no scheduler is installed.
pub fn owner() -> u64 {
    if !INSTALLED.with(Cell::get) {
        return 0;
    }
    CURRENT
        .with(|slot| slot.borrow().clone())
        .map_or(0, |scheduler| scheduler.owner())
}

/// A scheduling point at a named pool step.
pub fn step(name: &'static str) {
    point(Site::step(name));
}

/// Gives other tasks a chance to run.
pub fn yield_now() {
    current().point(Site::new("thread", Op::Yield));
}

/// The current time on the scheduler's clock.
pub fn now() -> Instant {
    current().now()
}

/// A random number from the scheduler's source.
pub fn random_u64() -> u64 {
    current().random_u64()
}

/// A random number for a draw with few outcomes (see [`Scheduler::random_choice`]).
pub fn random_choice(words: &[u64]) -> u64 {
    current().random_choice(words)
}

/// Blocks the calling task for `duration` of scheduler time.
pub fn sleep(duration: Duration) {
    let scheduler = current();
    let deadline = scheduler.now().saturating_add(duration);
    let site = Site::new("sleep", Op::Park);
    scheduler.point(site);
    while scheduler.now() < deadline {
        scheduler.park(site, Some(deadline));
    }
}
