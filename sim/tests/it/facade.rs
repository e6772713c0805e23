//! The std-shaped facade (`vigil_sim::sync`, `vigil_sim::thread`): models written against it
//! alone, as they would be for loom or shuttle, have their bugs found by `run`, and each
//! primitive keeps std's contract (on virtual time where time matters).

use std::time::Duration;

use vigil_core::rt::{self, Op, Site};
use vigil_sim::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use vigil_sim::sync::mpsc::{self, RecvError, RecvTimeoutError, SendError, TryRecvError};
use vigil_sim::sync::{Arc, Condvar, Mutex, TryLockError};
use vigil_sim::thread::{self, Builder, sleep};
use vigil_sim::{Failure, FailureKind, INJECTED_FAULT_MARKER, Report};

use crate::{explore, explore_from};

const EXECUTIONS: u64 = 300;
const MS: u64 = 1_000_000;

fn assert_passes(report: &Report, executions: u64) {
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.executions, executions);
}

fn expect_failure(report: &Report) -> &Failure {
    report
        .failure()
        .unwrap_or_else(|| panic!("no failure within {EXECUTIONS} executions"))
}

/// A producer sets a flag and notifies. Buggy: the consumer checks the flag in one critical
/// section and waits in another, so the notify can fall in between and be lost. Fixed: check
/// and wait under one lock, in a predicate loop.
fn lost_wakeup(fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let state = Arc::new((Mutex::new(false), Condvar::new()));
        let producer_state = state.clone();
        let producer = thread::spawn(move || {
            let (ready, ready_changed) = &*producer_state;
            *ready.lock().unwrap() = true;
            ready_changed.notify_one();
        });
        let (ready, ready_changed) = &*state;
        if fixed {
            let mut guard = ready.lock().unwrap();
            while !*guard {
                guard = ready_changed.wait(guard).unwrap();
            }
        } else {
            let seen = *ready.lock().unwrap();
            if !seen {
                let guard = ready.lock().unwrap();
                let _guard = ready_changed.wait(guard).unwrap();
            }
        }
        producer.join().unwrap();
    }
}

#[test]
fn a_lost_wakeup_is_found_as_a_deadlock_at_the_condvar() {
    let report = explore(EXECUTIONS, lost_wakeup(false));
    let failure = expect_failure(&report);
    let FailureKind::Deadlock { blocked } = &failure.kind else {
        panic!("expected a deadlock, got {failure}");
    };
    let waits: Vec<(&str, Site)> = blocked.iter().map(|t| (t.name.as_str(), t.site)).collect();
    assert_eq!(waits, [("main", Site::new("condvar", Op::Park))]);
}

#[test]
fn the_lost_wakeup_is_found_from_many_seeds() {
    for seed in 0..10 {
        let report = explore_from(seed, EXECUTIONS, lost_wakeup(false));
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("seed {seed} missed it"));
        assert!(
            matches!(failure.kind, FailureKind::Deadlock { .. }),
            "{failure}"
        );
    }
}

#[test]
fn checking_and_waiting_under_one_lock_passes_the_same_budget() {
    assert_passes(&explore(EXECUTIONS, lost_wakeup(true)), EXECUTIONS);
}

/// Two threads, two `Mutex::new`s. Buggy: opposite lock orders. Fixed: the same order.
fn lock_order(fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let a = Arc::new(Mutex::new(0u32));
        let b = Arc::new(Mutex::new(0u32));
        let (worker_a, worker_b) = (a.clone(), b.clone());
        let worker = thread::spawn(move || {
            let (first, second) = if fixed {
                (&worker_a, &worker_b)
            } else {
                (&worker_b, &worker_a)
            };
            let mut first = first.lock().unwrap();
            let mut second = second.lock().unwrap();
            *first += 1;
            *second += 1;
        });
        {
            let mut a = a.lock().unwrap();
            let mut b = b.lock().unwrap();
            *a += 1;
            *b += 1;
        }
        worker.join().unwrap();
        assert_eq!((*a.lock().unwrap(), *b.lock().unwrap()), (2, 2));
    }
}

#[test]
fn a_lock_order_inversion_is_found_as_a_deadlock() {
    let report = explore(EXECUTIONS, lock_order(false));
    let failure = expect_failure(&report);
    let FailureKind::Deadlock { blocked } = &failure.kind else {
        panic!("expected a deadlock, got {failure}");
    };
    let mut waits: Vec<(&str, Site)> = blocked.iter().map(|t| (t.name.as_str(), t.site)).collect();
    waits.sort();
    let lock = Site::new("mutex", Op::Lock);
    assert_eq!(waits, [("main", lock), ("thread-1", lock)]);
}

#[test]
fn a_consistent_lock_order_passes_the_same_budget() {
    assert_passes(&explore(EXECUTIONS, lock_order(true)), EXECUTIONS);
}

