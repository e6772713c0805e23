//! `vigil-core`'s scheduler on madsim: each core task is a coroutine driven by a madsim task.
//!
//! The pool is blocking code (locks, joins, `Drop` that waits), and madsim runs futures. The
//! bridge is a stackful coroutine per core task (`corosensei`, as in `vigil-sim`), hosted by
//! one madsim task that resumes it. At a scheduling point the coroutine hands control back to
//! its host, which yields to madsim's executor; at a park it waits for an unpark or a madsim
//! timer. madsim's seeded executor therefore decides the interleaving at every point of the
//! pool, and the same `MADSIM_TEST_SEED` gives the same interleaving.
//!
//! Every host runs on one madsim node of its own (the pool's *home*), never on the node that
//! asked for the work: madsim drops a killed node's futures, and dropping a coroutine in the
//! middle of the pool (holding a lock, halfway through an insert) would corrupt the pool
//! rather than crash a worker. A node's crash reaches the pool the way a real one would,
//! through its processes: each task carries the node it acts for (its *owner*), core records
//! that owner on every process the task spawns, and [`crate::Handle::kill`] ends those
//! processes with reason `Killed`.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use corosensei::{Coroutine, CoroutineResult, Yielder};
use madsim::runtime::NodeHandle;
use madsim::task::NodeId;
use vigil_core::pool::{WorkerContext, default_worker_context};
use vigil_core::process::ExitReason;
use vigil_core::rt::{self, Globals, Instant, RawLock, Scheduler, Site, TaskId};

/// What a coroutine asks its host for when it hands control back.
#[derive(Clone, Copy, Debug)]
enum Request {
    /// Let other madsim tasks run, then resume.
    Yield,
    /// Resume after an unpark, or at the deadline.
    Park(Option<Instant>),
}

type TaskYielder = Yielder<(), Request>;

thread_local! {
    /// The running coroutine: its task id and its yielder. Set by the coroutine itself every
    /// time it starts or resumes and taken back before it suspends, so it names the running
    /// task only while one runs (madsim polls every task on the thread that runs the world).
    static RUNNING: Cell<Option<(TaskId, *const TaskYielder)>> = const { Cell::new(None) };
}

/// Hands control from the running coroutine to its host with `request`; returns when the host
/// resumes it. Outside a coroutine there is no host to return to, which is a caller's mistake.
fn suspend(request: Request) {
    let Some((task, yielder)) = RUNNING.take() else {
        panic!(
            "vigil-core blocked outside a vigil-madsim task: call the pool from inside \
             `vigil_madsim::Handle::call` or `Handle::spawn` (or a task they started), never directly from async code"
        );
    };
    // SAFETY: the pointer was stored by this coroutine from the `&Yielder` its body received,
    // which lives on this coroutine's own stack for as long as the body runs, and we are that
    // body (RUNNING is taken back before every suspend, so it always names the coroutine
    // that is executing).
    unsafe { &*yielder }.suspend(request);
    RUNNING.set(Some((task, yielder)));
}

/// Clears [`RUNNING`] when a coroutine's body ends, however it ends.
struct ClearRunning;

impl Drop for ClearRunning {
    fn drop(&mut self) {
        RUNNING.set(None);
    }
}

/// Per-task state the host and `unpark` share.
struct TaskState {
    name: String,
    owner: u64,
    /// An unpark that arrived while the task was not parked (one token, as the contract says).
    token: bool,
    /// The host's waker while the task is parked.
    waker: Option<Waker>,
    /// Whether the task can run without waiting for a timer: false from a park until an
    /// unpark (or its timer) lets it go on.
    runnable: bool,
}

/// A check run after every step of every pool task (see [`crate::Handle::check_every_step`]).
pub(crate) type StepCheck = Box<dyn Fn(&Moment) -> Result<(), String> + Send + Sync>;

/// When a step check runs.
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub struct Moment {
    /// No pool task can run until a timer fires or something outside the pool acts: every
    /// exit notice has been handled, every reaper has finished.
    pub quiescent: bool,
}

/// One owner number per incarnation of a madsim node: a restarted node acts for a fresh
/// owner, so ending the old incarnation's processes never touches the new one's.
#[derive(Default)]
struct Owners {
    /// Owner numbers start at 1 (0 is core's "no owner"): index + 1.
    nodes: Vec<NodeId>,
    current: BTreeMap<NodeId, u64>,
}

