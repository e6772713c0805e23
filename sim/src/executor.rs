//! The deterministic executor: runs one execution of a model, every task a stackful coroutine
//! on the calling thread, switching tasks only at the scheduling points of `vigil_core::rt`.
//!
//! # Shape
//!
//! An [`Executor`] keeps what is worth reusing between executions: a pool of coroutine stacks
//! and the buffers of the trace and the schedule. An [`Execution`] borrows it for one run of
//! the model; while it lives, a `SimHandle` is installed with [`vigil_core::rt::enter`], so the
//! primitives of `vigil_core::sync` and `vigil_core::thread` reach this module through
//! `rt::current()`.
//!
//! Tasks never touch the executor's state. A task that needs the scheduler (a scheduling
//! point, a park, an unpark, a spawn, a random draw, a panic report) suspends its coroutine
//! with a [`Request`]. The executor, back on the thread's own stack, handles the request with
//! full access to the state and either resumes the same task at once with a [`Reply`] or ends
//! the step. So all mutable simulation state lives in one place (`World`) and is only touched
//! from one stack; the only thing shared with running tasks is the thread-local `Context`
//! (the running task's yielder, its id and the virtual clock, all plain `Cell`s).
//!
//! # Steps, choices and time
//!
//! A step resumes one runnable task at its pending scheduling point and runs it until it
//! reaches its next point, blocks or finishes. Before each step the strategy picks among the
//! runnable tasks, always offered in id order; when only one is runnable the strategy is not
//! asked and nothing is recorded, but the step is still counted and traced, so replays line
//! up. Virtual time starts at zero and moves only when no task is runnable: then the blocked
//! task with the earliest `(deadline, seq)` (`seq` orders parks by registration) is woken and
//! the clock jumps to its deadline. With no runnable task and no deadline pending, the
//! execution is a deadlock.
//!
//! # Abnormal ends leak on purpose
//!
//! When an execution fails (panic, deadlock, limit, invariant, divergence) some coroutines are
//! suspended mid-body. Dropping them would force-unwind their stacks, running the model's
//! `Drop` code (guards that unlock, handles that join) as if it were simulated code, re-entering
//! a scheduler that has already stopped. So they are abandoned without unwinding (what their
//! frames own is leaked, together with this execution's globals) and only their stacks are
//! taken back for reuse: shrinking replays many failing executions, and keeping a stack
//! mapping per abandoned task would exhaust the process's mappings. Values the executor would
//! otherwise have to drop on its own stack (a refused spawn's body) are leaked for the same
//! reason.
//!
//! # Panics while unwinding
//!
//! Rust's panic count is per OS thread, and every task shares the thread. The executor notes
//! which task is unwinding (the first to make a request while the thread is panicking) and
//! lets that task's scheduling points pass without switching: the panic will end the
//! execution anyway, and other tasks would otherwise run while `std::thread::panicking()` is
//! true. They are traced as `(unwinding)`. A park during unwinding still blocks normally, so
//! drop code that joins or locks works; other tasks then do see `panicking()` as true (for
//! `vigil_core`'s `MutexGuard` this only skips unlock points, deterministically). If an
//! execution ends while a task is parked mid-unwind, that task is leaked and the thread's
//! panic count stays raised; the runner notices and stops (see `runner`).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use corosensei::stack::DefaultStack;
use corosensei::{Coroutine, CoroutineResult, Yielder};
use vigil_core::rt::{self, Globals, Instant, Object, Op, Scheduler, Site, TaskId};
use vigil_core::thread::panic_message;

use crate::dependency::{Access, Actor, Event as DependencyEvent, ObjectKey};
use crate::failure::{BlockedTask, FailureKind};
use crate::fault::{FaultAction, FaultView, Faults};
use crate::observer::{Observer, StepView};
use crate::runner::Config;
use crate::schedule::{Choice, Schedule};
use crate::stall::{self, Progress};
use crate::strategy::{DrawView, PickView, Strategy, task_list};
use crate::thread::local::Store;
use crate::trace::{Event, EventKind, Trace};

/// Panic messages starting with this are deliberate faults: traced, but not failures.
pub const INJECTED_FAULT_MARKER: &str = "vigil-injected-fault";

/// A task list as a fault view borrows it.
fn borrowed_tasks(list: &[(TaskId, String, bool)]) -> Vec<(TaskId, &str, bool)> {
    list.iter()
        .map(|(id, name, finished)| (*id, name.as_str(), *finished))
        .collect()
}

/// Keeps panics injected by fault plans off stderr: they are expected, traced, and would
/// otherwise print a message (and backtrace) per injected fault. Every other panic reaches
/// the previous hook unchanged. Installed once per process, on the first run.
pub(crate) fn quiet_injected_panics() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let message = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied());
            let injected = message.is_some_and(|text| text.starts_with(INJECTED_FAULT_MARKER));
            if !injected && !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

thread_local! {
    /// Set while this thread re-runs executions whose panics were already shown (replays
    /// that confirm or shrink a failure), so each panic message is printed once.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with panic messages of this thread suppressed (see [`quiet_injected_panics`]).
pub(crate) fn quietly<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            QUIET.with(|quiet| quiet.set(self.0));
        }
    }
    let _restore = Restore(QUIET.with(|quiet| quiet.replace(true)));
    f()
}

/// A model: the body of task 0 ("main") in every execution.
pub type Model = Arc<dyn Fn() + Send + Sync + 'static>;

/// Usable stack per task. Only touched pages are committed, so generous is cheap.
const STACK_SIZE: usize = 1 << 20;
/// Stacks kept for reuse between executions.
const STACK_POOL_MAX: usize = 64;

/// What a task asks of the executor when it suspends.
enum Request {
    Point(Site, Option<ObjectKey>),
    /// An access without a scheduling point, sent only when the strategy tracks events.
    Access(Site, ObjectKey),
    Park(Site, Option<Instant>),
    Unpark(TaskId),
    Spawn(String, Box<dyn FnOnce() + Send>),
    /// A random draw; the words of its outcomes when it has few (see `random_choice`).
    Draw(Vec<u64>),
    Panicked(String),
}

/// What the executor hands back when it resumes a task.
enum Reply {
    Go,
    /// Panic with `INJECTED_FAULT_MARKER` (a fault injected into this task).
    InjectPanic,
    Spawned(TaskId),
    Drawn(u64),
}