/// Two threads increment a counter. Buggy: a load and a store. Fixed: one `fetch_add`.
fn counter(fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let count = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let count = count.clone();
                thread::spawn(move || {
                    if fixed {
                        count.fetch_add(1, Ordering::AcqRel);
                    } else {
                        let seen = count.load(Ordering::Acquire);
                        count.store(seen + 1, Ordering::Release);
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(count.load(Ordering::Acquire), 2, "an increment was lost");
    }
}

#[test]
fn every_atomic_access_is_a_scheduling_point_so_a_lost_update_is_found() {
    let report = explore(EXECUTIONS, counter(false));
    let failure = expect_failure(&report);
    assert_eq!(failure.kind, FailureKind::Panic, "{failure}");
    assert!(
        failure.message.contains("an increment was lost"),
        "{failure}"
    );
    assert_passes(&explore(EXECUTIONS, counter(true)), EXECUTIONS);
}

/// Three threads wait for a flag; main sets it and notifies all (or, wrongly, one).
fn notify(all: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let state = Arc::new((Mutex::new(false), Condvar::new()));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let state = state.clone();
                thread::spawn(move || {
                    let (go, go_changed) = &*state;
                    let _go = go_changed
                        .wait_while(go.lock().unwrap(), |go| !*go)
                        .unwrap();
                })
            })
            .collect();
        let (go, go_changed) = &*state;
        *go.lock().unwrap() = true;
        if all {
            go_changed.notify_all();
        } else {
            go_changed.notify_one();
        }
        for waiter in waiters {
            waiter.join().unwrap();
        }
    }
}

#[test]
fn notify_all_wakes_every_waiter_where_notify_one_strands_some() {
    assert_passes(&explore(EXECUTIONS, notify(true)), EXECUTIONS);
    let report = explore(EXECUTIONS, notify(false));
    let failure = expect_failure(&report);
    assert!(
        matches!(failure.kind, FailureKind::Deadlock { .. }),
        "{failure}"
    );
}

/// Main waits up to `timeout_ms` for a flag that a notifier sets after `delay_ms`; checks
/// whether the wait timed out and the virtual time it returned at.
fn check_wait_timeout(delay_ms: u64, timeout_ms: u64, timed_out: bool, returned_at_ms: u64) {
    let report = explore(50, move || {
        let state = Arc::new((Mutex::new(false), Condvar::new()));
        let notifier_state = state.clone();
        let notifier = thread::spawn(move || {
            sleep(Duration::from_millis(delay_ms));
            let (ready, ready_changed) = &*notifier_state;
            *ready.lock().unwrap() = true;
            ready_changed.notify_one();
        });
        let (ready, ready_changed) = &*state;
        let timeout = Duration::from_millis(timeout_ms);
        let (guard, result) = ready_changed
            .wait_timeout_while(ready.lock().unwrap(), timeout, |ready| !*ready)
            .unwrap();
        assert_eq!(result.timed_out(), timed_out);
        assert_eq!(*guard, !timed_out);
        assert_eq!(rt::now().as_nanos(), returned_at_ms * MS);
        drop(guard);
        notifier.join().unwrap();
    });
    assert_passes(&report, 50);
}

#[test]
fn wait_timeout_while_returns_on_notify_or_at_its_virtual_deadline() {
    check_wait_timeout(10, 100, false, 10);
    check_wait_timeout(200, 100, true, 100);
}

#[test]
fn wait_timeout_without_a_notifier_times_out_at_its_virtual_deadline() {
    let report = explore(5, || {
        let (lock, nobody_notifies) = (Mutex::new(()), Condvar::new());
        let guard = lock.lock().unwrap();
        let (_guard, result) = nobody_notifies
            .wait_timeout(guard, Duration::from_millis(50))
            .unwrap();
        assert!(result.timed_out());
        assert_eq!(rt::now().as_nanos(), 50 * MS);
    });
    assert_passes(&report, 5);
}

/// A producer sends 100 values and is joined before anything is received, so a send that
/// parked on a full channel would deadlock.
fn send_all_then_receive(bounded: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let (values, received): (Box<dyn Fn(u32) + Send>, _) = if bounded {
            let (tx, rx) = mpsc::sync_channel(1);
            (Box::new(move |value| tx.send(value).unwrap()), rx)
        } else {
            let (tx, rx) = mpsc::channel();
            (Box::new(move |value| tx.send(value).unwrap()), rx)
        };
        let producer = thread::spawn(move || (0..100).for_each(values));
        producer.join().unwrap();
        assert_eq!(
            received.iter().collect::<Vec<u32>>(),
            (0..100).collect::<Vec<_>>()
        );
    }
}

#[test]
fn an_unbounded_send_never_blocks_where_a_bounded_one_does() {
    assert_passes(&explore(20, send_all_then_receive(false)), 20);
    let report = explore(20, send_all_then_receive(true));
    let failure = expect_failure(&report);
    let FailureKind::Deadlock { blocked } = &failure.kind else {
        panic!("expected a deadlock, got {failure}");
    };
    let waits: Vec<(&str, Site)> = blocked.iter().map(|t| (t.name.as_str(), t.site)).collect();
    assert_eq!(
        waits,
        [
            ("main", Site::new("thread", Op::Join)),
            ("thread-1", Site::new("mpsc", Op::Send))
        ]
    );
}

