//! Std primitives left in a model: a facade object used from an OS thread the simulation does
//! not run fails the execution with what to change; a model stuck inside one step (a std lock,
//! a blocking std call, an endless loop without a scheduling point) is caught by the stall
//! watchdog.

use vigil_sim::sync::{Arc, Mutex};
use vigil_sim::{Config, FailureKind, Random, run};

#[test]
fn a_facade_mutex_locked_from_a_std_thread_fails_naming_the_fix() {
    let mut config = Config::default();
    config.executions = 1;
    let report = run(&config, &mut Random::new(1), || {
        let shared = Arc::new(Mutex::new(0u32));
        // Touched by a simulated task first, so it belongs to this execution.
        *shared.lock().unwrap() += 1;
        let stray = shared.clone();
        #[expect(
            clippy::disallowed_methods,
            reason = "the mistake this test is about: an OS thread inside a model"
        )]
        let thread = std::thread::spawn(move || *stray.lock().unwrap() += 1);
        // The stray thread panics at its lock; the model carries on as a careless one would.
        let _ = thread.join();
        *shared.lock().unwrap() += 1;
    });
    let failure = report.failure().expect("the stray thread went unnoticed");
    assert_eq!(failure.kind, FailureKind::Panic);
    let message = failure.to_string();
    for part in [
        "from an OS thread the simulation does not run",
        "std::thread::spawn",
        "vigil_sim::thread::spawn",
    ] {
        assert!(message.contains(part), "{part:?} missing from:\n{message}");
    }
}