type TaskCoroutine = Coroutine<Reply, Request, (), DefaultStack>;
type TaskYielder = Yielder<Reply, Request>;

/// The little a running task shares with the executor, on the executor's thread.
struct Context {
    /// The yielder of the running task; null whenever control is on the executor's stack.
    yielder: Cell<*const TaskYielder>,
    current: Cell<Option<TaskId>>,
    now: Cell<Instant>,
    /// The running step's number: the scheduler's epoch (see `Scheduler::epoch`).
    step: Cell<u64>,
    /// Whether the strategy tracks events, so accesses without a point must be reported.
    track: Cell<bool>,
    /// Unlocks the running task made without a scheduling point since its last request,
    /// traced (in order) before whatever it does next.
    unlocks: RefCell<Vec<Site>>,
    /// The running task's storage (thread-locals, name); null whenever control is on the
    /// executor's stack. Published by the task itself, as the yielder is.
    locals: Cell<*const Store>,
}

thread_local! {
    static CONTEXT: Context = const {
        Context {
            yielder: Cell::new(ptr::null()),
            current: Cell::new(None),
            now: Cell::new(Instant::ZERO),
            step: Cell::new(0),
            track: Cell::new(false),
            unlocks: RefCell::new(Vec::new()),
            locals: Cell::new(ptr::null()),
        }
    };
}

/// Suspends the running task with `request` and returns the executor's reply.
fn request(request: Request) -> Reply {
    let yielder = CONTEXT.with(|cx| cx.yielder.get());
    assert!(
        !yielder.is_null(),
        "vigil-sim: a scheduling operation (lock, load, send, park, spawn, ...) ran outside a \
         simulated task. Observers and code between executions must read shared state with \
         the `peek` methods of vigil_core::sync instead."
    );
    let locals = CONTEXT.with(|cx| cx.locals.get());
    // SAFETY: a non-null pointer in the context was stored by the running task itself (in
    // `run_task_body` or below) and points at its yielder, which lives at the base of its
    // coroutine stack for as long as the coroutine exists. The executor nulls the pointer
    // whenever control returns to it, so only the task that stored it can reach it here.
    let reply = unsafe { (*yielder).suspend(request) };
    CONTEXT.with(|cx| {
        cx.yielder.set(yielder);
        cx.locals.set(locals);
    });
    if let Reply::InjectPanic = reply {
        std::panic::panic_any(format!(
            "{INJECTED_FAULT_MARKER}: panic injected by the fault plan"
        ));
    }
    reply
}

/// The body of every task's coroutine: publish the yielder and the task's storage, run,
/// run the destructors of its thread-locals (as simulated code, like std's at thread exit),
/// report a panic of either.
fn run_task_body(yielder: &TaskYielder, body: Box<dyn FnOnce() + Send>) {
    let locals = Store::new();
    CONTEXT.with(|cx| {
        cx.yielder.set(yielder);
        cx.locals.set(&locals);
    });
    // Borrows the store: it must stay where the published pointer says.
    let run = || {
        body();
        locals.destroy();
    };
    if let Err(payload) = catch_unwind(AssertUnwindSafe(run)) {
        let message = panic_message(payload.as_ref());
        request(Request::Panicked(message));
    }
}

/// Runs `f` on the running task's storage; `None` outside a simulated task.
pub(crate) fn with_locals<R>(f: impl FnOnce(&Store) -> R) -> Option<R> {
    let locals = CONTEXT.with(|cx| cx.locals.get());
    // SAFETY: a non-null pointer was published by the running task (`run_task_body`,
    // `request`) and points at the store on its own coroutine stack, which lives until
    // the task's body and destructors have run; the executor nulls it whenever control
    // returns to its own stack, so only the task owning the store can reach it.
    (!locals.is_null()).then(|| f(unsafe { &*locals }))
}

/// Generations of object numbering: one per execution in the process, never zero. Only
/// compared for equality, so their values (which depend on other threads) never show.
static GENERATIONS: AtomicU32 = AtomicU32::new(1);

/// The scheduler `vigil_core` sees during an execution; one per execution, owning its globals.
struct SimHandle {
    globals: Globals,
    /// This execution's generation of object numbers (see `vigil_core::rt::ObjectId`).
    generation: u32,
    /// The next object number of this execution; objects are numbered in order of first touch.
    objects: AtomicU32,
}

impl SimHandle {
    fn new() -> Self {
        let generation = GENERATIONS.fetch_add(1, Ordering::Relaxed).max(1);
        SimHandle {
            globals: Globals::new(),
            generation,
            objects: AtomicU32::new(0),
        }
    }
}

impl SimHandle {
    /// The dependency-tracking key of `object` in this execution.
    fn key(&self, object: Object<'_>) -> ObjectKey {
        match object {
            Object::Shared(id) => ObjectKey::Shared(id.resolve(self.generation, || {
                self.objects.fetch_add(1, Ordering::Relaxed)
            })),
            Object::Task(task) => ObjectKey::Task(task),
        }
    }
}

impl Scheduler for SimHandle {
    fn generation(&self) -> u32 {
        self.generation
    }

    fn spawn(&self, name: &str, body: Box<dyn FnOnce() + Send + 'static>) -> TaskId {
        match request(Request::Spawn(name.to_owned(), body)) {
            Reply::Spawned(task) => task,
            _ => panic!("[internal bug] a spawn request got no task id back"),
        }
    }

    fn current(&self) -> TaskId {
        CONTEXT
            .with(|cx| cx.current.get())
            .expect("vigil-sim: `current()` called outside a simulated task")
    }

    fn point(&self, site: Site) {
        request(Request::Point(site, None));
    }

    fn point_on(&self, site: Site, object: Object<'_>) {
        request(Request::Point(site, Some(self.key(object))));
    }

    fn access(&self, site: Site, object: Object<'_>) {
        // Numbered even when nobody listens, so numbers do not depend on tracking.
        let key = self.key(object);
        if CONTEXT.with(|cx| cx.track.get()) {
            request(Request::Access(site, key));
        } else if site.op == Op::Unlock {
            // No switch, but the trace shows the release (reports draw which locks a task
            // holds); the executor records it before the task's next event.
            CONTEXT.with(|cx| cx.unlocks.borrow_mut().push(site));
        }
    }

    fn epoch(&self) -> u64 {
        CONTEXT.with(|cx| cx.step.get())
    }

