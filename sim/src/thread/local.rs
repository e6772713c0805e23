//! Per-task storage: what `thread_local!` keys, thread names and spurious-wakeup budgets hold
//! for one simulated task.
//!
//! Every simulated task runs on the executor's one OS thread, so std's thread-locals would be
//! shared by all of them. Instead each task's coroutine owns a [`Store`] on its own stack,
//! created when its body starts and published to the executor's context whenever the task
//! runs (as its yielder is). A key's value lives in a box in the store, so a reference handed
//! to `with` stays valid while the task switches away and back. The store outlives the end of
//! the main task and the clearing of the execution's globals, which is why names live here.
//! Outside a simulated task (production, or an OS thread a model started itself) the keys fall
//! back to std's own thread-locals.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::Arc;

/// A task's storage. Values are boxed so they never move once initialised.
pub(crate) struct Store {
    /// The name given with `Builder::name`; read by `thread::current`.
    pub(crate) name: RefCell<Option<Arc<str>>>,
    /// Spurious wake-ups `park` has given this task so far.
    pub(crate) spurious: Cell<u32>,
    slots: RefCell<Vec<Slot>>,
}

/// One key's value in a store; `None` once its destructor has run.
struct Slot {
    key: usize,
    value: Option<Box<dyn Any>>,
}

impl Store {
    pub(crate) fn new() -> Store {
        Store {
            name: RefCell::new(None),
            spurious: Cell::new(0),
            slots: RefCell::new(Vec::new()),
        }
    }

    /// The value of `key`, created by `init` on first access (with no borrow of the store
    /// held, so `init` may use other keys). `Err` once the key's value was destroyed.
    pub(crate) fn get_or_init<T: 'static>(
        &self,
        key: usize,
        init: impl FnOnce() -> T,
    ) -> Result<*const T, AccessError> {
        if let Some(found) = self.find::<T>(key) {
            return found;
        }
        let fresh: Box<dyn Any> = Box::new(init());
        let mut slots = self.slots.borrow_mut();
        // An initialiser that reached its own key already stored a value: keep that one.
        if let Some(slot) = slots.iter().find(|slot| slot.key == key) {
            let existing = Self::pointer::<T>(slot);
            drop(slots);
            drop(fresh);
            return existing;
        }
        slots.push(Slot {
            key,
            value: Some(fresh),
        });
        Self::pointer::<T>(slots.last().expect("[internal bug] slot just pushed"))
    }

    fn find<T: 'static>(&self, key: usize) -> Option<Result<*const T, AccessError>> {
        let slots = self.slots.borrow();
        let slot = slots.iter().find(|slot| slot.key == key)?;
        Some(Self::pointer::<T>(slot))
    }

    fn pointer<T: 'static>(slot: &Slot) -> Result<*const T, AccessError> {
        let value = slot.value.as_ref().ok_or(AccessError(()))?;
        let value = value
            .downcast_ref::<T>()
            .expect("[internal bug] a thread-local slot holds another key's type");
        Ok(value as *const T)
    }

    /// Runs the destructors of every value, latest initialised first, each with no borrow
    /// of the store held: a destructor may read keys not yet destroyed, and may initialise
    /// new ones (destroyed in turn); a key already destroyed reads as [`AccessError`].
    pub(crate) fn destroy(&self) {
        loop {
            let next = self
                .slots
                .borrow_mut()
                .iter_mut()
                .rev()
                .find_map(|slot| slot.value.take());
            match next {
                Some(value) => drop(value),
                None => return,
            }
        }
    }
}

/// The error of [`LocalKey::try_with`]: the key's value was already destroyed (its task is
/// running thread-local destructors).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Debug for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessError")
    }
}

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("already destroyed")
    }
}

impl std::error::Error for AccessError {}

