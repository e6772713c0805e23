//! `std::sync::atomic`-shaped atomics whose every access is a scheduling point.
//!
//! Each type wraps its std counterpart and calls the current scheduler's `point` before every
//! load (`atomic load`), store (`atomic store`) and read-modify-write (`atomic rmw`). The
//! orderings are passed to the hardware unchanged; under simulation one task runs at a time,
//! so executions are sequentially consistent and weak-memory reorderings are not explored.
//! `compare_exchange_weak` never fails spuriously. The set is std's: `AtomicBool`, the ten
//! integer widths (`AtomicU8` ... `AtomicUsize`, `AtomicI8` ... `AtomicIsize`) and
//! `AtomicPtr`, each with std's methods, including the deprecated `compare_and_swap`. `get_mut` and `into_inner` need exclusive
//! access, so they are not scheduling points.

use std::fmt;
use std::sync::atomic as std_atomic;

use vigil_core::rt::{self, Object, ObjectId, Op, Site};

pub use std::sync::atomic::{Ordering, compiler_fence, fence};

fn point(name: &'static str, id: &ObjectId, op: Op) {
    rt::point_on(Site::new(name, op), Object::Shared(id));
}

/// The failure ordering std's `compare_and_swap` uses for a given success ordering.
fn failure_ordering(order: Ordering) -> Ordering {
    match order {
        Ordering::Release | Ordering::Relaxed => Ordering::Relaxed,
        Ordering::AcqRel | Ordering::Acquire => Ordering::Acquire,
        _ => Ordering::SeqCst,
    }
}

/// The methods every atomic type shares: construction, load, store, swap, compare-exchange,
/// bitwise read-modify-writes and `fetch_update`.
macro_rules! atomic_common {
    ([$($generic:ident)?] $name:ty, $std:ty, $value:ty) => {
        impl<$($generic)?> $name {
            pub const fn new(value: $value) -> Self {
                Self::named("atomic", value)
            }

            /// An atomic whose scheduling points carry `name` (not in std).
            pub const fn named(name: &'static str, value: $value) -> Self {
                Self {
                    name,
                    id: ObjectId::new(),
                    value: <$std>::new(value),
                }
            }

            pub fn load(&self, order: Ordering) -> $value {
                point(self.name, &self.id, Op::Load);
                self.value.load(order)
            }

            pub fn store(&self, value: $value, order: Ordering) {
                point(self.name, &self.id, Op::Store);
                self.value.store(value, order)
            }

            pub fn swap(&self, value: $value, order: Ordering) -> $value {
                point(self.name, &self.id, Op::Rmw);
                self.value.swap(value, order)
            }

            pub fn compare_exchange(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                point(self.name, &self.id, Op::Rmw);
                self.value.compare_exchange(current, new, success, failure)
            }

            /// std's deprecated form: a compare-exchange that returns the previous value
            /// whether or not it stored `new`. The failure ordering is derived from `order`
            /// as std derives it. Not marked deprecated here, as in loom, so loom models
            /// built with `deny(warnings)` compile; prefer `compare_exchange`.
            pub fn compare_and_swap(
                &self,
                current: $value,
                new: $value,
                order: Ordering,
            ) -> $value {
                let failure = failure_ordering(order);
                match self.compare_exchange(current, new, order, failure) {
                    Ok(previous) | Err(previous) => previous,
                }
            }

            /// The same as `compare_exchange`: it never fails spuriously.
            pub fn compare_exchange_weak(
                &self,
                current: $value,
                new: $value,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$value, $value> {
                self.compare_exchange(current, new, success, failure)
            }

            /// A load, then compare-exchanges until `update` returns `None` or one succeeds;
            /// each access is its own scheduling point, as in std's loop.
            pub fn fetch_update<F>(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                mut update: F,
            ) -> Result<$value, $value>
            where
                F: FnMut($value) -> Option<$value>,
            {
                let mut previous = self.load(fetch_order);
                while let Some(next) = update(previous) {
                    match self.compare_exchange(previous, next, set_order, fetch_order) {
                        Ok(value) => return Ok(value),
                        Err(value) => previous = value,
                    }
                }
                Err(previous)
            }

            /// `fetch_update`'s newer name (std's `try_update`, and loom's).
            pub fn try_update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                update: impl FnMut($value) -> Option<$value>,
            ) -> Result<$value, $value> {
                self.fetch_update(set_order, fetch_order, update)
            }

            /// Applies `update` until a compare-exchange stores its result; returns the value
            /// it replaced (std's `update`, and loom's). Each access is a scheduling point.
            pub fn update(
                &self,
                set_order: Ordering,
                fetch_order: Ordering,
                mut update: impl FnMut($value) -> $value,
            ) -> $value {
                let mut previous = self.load(fetch_order);
                loop {
                    match self.compare_exchange(previous, update(previous), set_order, fetch_order)
                    {
                        Ok(value) => return value,
                        Err(value) => previous = value,
                    }
                }
            }

            pub fn get_mut(&mut self) -> &mut $value {
                self.value.get_mut()
            }

            /// loom's load without synchronisation: reads the value with no scheduling point.
            ///
            /// # Safety
            /// No store may race with it. Nothing here can cause undefined behaviour (the
            /// read is atomic), but the caller promises the same as under loom, which checks
            /// it; here the promise is not checked.
            pub unsafe fn unsync_load(&self) -> $value {
                self.value.load(Ordering::Relaxed)
            }

            pub fn into_inner(self) -> $value {
                self.value.into_inner()
            }
        }

        impl<$($generic)?> From<$value> for $name {
            fn from(value: $value) -> Self {
                Self::new(value)
            }
        }

        /// Shows the value without a scheduling point, so it works outside simulated tasks.
        impl<$($generic)?> fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.value.load(Ordering::SeqCst), f)
            }
        }
    };
}