#[derive(Default)]
struct State {
    next_task: u32,
    tasks: BTreeMap<TaskId, TaskState>,
    owners: Owners,
    panics: Vec<(String, String)>,
    checks: Vec<(String, Arc<StepCheck>)>,
    /// The pools of this world, whose processes a node's death ends.
    contexts: Vec<WorkerContext>,
    /// The first violation a step check reported, with the check's name.
    violation: Option<(String, String)>,
}

/// The scheduler: madsim's executor decides, this type keeps the bookkeeping.
pub struct MadsimScheduler {
    /// Hosts hold the scheduler by `Arc`; `Scheduler::spawn` only gets `&self`.
    this: Weak<MadsimScheduler>,
    home: NodeHandle,
    epoch: madsim::time::Instant,
    state: RawLock<State>,
    /// Never dropped: see `Drop for MadsimScheduler`.
    globals: ManuallyDrop<Globals>,
}

impl Drop for MadsimScheduler {
    fn drop(&mut self) {
        // The pools of a world are abandoned with it, not torn down: their teardown blocks
        // (the listener stops and is waited for), and once the world's runtime is gone no
        // executor is left to run the tasks it would wait for. The memory goes with the test
        // process.
        let contexts = self.state.with(|state| std::mem::take(&mut state.contexts));
        std::mem::forget(contexts);
    }
}

impl fmt::Debug for MadsimScheduler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MadsimScheduler")
            .field("home", &self.home.id())
            .finish_non_exhaustive()
    }
}

impl MadsimScheduler {
    /// A scheduler whose coroutines are hosted on `home`; time counts from now.
    pub(crate) fn new(home: NodeHandle) -> Arc<Self> {
        Arc::new_cyclic(|this| MadsimScheduler {
            this: this.clone(),
            home,
            epoch: madsim::time::Instant::now(),
            state: RawLock::new(State::default()),
            globals: ManuallyDrop::new(Globals::new()),
        })
    }

    /// The owner number the current incarnation of `node` acts under.
    pub(crate) fn owner_of(&self, node: NodeId) -> u64 {
        self.state.with(|state| {
            if let Some(owner) = state.owners.current.get(&node) {
                return *owner;
            }
            state.owners.nodes.push(node);
            let owner = state.owners.nodes.len() as u64;
            state.owners.current.insert(node, owner);
            owner
        })
    }

    /// Ends the current incarnation of `node`: its owner number is never handed out again, and
    /// the next call from that node acts for a new one. Returns the retired owner, if the node
    /// ever acted for one.
    pub(crate) fn retire(&self, node: NodeId) -> Option<u64> {
        self.state.with(|state| state.owners.current.remove(&node))
    }

    /// Whether `owner` belongs to a node incarnation that has ended.
    fn is_retired(&self, owner: u64) -> bool {
        owner != 0
            && self.state.with(|state| {
                !state
                    .owners
                    .current
                    .values()
                    .any(|current| *current == owner)
            })
    }

    /// Tracks `context` so a node's death ends its processes in that pool too.
    pub(crate) fn adopt(&self, context: WorkerContext) {
        self.state.with(|state| {
            if !state.contexts.iter().any(|known| known.same_pool(&context)) {
                state.contexts.push(context);
            }
        });
    }

    /// Starts a task that ends every process `owner` spawned, in every pool of the world,
    /// with reason `Killed`, through core's own terminate path (so links fire and the pool's
    /// monitors see a crash).
    pub(crate) fn reap(self: &Arc<Self>, owner: u64) {
        let contexts = self.state.with(|state| state.contexts.clone());
        let body = move || {
            let default = default_worker_context();
            for context in contexts.iter().chain(std::iter::once(&default)) {
                if let Some(supervisor) = context.peek_supervisor() {
                    supervisor.node().terminate_owned(owner, ExitReason::Killed);
                }
            }
        };
        self.spawn_owned("node-reaper", 0, Box::new(body));
    }

    /// Adds a check run after every step of every pool task.
    pub(crate) fn add_check(&self, name: &str, check: StepCheck) {
        let name = name.to_owned();
        self.state
            .with(|state| state.checks.push((name, Arc::new(check))));
    }

    /// The first violation any step check reported: (check name, message).
    pub(crate) fn violation(&self) -> Option<(String, String)> {
        self.state.with(|state| state.violation.clone())
    }

