//! The only place vigil-sim starts OS threads: one executor per thread for `--jobs`, and the
//! stall watchdog's thread (see `crate::stall`).
//!
//! Simulated code never runs on these threads concurrently with anything it could share:
//! each thread owns its executor, its observers, its fault source and the harness's
//! thread-local world, and runs executions no other thread runs (see [`crate::Part`]). The
//! threads share only atomics that decide which executions are skipped, never what an
//! execution does, so every execution is the same as on one thread.

/// Runs `job(i)` for `i` in `1..jobs` on scoped OS threads and `here(0)` on this thread, and
/// returns the results in job order. A panic in a job is resumed on this thread.
pub(crate) fn on_threads<T: Send>(
    jobs: u64,
    job: impl Fn(u64) -> T + Sync,
    here: impl FnOnce(u64) -> T,
) -> Vec<T> {
    std::thread::scope(|scope| {
        let job = &job;
        let spawned: Vec<_> = (1..jobs.max(1))
            .map(|job_idx| {
                #[expect(
                    clippy::disallowed_methods,
                    reason = "--jobs runs one executor per OS thread; each thread runs a \
                              disjoint set of whole executions and shares only the atomics that \
                              skip executions, so no simulated code sees another thread"
                )]
                std::thread::Builder::new()
                    .name(format!("vigil-job-{job_idx}"))
                    .spawn_scoped(scope, move || job(job_idx))
                    .expect("[internal bug] the OS refused a thread for --jobs")
            })
            .collect();
        let mut results = vec![here(0)];
        for handle in spawned {
            match handle.join() {
                Ok(result) => results.push(result),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

/// Starts the stall watchdog's thread once per process; it calls `tick` every second for as
/// long as the process lives (see `crate::stall`).
pub(crate) fn start_watchdog(tick: fn()) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let watchdog = std::thread::Builder::new()
            .name("vigil-stall-watchdog".to_owned())
            .spawn(move || {
                loop {
                    #[expect(
                        clippy::disallowed_methods,
                        reason = "the watchdog measures real time on its own OS thread, outside \
                                  every simulation: it only reads the executors' progress \
                                  counters and never changes what an execution does"
                    )]
                    std::thread::sleep(std::time::Duration::from_secs(1));
                    tick();
                }
            });
        // Without a watchdog the run still works; it only loses the stall report.
        if let Err(error) = watchdog {
            eprintln!("vigil: cannot start the stall watchdog thread: {error}");
        }
    });
}