    fn park(&self, site: Site, deadline: Option<Instant>) {
        request(Request::Park(site, deadline));
    }

    fn unpark(&self, task: TaskId) {
        request(Request::Unpark(task));
    }

    fn now(&self) -> Instant {
        CONTEXT.with(|cx| cx.now.get())
    }

    fn random_u64(&self) -> u64 {
        self.random_choice(&[])
    }

    fn random_choice(&self, words: &[u64]) -> u64 {
        match request(Request::Draw(words.to_vec())) {
            Reply::Drawn(value) => value,
            _ => panic!("[internal bug] a draw request got no value back"),
        }
    }

    fn task_panicked(&self, _task: TaskId, message: &str) {
        request(Request::Panicked(message.to_owned()));
    }

    fn globals(&self) -> &Globals {
        &self.globals
    }
}

/// Saves the thread's context on entry and restores it on exit, so executions can nest.
struct ContextGuard {
    yielder: *const TaskYielder,
    locals: *const Store,
    current: Option<TaskId>,
    now: Instant,
    step: u64,
    track: bool,
}

impl ContextGuard {
    fn install() -> Self {
        // Unlocks left by an execution that was abandoned mid-step belong to nobody now.
        CONTEXT.with(|cx| cx.unlocks.borrow_mut().clear());
        CONTEXT.with(|cx| ContextGuard {
            yielder: cx.yielder.replace(ptr::null()),
            locals: cx.locals.replace(ptr::null()),
            current: cx.current.replace(None),
            now: cx.now.replace(Instant::ZERO),
            step: cx.step.replace(0),
            track: cx.track.replace(false),
        })
    }
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        CONTEXT.with(|cx| {
            cx.yielder.set(self.yielder);
            cx.locals.set(self.locals);
            cx.current.set(self.current);
            cx.now.set(self.now);
            cx.step.set(self.step);
            cx.track.set(self.track);
        });
    }
}

#[derive(Clone, Copy, Debug)]
enum TaskState {
    Runnable,
    Blocked {
        site: Site,
        deadline: Option<Instant>,
        seq: u64,
    },
    Finished,
}

/// Where a task continues when it is next resumed, for the trace and observers.
#[derive(Clone, Copy, Debug)]
enum Resume {
    Start,
    Point(Site),
    Woken(Site),
}

/// Why a runnable task is not being scheduled for now (a fault's hold or a delay).
#[derive(Clone, Copy, Debug)]
enum Hold {
    /// Until the step counter reaches this value.
    UntilStep(u64),
    /// Until this (fault) task has finished.
    UntilDone(TaskId),
}

struct Task {
    state: TaskState,
    hold: Option<Hold>,
    /// Panic with the injected-fault marker at the next resume.
    inject_panic: bool,
    /// An unpark that arrived while the task was not parked (token semantics).
    token: bool,
    next: Resume,
    /// The object of the pending point (kept while parked there), for dependency tracking.
    next_object: Option<ObjectKey>,
    /// `None` once finished (its stack is back in the pool).
    coroutine: Option<TaskCoroutine>,
}

/// All mutable state of one execution. Reused (cleared) between executions.
#[derive(Default)]
struct World {
    tasks: Vec<Task>,
    now: Instant,
    /// Steps run so far; also the number of the next step.
    step: u64,
    park_seq: u64,
    last: Option<TaskId>,
    seed: u64,
    choices: Vec<Choice>,
    runnable: Vec<TaskId>,
    trace: Trace,
    verdict: Option<Verdict>,
    /// The task unwinding a panic, if any (see "Panics while unwinding").
    unwinding: Option<TaskId>,
    /// `std::thread::panicking()` was already true when the execution started (a task of an
    /// earlier execution was leaked mid-unwind); unwinding tasks cannot be told apart then.
    panicking_at_start: bool,
    /// The strategy wants every event described (see `crate::dependency`).
    track: bool,
    /// What the running event touched and spawned, and whether a timer woke it.
    accesses: Vec<Access>,
    spawned: Vec<TaskId>,
    barrier: bool,
    /// Descriptions of the pending faults, when tracking.
    fault_names: Vec<String>,
    /// The runnable tasks waiting at a `yield_now` point, for the pick view.
    yielding: Vec<TaskId>,
}

impl World {
    fn reset(&mut self, seed: u64) {
        debug_assert!(
            self.tasks.is_empty(),
            "[internal bug] tasks left from an execution"
        );
        self.tasks.clear();
        self.now = Instant::ZERO;
        self.step = 0;
        self.park_seq = 0;
        self.last = None;
        self.seed = seed;
        self.choices.clear();
        self.runnable.clear();
        self.trace.clear();
        self.verdict = None;
        self.unwinding = None;
        self.panicking_at_start = std::thread::panicking();
        self.accesses.clear();
        self.spawned.clear();
        self.barrier = false;
        self.fault_names.clear();
        self.yielding.clear();
    }

    /// Notes that the running event touches `object` (when the strategy tracks events).
    fn touch(&mut self, object: ObjectKey, write: bool) {
        if self.track {
            let access = if write {
                Access::write(object)
            } else {
                Access::read(object)
            };
            self.accesses.push(access);
        }
    }

    /// Notes an unlock without a scheduling point (no task waits for the mutex). Its
    /// critical section began in an earlier step: a release, whose races with later lock
    /// attempts are reversed at that acquire (see "Mutexes" in `crate::dependency`). One
    /// that began in this step is a plain write: the step is its own acquire.
    fn unlock(&mut self, object: ObjectKey) {
        if !self.track {
            return;
        }
        let acquired_here = self.accesses.iter().any(|access| {
            access.object == object && access.lock == crate::dependency::LockRole::Acquire
        });
        self.accesses.push(if acquired_here {
            Access::write(object)
        } else {
            Access::release(object)
        });
    }

    fn record(&mut self, task: TaskId, kind: EventKind) {
        self.trace.push(Event {
            step: self.step,
            now: self.now,
            task,
            kind,
        });
    }

    /// Whether task `idx` is held back by a fault (a hold that has run out is cleared).
    fn is_held(&mut self, idx: usize) -> bool {
        let held = match self.tasks[idx].hold {
            None => false,
            Some(Hold::UntilStep(until)) => self.step < until,
            Some(Hold::UntilDone(fault)) => {
                !matches!(self.tasks[fault.0 as usize].state, TaskState::Finished)
            }
        };
        if !held {
            self.tasks[idx].hold = None;
        }
        held
    }