#[test]
fn mpsc_errors_are_std_s_own_and_timeouts_use_virtual_time() {
    let report = explore(5, || {
        let (tx, rx) = mpsc::channel::<u32>();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        let timeout = Duration::from_millis(20);
        assert_eq!(rx.recv_timeout(timeout), Err(RecvTimeoutError::Timeout));
        assert_eq!(rt::now().as_nanos(), 20 * MS);
        drop(tx);
        assert_eq!(rx.recv(), Err(RecvError));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

        let (tx, rx) = mpsc::channel();
        drop(rx);
        assert_eq!(tx.send(7), Err(SendError(7)));
    });
    assert_passes(&report, 5);
}

#[test]
fn join_returns_the_message_of_an_injected_panic() {
    let report = explore(20, || {
        let worker = thread::spawn(|| -> u32 { panic!("{INJECTED_FAULT_MARKER}: worker gave up") });
        let payload = worker.join().unwrap_err();
        let message = payload.downcast_ref::<String>().expect("a String payload");
        assert!(message.ends_with("worker gave up"), "{message}");
    });
    assert_passes(&report, 20);
}

#[test]
fn any_other_panic_in_a_thread_fails_the_execution_before_join() {
    let report = explore(20, || {
        let worker = thread::spawn(|| panic!("worker broke"));
        let _ = worker.join();
    });
    let failure = expect_failure(&report);
    assert_eq!(failure.kind, FailureKind::Panic, "{failure}");
    assert_eq!(failure.message, "t1 'thread-1' panicked: worker broke");
}

#[test]
fn a_lock_held_by_a_panicking_thread_is_released_not_poisoned() {
    let report = explore(50, || {
        let lock = Arc::new(Mutex::new(0u32));
        let worker_lock = lock.clone();
        let worker = thread::spawn(move || {
            let mut count = worker_lock.lock().unwrap();
            *count += 1;
            panic!("{INJECTED_FAULT_MARKER}: crash holding the lock");
        });
        assert!(worker.join().is_err());
        assert!(!lock.is_poisoned());
        assert_eq!(*lock.lock().unwrap(), 1);
        let held = lock.lock().unwrap();
        assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
        drop(held);
        assert_eq!(Arc::into_inner(lock).unwrap().into_inner().unwrap(), 1);
    });
    assert_passes(&report, 50);
}

#[test]
fn threads_are_named_in_spawn_order_per_execution_or_by_the_builder() {
    let report = explore(10, || {
        let own_name = || thread::current().name().map(str::to_owned);
        let first = thread::spawn(own_name);
        let named = Builder::new()
            .name("producer".to_owned())
            .spawn(own_name)
            .unwrap();
        let second = thread::spawn(|| thread::current().id());
        assert_eq!(named.thread().name(), Some("producer"));
        let second_id = second.thread().id();
        assert_eq!(first.join().unwrap(), None);
        assert_eq!(named.join().unwrap().as_deref(), Some("producer"));
        assert_eq!(second.join().unwrap(), second_id);
        assert_eq!(thread::current().name(), None);
    });
    assert_passes(&report, 10);
    let trace = report.trace().render();
    for spawn in [
        "spawn t1 thread-1",
        "spawn t2 producer",
        "spawn t3 thread-2",
    ] {
        assert!(
            trace.contains(spawn),
            "{spawn} missing from the last execution:\n{trace}"
        );
    }
}

#[test]
fn park_and_unpark_hand_off_without_losing_a_wakeup() {
    let report = explore(EXECUTIONS, || {
        let done = Arc::new(AtomicBool::new(false));
        let main = thread::current();
        let worker_done = done.clone();
        let worker = thread::spawn(move || {
            worker_done.store(true, Ordering::Release);
            main.unpark();
        });
        while !done.load(Ordering::Acquire) {
            thread::park();
        }
        worker.join().unwrap();
    });
    assert_passes(&report, EXECUTIONS);
}

#[test]
fn outside_a_simulation_the_facade_runs_on_os_threads() {
    let state = Arc::new((Mutex::new(0u32), Condvar::new()));
    let (tx, rx) = mpsc::channel();
    let worker_state = state.clone();
    let worker = thread::spawn(move || {
        let (count, count_changed) = &*worker_state;
        *count.lock().unwrap() += 1;
        count_changed.notify_all();
        tx.send("sent").unwrap();
    });
    let (count, count_changed) = &*state;
    let count = count_changed
        .wait_while(count.lock().unwrap(), |count| *count == 0)
        .unwrap();
    assert_eq!(*count, 1);
    assert_eq!(rx.recv(), Ok("sent"));
    worker.join().unwrap();

    let panicking = thread::spawn(|| panic!("a real panic on a real thread"));
    let payload = panicking.join().unwrap_err();
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some("a real panic on a real thread")
    );
}
