//! The loom-shaped parts of the facade: `cell::UnsafeCell` reports accesses that can overlap,
//! `hint::spin_loop` lets a spinning task's partner run, and `future::block_on` parks between
//! polls. Each race model is searched exhaustively (DFS and DPOR) and its fixed version must
//! exhaust the search without a report.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use vigil_sim::cell::UnsafeCell;
use vigil_sim::sync::atomic::{AtomicBool, Ordering};
use vigil_sim::sync::{Arc, Mutex};
use vigil_sim::{Config, Dfs, Dpor, FailureKind, Report, StopReason, future, hint, run, thread};

/// Shared data behind an `UnsafeCell`; sharing it is what the cell's checks are about.
struct Shared {
    value: UnsafeCell<u32>,
    lock: Mutex<()>,
}

fn shared() -> Arc<Shared> {
    Arc::new(Shared {
        value: UnsafeCell::named("value", 0),
        lock: Mutex::new(()),
    })
}

fn config() -> Config {
    let mut config = Config::default();
    config.executions = 100_000;
    config
}

/// Runs `model` under exhaustive DFS and under DPOR, and returns both reports.
fn both(model: impl Fn() + Send + Sync + Clone + 'static) -> [(&'static str, Report); 2] {
    [
        (
            "dfs",
            run(&config(), &mut Dfs::new(u32::MAX), model.clone()),
        ),
        ("dpor", run(&config(), &mut Dpor::new(u32::MAX, 0), model)),
    ]
}

fn assert_race(report: &Report, strategy: &str, expected: &str) {
    let failure = report
        .failure()
        .unwrap_or_else(|| panic!("{strategy} missed the race"));
    assert!(
        matches!(failure.kind, FailureKind::Panic),
        "{strategy}: {failure}"
    );
    assert!(
        failure.message.contains(expected),
        "{strategy}: expected {expected:?} in {}",
        failure.message
    );
}

fn assert_clean(report: &Report, strategy: &str) {
    let stats = report
        .result()
        .unwrap_or_else(|failure| panic!("{strategy}: {failure}"));
    assert_eq!(stats.stop, StopReason::StrategyExhausted, "{strategy}");
}

/// Two tasks increment the cell; `locked` guards each increment with the shared lock.
fn increments(locked: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let data = shared();
        let other = data.clone();
        let bump = move |data: &Shared| {
            let _guard = locked.then(|| data.lock.lock().unwrap());
            // SAFETY: the write window is the only access this task has open.
            data.value.with_mut(|value| unsafe { *value += 1 });
        };
        let worker = thread::spawn(move || bump(&other));
        bump(&data);
        worker.join().unwrap();
        assert_eq!(data.value.with(|value| unsafe { *value }), 2);
    }
}

#[test]
fn unsynchronised_writes_are_a_race_and_a_lock_orders_them() {
    for (strategy, report) in both(increments(false)) {
        assert_race(&report, strategy, "writes it while task");
    }
    for (strategy, report) in both(increments(true)) {
        assert_clean(&report, strategy);
    }
}

/// A reader and a writer; `joined` reads only after joining the writer.
fn read_while_written(joined: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let data = shared();
        let other = data.clone();
        let writer = thread::spawn(move || {
            let pointer = other.value.get_mut();
            // SAFETY: this task's write window is open while `pointer` lives.
            unsafe { *pointer.deref() = 7 };
            thread::yield_now();
        });
        let mut writer = Some(writer);
        if joined {
            writer.take().unwrap().join().unwrap();
        }
        let seen = data.value.with(|value| unsafe { *value });
        if let Some(writer) = writer {
            writer.join().unwrap();
        }
        assert!(seen == 0 || seen == 7);
    }
}

#[test]
fn a_read_overlapping_a_live_write_pointer_is_a_race_and_a_join_orders_them() {
    for (strategy, report) in both(read_while_written(false)) {
        // Whichever access the search opens first, the second one reports the overlap.
        assert_race(&report, strategy, "data race on value: task ");
        let message = &report.failure().unwrap().message;
        assert!(
            message.contains("task 0 reads") && message.contains("task 1 writes"),
            "{strategy}: {message}"
        );
    }
    for (strategy, report) in both(read_while_written(true)) {
        assert_clean(&report, strategy);
    }
}

#[test]
fn reads_may_overlap() {
    let readers = || {
        let data = shared();
        let other = data.clone();
        let reader = thread::spawn(move || {
            let pointer = other.value.get();
            thread::yield_now();
            // SAFETY: only reads are open on the cell.
            assert_eq!(unsafe { *pointer.deref() }, 0);
        });
        let pointer = data.value.get();
        thread::yield_now();
        pointer.with(|value| assert_eq!(unsafe { *value }, 0));
        drop(pointer);
        reader.join().unwrap();
    };
    for (strategy, report) in both(readers) {
        assert_clean(&report, strategy);
    }
}