    fn task(&mut self, task: TaskId) -> &mut Task {
        &mut self.tasks[task.0 as usize]
    }

    fn name(&self, task: TaskId) -> &str {
        self.trace.task_name(task).unwrap_or("?")
    }
}

/// How an execution ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Every task finished and every end-of-execution check passed.
    Pass,
    Fail {
        kind: FailureKind,
        message: String,
    },
}

/// The result of one execution; its trace and schedule stay in the [`Executor`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outcome {
    pub steps: u64,
    pub verdict: Verdict,
}

/// Whether [`Execution::step`] left the execution able to continue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Running,
    Ended,
}

/// Runs executions one at a time, reusing stacks and buffers between them.
pub struct Executor {
    steps_max: u64,
    tasks_max: usize,
    /// Stamped into every schedule (`Config::fingerprint`).
    fingerprint: Option<u64>,
    stacks: Vec<DefaultStack>,
    world: World,
    /// What the stall watchdog reads (see `crate::stall`).
    progress: Arc<Progress>,
}

impl fmt::Debug for Executor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("steps_max", &self.steps_max)
            .field("tasks_max", &self.tasks_max)
            .field("stacks_pooled", &self.stacks.len())
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor with the limits of `config` (`steps_max`, `tasks_max`).
    pub fn new(config: &Config) -> Self {
        Executor {
            steps_max: config.steps_max,
            tasks_max: config.tasks_max.max(1),
            fingerprint: config.fingerprint,
            stacks: Vec::new(),
            world: World::default(),
            progress: stall::watch(),
        }
    }

    /// Begins execution `execution_idx` of `model`, or returns `None` when the strategy has
    /// nothing more to explore. Drive it with [`Execution::step`] or [`Execution::run`].
    pub fn start<'a>(
        &'a mut self,
        execution_idx: u64,
        strategy: &'a mut dyn Strategy,
        observers: &'a mut [Box<dyn Observer>],
        faults: &'a mut dyn Faults,
        model: &Model,
    ) -> Option<Execution<'a>> {
        let start = strategy.start(execution_idx)?;
        self.world.reset(start.seed);
        self.world.track = strategy.tracks_dependencies();
        for observer in observers.iter_mut() {
            observer.start_execution();
        }
        faults.start_execution();
        let handle = Arc::new(SimHandle::new());
        rt::generation_started(handle.generation);
        self.progress.start_execution();
        let enter = rt::enter(handle.clone());
        let mut execution = Execution {
            world: &mut self.world,
            stacks: &mut self.stacks,
            steps_max: self.steps_max,
            tasks_max: self.tasks_max,
            strategy,
            observers,
            faults_enabled: faults.enabled(),
            faults,
            task_list: Vec::new(),
            progress: self.progress.clone(),
            handle,
            _context: ContextGuard::install(),
            _enter: enter,
        };
        let main = model.clone();
        execution.add_task(
            "main".to_owned(),
            Box::new(move || {
                main();
                // The main task's thread-locals go first (their destructors may still use
                // globals), then the globals; both inside the main task, so drops that lock
                // or join run as simulated code. Later tasks keep their own storage.
                with_locals(Store::destroy);
                rt::current().globals().clear();
            }),
        );
        Some(execution)
    }

    /// Runs one whole execution; `None` when the strategy has nothing more to explore.
    pub fn execute(
        &mut self,
        execution_idx: u64,
        strategy: &mut dyn Strategy,
        observers: &mut [Box<dyn Observer>],
        faults: &mut dyn Faults,
        model: &Model,
    ) -> Option<Outcome> {
        Some(
            self.start(execution_idx, strategy, observers, faults, model)?
                .run(),
        )
    }

    /// The trace of the last execution.
    pub fn trace(&self) -> &Trace {
        &self.world.trace
    }

    /// The schedule of the last execution: its seed and every choice made.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            seed: self.world.seed,
            choices: self.world.choices.clone(),
            fingerprint: self.fingerprint,
        }
    }

    /// Exchanges the last execution's trace with `other` (keeps both buffers' capacity).
    pub(crate) fn swap_trace(&mut self, other: &mut Trace) {
        std::mem::swap(&mut self.world.trace, other);
    }
}

/// One execution in progress. Dropping it early leaks its unfinished tasks (see the module
/// documentation).
pub struct Execution<'a> {
    world: &'a mut World,
    stacks: &'a mut Vec<DefaultStack>,
    steps_max: u64,
    tasks_max: usize,
    strategy: &'a mut dyn Strategy,
    observers: &'a mut [Box<dyn Observer>],
    faults: &'a mut dyn Faults,
    /// `faults.enabled()`, asked once per execution: the hot path skips all fault work.
    faults_enabled: bool,
    /// Scratch list of `(id, name, finished)` for fault views.
    task_list: Vec<(TaskId, String, bool)>,
    progress: Arc<Progress>,
    handle: Arc<SimHandle>,
    // Field order matters: the context is restored before the scheduler is uninstalled.
    _context: ContextGuard,
    _enter: rt::EnterGuard,
}

impl fmt::Debug for Execution<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Execution")
            .field("step", &self.world.step)
            .field("tasks", &self.world.tasks.len())
            .field("verdict", &self.world.verdict)
            .finish_non_exhaustive()
    }
}

