//! A blocking mutex whose lock and unlock are scheduling points.
//!
//! It does not poison: a guard dropped during unwinding releases the lock, as in `parking_lot`.
//! Contention is modelled by parking on the scheduler, never by blocking the OS thread.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};

use crate::rt::{self, Object, ObjectId, Op, RawLock, Site, TaskId};

/// A mutual-exclusion lock named for traces and fault sites.
pub struct Mutex<T: ?Sized> {
    name: &'static str,
    id: ObjectId,
    state: RawLock<LockState>,
    data: UnsafeCell<T>,
}

#[derive(Debug, Default)]
struct LockState {
    held_by: Option<TaskId>,
    waiters: VecDeque<TaskId>,
}

// SAFETY: access to `data` is serialised by `state.held_by`, exactly as in `std::sync::Mutex`.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above; only the holder of the lock can reach `data`.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}

impl<T> Mutex<T> {
    /// A mutex named `mutex` in traces.
    pub const fn new(value: T) -> Self {
        Mutex::named("mutex", value)
    }

    /// A mutex whose scheduling points carry `name`.
    pub const fn named(name: &'static str, value: T) -> Self {
        Mutex {
            name,
            id: ObjectId::new(),
            state: RawLock::new(LockState {
                held_by: None,
                waiters: VecDeque::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the lock, parking the task while another holds it.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        let scheduler = rt::current();
        let site = Site::new(self.name, Op::Lock);
        scheduler.point_on(site, Object::Shared(&self.id));
        let me = scheduler.current();
        loop {
            let acquired = self.state.with(|state| {
                if state.held_by.is_none() {
                    state.held_by = Some(me);
                    state.waiters.retain(|&waiter| waiter != me);
                    true
                } else {
                    if !state.waiters.contains(&me) {
                        state.waiters.push_back(me);
                    }
                    false
                }
            });
            if acquired {
                return MutexGuard { mutex: self };
            }
            scheduler.park(site, None);
        }
    }

    /// Acquires the lock if it is free, without parking.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let scheduler = rt::current();
        scheduler.point_on(Site::new(self.name, Op::Lock), Object::Shared(&self.id));
        let me = scheduler.current();
        let acquired = self.state.with(|state| {
            let free = state.held_by.is_none();
            if free {
                state.held_by = Some(me);
            }
            free
        });
        acquired.then(|| MutexGuard { mutex: self })
    }

    /// Reads the data without a scheduling point, only when nobody holds the lock.
    ///
    /// For observers outside the simulated tasks (invariant checkers): they run between steps,
    /// so an unheld lock means no task is part-way through changing the data.
    pub fn peek<R>(&self, read: impl FnOnce(&T) -> R) -> Option<R> {
        self.state.with(|state| {
            if state.held_by.is_some() {
                return None;
            }
            // SAFETY: the lock is free and the bookkeeping lock is held, so no guard exists and
            // none can be created until this closure returns.
            Some(read(unsafe { &*self.data.get() }))
        })
    }

    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Mutex");
        out.field("name", &self.name);
        match self.peek(|data| format!("{data:?}")) {
            Some(data) => out.field("data", &format_args!("{data}")),
            None => out.field("data", &format_args!("<locked>")),
        };
        out.finish()
    }
}

/// Holds a [`Mutex`] locked; unlocking (a scheduling point) happens on drop.
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves this task holds the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves this task holds the lock, and `&mut self` makes it unique.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        let scheduler = rt::current();
        if !std::thread::panicking() {
            let site = Site::new(self.mutex.name, Op::Unlock);
            scheduler.point_on(site, Object::Shared(&self.mutex.id));
        }
        let next = self.mutex.state.with(|state| {
            state.held_by = None;
            state.waiters.pop_front()
        });
        if let Some(waiter) = next {
            scheduler.unpark(waiter);
        }
    }
}
