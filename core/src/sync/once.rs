//! A once-cell whose reads and writes are scheduling points; the first value stored wins.

use std::fmt;
use std::sync::OnceLock;

use crate::rt::{self, Object, ObjectId, Op, Site};

/// Holds at most one value, set once. Values built by losers of a race are handed back.
pub struct OnceCell<T> {
    name: &'static str,
    id: ObjectId,
    value: OnceLock<T>,
}

impl<T> OnceCell<T> {
    pub const fn new() -> Self {
        Self::named("once")
    }

    pub const fn named(name: &'static str) -> Self {
        OnceCell {
            name,
            id: ObjectId::new(),
            value: OnceLock::new(),
        }
    }

    pub fn get(&self) -> Option<&T> {
        rt::point_on(Site::new(self.name, Op::Load), Object::Shared(&self.id));
        self.value.get()
    }

    /// Stores `value` unless a value is already there, in which case it is returned.
    pub fn set(&self, value: T) -> Result<(), T> {
        rt::point_on(Site::new(self.name, Op::Rmw), Object::Shared(&self.id));
        self.value.set(value)
    }

    /// Reads without a scheduling point, for observers outside the simulated tasks.
    pub fn peek(&self) -> Option<&T> {
        self.value.get()
    }

    pub fn take(&mut self) -> Option<T> {
        self.value.take()
    }
}

impl<T> Default for OnceCell<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceCell<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("OnceCell").field(&self.value.get()).finish()
    }
}