    /// Runs the step checks (outside the state lock: a check peeks at the pool, which may
    /// read the clock), keeping the first violation.
    fn after_step(&self) {
        let (checks, quiescent) = self.state.with(|state| {
            let quiescent = state.tasks.values().all(|task| !task.runnable);
            (state.checks.clone(), quiescent)
        });
        if checks.is_empty() {
            return;
        }
        let moment = Moment { quiescent };
        for (name, check) in &checks {
            if let Err(message) = check(&moment) {
                self.state.with(|state| {
                    state
                        .violation
                        .get_or_insert_with(|| (name.clone(), message));
                });
                return;
            }
        }
    }

    fn set_runnable(&self, task: TaskId, runnable: bool) {
        self.state.with(|state| {
            if let Some(entry) = state.tasks.get_mut(&task) {
                entry.runnable = runnable || entry.token;
            }
        });
    }

    /// Panics reported by core's spawn wrapper: (task name, message), in order.
    pub(crate) fn panics(&self) -> Vec<(String, String)> {
        self.state.with(|state| state.panics.clone())
    }

    /// Starts `body` as a core task acting for `owner`, hosted on the home node.
    pub(crate) fn spawn_owned(
        self: &Arc<Self>,
        name: &str,
        owner: u64,
        body: Box<dyn FnOnce() + Send + 'static>,
    ) -> TaskId {
        let task = self.state.with(|state| {
            let task = TaskId(state.next_task);
            state.next_task += 1;
            state.tasks.insert(
                task,
                TaskState {
                    name: name.to_owned(),
                    owner,
                    token: false,
                    waker: None,
                    runnable: true,
                },
            );
            task
        });
        let coroutine = Coroutine::new(move |yielder: &TaskYielder, ()| {
            RUNNING.set(Some((task, yielder as *const TaskYielder)));
            // Cleared on return and on unwind alike: a body that panics (a user's call) must
            // not leave RUNNING pointing into a stack that is gone.
            let _clear = ClearRunning;
            body();
        });
        let host = Host {
            scheduler: self.clone(),
            task,
            coroutine: Some(coroutine),
            waiting: Waiting::Start,
        };
        drop(self.home.spawn(OnHomeThread(host)));
        task
    }

    fn running_task(&self) -> Option<TaskId> {
        RUNNING.get().map(|(task, _)| task)
    }

    fn take_token(&self, task: TaskId) -> bool {
        self.state.with(|state| match state.tasks.get_mut(&task) {
            Some(entry) => std::mem::take(&mut entry.token),
            None => false,
        })
    }

    fn set_waker(&self, task: TaskId, waker: &Waker) {
        self.state.with(|state| {
            if let Some(entry) = state.tasks.get_mut(&task) {
                entry.waker = Some(waker.clone());
            }
        });
    }

    fn deadline_instant(&self, deadline: Instant) -> madsim::time::Instant {
        self.epoch + Duration::from_nanos(deadline.as_nanos())
    }
}

impl Scheduler for MadsimScheduler {
    fn spawn(&self, name: &str, body: Box<dyn FnOnce() + Send + 'static>) -> TaskId {
        let owner = self.owner();
        let this = self.this.upgrade().unwrap_or_else(|| {
            panic!("[internal bug] a MadsimScheduler spawned a task while being dropped")
        });
        this.spawn_owned(name, owner, body)
    }

    fn current(&self) -> TaskId {
        // Outside any coroutine (the async code that owns the world) there is no core task;
        // a reserved id keeps `current` total without pretending to be one of them.
        self.running_task().unwrap_or(TaskId(u32::MAX))
    }

    fn point(&self, _site: Site) {
        if self.running_task().is_some() {
            suspend(Request::Yield);
        }
    }

    fn park(&self, _site: Site, deadline: Option<Instant>) {
        suspend(Request::Park(deadline));
    }

