//! The one reader of real time in vigil-sim: the cap on a run's wall time between executions.

use std::time::Duration;

/// Starts a stopwatch; the returned closure gives the real time elapsed since.
///
/// Used by the runner between executions, for `Config::wall_time_max`, and by the `vigil`
/// command to time whole scenario runs for its console table and progress bar. Nothing inside an
/// execution reads real time, so it cannot affect what an execution does or records.
#[expect(
    clippy::disallowed_types,
    clippy::disallowed_methods,
    reason = "the wall-time cap between executions is the harness's one use of real time"
)]
pub fn stopwatch() -> impl Fn() -> Duration + Copy + 'static {
    let start = std::time::Instant::now();
    move || start.elapsed()
}
