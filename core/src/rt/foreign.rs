//! Catches a simulation's objects used from an OS thread that is not running the simulation.
//!
//! A simulator numbers the objects its tasks touch in a *generation* of its own (see
//! [`ObjectId`]) and registers that generation here while its execution runs. Only the
//! production paths consult the register: an operation that reaches the production scheduler
//! on an object whose generation is running is an OS thread the simulator cannot see (one a
//! model started with `std::thread::spawn`), and it panics there with what to change. The
//! simulator takes the report too, so the execution fails even if nobody joins that thread.
//! Objects the foreign thread touched first carry no generation and are not caught.

use super::{Object, ObjectId, RawLock, Site};

/// Running generations, each with the first foreign use of one of its objects, if any.
static LIVE: RawLock<Vec<(u32, Option<String>)>> = RawLock::new(Vec::new());

/// Registers `generation` as running (a simulator's execution starts).
pub fn generation_started(generation: u32) {
    LIVE.with(|live| live.push((generation, None)));
}

/// Unregisters `generation` (its execution ended), returning a foreign use not yet taken.
pub fn generation_ended(generation: u32) -> Option<String> {
    LIVE.with(|live| {
        let idx = live.iter().position(|(known, _)| *known == generation)?;
        live.swap_remove(idx).1
    })
}

/// The first foreign use of an object of `generation` since the last call, if any.
pub fn take_foreign_use(generation: u32) -> Option<String> {
    LIVE.with(|live| {
        live.iter_mut()
            .find(|(known, _)| *known == generation)
            .and_then(|(_, report)| report.take())
    })
}

/// Panics (after reporting it to the simulator) if `object` belongs to a running execution:
/// the caller is on the production path, so it is an OS thread the simulator does not run.
pub(super) fn check(site: Site, object: Object<'_>) {
    let Object::Shared(id) = object else { return };
    let generation = id.generation();
    if generation == 0 {
        return;
    }
    let message = || {
        format!(
            "vigil: `{site}` was called on an object of a running simulation from an OS thread \
             the simulation does not run (one started with std::thread::spawn or another \
             OS-thread API inside the model?). The scheduler cannot see or order that thread, \
             so the result would be a hang or a silent pass. Start it with \
             vigil_sim::thread::spawn (or vigil_core::thread::spawn) instead."
        )
    };
    let live = LIVE.with(|live| {
        let entry = live.iter_mut().find(|(known, _)| *known == generation)?;
        Some(entry.1.get_or_insert_with(message).clone())
    });
    if let Some(message) = live {
        panic!("{message}");
    }
}

impl ObjectId {
    /// The generation this object was last numbered in; 0 if no simulator touched it.
    pub fn generation(&self) -> u32 {
        (self.0.load(std::sync::atomic::Ordering::Relaxed) >> 32) as u32
    }
}
