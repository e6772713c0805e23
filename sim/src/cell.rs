//! `UnsafeCell` shaped like loom's, which reports a data race when two tasks' accesses to it
//! can overlap.
//!
//! Every access is a window with a scheduling point at each end: [`UnsafeCell::with`] and
//! [`UnsafeCell::get`] open a read window, [`UnsafeCell::with_mut`] and
//! [`UnsafeCell::get_mut`] a write window. A window closes when the closure returns or the
//! returned pointer guard drops. The search may switch tasks at either end, so if nothing
//! orders two tasks' accesses, some schedule opens one window while the other is still open,
//! and the access that finds the overlap panics with "data race on ..." naming both tasks
//! and both kinds. Two reads may overlap; a write may overlap nothing.
//!
//! Departure from loom: loom orders accesses by the happens-before relation of its weak
//! memory model, so a `Relaxed` flag does not order a cell's accesses there. Here executions
//! are sequentially consistent, so any synchronisation the interleaving enforces (a lock, a
//! channel, a join, or an atomic of any ordering) orders them; a race that needs a weak
//! memory reordering to show is not reported.

use std::cell::UnsafeCell as StdUnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use vigil_core::rt::{self, Object, ObjectId, Op, Site, TaskId};

/// A cell of shared mutable data whose accesses are checked for overlap (see the module
/// documentation). It is `Send` when `T` is, and, unlike std's, `Sync` when `T` is `Send` and
/// `Sync`, so models can share it through an `Arc` the way loom's (whose `spawn` does not
/// need `Send`) are shared.
pub struct UnsafeCell<T: ?Sized> {
    name: &'static str,
    id: ObjectId,
    windows: Windows,
    data: StdUnsafeCell<T>,
}

// SAFETY: sharing the cell hands out no reference to the value in safe code: `with`,
// `with_mut` and the pointer guards give raw pointers, and the only ways to turn them into
// references (`*ptr`, `ConstPtr::deref`, `MutPtr::deref`) are `unsafe`, with the caller
// promising that no access overlaps (the promise the windows check under simulation). The
// window books are atomics. `T: Send + Sync` because, as with `RwLock`, tasks on other
// threads may read the value in turn or at once and may move it out through a write pointer.
unsafe impl<T: ?Sized + Send + Sync> Sync for UnsafeCell<T> {}

/// The open access windows of one cell. The counters are plain std atomics (never scheduling
/// points): they only keep the books for the overlap check. Task ids are stored plus one, so
/// zero means "none".
struct Windows {
    writer: AtomicU32,
    readers: AtomicU32,
    last_reader: AtomicU32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Read,
    Write,
}

impl Kind {
    fn verb(self) -> &'static str {
        match self {
            Kind::Read => "reads",
            Kind::Write => "writes",
        }
    }
}

impl<T> UnsafeCell<T> {
    /// A cell whose scheduling points are named `cell` in traces.
    pub const fn new(value: T) -> Self {
        Self::named("cell", value)
    }

    /// A cell whose scheduling points carry `name` (not in loom; for readable traces and
    /// race reports).
    pub const fn named(name: &'static str, value: T) -> Self {
        UnsafeCell {
            name,
            id: ObjectId::new(),
            windows: Windows {
                writer: AtomicU32::new(0),
                readers: AtomicU32::new(0),
                last_reader: AtomicU32::new(0),
            },
            data: StdUnsafeCell::new(value),
        }
    }

