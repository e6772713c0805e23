//! Virtual time: deterministic, starts at zero, and moves only when every task is blocked.

use std::sync::Arc;
use std::time::Duration;

use vigil_core::rt;
use vigil_core::sync::{AtomicBool, Mutex, Ordering, RecvTimeoutError, channel};
use vigil_core::thread;

use crate::explore;

const MS: u64 = 1_000_000;

#[test]
fn a_receive_timeout_loop_with_a_stop_flag_terminates_at_deterministic_times() {
    let results = Arc::new(Mutex::named("results", Vec::new()));
    let record = results.clone();
    let report = explore(100, move || {
        let stop = Arc::new(AtomicBool::named("stop", false));
        let (tx, rx) = channel::<u32>("requests", 1);
        let worker_stop = stop.clone();
        let worker = thread::spawn("worker", move || {
            let mut timeouts = Vec::new();
            loop {
                match rx.recv_timeout(Duration::from_millis(50)) {
                    Ok(_) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                    Err(RecvTimeoutError::Timeout) => {
                        timeouts.push(rt::now().as_nanos());
                        if worker_stop.load(Ordering::Acquire) {
                            break;
                        }
                    }
                }
            }
            timeouts
        });
        rt::sleep(Duration::from_millis(120));
        stop.store(true, Ordering::Release);
        let timeouts = worker.join().unwrap();
        drop(tx);
        record.lock().push((timeouts, rt::now().as_nanos()));
    });
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.executions, 100);
    let results = results.peek(|results| results.clone()).unwrap();
    assert_eq!(results.len(), 100);
    for (timeouts, end) in results {
        assert_eq!(timeouts, [50 * MS, 100 * MS, 150 * MS]);
        assert_eq!(end, 150 * MS);
    }
}

#[test]
fn sleep_advances_time_only_once_every_other_task_is_blocked_or_done() {
    let results = Arc::new(Mutex::named("results", Vec::new()));
    let record = results.clone();
    let report = explore(100, move || {
        let busy = thread::spawn("busy", || {
            (0..50)
                .map(|_| {
                    rt::yield_now();
                    rt::now().as_nanos()
                })
                .max()
        });
        let start = rt::now().as_nanos();
        rt::sleep(Duration::from_millis(10));
        let woke = rt::now().as_nanos();
        let busy_finished_first = busy.is_finished();
        let busy_latest = busy.join().unwrap();
        record
            .lock()
            .push((start, woke, busy_finished_first, busy_latest));
    });
    assert!(report.failure().is_none(), "{}", report.failure().unwrap());
    let results = results.peek(|results| results.clone()).unwrap();
    assert_eq!(results.len(), 100);
    for result in results {
        assert_eq!(
            result,
            (0, 10 * MS, true, Some(0)),
            "every execution starts at time zero"
        );
    }
}

#[test]
fn a_trace_records_the_clock_jump() {
    let report = explore(1, || rt::sleep(Duration::from_millis(250)));
    let trace = report.trace().render();
    assert!(trace.contains("park until 0.250000000s"), "{trace}");
    let woken = trace
        .lines()
        .find(|line| line.contains("(timed out)"))
        .unwrap();
    assert!(woken.contains("0.250000000s  t0 main"), "{trace}");
}
