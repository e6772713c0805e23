//! Atomics whose every access is a scheduling point.
//!
//! Orderings are passed through to the hardware in production. Under simulation one task runs
//! at a time, so every execution is sequentially consistent: weak-memory reorderings are not
//! explored (loom does that; vigil explores interleavings and faults).

use std::fmt;
use std::sync::atomic::{self, Ordering};

use crate::rt::{self, Object, ObjectId, Op, Site};

#[inline]
fn point(name: &'static str, id: &ObjectId, op: Op) {
    rt::point_on(Site::new(name, op), Object::Shared(id));
}

macro_rules! atomic_int {
    ($name:ident, $std:ty, $int:ty) => {
        /// An atomic integer whose accesses are scheduling points.
        pub struct $name {
            name: &'static str,
            id: ObjectId,
            value: $std,
        }

        impl $name {
            pub const fn new(value: $int) -> Self {
                Self::named("atomic", value)
            }

            pub const fn named(name: &'static str, value: $int) -> Self {
                Self {
                    name,
                    id: ObjectId::new(),
                    value: <$std>::new(value),
                }
            }

            #[inline]
            pub fn load(&self, order: Ordering) -> $int {
                point(self.name, &self.id, Op::Load);
                self.value.load(order)
            }

            pub fn store(&self, value: $int, order: Ordering) {
                point(self.name, &self.id, Op::Store);
                self.value.store(value, order)
            }

            pub fn swap(&self, value: $int, order: Ordering) -> $int {
                point(self.name, &self.id, Op::Rmw);
                self.value.swap(value, order)
            }

            pub fn fetch_add(&self, value: $int, order: Ordering) -> $int {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_add(value, order)
            }

            pub fn fetch_sub(&self, value: $int, order: Ordering) -> $int {
                point(self.name, &self.id, Op::Rmw);
                self.value.fetch_sub(value, order)
            }

            pub fn compare_exchange(
                &self,
                current: $int,
                new: $int,
                success: Ordering,
                failure: Ordering,
            ) -> Result<$int, $int> {
                point(self.name, &self.id, Op::Rmw);
                self.value.compare_exchange(current, new, success, failure)
            }

            /// Reads without a scheduling point, for observers outside the simulated tasks.
            pub fn peek(&self) -> $int {
                self.value.load(Ordering::SeqCst)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.peek(), f)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new(0)
            }
        }
    };
}

atomic_int!(AtomicU32, atomic::AtomicU32, u32);
atomic_int!(AtomicU64, atomic::AtomicU64, u64);

/// An atomic flag whose accesses are scheduling points.
pub struct AtomicBool {
    name: &'static str,
    id: ObjectId,
    value: atomic::AtomicBool,
}

impl AtomicBool {
    pub const fn new(value: bool) -> Self {
        Self::named("atomic", value)
    }

    pub const fn named(name: &'static str, value: bool) -> Self {
        AtomicBool {
            name,
            id: ObjectId::new(),
            value: atomic::AtomicBool::new(value),
        }
    }

    #[inline]
    pub fn load(&self, order: Ordering) -> bool {
        point(self.name, &self.id, Op::Load);
        self.value.load(order)
    }

    pub fn store(&self, value: bool, order: Ordering) {
        point(self.name, &self.id, Op::Store);
        self.value.store(value, order)
    }

    pub fn swap(&self, value: bool, order: Ordering) -> bool {
        point(self.name, &self.id, Op::Rmw);
        self.value.swap(value, order)
    }

    pub fn compare_exchange(
        &self,
        current: bool,
        new: bool,
        success: Ordering,
        failure: Ordering,
    ) -> Result<bool, bool> {
        point(self.name, &self.id, Op::Rmw);
        self.value.compare_exchange(current, new, success, failure)
    }

    /// Reads without a scheduling point, for observers outside the simulated tasks.
    pub fn peek(&self) -> bool {
        self.value.load(Ordering::SeqCst)
    }
}

impl fmt::Debug for AtomicBool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.peek(), f)
    }
}

impl Default for AtomicBool {
    fn default() -> Self {
        AtomicBool::new(false)
    }
}
