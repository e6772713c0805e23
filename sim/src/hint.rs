//! `std::hint::spin_loop` for models: a spin-wait hint that lets the other tasks run.

/// Signals a spin loop. Under simulation it is a `yield_now` scheduling point, so a task that
/// spins until another task acts lets that task run, and the systematic searches switch away
/// from it without spending a preemption (as loom's `hint::spin_loop` does).
pub fn spin_loop() {
    crate::thread::yield_now();
}