    /// Consumes the cell and returns its value; ownership proves no access is open.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> UnsafeCell<T> {
    /// Runs `f` with a read pointer to the value, inside a read window.
    #[track_caller]
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        let _window = self.open(Kind::Read);
        f(self.data.get())
    }

    /// Runs `f` with a write pointer to the value, inside a write window.
    #[track_caller]
    pub fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        let _window = self.open(Kind::Write);
        f(self.data.get())
    }

    /// Opens a read window that stays open until the returned pointer is dropped.
    #[track_caller]
    pub fn get(&self) -> ConstPtr<'_, T> {
        ConstPtr {
            window: self.open(Kind::Read),
        }
    }

    /// Opens a write window that stays open until the returned pointer is dropped.
    #[track_caller]
    pub fn get_mut(&self) -> MutPtr<'_, T> {
        MutPtr {
            window: self.open(Kind::Write),
        }
    }

    #[track_caller]
    fn open(&self, kind: Kind) -> Window<'_, T> {
        let op = Self::op(kind);
        rt::point_on(Site::new(self.name, op), Object::Shared(&self.id));
        let me = rt::current().current();
        if let Some(message) = self.overlap(kind, me) {
            panic!("{message}");
        }
        match kind {
            Kind::Read => {
                self.windows.readers.fetch_add(1, Ordering::Relaxed);
                self.windows.last_reader.store(me.0 + 1, Ordering::Relaxed);
            }
            Kind::Write => self.windows.writer.store(me.0 + 1, Ordering::Relaxed),
        }
        Window { cell: self, kind }
    }

    fn op(kind: Kind) -> Op {
        match kind {
            Kind::Read => Op::Load,
            Kind::Write => Op::Store,
        }
    }

    /// The report when an access of `kind` by `me` would overlap an open window.
    fn overlap(&self, kind: Kind, me: TaskId) -> Option<String> {
        let writer = self.windows.writer.load(Ordering::Relaxed);
        let readers = self.windows.readers.load(Ordering::Relaxed);
        let (other, other_kind) = if writer != 0 {
            (writer - 1, Kind::Write)
        } else if kind == Kind::Write && readers > 0 {
            (
                self.windows.last_reader.load(Ordering::Relaxed) - 1,
                Kind::Read,
            )
        } else {
            return None;
        };
        let name = self.name;
        let (verb, other_verb) = (kind.verb(), other_kind.verb());
        Some(if other == me.0 {
            format!(
                "data race on {name}: task {} {verb} it while its own earlier access, which \
                 {other_verb} it, is still open (nested with/with_mut or a live pointer guard)",
                me.0
            )
        } else {
            format!(
                "data race on {name}: task {} {verb} it while task {other} {other_verb} it, \
                 and nothing orders the two accesses (guard the cell with a lock, or order \
                 the tasks with a channel, a join or an atomic)",
                me.0
            )
        })
    }
}

/// An open access window; closing it is a scheduling point unless the task is unwinding
/// (a panic already ends the execution, and a point must not run during unwinding).
struct Window<'a, T: ?Sized> {
    cell: &'a UnsafeCell<T>,
    kind: Kind,
}

impl<T: ?Sized> Drop for Window<'_, T> {
    fn drop(&mut self) {
        let cell = self.cell;
        if !std::thread::panicking() {
            let site = Site::new(cell.name, UnsafeCell::<T>::op(self.kind));
            rt::point_on(site, Object::Shared(&cell.id));
        }
        match self.kind {
            Kind::Read => {
                cell.windows.readers.fetch_sub(1, Ordering::Relaxed);
            }
            Kind::Write => cell.windows.writer.store(0, Ordering::Relaxed),
        }
    }
}

/// A read pointer into an [`UnsafeCell`]; its read window stays open while it lives.
pub struct ConstPtr<'a, T: ?Sized> {
    window: Window<'a, T>,
}

impl<T: ?Sized> ConstPtr<'_, T> {
    /// A shared reference to the value.
    ///
    /// # Safety
    /// As for dereferencing the raw pointer of std's `UnsafeCell::get`: no `&mut` to the value
    /// may exist while the returned reference lives. Open write windows of other tasks are
    /// reported as races; this call cannot check references kept after the pointer drops.
    pub unsafe fn deref(&self) -> &T {
        // SAFETY: the caller upholds the aliasing rule above; the pointer is valid for as
        // long as the cell, which outlives `self`.
        unsafe { &*self.window.cell.data.get() }
    }

    /// Runs `f` with the raw read pointer.
    pub fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.window.cell.data.get())
    }
}

/// A write pointer into an [`UnsafeCell`]; its write window stays open while it lives.
pub struct MutPtr<'a, T: ?Sized> {
    window: Window<'a, T>,
}

impl<T: ?Sized> MutPtr<'_, T> {
    /// An exclusive reference to the value.
    ///
    /// # Safety
    /// As for dereferencing the raw pointer of std's `UnsafeCell::get` mutably: no other
    /// reference to the value may exist while the returned one lives (the window reports
    /// other tasks' overlapping accesses, not references kept past it).
    #[expect(
        clippy::mut_from_ref,
        reason = "loom's signature: exclusivity is the caller's obligation, stated above"
    )]
    pub unsafe fn deref(&self) -> &mut T {
        // SAFETY: the caller guarantees exclusivity as stated above; the pointer is valid
        // for as long as the cell, which outlives `self`.
        unsafe { &mut *self.window.cell.data.get() }
    }

    /// Runs `f` with the raw write pointer.
    pub fn with<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.window.cell.data.get())
    }
}

impl<T: Default> Default for UnsafeCell<T> {
    fn default() -> Self {
        UnsafeCell::new(T::default())
    }
}

impl<T> From<T> for UnsafeCell<T> {
    fn from(value: T) -> Self {
        UnsafeCell::new(value)
    }
}

impl<T: ?Sized> fmt::Debug for UnsafeCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnsafeCell")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl<T: ?Sized> fmt::Debug for ConstPtr<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConstPtr")
            .field("cell", &self.window.cell.name)
            .finish()
    }
}

impl<T: ?Sized> fmt::Debug for MutPtr<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MutPtr")
            .field("cell", &self.window.cell.name)
            .finish()
    }
}
