//! `Once`, `OnceLock` and `LazyLock` with std's signatures, built from the facade's atomics
//! and [`Mutex`]: the completion check is an atomic load (`once load`) and the initialiser
//! runs under a mutex (`once.init lock`), so racing first callers are interleaved and every
//! loser waits for the winner's initialiser, as in std.
//!
//! Each simulated execution starts with them uninitialised, `static` ones included: a cell
//! remembers the execution (`vigil_core::rt::generation`) it was completed in, and in any
//! other execution it runs its initialiser again, taking the same scheduling points as the
//! first time. Without that, a `static` initialised in one execution would skip those points
//! in the next, and a systematic search replaying a prefix would diverge. In production there
//! is one generation, so each initialises once, as std's do.
//!
//! Departures from std: nothing poisons (a panicking initialiser fails the simulated
//! execution; in production the next caller simply runs its own initialiser); a `static`
//! `OnceLock` keeps the values of earlier executions allocated (a reference handed out then
//! may still be held, in another `static` say, so dropping them would be unsound); and
//! `LazyLock` needs an initialiser it can call again (`F: Fn`, where std takes `FnOnce`).

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicPtr, AtomicU64 as StdAtomicU64, Ordering as StdOrdering};

use vigil_core::rt;

use super::Mutex;
use super::atomic::{AtomicBool, Ordering};

/// The mark of the calling execution: its generation plus one, so zero means "never".
fn this_execution() -> u64 {
    u64::from(rt::generation()) + 1
}

/// Runs an initialiser exactly once (per simulated execution).
pub struct Once {
    done: AtomicBool,
    /// The mark of the execution a call completed in (see [`this_execution`]).
    done_in: StdAtomicU64,
    init: Mutex<()>,
}

/// What [`Once::call_once_force`] hands its closure. Never poisoned here.
#[derive(Debug)]
pub struct OnceState(());

impl OnceState {
    /// Always `false`: a `Once` here does not poison.
    pub fn is_poisoned(&self) -> bool {
        false
    }
}

impl Once {
    pub const fn new() -> Once {
        Once {
            done: AtomicBool::named("once", false),
            done_in: StdAtomicU64::new(0),
            init: Mutex::named("once.init", ()),
        }
    }

    /// Runs `f` if no call has completed yet; concurrent callers wait until it has.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        self.call_once_force(|_| f());
    }

    /// As [`call_once`](Self::call_once); the state is never poisoned.
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.is_completed() {
            return;
        }
        let _init = self.init.lock().unwrap_or_else(PoisonError::into_inner);
        if self.is_completed() {
            return;
        }
        f(&OnceState(()));
        self.done_in.store(this_execution(), StdOrdering::Release);
        self.done.store(true, Ordering::Release);
    }

    /// Whether some call has completed in this execution (a scheduling point, `once load`).
    pub fn is_completed(&self) -> bool {
        // The load is the scheduling point in every execution; a flag left set by an earlier
        // execution does not count.
        self.done.load(Ordering::Acquire) && self.completed_quietly()
    }

    /// Whether a call completed in this execution, without a scheduling point.
    fn completed_quietly(&self) -> bool {
        self.done_in.load(StdOrdering::Acquire) == this_execution()
    }
}

impl Default for Once {
    fn default() -> Self {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once").finish_non_exhaustive()
    }
}

/// A cell written at most once (per simulated execution), with std's `OnceLock` methods.
pub struct OnceLock<T> {
    once: Once,
    /// The value set in the execution `once` completed in, boxed; null before the first.
    value: AtomicPtr<T>,
    /// The cell owns a `T` (for drop checking).
    owns: PhantomData<T>,
    /// Opts out of the auto traits, which the raw pointer would grant for any `T`; they are
    /// stated below.
    not_auto: PhantomData<*const ()>,
}

