//! A blocking mutex whose lock, and whose unlock when another task could tell, are
//! scheduling points.
//!
//! An unlock is a point only when a task waits for the lock, or when the critical section had
//! no scheduling point of its own while another task is about to `try_lock` the mutex.
//! Otherwise no task can observe the moment between the section's last point and the unlock:
//! a `lock` by another task in that moment would have queued it as a waiter (and the unlock
//! would be a point); a `try_lock` that fails there fails equally at the section's last point,
//! which is a scheduling point; and a section with no point inside can only be seen held by a
//! `try_lock` that is already waiting at its point. That `try_lock` announces itself with an
//! access to the mutex in the step that brings it to its point, so a search that reduces by
//! dependencies orders that step against the section's lock. So the unlock joins the step it
//! falls in, as in loom. The lock before the section stays a point always.
//!
//! It does not poison: a guard dropped during unwinding releases the lock, as in `parking_lot`.
//! Contention is modelled by parking on the scheduler, never by blocking the OS thread.

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
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
    /// The scheduler's epoch when the lock was taken: unchanged at the unlock means the
    /// critical section had no scheduling point.
    epoch: u64,
    /// Tasks waiting at a `try_lock` point of this mutex.
    trying: u32,
}

// SAFETY: moving a `Mutex<T>` to another thread moves the `T` inside it, so `T: Send` is
// needed and enough; the other fields (`&'static str`, `RawLock`) are `Send` on their own.
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: a shared `&Mutex<T>` reaches `data` only through a guard (or `peek`, below), and a
// guard exists only while `state.held_by` names its task, so at most one thread at a time
// touches the `T`; that hands the `T` from thread to thread, which is what `T: Send` allows.
// `T: Sync` is not needed, exactly as for `std::sync::Mutex`. `peek` gives `&T` only while no
// guard exists and the bookkeeping lock is held, so it never overlaps a guard either.
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
                epoch: 0,
                trying: 0,
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
                if state.held_by == Some(me) {
                    return Err(());
                }
                Ok(if state.held_by.is_none() {
                    state.held_by = Some(me);
                    state.epoch = scheduler.epoch();
                    state.waiters.retain(|&waiter| waiter != me);
                    true
                } else {
                    if !state.waiters.contains(&me) {
                        state.waiters.push_back(me);
                    }
                    false
                })
            });
            match acquired {
                Ok(true) => return MutexGuard::new(self),
                Ok(false) => {}
                Err(()) => self.self_deadlock(me),
            }
            scheduler.park(site, None);
        }
    }

    /// A task locking a mutex it holds would wait for itself for ever. std's mutex may
    /// deadlock or panic there; this one panics, naming the mistake, so a simulation reports
    /// it as such instead of as a deadlock among tasks.
    #[cold]
    fn self_deadlock(&self, me: TaskId) -> ! {
        panic!(
            "{me} tried to lock a mutex it already holds ('{}'): a self-deadlock. Drop the \
             first guard before locking again.",
            self.name
        )
    }

    /// Acquires the lock if it is free, without parking.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let scheduler = rt::current();
        let (site, object) = (Site::new(self.name, Op::TryLock), Object::Shared(&self.id));
        // Announced in the step before the point (see the module docs).
        self.state.with(|state| state.trying += 1);
        scheduler.access(site, object);
        scheduler.point_on(site, object);
        let me = scheduler.current();
        let acquired = self.state.with(|state| {
            state.trying -= 1;
            let free = state.held_by.is_none();
            if free {
                state.held_by = Some(me);
                state.epoch = scheduler.epoch();
            }
            free
        });
        acquired.then(|| MutexGuard::new(self))
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

/// Holds a [`Mutex`] locked; unlocking (a scheduling point when another task could tell, see
/// the module docs) happens on drop.
///
/// Like std's guard it is `!Send` (it must be dropped by the task that locked, because the
/// unlock releases `held_by` for that task) and `Sync` only when `T: Sync` (a shared guard hands
/// out `&T` to every thread that can see it). Both bounds are checked by the doc tests below.
///
/// A guard cannot be sent to another thread:
///
/// ```compile_fail,E0277
/// use vigil_core::sync::{Mutex, MutexGuard};
/// fn assert_send<S: Send>() {}
/// assert_send::<MutexGuard<'static, u32>>();
/// ```
///
/// A guard of a `Send + !Sync` value cannot be shared between threads:
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
/// use vigil_core::sync::MutexGuard;
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<MutexGuard<'static, Cell<u32>>>();
/// ```
///
/// The issue's example, two scoped threads reaching one `Cell` through one guard, is
/// rejected:
///
/// ```compile_fail,E0277
/// use std::cell::Cell;
/// use vigil_core::sync::Mutex;
/// let mutex = Mutex::new(Cell::new(0));
/// let guard = mutex.lock();
/// std::thread::scope(|scope| {
///     scope.spawn(|| guard.set(1));
///     guard.set(2);
/// });
/// ```
///
/// A guard of a `Sync` value is `Sync`, as in std:
///
/// ```
/// use vigil_core::sync::MutexGuard;
/// fn assert_sync<S: Sync>() {}
/// assert_sync::<MutexGuard<'static, u32>>();
/// ```
pub struct MutexGuard<'a, T: ?Sized> {
    mutex: &'a Mutex<T>,
    /// A raw pointer is neither `Send` nor `Sync`: this takes both away from the guard, and the
    /// `Sync` impl below puts back exactly the part std's guard has.
    _not_send: PhantomData<*const ()>,
}

// SAFETY: `&MutexGuard<T>` gives other threads `&T` (through `Deref`) and nothing else: `DerefMut`
// and `Drop` need the guard itself, which stays on the locking thread (`!Send`). Sharing `&T`
// between threads is sound exactly when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    fn new(mutex: &'a Mutex<T>) -> Self {
        MutexGuard {
            mutex,
            _not_send: PhantomData,
        }
    }
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
        let site = Site::new(self.mutex.name, Op::Unlock);
        let object = Object::Shared(&self.mutex.id);
        // While the thread unwinds no point is taken (the executor would not switch there
        // anyway), but the release is still recorded: a `try_lock` that ran before it failed
        // and one after it succeeds, so a search that reduces by dependencies must order them.
        let observable = !std::thread::panicking()
            && self.mutex.state.with(|state| {
                let empty_section = state.epoch == scheduler.epoch();
                !state.waiters.is_empty() || (empty_section && state.trying > 0)
            });
        if observable {
            scheduler.point_on(site, object);
        } else {
            scheduler.access(site, object);
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
