//! `RwLock` with std's signatures: many readers or one writer, every lock and unlock a
//! scheduling point.
//!
//! For a search that reduces by dependencies, a read lock and a read unlock only *read* the
//! lock (`<name> read`, `<name> read_unlock`), so two readers' operations commute; a write
//! lock (`<name> lock`) and its unlock (`<name> unlock`) write it, so a writer is ordered
//! against every reader and every other writer. Unlocks are always points (unlike the
//! mutex's, which skip the ones no task can tell apart): simple, at the cost of a few steps.
//!
//! Readers are preferred: a read lock succeeds whenever no writer holds the lock, even with
//! writers waiting. std leaves the policy to the platform, so a model correct under std does
//! not rely on either order; a model that starves its writer under this policy shows up as a
//! step limit. Locks never poison (see the module docs of [`super`]).

use std::cell::UnsafeCell;
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::{LockResult, TryLockError, TryLockResult};

use vigil_core::rt::{self, Object, ObjectId, Op, RawLock, Scheduler, Site, TaskId};

/// A reader-writer lock whose locks and unlocks are scheduling points.
pub struct RwLock<T: ?Sized> {
    name: &'static str,
    id: ObjectId,
    state: RawLock<State>,
    data: UnsafeCell<T>,
}

#[derive(Debug, Default)]
struct State {
    readers: Vec<TaskId>,
    writer: Option<TaskId>,
    waiters: VecDeque<TaskId>,
}

// SAFETY: as for `std::sync::RwLock`: moving the lock moves the `T` (`T: Send`), and sharing
// it hands out `&T` to several readers at once (`T: Sync`) and `&mut T` to one writer at a
// time, which moves it between threads (`T: Send`). The guards below exist only while
// `state` records their task as a reader or as the writer, and a writer excludes readers.
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: see the `Send` impl above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}

impl<T> RwLock<T> {
    /// A lock named `rwlock` in traces.
    pub const fn new(value: T) -> Self {
        RwLock::named("rwlock", value)
    }

    /// A lock whose scheduling points carry `name` (not in std).
    pub const fn named(name: &'static str, value: T) -> Self {
        RwLock {
            name,
            id: ObjectId::new(),
            state: RawLock::new(State {
                readers: Vec::new(),
                writer: None,
                waiters: VecDeque::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns its data. Never `Err`.
    pub fn into_inner(self) -> LockResult<T> {
        Ok(self.data.into_inner())
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Takes a shared lock, parking while a writer holds the lock. Never `Err`.
    ///
    /// A task that already holds the write lock panics with "tried to lock ... it already
    /// holds" (std deadlocks or panics there).
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        self.acquire(Op::Read, |state| state.writer.is_none());
        Ok(RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// Takes the exclusive lock, parking while any task holds the lock. Never `Err`.
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        self.acquire(Op::Lock, |state| {
            state.writer.is_none() && state.readers.is_empty()
        });
        Ok(RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// A shared lock if no writer holds the lock now; `Err(WouldBlock)` otherwise.
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let taken = self.try_acquire(Op::Read, |state| state.writer.is_none());
        match taken {
            true => Ok(RwLockReadGuard {
                lock: self,
                _not_send: PhantomData,
            }),
            false => Err(TryLockError::WouldBlock),
        }
    }

    /// The exclusive lock if nobody holds the lock now; `Err(WouldBlock)` otherwise.
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let taken = self.try_acquire(Op::TryLock, |state| {
            state.writer.is_none() && state.readers.is_empty()
        });
        match taken {
            true => Ok(RwLockWriteGuard {
                lock: self,
                _not_send: PhantomData,
            }),
            false => Err(TryLockError::WouldBlock),
        }
    }

    /// A mutable reference to the data; no locking is needed. Never `Err`.
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        Ok(self.data.get_mut())
    }

    /// Always `false`: this lock does not poison.
    pub fn is_poisoned(&self) -> bool {
        false
    }

    /// Does nothing: there is no poison to clear.
    pub fn clear_poison(&self) {}

    /// A point, then takes the lock for the calling task once `free` says it may, parking
    /// in between. Panics when the task already holds the lock.
    fn acquire(&self, op: Op, free: impl Fn(&State) -> bool) {
        let scheduler = rt::current();
        let site = Site::new(self.name, op);
        scheduler.point_on(site, Object::Shared(&self.id));
        let me = scheduler.current();
        loop {
            let taken = self.state.with(|state| {
                self.refuse_reentry(state, me);
                if !free(state) {
                    if !state.waiters.contains(&me) {
                        state.waiters.push_back(me);
                    }
                    return false;
                }
                state.waiters.retain(|&waiter| waiter != me);
                match op {
                    Op::Read => state.readers.push(me),
                    _ => state.writer = Some(me),
                }
                true
            });
            if taken {
                return;
            }
            scheduler.park(site, None);
        }
    }

    /// A point, then takes the lock if `free` says it may; never parks.
    fn try_acquire(&self, op: Op, free: impl Fn(&State) -> bool) -> bool {
        let scheduler = rt::current();
        scheduler.point_on(Site::new(self.name, op), Object::Shared(&self.id));
        let me = scheduler.current();
        self.state.with(|state| {
            if !free(state) || state.readers.contains(&me) {
                return false;
            }
            match op {
                Op::Read => state.readers.push(me),
                _ => state.writer = Some(me),
            }
            true
        })
    }

    fn refuse_reentry(&self, state: &State, me: TaskId) {
        if state.writer == Some(me) || state.readers.contains(&me) {
            panic!(
                "{me} tried to lock RwLock '{}' it already holds: a self-deadlock (std's \
                 RwLock deadlocks or panics here). Drop the first guard before locking again.",
                self.name
            );
        }
    }

    /// The unlock of the calling task's hold, a point, and wakes every waiter (which re-check).
    fn release(&self, op: Op) {
        let scheduler = rt::current();
        let (site, object) = (Site::new(self.name, op), Object::Shared(&self.id));
        if std::thread::panicking() {
            // No point while unwinding, but the release is recorded (see `core`'s mutex).
            scheduler.access(site, object);
        } else {
            scheduler.point_on(site, object);
        }
        let me = scheduler.current();
        let woken: Vec<TaskId> = self.state.with(|state| {
            match op {
                Op::ReadUnlock => {
                    if let Some(at) = state.readers.iter().position(|&reader| reader == me) {
                        state.readers.swap_remove(at);
                    }
                }
                _ => state.writer = None,
            }
            state.waiters.drain(..).collect()
        });
        wake(&*scheduler, woken);
    }
}

/// Unparks `tasks` in order; each re-checks the lock and queues again if it must.
fn wake(scheduler: &dyn Scheduler, tasks: Vec<TaskId>) {
    for task in tasks {
        scheduler.unpark(task);
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A shared hold on an [`RwLock`]; the read unlock (a scheduling point) happens on drop.
/// `!Send`, as std's.
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

/// The exclusive hold on an [`RwLock`]; the unlock (a scheduling point) happens on drop.
/// `!Send`, as std's.
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard gives out only `&T`, so sharing it is sound when `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: through `&RwLockWriteGuard` only `&T` is reachable (`DerefMut` needs `&mut`).
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard's task is recorded as a reader, so no writer exists until the
        // guard drops; other readers only read.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard's task is recorded as the only writer, with no readers.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this reference unique.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release(Op::ReadUnlock);
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.release(Op::Unlock);
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