// SAFETY: the cell owns its `T` (boxed behind `value`), so sending the cell sends the `T`.
unsafe impl<T: Send> Send for OnceLock<T> {}
// SAFETY: as for std's `OnceLock`: a shared cell lets any thread initialise it (moving a `T`
// in, so `T: Send`) and read it (sharing `&T`, so `T: Sync`); `value` is written only by
// the one caller that wins `once`, before `once` completes, and read only after.
unsafe impl<T: Send + Sync> Sync for OnceLock<T> {}

impl<T> OnceLock<T> {
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: Once::new(),
            value: AtomicPtr::new(ptr::null_mut()),
            owns: PhantomData,
            not_auto: PhantomData,
        }
    }

    /// The value, if initialisation has completed (a scheduling point, `once load`).
    pub fn get(&self) -> Option<&T> {
        self.once.is_completed().then(|| self.current())
    }

    /// Stores `value` unless the cell is already set, in which case `value` comes back.
    pub fn set(&self, value: T) -> Result<(), T> {
        let mut value = Some(value);
        self.get_or_init(|| {
            value
                .take()
                .expect("[internal bug] set's value taken twice")
        });
        match value {
            None => Ok(()),
            Some(value) => Err(value),
        }
    }

    /// The value, running `f` to set it first if nobody has; racing callers wait for it.
    pub fn get_or_init<F: FnOnce() -> T>(&self, f: F) -> &T {
        self.once.call_once(|| {
            let fresh = Box::into_raw(Box::new(f()));
            // A value from an earlier execution is left allocated: a reference to it may
            // still be held (see the module documentation).
            self.value.swap(fresh, StdOrdering::AcqRel);
        });
        self.current()
    }

    /// The value set in this execution; only after `once` completed in it.
    fn current(&self) -> &T {
        let value = self.value.load(StdOrdering::Acquire);
        // SAFETY: `once` completed in this execution, so `value` is the box its winner
        // stored before completing; it is freed only through `&mut self` or by drop.
        unsafe { value.as_ref() }.expect("[internal bug] a completed OnceLock has no value")
    }

    pub fn get_mut(&mut self) -> Option<&mut T> {
        if !self.once.completed_quietly() {
            return None;
        }
        // SAFETY: completed in this execution, so the pointer is this execution's box, and
        // `&mut self` rules out every other reference to it.
        unsafe { self.value.get_mut().as_mut() }
    }

    /// Empties the cell and returns what it held in this execution.
    pub fn take(&mut self) -> Option<T> {
        let set_here = self.once.completed_quietly();
        let value = std::mem::replace(self.value.get_mut(), ptr::null_mut());
        self.once = Once::new();
        if value.is_null() {
            return None;
        }
        // SAFETY: the box came from `Box::into_raw` in `get_or_init`, and `&mut self` rules
        // out every reference to it (a `static`'s value cannot be reached through `&mut`).
        let value = unsafe { Box::from_raw(value) };
        set_here.then_some(*value)
    }

    pub fn into_inner(mut self) -> Option<T> {
        self.take()
    }
}

impl<T> Drop for OnceLock<T> {
    fn drop(&mut self) {
        let value = *self.value.get_mut();
        if !value.is_null() {
            // SAFETY: as in `take`: our own box, and nothing can borrow a cell being dropped.
            drop(unsafe { Box::from_raw(value) });
        }
    }
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    /// Shows the value without a scheduling point, so it works outside simulated tasks.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.once.completed_quietly().then(|| self.current());
        f.debug_tuple("OnceLock").field(&value).finish()
    }
}

/// A value computed on first access by `F` (again in every simulated execution), with std's
/// `LazyLock` methods.
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: F,
}

impl<T, F: Fn() -> T> LazyLock<T, F> {
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: f,
        }
    }

    /// The value, computing it on first use; racing callers wait for the first.
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(&this.init)
    }
}

impl<T, F: Fn() -> T> Deref for LazyLock<T, F> {
    type Target = T;
    fn deref(&self) -> &T {
        LazyLock::force(self)
    }
}

impl<T: Default> Default for LazyLock<T> {
    fn default() -> Self {
        LazyLock::new(T::default)
    }
}

impl<T: fmt::Debug, F> fmt::Debug for LazyLock<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LazyLock").field(&self.cell).finish()
    }
}