/// A key declared with [`thread_local!`](crate::thread_local): each simulated task (or, outside
/// simulation, each OS thread) sees its own value, initialised lazily on first access.
pub struct LocalKey<T: 'static> {
    /// The std key used outside a simulated task.
    std: &'static std::thread::LocalKey<T>,
    init: fn() -> T,
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalKey").finish_non_exhaustive()
    }
}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(std: &'static std::thread::LocalKey<T>, init: fn() -> T) -> LocalKey<T> {
        LocalKey { std, init }
    }

    /// The key's identity in task stores: the address of its `static`.
    fn id(&'static self) -> usize {
        self as *const LocalKey<T> as usize
    }

    /// Runs `f` on this task's value, initialising it first if needed. Panics if the value
    /// was already destroyed, as std does.
    #[track_caller]
    pub fn with<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.try_with(f).expect(
            "cannot access a thread-local value during or after its destruction (vigil_sim \
             thread_local!)",
        )
    }

    /// Like [`with`](Self::with), but `Err` instead of a panic once the value is destroyed.
    pub fn try_with<F, R>(&'static self, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        self.with_init(self.init, f)
    }

    /// Runs `f` on this task's value, initialising it with `init` (not the key's own
    /// initialiser) if it has none yet.
    fn with_init<F, R>(&'static self, init: impl FnOnce() -> T, f: F) -> Result<R, AccessError>
    where
        F: FnOnce(&T) -> R,
    {
        let value = crate::executor::with_locals(|store| store.get_or_init(self.id(), init));
        match value {
            // SAFETY: the pointer is to a boxed value in the running task's store, which
            // lives on that task's coroutine stack until the task's body and its
            // destructors have run; a value is only dropped by `Store::destroy`, one at a
            // time, and never while `f` for the same key is running in this task (a
            // destructor that reaches its own key gets `AccessError`). Other tasks have
            // stores of their own, so a switch inside `f` cannot touch this value.
            Some(pointer) => Ok(f(unsafe { &*pointer? })),
            None => self.std.try_with(f).map_err(|_| AccessError(())),
        }
    }
}

impl<T: 'static> LocalKey<Cell<T>> {
    /// Sets the value; an uninitialised key takes `value` without running its initialiser.
    pub fn set(&'static self, value: T) {
        let value = Cell::new(Some(value));
        let result = self.with_init(
            || Cell::new(value.take().expect("[internal bug] value taken twice")),
            |cell| {
                if let Some(value) = value.take() {
                    cell.set(value);
                }
            },
        );
        result.expect("cannot set a thread-local value during or after its destruction")
    }

    /// A copy of the value.
    pub fn get(&'static self) -> T
    where
        T: Copy,
    {
        self.with(Cell::get)
    }

    /// Takes the value, leaving `Default::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(Cell::take)
    }

    /// Replaces the value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

impl<T: 'static> LocalKey<RefCell<T>> {
    /// Runs `f` on a shared borrow of the value.
    pub fn with_borrow<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&T) -> R,
    {
        self.with(|cell| f(&cell.borrow()))
    }

    /// Runs `f` on a mutable borrow of the value.
    pub fn with_borrow_mut<F, R>(&'static self, f: F) -> R
    where
        F: FnOnce(&mut T) -> R,
    {
        self.with(|cell| f(&mut cell.borrow_mut()))
    }

    /// Sets the value; an uninitialised key takes `value` without running its initialiser.
    pub fn set(&'static self, value: T) {
        let value = Cell::new(Some(value));
        let result = self.with_init(
            || RefCell::new(value.take().expect("[internal bug] value taken twice")),
            |cell| {
                if let Some(value) = value.take() {
                    *cell.borrow_mut() = value;
                }
            },
        );
        result.expect("cannot set a thread-local value during or after its destruction")
    }

    /// Takes the value, leaving `Default::default()`.
    pub fn take(&'static self) -> T
    where
        T: Default,
    {
        self.with(RefCell::take)
    }

    /// Replaces the value, returning the old one.
    pub fn replace(&'static self, value: T) -> T {
        self.with(|cell| cell.replace(value))
    }
}

/// Declares per-task keys, with std's syntax: `static NAME: T = init;` or
/// `static NAME: T = const { init };`, several in one invocation, with attributes and
/// visibility. Each is a [`LocalKey`](crate::thread::LocalKey).
#[macro_export]
macro_rules! thread_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }; $($rest:tt)*) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = const { $init });
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = const { $init:expr }) => {
        $(#[$attr])* $vis static $name: $crate::thread::LocalKey<$t> = {
            ::std::thread_local!(static STD: $t = const { $init });
            fn init() -> $t {
                $init
            }
            $crate::thread::LocalKey::__new(&STD, init)
        };
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $crate::thread_local!($(#[$attr])* $vis static $name: $t = $init);
        $crate::thread_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])* $vis static $name: $crate::thread::LocalKey<$t> = {
            ::std::thread_local!(static STD: $t = $init);
            fn init() -> $t {
                $init
            }
            $crate::thread::LocalKey::__new(&STD, init)
        };
    };
}
