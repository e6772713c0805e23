//! Scoped threads, as `std::thread::scope`: threads that may borrow from the caller's stack,
//! all joined before `scope` returns.
//!
//! Each scoped thread is an ordinary task whose body has its lifetime erased (the one
//! `unsafe` block below). What makes that sound is the scope's count of running threads: a
//! thread leaves the count only after its body, and everything the body captured, is gone,
//! and [`scope`] parks until the count is zero before it returns or unwinds. The result of
//! each thread goes into a slot shared with its [`ScopedJoinHandle`].

use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use vigil_core::rt::{self, Op, RawLock, Site, TaskId};
use vigil_core::thread as core_thread;

use super::{Builder, Thread};

/// The scope [`scope`] hands its closure; spawn borrowing threads with [`Scope::spawn`].
pub struct Scope<'scope, 'env: 'scope> {
    state: Arc<ScopeState>,
    /// Invariant over `'scope` and covariant over `'env`, as std's.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// What the threads of a scope share with its owner.
struct ScopeState {
    running: AtomicUsize,
    a_thread_panicked: AtomicBool,
    owner: TaskId,
}

/// Owns a scoped thread; [`join`](Self::join) waits for it and returns its result.
pub struct ScopedJoinHandle<'scope, T> {
    inner: core_thread::JoinHandle<()>,
    thread: Thread,
    result: Arc<RawLock<Option<T>>>,
    _scope: PhantomData<&'scope ()>,
}

/// Runs `f` with a [`Scope`], then waits for every thread spawned in it, as std does. Panics
/// (after the wait) if `f` did, or if a scoped thread panicked and was not joined.
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        state: Arc::new(ScopeState {
            running: AtomicUsize::new(0),
            a_thread_panicked: AtomicBool::new(false),
            owner: rt::current().current(),
        }),
        _scope: PhantomData,
        _env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    scope.wait_for_all();
    match result {
        Err(payload) => resume_unwind(payload),
        Ok(_) if scope.state.a_thread_panicked.load(Ordering::Acquire) => {
            panic!("a scoped thread panicked")
        }
        Ok(value) => value,
    }
}

impl<'scope> Scope<'scope, '_> {
    /// Spawns a thread that may borrow anything that outlives the scope.
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        spawn(Builder::new(), self, f)
    }

    /// Parks the owner until every thread of the scope has finished its body.
    fn wait_for_all(&self) {
        let scheduler = rt::current();
        let site = Site::new("thread.scope", Op::Join);
        scheduler.point(site);
        while self.state.running.load(Ordering::Acquire) > 0 {
            scheduler.park(site, None);
        }
    }
}

/// Leaves the scope's count when the scoped body is over (returned or unwinding), and wakes
/// the owner, which may be waiting in [`scope`].
struct Leave(Arc<ScopeState>);

impl Drop for Leave {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.a_thread_panicked.store(true, Ordering::Release);
        }
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        rt::current().unpark(self.0.owner);
    }
}

pub(super) fn spawn<'scope, F, T>(
    builder: Builder,
    scope: &'scope Scope<'scope, '_>,
    f: F,
) -> ScopedJoinHandle<'scope, T>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    let result = Arc::new(RawLock::new(None));
    let slot = result.clone();
    scope.state.running.fetch_add(1, Ordering::AcqRel);
    let leave = Leave(scope.state.clone());
    let body: Box<dyn FnOnce() + Send + 'scope> = Box::new(move || {
        let _leave = leave;
        let value = f();
        slot.with(|slot| *slot = Some(value));
        drop(slot);
    });
    // SAFETY: only the lifetime changes. `body` borrows data that lives for `'scope`, and
    // `scope` (the only way to get a `&'scope Scope`) does not return or unwind before the
    // scope's count is zero; `body` leaves the count (`_leave`, dropped last) only after it
    // has run and dropped everything it captured, the slot's `Arc` included. The task's
    // stack after that holds nothing of `'scope`. Under simulation an execution that ends
    // early abandons every task without resuming it, so a task whose scope's frame is gone
    // never runs again.
    let body: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(body) };
    let (inner, thread) = builder.spawn_task(body);
    ScopedJoinHandle {
        inner,
        thread,
        result,
        _scope: PhantomData,
    }
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the thread and returns its result; `Err` with the panic message when it
    /// panicked (see the module docs of `thread` for when that can happen in simulation).
    pub fn join(self) -> std::thread::Result<T> {
        self.inner
            .join()
            .map_err(|error| -> Box<dyn std::any::Any + Send> { Box::new(error.message) })?;
        let value = self.result.with(Option::take);
        Ok(value.expect("[internal bug] a joined scoped thread left no result"))
    }

    pub fn thread(&self) -> &Thread {
        &self.thread
    }

    /// Whether the thread has finished, without a scheduling point.
    pub fn is_finished(&self) -> bool {
        self.inner.is_finished()
    }
}

impl<T> std::fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("thread", &self.thread)
            .finish()
    }
}

impl std::fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scope").finish_non_exhaustive()
    }
}
