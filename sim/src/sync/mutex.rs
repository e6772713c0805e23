//! `Mutex` and `MutexGuard` with std's signatures, over `vigil_core::sync::Mutex`.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

use vigil_core::sync as core_sync;

/// A mutual-exclusion lock whose lock, and whose unlock when another task could tell, are
/// scheduling points (see `vigil_core::sync::Mutex`).
///
/// Shaped like `std::sync::Mutex`, but it never poisons: every `LockResult` is `Ok`, and a
/// guard dropped during a panic simply releases the lock.
pub struct Mutex<T: ?Sized> {
    inner: core_sync::Mutex<T>,
}

impl<T> Mutex<T> {
    /// A mutex whose scheduling points are named `mutex` in traces.
    pub const fn new(value: T) -> Self {
        Mutex {
            inner: core_sync::Mutex::new(value),
        }
    }

    /// A mutex whose scheduling points carry `name` (not in std; for readable traces).
    pub const fn named(name: &'static str, value: T) -> Self {
        Mutex {
            inner: core_sync::Mutex::named(name, value),
        }
    }

    /// Consumes the mutex and returns its data. Never `Err`.
    pub fn into_inner(self) -> LockResult<T> {
        Ok(self.inner.into_inner())
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the lock, parking the task while another holds it. Never `Err`.
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        Ok(MutexGuard {
            mutex: self,
            inner: self.inner.lock(),
        })
    }

    /// Acquires the lock if it is free; `Err(WouldBlock)` when another task holds it.
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        match self.inner.try_lock() {
            Some(inner) => Ok(MutexGuard { mutex: self, inner }),
            None => Err(TryLockError::WouldBlock),
        }
    }

    /// A mutable reference to the data; no locking is needed. Never `Err`.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        Ok(self.inner.get_mut())
    }

    /// Always `false`: this mutex does not poison.
    pub fn is_poisoned(&self) -> bool {
        false
    }

    /// Does nothing: there is no poison to clear.
    pub fn clear_poison(&self) {}
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

/// Holds a [`Mutex`] locked; the unlock (a scheduling point) happens on drop.
///
/// It remembers its mutex so that [`Condvar::wait`](super::Condvar::wait) can release and
/// re-acquire it.
///
/// Its thread-safety comes from the `vigil_core` guard inside it: `!Send`, as std's guard, and
/// `Sync` only when `T: Sync` (the `&Mutex<T>` field also needs `T: Send`, which every mutex
/// that can be shared already has). No `unsafe impl` is needed here.
///
/// ```compile_fail,E0277
/// use vigil_sim::sync::MutexGuard;
/// fn assert_send<S: Send>() {}
/// assert_send::<MutexGuard<'static, u32>>();
/// ```
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
/// use vigil_sim::sync::MutexGuard;
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<MutexGuard<'static, Cell<u32>>>();
/// ```
///
/// ```
/// use vigil_sim::sync::MutexGuard;
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<MutexGuard<'static, u32>>();
/// ```
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    pub(super) mutex: &'a Mutex<T>,
    inner: core_sync::MutexGuard<'a, T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