#[test]
fn a_write_nested_in_the_same_tasks_read_is_reported() {
    let nested = || {
        let data = shared();
        data.value.with(|_| data.value.with_mut(|_| ()));
    };
    let report = run(&config(), &mut Dfs::new(0), nested);
    assert_race(
        &report,
        "dfs",
        "its own earlier access, which reads it, is still open",
    );
}

#[test]
fn a_spin_loop_on_hint_lets_the_setter_run_and_the_search_ends() {
    let spin = || {
        let flag = Arc::new(AtomicBool::new(false));
        let setter = {
            let flag = flag.clone();
            thread::spawn(move || flag.store(true, Ordering::Release))
        };
        while !flag.load(Ordering::Acquire) {
            hint::spin_loop();
        }
        setter.join().unwrap();
    };
    for (strategy, report) in both(spin) {
        assert_clean(&report, strategy);
    }
}

/// A one-shot slot: the value, and the waker of the task waiting for it.
type Slot = Mutex<(Option<u32>, Option<Waker>)>;

/// A future that is ready once the slot holds a value.
struct Receive(Arc<Slot>);

impl Future for Receive {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<u32> {
        let mut slot = self.0.lock().unwrap();
        match slot.0.take() {
            Some(value) => Poll::Ready(value),
            None => {
                slot.1 = Some(context.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Main blocks on a value another task sends; `wakes` says whether the sender wakes it.
fn handoff(wakes: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let slot: Arc<Slot> = Arc::new(Mutex::new((None, None)));
        let sender = {
            let slot = slot.clone();
            thread::spawn(move || {
                let waker = {
                    let mut slot = slot.lock().unwrap();
                    slot.0 = Some(41);
                    slot.1.take()
                };
                if let (true, Some(waker)) = (wakes, waker) {
                    waker.wake();
                }
            })
        };
        assert_eq!(future::block_on(Receive(slot)), 41);
        sender.join().unwrap();
    }
}

#[test]
fn block_on_parks_until_the_waker_is_woken() {
    for (strategy, report) in both(handoff(true)) {
        assert_clean(&report, strategy);
    }
    for (strategy, report) in both(handoff(false)) {
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy}: a lost wakeup must strand main"));
        assert!(
            matches!(failure.kind, FailureKind::Deadlock { .. }),
            "{strategy}: {failure}"
        );
    }
}

/// loom's `acq_rel` shape: two tasks each spin on the other's flag-setter, so while one spins
/// the other may too. The systematic searches must let the setters run rather than alternate
/// between the spinners, or no bounded search ends.
fn two_spinners() {
    let x = Arc::new(AtomicBool::new(false));
    let y = Arc::new(AtomicBool::new(false));
    let set_y = {
        let y = y.clone();
        thread::spawn(move || y.store(true, Ordering::Release))
    };
    let spinner = |wait: Arc<AtomicBool>| {
        thread::spawn(move || {
            while !wait.load(Ordering::Acquire) {
                thread::yield_now();
            }
        })
    };
    let (first, second) = (spinner(x.clone()), spinner(y.clone()));
    x.store(true, Ordering::Release);
    for task in [set_y, first, second] {
        task.join().unwrap();
    }
}

#[test]
fn spinners_waiting_on_each_other_do_not_starve_the_setters() {
    for bound in [0, 1, 2] {
        for (strategy, report) in [
            ("dfs", run(&config(), &mut Dfs::new(bound), two_spinners)),
            (
                "dpor",
                run(&config(), &mut Dpor::new(bound, 0), two_spinners),
            ),
        ] {
            let stats = report
                .result()
                .unwrap_or_else(|failure| panic!("{strategy} at {bound}: {failure}"));
            assert_eq!(
                stats.stop,
                StopReason::StrategyExhausted,
                "{strategy} at {bound}"
            );
            assert!(
                stats.executions < 1_000,
                "{strategy} at {bound}: {} executions",
                stats.executions
            );
        }
    }
}

vigil_sim::lazy_static! {
    /// A `lazy_static!` item as loom's tests write them.
    static ref STARTS: vigil_sim::sync::atomic::AtomicUsize =
        vigil_sim::sync::atomic::AtomicUsize::new(7);
}

#[test]
fn lazy_static_items_deref_to_their_value() {
    let report = run(&config(), &mut Dfs::new(1), || {
        let other = thread::spawn(|| STARTS.load(Ordering::SeqCst));
        let mine = STARTS.load(Ordering::SeqCst);
        assert_eq!((mine, other.join().unwrap()), (7, 7));
    });
    assert_clean(&report, "dfs");
}

#[test]
fn notify_keeps_one_permit_and_wakes_the_waiter() {
    use vigil_sim::sync::Notify;
    let handshake = |notifies: bool| {
        move || {
            let notify = Arc::new(Notify::new());
            let other = notify.clone();
            let notifier = thread::spawn(move || {
                if notifies {
                    other.notify();
                }
            });
            notify.wait();
            notifier.join().unwrap();
        }
    };
    for (strategy, report) in both(handshake(true)) {
        assert_clean(&report, strategy);
    }
    for (strategy, report) in both(handshake(false)) {
        let failure = report
            .failure()
            .unwrap_or_else(|| panic!("{strategy}: a wait with no notify must block"));
        assert!(
            matches!(failure.kind, FailureKind::Deadlock { .. }),
            "{strategy}"
        );
    }
}

#[test]
fn unsync_load_reads_the_value_without_a_scheduling_point() {
    // Steps of one execution that stores, then reads the value back as `read` says.
    let steps = |read: fn(&vigil_sim::sync::atomic::AtomicUsize) -> Option<usize>| {
        let report = run(&config(), &mut Dfs::new(0), move || {
            let value = vigil_sim::sync::atomic::AtomicUsize::new(3);
            value.store(5, Ordering::Relaxed);
            if let Some(seen) = read(&value) {
                assert_eq!(seen, 5);
            }
        });
        report.result().expect("the model passes").steps_max_seen
    };
    let none = steps(|_| None);
    // SAFETY: no other task can store to `value`.
    let unsync = steps(|value| Some(unsafe { value.unsync_load() }));
    let load = steps(|value| Some(value.load(Ordering::Relaxed)));
    assert_eq!(unsync, none, "unsync_load added a scheduling point");
    assert_eq!(load, none + 1, "a plain load is one scheduling point");
}

#[test]
fn model_builder_checks_within_its_bound_and_panics_with_the_failure() {
    use vigil_sim::model::Builder;
    let mut builder = Builder::new();
    builder.preemption_bound = Some(2);
    builder.check(increments(true));
    let failed = std::panic::catch_unwind(|| builder.check(increments(false)));
    let message = failed.expect_err("the race is found");
    let message = message
        .downcast_ref::<String>()
        .expect("the failure is a formatted message");
    assert!(message.contains("data race on value"), "{message}");
    assert!(message.contains("VIGIL_REPLAY="), "{message}");
}

#[test]
fn update_and_try_update_return_the_replaced_value() {
    let report = run(&config(), &mut Dfs::new(0), || {
        let value = vigil_sim::sync::atomic::AtomicU8::new(4);
        assert_eq!(
            value.update(Ordering::SeqCst, Ordering::SeqCst, |v| v * 2),
            4
        );
        let stop = value.try_update(Ordering::SeqCst, Ordering::SeqCst, |_| None);
        assert_eq!(stop, Err(8));
        let go = value.try_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_add(1));
        assert_eq!((go, value.load(Ordering::SeqCst)), (Ok(8), 9));
    });
    assert_clean(&report, "dfs");
}

/// How many times `SLOW` has been initialised, across executions.
static SLOW_INITS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A `static` whose initialiser takes scheduling points (a yield), as loom's
/// `ARC_WITH_SLOW_CONSTRUCTOR` does.
static SLOW: vigil_sim::sync::LazyLock<vigil_sim::sync::Mutex<u32>> =
    vigil_sim::sync::LazyLock::new(|| {
        SLOW_INITS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        thread::yield_now();
        vigil_sim::sync::Mutex::new(0)
    });

#[test]
fn a_static_lazy_lock_starts_fresh_in_every_execution() {
    // Each execution bumps the value once per task. Were the static kept from the previous
    // execution, the second execution would see 2 at its start, and its first access would
    // skip the initialiser's scheduling points, which a systematic search reports as a
    // replay divergence.
    let bumps = || {
        let other = thread::spawn(|| {
            *SLOW.lock().unwrap() += 1;
        });
        *SLOW.lock().unwrap() += 1;
        other.join().unwrap();
        assert_eq!(*SLOW.lock().unwrap(), 2);
    };
    let before = SLOW_INITS.load(std::sync::atomic::Ordering::Relaxed);
    let mut executions = 0;
    for (strategy, report) in both(bumps) {
        assert_clean(&report, strategy);
        let stats = report.stats().unwrap();
        assert!(stats.executions > 1, "{strategy}: {}", stats.executions);
        executions += stats.executions;
    }
    // Once per execution (shrinking and replays run none here: nothing failed).
    let inits = SLOW_INITS.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert_eq!(inits as u64, executions);
}