impl Execution<'_> {
    /// Runs steps until the execution ends, and returns how it ended.
    pub fn run(mut self) -> Outcome {
        while self.step() == Status::Running {}
        self.outcome()
            .expect("[internal bug] an ended execution has no verdict")
    }

    /// Runs one step: picks a runnable task (advancing virtual time first if none is) and
    /// resumes it until its next scheduling point. Ends the execution when every task has
    /// finished or on a failure.
    pub fn step(&mut self) -> Status {
        if self.world.verdict.is_some() {
            return Status::Ended;
        }
        let Some(task) = self.choose() else {
            return Status::Ended;
        };
        let site = match self.world.task(task).next {
            Resume::Start => None,
            Resume::Point(site) | Resume::Woken(site) => Some(site),
        };
        self.progress.step(task.0, self.world.step);
        self.begin_event(task);
        self.run_step(task);
        self.end_event(Actor::Task(task));
        if let Some(message) = rt::take_foreign_use(self.handle.generation) {
            self.fail(FailureKind::Panic, message);
        }
        if self.world.verdict.is_none() {
            self.observe(task, site);
        }
        self.world.step += 1;
        match self.world.verdict {
            Some(_) => Status::Ended,
            None => Status::Running,
        }
    }

    /// Starts `body` as a new task from outside, between steps (how faults are injected).
    /// Returns `None`, leaking `body`, when the execution has ended or the task limit is hit.
    pub fn spawn_external(
        &mut self,
        name: &str,
        body: impl FnOnce() + Send + 'static,
    ) -> Option<TaskId> {
        if self.world.verdict.is_some() || !self.room_for_task(name, None) {
            std::mem::forget(body);
            return None;
        }
        let task = self.add_task(name.to_owned(), Box::new(body));
        self.world.record(task, EventKind::External);
        Some(task)
    }

    /// How the execution ended, once it has.
    pub fn outcome(&self) -> Option<Outcome> {
        let verdict = self.world.verdict.clone()?;
        Some(Outcome {
            steps: self.world.step,
            verdict,
        })
    }

    /// The number of the next step (equivalently, steps run so far).
    pub fn steps(&self) -> u64 {
        self.world.step
    }

    /// The trace so far.
    pub fn trace(&self) -> &Trace {
        &self.world.trace
    }

    fn add_task(&mut self, name: String, body: Box<dyn FnOnce() + Send>) -> TaskId {
        let id = u32::try_from(self.world.tasks.len()).expect("[internal bug] 2^32 tasks");
        let stack = self.stacks.pop().unwrap_or_else(|| {
            DefaultStack::new(STACK_SIZE)
                .unwrap_or_else(|error| panic!("vigil-sim: cannot allocate a task stack: {error}"))
        });
        let coroutine = Coroutine::with_stack(stack, move |yielder: &TaskYielder, _: Reply| {
            run_task_body(yielder, body);
        });
        self.world.tasks.push(Task {
            state: TaskState::Runnable,
            hold: None,
            inject_panic: false,
            token: false,
            next: Resume::Start,
            next_object: None,
            coroutine: Some(coroutine),
        });
        self.progress.add_task(&name);
        self.world.trace.push_name(name);
        TaskId(id)
    }

    /// Whether another task may be created; fails the execution with `TaskLimit` if not.
    fn room_for_task(&mut self, name: &str, parent: Option<TaskId>) -> bool {
        if self.world.tasks.len() < self.tasks_max {
            return true;
        }
        let by = parent.map_or_else(|| "fault injection".to_owned(), |task| task.to_string());
        let message = format!(
            "{by} tried to spawn task '{name}', but this execution already has {} tasks \
             (Config::tasks_max). Raise the limit if the model really needs more.",
            self.tasks_max
        );
        self.fail(
            FailureKind::TaskLimit {
                tasks_max: self.tasks_max,
            },
            message,
        );
        false
    }

    /// Picks the task for the next step, or ends the execution and returns `None`. Faults the
    /// strategy chooses are fired first; each is recorded as a choice.
    fn choose(&mut self) -> Option<TaskId> {
        loop {
            self.collect_runnable();
            while self.world.runnable.is_empty() {
                self.world.barrier = true;
                if !self.fire_earliest_timer() {
                    self.end_without_runnable();
                    return None;
                }
                self.collect_runnable();
            }
            if self.world.step >= self.steps_max {
                self.fail_step_limit();
                return None;
            }
            let faults_pending = self.faults_pending();
            if let ([only], 0) = (&self.world.runnable[..], faults_pending) {
                return Some(*only);
            }
            self.world.fault_names.clear();
            if self.world.track {
                let names = (0..faults_pending).map(|k| self.faults.describe(k));
                self.world.fault_names.extend(names);
            }
            let yields = |task: &TaskId| {
                let state = &self.world.tasks[task.0 as usize];
                matches!(state.state, TaskState::Runnable)
                    && matches!(state.next, Resume::Point(site) if site.op == Op::Yield)
            };
            let yielding = self.world.runnable.iter().copied().filter(yields);
            let yielding: Vec<TaskId> = {
                let mut buffer = std::mem::take(&mut self.world.yielding);
                buffer.clear();
                buffer.extend(yielding);
                buffer
            };
            self.world.yielding = yielding;
            let view = PickView {
                step: self.world.step,
                current: self.world.last,
                runnable: &self.world.runnable,
                faults_pending,
                faults_window: self.faults_enabled && self.faults.window_open(),
                fault_names: &self.world.fault_names,
                current_yields: self.world.last.is_some_and(|last| yields(&last)),
                yielding: &self.world.yielding,
                current_shared: self.world.last.is_some_and(|last| {
                    let state = &self.world.tasks[last.0 as usize];
                    matches!(state.state, TaskState::Runnable)
                        && matches!(state.next, Resume::Point(_))
                        && matches!(state.next_object, Some(ObjectKey::Shared(_)))
                }),
            };
            match self.strategy.pick(&view) {
                Ok(Choice::Task(task)) if self.world.runnable.contains(&task) => {
                    self.world.choices.push(Choice::Task(task));
                    return Some(task);
                }
                Ok(Choice::Fault(k)) if k < faults_pending => {
                    self.world.choices.push(Choice::Fault(k));
                    let actor = self.world.fault_names.get(k as usize).cloned();
                    let barrier = std::mem::take(&mut self.world.barrier);
                    let saved = std::mem::take(&mut self.world.accesses);
                    self.world.touch(ObjectKey::FaultBudget, true);
                    self.fire_fault(k);
                    if let Some(actor) = actor {
                        self.end_event(Actor::Fault(actor));
                    }
                    self.world.accesses = saved;
                    self.world.barrier = barrier;
                    if self.world.verdict.is_some() {
                        return None;
                    }
                }
                Ok(choice) => panic!(
                    "[internal bug] the strategy chose {choice} at step {}, but the choices were \
                     the runnable tasks {} and {faults_pending} faults",
                    self.world.step,
                    task_list(&self.world.runnable)
                ),
                Err(divergence) => {
                    let step = divergence.step;
                    self.fail(FailureKind::Divergence { step }, divergence.to_string());
                    return None;
                }
            }
        }
    }

    /// Runnable tasks in id order, leaving out held ones unless that would leave none.
    fn collect_runnable(&mut self) {
        let world = &mut *self.world;
        world.runnable.clear();
        let mut held = false;
        for idx in 0..world.tasks.len() {
            if !matches!(world.tasks[idx].state, TaskState::Runnable) {
                continue;
            }
            if world.tasks[idx].hold.is_some() && world.is_held(idx) {
                held = true;
            } else {
                world.runnable.push(TaskId(idx as u32));
            }
        }
        if world.runnable.is_empty() && held {
            // Holding would leave nothing to run: release every hold rather than stall.
            for task in &mut world.tasks {
                task.hold = None;
            }
            for (idx, task) in world.tasks.iter().enumerate() {
                if matches!(task.state, TaskState::Runnable) {
                    world.runnable.push(TaskId(idx as u32));
                }
            }
        }
    }

    /// Refreshes the fault view's task list and asks the fault source how many are pending.
    fn faults_pending(&mut self) -> u32 {
        if !self.faults_enabled {
            return 0;
        }
        self.refresh_task_list();
        let tasks = borrowed_tasks(&self.task_list);
        let view = FaultView {
            step: self.world.step,
            tasks: &tasks,
        };
        self.faults.pending(&view)
    }

    fn refresh_task_list(&mut self) {
        let known = self.task_list.len();
        for idx in known..self.world.tasks.len() {
            let name = self.world.name(TaskId(idx as u32)).to_owned();
            self.task_list.push((TaskId(idx as u32), name, false));
        }
        for (idx, entry) in self.task_list.iter_mut().enumerate() {
            entry.2 = matches!(self.world.tasks[idx].state, TaskState::Finished);
        }
    }

    /// Fires fault `k` of the fault source and applies what it does.
    fn fire_fault(&mut self, k: u32) {
        let description = self.faults.describe(k);
        let action = {
            let tasks = borrowed_tasks(&self.task_list);
            let view = FaultView {
                step: self.world.step,
                tasks: &tasks,
            };
            self.faults.fire(k, &view)
        };
        self.apply_fault(action, description);
    }

    /// Applies a fault action and records it in the trace.
    fn apply_fault(&mut self, action: Option<FaultAction>, description: String) {
        let by = self.world.last.unwrap_or(TaskId(0));
        let text = self.world.trace.push_text(description);
        self.world.record(by, EventKind::Fault(text));
        match action {
            None => {}
            Some(FaultAction::Spawn { name, body, hold }) => {
                if !self.room_for_task(&name, None) {
                    std::mem::forget(body);
                    return;
                }
                let fault_task = self.add_task(name, body);
                self.world.record(fault_task, EventKind::External);
                if self.world.track {
                    self.world.spawned.push(fault_task);
                }
                if let Some(held) = hold {
                    self.world.task(held).hold = Some(Hold::UntilDone(fault_task));
                }
            }
            Some(FaultAction::Panic { task }) => {
                self.world.touch(ObjectKey::Injected(task), true);
                if let Some(target) = self.world.tasks.get_mut(task.0 as usize) {
                    target.inject_panic = true;
                }
            }
            Some(FaultAction::Delay { task, steps }) => {
                let until = self.world.step + u64::from(steps);
                self.world.touch(ObjectKey::Injected(task), true);
                if let Some(target) = self.world.tasks.get_mut(task.0 as usize) {
                    target.hold = Some(Hold::UntilStep(until));
                }
            }
        }
    }

    /// Tells the fault source that `task` reached `site`, and applies what it answers.
    fn reached(&mut self, task: TaskId, site: Site) {
        if !self.faults_enabled {
            return;
        }
        self.refresh_task_list();
        let action = {
            let tasks = borrowed_tasks(&self.task_list);
            let view = FaultView {
                step: self.world.step,
                tasks: &tasks,
            };
            let name = self.task_list[task.0 as usize].1.clone();
            self.faults
                .reached(task, &name, site, &view)
                .map(|action| (action, format!("{name} reached {site}")))
        };
        if let Some((action, why)) = action {
            let description = format!("{action:?} because {why}");
            self.apply_fault(Some(action), description);
        }
    }

    /// Wakes the blocked task with the earliest `(deadline, seq)`, moving the clock to its
    /// deadline. Returns `false` when no blocked task has a deadline.
    fn fire_earliest_timer(&mut self) -> bool {
        let earliest = self
            .world
            .tasks
            .iter()
            .enumerate()
            .filter_map(|(idx, task)| match task.state {
                TaskState::Blocked {
                    site,
                    deadline: Some(deadline),
                    seq,
                } => Some((deadline, seq, idx, site)),
                _ => None,
            })
            .min_by_key(|&(deadline, seq, _, _)| (deadline, seq));
        let Some((deadline, _, idx, site)) = earliest else {
            return false;
        };
        self.world.now = self.world.now.max(deadline);
        let task = TaskId(idx as u32);
        self.world.task(task).state = TaskState::Runnable;
        self.world.record(task, EventKind::Timeout(site));
        true
    }

    /// No task can run: the execution either passed or deadlocked.
    fn end_without_runnable(&mut self) {
        let blocked: Vec<BlockedTask> = (0..self.world.tasks.len())
            .filter_map(|idx| match self.world.tasks[idx].state {
                TaskState::Blocked { site, .. } => Some(BlockedTask {
                    id: TaskId(idx as u32),
                    name: self.world.name(TaskId(idx as u32)).to_owned(),
                    site,
                }),
                _ => None,
            })
            .collect();
        if blocked.is_empty() {
            self.finish_pass();
            return;
        }
        let mut message = String::from("every unfinished task is blocked with no deadline:");
        for task in &blocked {
            message.push_str(&format!(
                "\n  {} '{}' parked at {}",
                task.id, task.name, task.site
            ));
        }
        self.fail(FailureKind::Deadlock { blocked }, message);
    }

    fn finish_pass(&mut self) {
        let steps = self.world.step;
        if let Err(divergence) = self.strategy.end(steps) {
            let step = divergence.step;
            self.fail(FailureKind::Divergence { step }, divergence.to_string());
            return;
        }
        let rejected = self.observers.iter_mut().find_map(|observer| {
            let message = observer.after_execution(steps).err()?;
            Some((observer.name().to_owned(), message))
        });
        if let Some((name, message)) = rejected {
            self.fail(FailureKind::Invariant { name }, message);
            return;
        }
        self.world.verdict = Some(Verdict::Pass);
    }

    fn fail_step_limit(&mut self) {
        let mut message = format!(
            "{} steps ran without every task finishing (Config::steps_max): a livelock, or a \
             limit too low for this model.",
            self.steps_max
        );
        if let Some(busiest) = self.world.trace.busiest() {
            let site = busiest
                .site
                .map_or_else(|| "its start".to_owned(), |site| format!("'{site}'"));
            message.push_str(&format!(
                " The busiest task was {} '{}' with {} of the {} steps, {} of them at {site}. If \
                 that task is doing useful work (many workers, long waits) this is a long \
                 execution, not a livelock: raise steps_max (scenario files: strategy.steps_max).",
                busiest.task,
                self.world.name(busiest.task),
                busiest.steps,
                self.steps_max,
                busiest.site_steps
            ));
        }
        message.push_str("\nTask states:");
        for idx in 0..self.world.tasks.len() {
            let task = TaskId(idx as u32);
            let state = match (self.world.tasks[idx].state, self.world.tasks[idx].next) {
                (TaskState::Finished, _) => "finished".to_owned(),
                (TaskState::Blocked { site, .. }, _) => format!("parked at {site}"),
                (TaskState::Runnable, Resume::Start) => "runnable, not started".to_owned(),
                (TaskState::Runnable, Resume::Point(site) | Resume::Woken(site)) => {
                    format!("runnable at {site}")
                }
            };
            message.push_str(&format!("\n  {task} '{}' {state}", self.world.name(task)));
        }
        let steps_max = self.steps_max;
        self.fail(FailureKind::StepLimit { steps_max }, message);
    }

    /// Records the first failure; later ones are ignored. Leaks the globals (see module docs).
    fn fail(&mut self, kind: FailureKind, message: String) {
        if self.world.verdict.is_none() {
            self.world.verdict = Some(Verdict::Fail { kind, message });
            std::mem::forget(self.handle.clone());
        }
    }

    /// Resumes `task` and serves its requests until the step ends.
    fn run_step(&mut self, task: TaskId) {
        let event = match self.world.task(task).next {
            Resume::Start => EventKind::Start,
            Resume::Point(site) => EventKind::Point(site),
            Resume::Woken(site) => EventKind::Resume(site),
        };
        self.world.record(task, event);
        self.world.last = Some(task);
        let now = self.world.now;
        let (step, track) = (self.world.step, self.world.track);
        let state = self.world.task(task);
        // An injected panic lands where the task's own logic could panic: at a named step or
        // while it waits to receive. Never at the start, and never inside a primitive's
        // bookkeeping (a lock, an unlock, an atomic), which cannot panic in production and
        // where unwinding would corrupt it (an unlock skipped leaves the lock held for ever;
        // a destructor cut short leaks what it was releasing).
        let safe = match state.next {
            Resume::Start => false,
            Resume::Point(site) | Resume::Woken(site) => matches!(site.op, Op::Step | Op::Recv),
        };
        let mut reply = if state.inject_panic && safe {
            state.inject_panic = false;
            Reply::InjectPanic
        } else {
            Reply::Go
        };
        loop {
            CONTEXT.with(|cx| {
                cx.current.set(Some(task));
                cx.now.set(now);
                cx.step.set(step);
                cx.track.set(track);
            });
            let coroutine = self.world.tasks[task.0 as usize]
                .coroutine
                .as_mut()
                .unwrap_or_else(|| panic!("[internal bug] runnable {task} has no coroutine"));
            let result = coroutine.resume(reply);
            CONTEXT.with(|cx| {
                cx.yielder.set(ptr::null());
                cx.locals.set(ptr::null());
                cx.current.set(None);
            });
            self.trace_unlocks(task);
            match result {
                CoroutineResult::Return(()) => return self.finish_task(task),
                CoroutineResult::Yield(request) => match self.serve(task, request) {
                    Some(next) => reply = next,
                    None => return,
                },
            }
        }
    }

    /// Traces the unlocks `task` made without a scheduling point since its last request.
    fn trace_unlocks(&mut self, task: TaskId) {
        let unlocks = CONTEXT.with(|cx| std::mem::take(&mut *cx.unlocks.borrow_mut()));
        for site in unlocks {
            self.world.record(task, EventKind::Access(site));
        }
    }

    /// Handles one request; `Some(reply)` resumes the same task, `None` ends the step.
    fn serve(&mut self, task: TaskId, request: Request) -> Option<Reply> {
        self.note_unwinding(task);
        match request {
            Request::Point(site, object) => {
                if self.world.unwinding == Some(task) {
                    self.world.record(task, EventKind::PointUnwinding(site));
                    return Some(Reply::Go);
                }
                let state = self.world.task(task);
                state.next = Resume::Point(site);
                state.next_object = object;
                self.reached(task, site);
                None
            }
            Request::Access(site, object) => {
                let object = match (site.op, object) {
                    (Op::Join, ObjectKey::Task(joined)) => ObjectKey::Ended(joined),
                    _ => object,
                };
                if site.op == Op::Unlock {
                    self.world.unlock(object);
                    self.world.record(task, EventKind::Access(site));
                } else {
                    self.world.touch(object, !site.op.only_reads());
                }
                Some(Reply::Go)
            }
            Request::Park(site, deadline) => self.park(task, site, deadline),
            Request::Unpark(target) => {
                self.unpark(task, target);
                Some(Reply::Go)
            }
            Request::Spawn(name, body) => {
                if !self.room_for_task(&name, Some(task)) {
                    std::mem::forget(body);
                    return None;
                }
                let child = self.add_task(name, body);
                self.world.record(task, EventKind::Spawn(child));
                self.world.touch(ObjectKey::Task(child), true);
                if self.world.track {
                    self.world.spawned.push(child);
                }
                Some(Reply::Spawned(child))
            }
            Request::Draw(words) => self.draw(task, &words),
            Request::Panicked(message) => self.panicked(task, message),
        }
    }

    /// Tracks which task is unwinding: the thread's panic count says that some task is, and
    /// the first to make a request while it is raised is taken to be the one.
    fn note_unwinding(&mut self, task: TaskId) {
        if !std::thread::panicking() || self.world.panicking_at_start {
            self.world.unwinding = None;
        } else if self.world.unwinding.is_none() {
            self.world.unwinding = Some(task);
        }
    }

    fn park(&mut self, task: TaskId, site: Site, deadline: Option<Instant>) -> Option<Reply> {
        self.world.touch(ObjectKey::Task(task), true);
        let now = self.world.now;
        let state = self.world.task(task);
        if state.token {
            state.token = false;
            self.world.record(task, EventKind::ParkToken(site));
            return Some(Reply::Go);
        }
        if deadline.is_some_and(|deadline| deadline <= now) {
            self.world.record(task, EventKind::ParkExpired(site));
            return Some(Reply::Go);
        }
        let seq = self.world.park_seq;
        self.world.park_seq += 1;
        let state = self.world.task(task);
        state.state = TaskState::Blocked {
            site,
            deadline,
            seq,
        };
        state.next = Resume::Woken(site);
        self.world.record(task, EventKind::Block(site, deadline));
        None
    }

    fn unpark(&mut self, by: TaskId, target: TaskId) {
        // A read: two wake-ups of one task commute (a token is a flag), a wake-up and the
        // park or end it affects do not.
        self.world.touch(ObjectKey::Task(target), false);
        let Some(state) = self.world.tasks.get_mut(target.0 as usize) else {
            return;
        };
        let event = match state.state {
            TaskState::Blocked { .. } => {
                state.state = TaskState::Runnable;
                EventKind::Unpark(target)
            }
            TaskState::Runnable => {
                state.token = true;
                EventKind::Token(target)
            }
            TaskState::Finished => return,
        };
        self.world.record(by, event);
    }

    fn draw(&mut self, task: TaskId, words: &[u64]) -> Option<Reply> {
        let view = DrawView {
            step: self.world.step,
            task,
            alternatives: words,
        };
        match self.strategy.draw(&view) {
            Ok(value) => {
                self.world.choices.push(Choice::Draw(value));
                self.world.record(task, EventKind::Draw(value));
                Some(Reply::Drawn(value))
            }
            Err(divergence) => {
                let step = divergence.step;
                self.fail(FailureKind::Divergence { step }, divergence.to_string());
                None
            }
        }
    }

    fn panicked(&mut self, task: TaskId, message: String) -> Option<Reply> {
        if message.starts_with(INJECTED_FAULT_MARKER) {
            let text = self.world.trace.push_text(message);
            self.world.record(task, EventKind::Injected(text));
            return Some(Reply::Go);
        }
        let summary = format!("{task} '{}' panicked: {message}", self.world.name(task));
        let text = self.world.trace.push_text(message);
        self.world.record(task, EventKind::Panic(text));
        self.fail(FailureKind::Panic, summary);
        None
    }

    fn finish_task(&mut self, task: TaskId) {
        self.world.touch(ObjectKey::Task(task), true);
        self.world.touch(ObjectKey::Ended(task), true);
        let state = self.world.task(task);
        state.state = TaskState::Finished;
        let coroutine = state
            .coroutine
            .take()
            .expect("[internal bug] a finished task had no coroutine");
        if self.stacks.len() < STACK_POOL_MAX {
            self.stacks.push(coroutine.into_stack());
        }
        self.world.record(task, EventKind::Finish);
    }

    /// Starts describing a step of `task`: the object of its pending point, read or written
    /// as its operation says, and its own task object when it resumes from a park.
    fn begin_event(&mut self, task: TaskId) {
        if !self.world.track {
            return;
        }
        if self.faults_enabled {
            // What a fault injects into this task (a panic, a delay) shows at its next step.
            self.world.touch(ObjectKey::Injected(task), false);
        }
        let state = &self.world.tasks[task.0 as usize];
        let (next, object) = (state.next, state.next_object);
        let site = match next {
            Resume::Start => None,
            Resume::Point(site) => Some(site),
            Resume::Woken(site) => {
                self.world.touch(ObjectKey::Task(task), true);
                Some(site)
            }
        };
        if let (Some(site), Some(object)) = (site, object) {
            match site.op {
                Op::Lock => self.world.accesses.push(Access::acquire(object)),
                Op::Unlock => self.world.accesses.push(Access::release(object)),
                op if op.only_reads() => self.world.touch(object, false),
                _ => self.world.touch(object, true),
            }
        }
    }

    /// Hands the description of the event that just ran to the strategy, and clears it.
    fn end_event(&mut self, actor: Actor) {
        if !self.world.track {
            return;
        }
        let event = DependencyEvent {
            actor: &actor,
            accesses: &self.world.accesses,
            spawned: &self.world.spawned,
            barrier: self.world.barrier,
        };
        self.strategy.stepped(&event);
        self.world.accesses.clear();
        self.world.spawned.clear();
        self.world.barrier = false;
    }

    fn observe(&mut self, task: TaskId, site: Option<Site>) {
        let view = StepView {
            step: self.world.step,
            task,
            task_name: self.world.trace.task_name(task).unwrap_or("?"),
            site,
            now: self.world.now,
        };
        let rejected = self.observers.iter_mut().find_map(|observer| {
            let message = observer.after_step(&view).err()?;
            Some((observer.name().to_owned(), message))
        });
        if let Some((name, message)) = rejected {
            self.fail(FailureKind::Invariant { name }, message);
        }
    }
}

impl Drop for Execution<'_> {
    fn drop(&mut self) {
        rt::generation_ended(self.handle.generation);
        self.progress.end_execution();
        for task in self.world.tasks.drain(..) {
            if let Some(mut coroutine) = task.coroutine {
                // Suspended mid-body: abandon it rather than unwind model code (module docs),
                // but take its stack back, so failing executions (shrinking replays hundreds)
                // do not each keep a mapping per task.
                // SAFETY: `force_reset` skips the destructors of the frames on this stack,
                // which only leaks what they own, as `mem::forget` would. The memory is then
                // reused or unmapped, so nothing may point into it afterwards. The executor
                // keeps no pointer into a task's stack once control is back on its own stack
                // (the context's yielder pointer is nulled on every return), and the
                // simulated primitives queue waiters by task id on the heap, never as nodes
                // on a waiter's stack. What else the ended execution built (its globals, its
                // objects) is leaked with it and unreachable from later executions, so a
                // stale pointer there is never followed.
                unsafe { coroutine.force_reset() };
                if self.stacks.len() < STACK_POOL_MAX {
                    self.stacks.push(coroutine.into_stack());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