/// The bitwise read-modify-writes of integers and flags, and `Default`.
macro_rules! atomic_bits {
    ($name:ident, $value:ty) => {
        impl Default for $name {
            fn default() -> Self {
                Self::new(<$value>::default())
            }
        }

        impl $name {
            pub fn fetch_and(&self, value: $value, order: Ordering) -> $value {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_and(value, order)
            }

            pub fn fetch_nand(&self, value: $value, order: Ordering) -> $value {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_nand(value, order)
            }

            pub fn fetch_or(&self, value: $value, order: Ordering) -> $value {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_or(value, order)
            }

            pub fn fetch_xor(&self, value: $value, order: Ordering) -> $value {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_xor(value, order)
            }
        }
    };
}

/// An integer atomic: the common methods plus arithmetic read-modify-writes.
macro_rules! atomic_int {
    ($name:ident, $std:ty, $int:ty) => {
        /// An atomic integer whose every access is a scheduling point.
        pub struct $name {
            name: &'static str,
            id: ObjectId,
            value: $std,
        }

        atomic_common!([] $name, $std, $int);
        atomic_bits!($name, $int);

        impl $name {
            pub fn fetch_add(&self, value: $int, order: Ordering) -> $int {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_add(value, order)
            }

            pub fn fetch_sub(&self, value: $int, order: Ordering) -> $int {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_sub(value, order)
            }

            pub fn fetch_max(&self, value: $int, order: Ordering) -> $int {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_max(value, order)
            }

            pub fn fetch_min(&self, value: $int, order: Ordering) -> $int {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_min(value, order)
            }
        }
    };
}

atomic_int!(AtomicU8, std_atomic::AtomicU8, u8);
atomic_int!(AtomicU16, std_atomic::AtomicU16, u16);
atomic_int!(AtomicU32, std_atomic::AtomicU32, u32);
atomic_int!(AtomicU64, std_atomic::AtomicU64, u64);
atomic_int!(AtomicUsize, std_atomic::AtomicUsize, usize);
atomic_int!(AtomicI8, std_atomic::AtomicI8, i8);
atomic_int!(AtomicI16, std_atomic::AtomicI16, i16);
atomic_int!(AtomicI32, std_atomic::AtomicI32, i32);
atomic_int!(AtomicI64, std_atomic::AtomicI64, i64);
atomic_int!(AtomicIsize, std_atomic::AtomicIsize, isize);

/// An atomic flag whose every access is a scheduling point.
pub struct AtomicBool {
    name: &'static str,
    id: ObjectId,
    value: std_atomic::AtomicBool,
}

atomic_common!([] AtomicBool, std_atomic::AtomicBool, bool);
atomic_bits!(AtomicBool, bool);

impl AtomicBool {
    pub fn fetch_not(&self, order: Ordering) -> bool {
        point(self.name, &self.id, Op::Rmw);
        self.value.fetch_not(order)
    }
}

/// An atomic raw pointer whose every access is a scheduling point. Like std's, it is `Send`
/// and `Sync` whatever `T` is (it only stores the address; dereferencing is the caller's
/// unsafe business).
pub struct AtomicPtr<T> {
    name: &'static str,
    id: ObjectId,
    value: std_atomic::AtomicPtr<T>,
}

atomic_common!([T] AtomicPtr<T>, std_atomic::AtomicPtr<T>, *mut T);

impl<T> Default for AtomicPtr<T> {
    fn default() -> Self {
        AtomicPtr::new(std::ptr::null_mut())
    }
}
