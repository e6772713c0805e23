//! `Once`, `OnceLock` and `LazyLock` with std's signatures, built from the facade's atomics
//! and [`Mutex`]: the completion check is an atomic load (`once load`) and the initialiser
//! runs under a mutex (`once.init lock`), so racing first callers are interleaved and every
//! loser waits for the winner's initialiser, as in std.
//!
//! Departures from std: nothing poisons (a panicking initialiser fails the simulated
//! execution; in production the next caller simply runs its own initialiser), and a `static`
//! keeps its value from one simulated execution to the next, so put cells a model should see
//! fresh inside the model's closure.

use std::fmt;
use std::ops::Deref;
use std::sync::OnceLock as StdOnceLock;
use std::sync::PoisonError;

use super::Mutex;
use super::atomic::{AtomicBool, Ordering};

/// Runs an initialiser exactly once.
pub struct Once {
    done: AtomicBool,
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
            init: Mutex::named("once.init", ()),
        }
    }

    /// Runs `f` if no call has completed yet; concurrent callers wait until it has.
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        self.call_once_force(|_| f());
    }

    /// As [`call_once`](Self::call_once); the state is never poisoned.
    pub fn call_once_force<F: FnOnce(&OnceState)>(&self, f: F) {
        if self.done.load(Ordering::Acquire) {
            return;
        }
        let _init = self.init.lock().unwrap_or_else(PoisonError::into_inner);
        if self.done.load(Ordering::Acquire) {
            return;
        }
        f(&OnceState(()));
        self.done.store(true, Ordering::Release);
    }

    /// Whether some call has completed.
    pub fn is_completed(&self) -> bool {
        self.done.load(Ordering::Acquire)
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

/// A cell written at most once, with std's `OnceLock` methods.
pub struct OnceLock<T> {
    once: Once,
    value: StdOnceLock<T>,
}

impl<T> OnceLock<T> {
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            once: Once::new(),
            value: StdOnceLock::new(),
        }
    }

    /// The value, if initialisation has completed (a scheduling point, `once load`).
    pub fn get(&self) -> Option<&T> {
        if self.once.is_completed() {
            self.value.get()
        } else {
            None
        }
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
            // Only the winner of `once` gets here, so the std cell is empty.
            let _ = self.value.set(f());
        });
        self.value
            .get()
            .expect("[internal bug] a completed OnceLock has no value")
    }

    pub fn get_mut(&mut self) -> Option<&mut T> {
        self.value.get_mut()
    }

    /// Empties the cell and returns what it held.
    pub fn take(&mut self) -> Option<T> {
        let value = self.value.take();
        self.once = Once::new();
        value
    }

    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
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
        f.debug_tuple("OnceLock").field(&self.value.get()).finish()
    }
}

/// A value computed on first access by `F`, with std's `LazyLock` methods.
pub struct LazyLock<T, F = fn() -> T> {
    cell: OnceLock<T>,
    init: Mutex<Option<F>>,
}

impl<T, F: FnOnce() -> T> LazyLock<T, F> {
    pub const fn new(f: F) -> LazyLock<T, F> {
        LazyLock {
            cell: OnceLock::new(),
            init: Mutex::named("lazy.init", Some(f)),
        }
    }

    /// The value, computing it on first use; racing callers wait for the first.
    pub fn force(this: &LazyLock<T, F>) -> &T {
        this.cell.get_or_init(|| {
            let init = this
                .init
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            init.expect("LazyLock's initialiser ran before and panicked")()
        })
    }
}

impl<T, F: FnOnce() -> T> Deref for LazyLock<T, F> {
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
        f.debug_tuple("LazyLock")
            .field(&self.cell.value.get())
            .finish()
    }
}
