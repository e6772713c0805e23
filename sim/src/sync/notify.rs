//! loom's `Notify`: a one-permit notification, the park/unpark pattern as an object.

use super::{Condvar, Mutex};

/// Lets one task wait until another notifies it. A notification given while nobody waits is
/// kept (at most one), so `notify` then `wait` does not block; `wait` consumes it. Unlike
/// loom's, `wait` never returns spuriously.
#[derive(Debug)]
pub struct Notify {
    notified: Mutex<bool>,
    changed: Condvar,
}

impl Notify {
    pub fn new() -> Notify {
        Notify {
            notified: Mutex::named("notify", false),
            changed: Condvar::new(),
        }
    }

    /// Gives the permit and wakes a waiter, if any.
    pub fn notify(&self) {
        *self.notified.lock().unwrap() = true;
        self.changed.notify_one();
    }

    /// Waits until the permit is given, then takes it.
    pub fn wait(&self) {
        let mut notified = self.notified.lock().unwrap();
        while !*notified {
            notified = self.changed.wait(notified).unwrap();
        }
        *notified = false;
    }
}

impl Default for Notify {
    fn default() -> Self {
        Notify::new()
    }
}