    fn unpark(&self, task: TaskId) {
        let waker = self.state.with(|state| {
            let entry = state.tasks.get_mut(&task)?;
            entry.token = true;
            entry.runnable = true;
            entry.waker.take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn now(&self) -> Instant {
        let elapsed = madsim::time::Instant::now().saturating_duration_since(self.epoch);
        Instant::from_nanos(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX))
    }

    fn random_u64(&self) -> u64 {
        madsim::rand::random::<u64>()
    }

    fn task_panicked(&self, task: TaskId, message: &str) {
        self.state.with(|state| {
            let name = state
                .tasks
                .get(&task)
                .map_or_else(|| task.to_string(), |entry| entry.name.clone());
            state.panics.push((name, message.to_owned()));
        });
    }

    fn owner(&self) -> u64 {
        match self.running_task() {
            Some(task) => self
                .state
                .with(|state| state.tasks.get(&task).map_or(0, |entry| entry.owner)),
            None => self.owner_of(madsim::plugin::node()),
        }
    }

    fn globals(&self) -> &Globals {
        &self.globals
    }
}

/// What a host waits for before it resumes its coroutine.
enum Waiting {
    Start,
    /// Resume on the next poll (the host already yielded once to madsim).
    Yielded,
    Park(Option<Pin<Box<madsim::time::Sleep>>>),
}

/// The madsim task that drives one coroutine.
struct Host {
    scheduler: Arc<MadsimScheduler>,
    task: TaskId,
    coroutine: Option<Coroutine<(), Request, ()>>,
    waiting: Waiting,
}

impl Host {
    /// Whether the coroutine may run now; registers the waker when it may not.
    fn ready(&mut self, cx: &mut Context<'_>) -> bool {
        match &mut self.waiting {
            Waiting::Start | Waiting::Yielded => true,
            Waiting::Park(timer) => {
                if self.scheduler.take_token(self.task) {
                    return true;
                }
                if let Some(timer) = timer
                    && timer.as_mut().poll(cx).is_ready()
                {
                    return true;
                }
                self.scheduler.set_waker(self.task, cx.waker());
                false
            }
        }
    }
}

impl Future for Host {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.ready(cx) {
            return Poll::Pending;
        }
        self.scheduler.set_runnable(self.task, true);
        let result = {
            let _installed = rt::enter(self.scheduler.clone());
            let coroutine = self
                .coroutine
                .as_mut()
                .expect("[internal bug] host polled after end");
            coroutine.resume(())
        };
        match result {
            CoroutineResult::Yield(Request::Yield) => {
                self.scheduler.after_step();
                self.waiting = Waiting::Yielded;
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            CoroutineResult::Yield(Request::Park(deadline)) => {
                self.scheduler.set_runnable(self.task, false);
                self.scheduler.after_step();
                let timer = deadline.map(|deadline| {
                    let at = self.scheduler.deadline_instant(deadline);
                    Box::pin(madsim::time::sleep_until(at))
                });
                self.waiting = Waiting::Park(timer);
                // Poll again at once: the token may already be there, and the timer must
                // register its waker.
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            CoroutineResult::Return(()) => {
                self.coroutine = None;
                let task = self.task;
                let owner = self
                    .scheduler
                    .state
                    .with(|state| state.tasks.remove(&task).map_or(0, |entry| entry.owner));
                // A call still running when its node died may have spawned processes after
                // the reaper ran; they die with the node's incarnation all the same.
                if self.scheduler.is_retired(owner) {
                    self.scheduler.reap(owner);
                }
                self.scheduler.after_step();
                Poll::Ready(())
            }
        }
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        if let Some(mut coroutine) = self.coroutine.take()
            && coroutine.started()
            && !coroutine.done()
        {
            // The world ended (or the home node was killed) with this task suspended, for
            // example a listener parked for good. Unwinding would run the pool's destructors,
            // which block, with no executor left to run them; the task is abandoned instead.
            // SAFETY: `force_reset` skips the destructors of the frames on this stack, which
            // leaks what they own, as `mem::forget` would. Nothing outside the stack points
            // into it once the coroutine is suspended: RUNNING is taken before every suspend,
            // and core's primitives queue waiters by task id on the heap, never as nodes on a
            // waiter's stack. The stack is unmapped when `coroutine` drops below.
            unsafe { coroutine.force_reset() };
        }
    }
}

/// Makes a host spawnable on the home node with madsim's `NodeHandle::spawn`, which asks for
/// `Send` because its real (non-simulated) counterpart may move tasks between threads.
struct OnHomeThread(Host);

// SAFETY: a coroutine is `!Send` because its stack may hold `!Send` values. madsim's simulated
// runtime creates, polls and drops every task of a world on the single thread that runs the
// world (`Runtime::block_on`; system threads are refused by default), so the host never
// actually leaves the thread that created it. vigil-madsim compiles only with `--cfg madsim`
// (lib.rs), where that holds.
unsafe impl Send for OnHomeThread {}

impl Future for OnHomeThread {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.get_mut().0).poll(cx)
    }
}
