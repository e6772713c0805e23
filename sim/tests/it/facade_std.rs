//! The std APIs the facade gained for loom and shuttle users (`RwLock`, `Barrier`, `Once`,
//! `OnceLock`, `LazyLock`, the whole atomic set, the rendezvous `sync_channel(0)`), each
//! checked against what std promises, on small models searched exhaustively where they are
//! small enough, and the dependency relation of the `RwLock` against exhaustive DFS.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::atomic as std_atomic;

use vigil_sim::sync::atomic::{
    AtomicBool, AtomicI8, AtomicI64, AtomicIsize, AtomicPtr, AtomicU16, AtomicUsize, Ordering,
};
use vigil_sim::sync::mpsc::{self, TrySendError};
use vigil_sim::sync::{Arc, Barrier, LazyLock, Mutex, Once, OnceLock, RwLock, TryLockError};
use vigil_sim::thread;
use vigil_sim::{Config, Dfs, Dpor, FailureKind, Report, StopReason, Strategy, run};

thread_local! {
    /// Terminal states of one search (the executor runs on the test thread).
    static STATES: RefCell<BTreeSet<String>> = const { RefCell::new(BTreeSet::new()) };
}

fn record(state: String) {
    STATES.with(|states| states.borrow_mut().insert(state));
}

/// Searches `model` until `strategy` is exhausted; the report and the states recorded.
fn search<F>(strategy: &mut dyn Strategy, model: F) -> (Report, BTreeSet<String>)
where
    F: Fn() + Send + Sync + 'static,
{
    STATES.with(|states| states.borrow_mut().clear());
    let mut config = Config::default();
    config.executions = 100_000;
    let report = run(&config, strategy, model);
    let reached = STATES.with(|states| std::mem::take(&mut *states.borrow_mut()));
    (report, reached)
}

/// The number of executions of a search that passed and was exhausted.
fn exhausted(report: &Report) -> u64 {
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.stop, StopReason::StrategyExhausted);
    stats.executions
}

/// Every interleaving of `model` passes (DPOR without bounds, exhausted: every interleaving
/// up to the order of commuting steps); returns the states recorded.
fn passes_everywhere<F>(model: F) -> BTreeSet<String>
where
    F: Fn() + Send + Sync + 'static,
{
    let (report, states) = search(&mut Dpor::new(u32::MAX, 0), model);
    exhausted(&report);
    states
}

/// Two readers and a writer of an `RwLock<u32>`: each reader notes what it saw and whether
/// the other reader held the lock at the same time.
fn readers_and_writer() -> impl Fn() + Send + Sync + 'static {
    || {
        let lock = Arc::new(RwLock::new(0u32));
        let inside = Arc::new(AtomicUsize::new(0));
        let reader = |lock: Arc<RwLock<u32>>, inside: Arc<AtomicUsize>| {
            move || {
                let guard = lock.read().unwrap();
                let together = inside.fetch_add(1, Ordering::SeqCst) > 0;
                thread::yield_now();
                inside.fetch_sub(1, Ordering::SeqCst);
                (*guard, together)
            }
        };
        let first = thread::spawn(reader(lock.clone(), inside.clone()));
        let second = thread::spawn(reader(lock.clone(), inside.clone()));
        {
            let mut value = lock.write().unwrap();
            *value += 1;
            thread::yield_now();
            *value += 1;
        }
        let (a, b) = (first.join().unwrap(), second.join().unwrap());
        record(format!("{a:?} {b:?}"));
    }
}

#[test]
fn rwlock_readers_share_the_lock_and_never_see_a_write_half_done() {
    let states = passes_everywhere(readers_and_writer());
    // A writer holds the lock alone: readers see 0 or 2, never the 1 in between.
    for state in &states {
        assert!(
            !state.contains("(1,"),
            "a reader saw a half-done write: {state}"
        );
    }
    // Readers do hold it together in some interleaving, as std allows.
    assert!(
        states.iter().any(|state| state.contains("true")),
        "{states:?}"
    );
    assert!(
        states.iter().any(|state| state.contains("(0,")),
        "{states:?}"
    );
    assert!(
        states.iter().any(|state| state.contains("(2,")),
        "{states:?}"
    );
}

#[test]
fn rwlock_reads_commute_for_dpor_and_writes_do_not() {
    let (dfs, all) = search(&mut Dfs::new(u32::MAX), readers_and_writer());
    let (dpor, reached) = search(&mut Dpor::new(u32::MAX, 0), readers_and_writer());
    let (dfs_runs, dpor_runs) = (exhausted(&dfs), exhausted(&dpor));
    assert_eq!(reached, all, "DPOR lost or invented terminal states");
    assert!(dpor_runs < dfs_runs, "{dpor_runs} vs {dfs_runs} executions");

    // Readers alone: their locks and unlocks commute, so one order covers them all.
    let readers_only = || {
        let lock = Arc::new(RwLock::new(7u32));
        let other = lock.clone();
        let reader = thread::spawn(move || *other.read().unwrap());
        let mine = *lock.read().unwrap();
        assert_eq!((mine, reader.join().unwrap()), (7, 7));
    };
    let (dpor, _) = search(&mut Dpor::new(u32::MAX, 0), readers_only);
    let (dfs, _) = search(&mut Dfs::new(u32::MAX), readers_only);
    let (dpor_runs, dfs_runs) = (exhausted(&dpor), exhausted(&dfs));
    assert!(dpor_runs <= 2 && dfs_runs > 4, "{dpor_runs} vs {dfs_runs}");
}

#[test]
fn rwlock_try_forms_fail_exactly_when_std_s_would_block() {
    passes_everywhere(|| {
        let lock = Arc::new(RwLock::new(0u32));
        let other = lock.clone();
        let writer = lock.write().unwrap();
        let blocked = thread::spawn(move || {
            let read = matches!(other.try_read(), Err(TryLockError::WouldBlock));
            let write = matches!(other.try_write(), Err(TryLockError::WouldBlock));
            (read, write)
        });
        assert_eq!(blocked.join().unwrap(), (true, true));
        drop(writer);
        let reading = lock.read().unwrap();
        let other = lock.clone();
        let shared = thread::spawn(move || {
            let read = other.try_read().is_ok();
            let write = matches!(other.try_write(), Err(TryLockError::WouldBlock));
            (read, write)
        });
        assert_eq!(shared.join().unwrap(), (true, true));
        drop(reading);
        *lock.try_write().unwrap() += 1;
        assert_eq!(*lock.read().unwrap(), 1);
        assert!(!lock.is_poisoned());
    });
}

#[test]
fn locking_a_held_mutex_again_is_reported_as_a_self_deadlock() {
    let (report, _) = search(&mut Dfs::new(u32::MAX), || {
        let mutex = Mutex::new(0u32);
        let _first = mutex.lock().unwrap();
        let _second = mutex.lock().unwrap();
    });
    let failure = report.failure().expect("the second lock is reported");
    assert!(matches!(failure.kind, FailureKind::Panic), "{failure}");
    assert!(
        failure
            .to_string()
            .contains("tried to lock a mutex it already holds"),
        "{failure}"
    );
}

/// `parties` tasks (main among them) pass a barrier `rounds` times; each checks that all
/// had arrived before it left, and counts the rounds it led.
fn barrier_rounds(parties: usize, rounds: usize) -> impl Fn() + Send + Sync + 'static {
    move || {
        let barrier = Arc::new(Barrier::new(parties));
        let arrived = Arc::new(AtomicUsize::new(0));
        let party = |barrier: Arc<Barrier>, arrived: Arc<AtomicUsize>| {
            move || {
                let mut leaders = 0;
                for round in 1..=rounds {
                    arrived.fetch_add(1, Ordering::SeqCst);
                    let result = barrier.wait();
                    // Everyone of this round has arrived before anyone leaves it.
                    assert!(arrived.load(Ordering::SeqCst) >= parties * round);
                    leaders += usize::from(result.is_leader());
                }
                leaders
            }
        };
        let others: Vec<_> = (1..parties)
            .map(|_| thread::spawn(party(barrier.clone(), arrived.clone())))
            .collect();
        let mut leaders = party(barrier, arrived)();
        for other in others {
            leaders += other.join().unwrap();
        }
        assert_eq!(leaders, rounds, "one leader per round");
    }
}

#[test]
fn barrier_releases_no_one_early_and_elects_one_leader_per_round() {
    passes_everywhere(barrier_rounds(2, 2));
    passes_everywhere(barrier_rounds(3, 1));
}

#[test]
fn once_oncelock_and_lazylock_run_their_initialiser_once_for_racing_callers() {
    passes_everywhere(|| {
        let runs = Arc::new(AtomicUsize::new(0));
        let once = Arc::new(Once::new());
        let cell = Arc::new(OnceLock::new());
        let counted = runs.clone();
        let lazy = Arc::new(LazyLock::new(move || {
            counted.fetch_add(1, Ordering::SeqCst)
        }));
        let caller = {
            let (runs, once, cell, lazy) = (runs.clone(), once.clone(), cell.clone(), lazy.clone());
            move |me: u32| {
                once.call_once(|| {
                    runs.fetch_add(1, Ordering::SeqCst);
                });
                assert!(once.is_completed());
                let set = cell.set(me).is_ok();
                (*cell.get().unwrap(), set, **lazy)
            }
        };
        let other_caller = caller.clone();
        let other = thread::spawn(move || other_caller(1));
        let mine = caller(0);
        let theirs = other.join().unwrap();
        // One `call_once` body and one `LazyLock` initialiser ran.
        assert_eq!(runs.load(Ordering::SeqCst), 2);
        // Both see the one value stored, and exactly one `set` won.
        assert_eq!(mine.0, theirs.0);
        assert!(mine.1 != theirs.1);
        assert_eq!(mine.2, theirs.2);
        assert_eq!(cell.get_or_init(|| 9), &mine.0);
    });
}

#[test]
fn oncelock_take_and_set_behave_as_std_s() {
    passes_everywhere(|| {
        let mut ours = OnceLock::new();
        let mut theirs = std::sync::OnceLock::new();
        assert_eq!(ours.get(), theirs.get());
        assert_eq!(ours.set(1), theirs.set(1));
        assert_eq!(ours.set(2), theirs.set(2));
        assert_eq!(ours.take(), theirs.take());
        assert_eq!(ours.get(), theirs.get());
        assert_eq!(ours.get_or_init(|| 3), theirs.get_or_init(|| 3));
        assert_eq!(ours.into_inner(), theirs.into_inner());
    });
}

/// Applies the same operations to a facade atomic and to std's, inside a simulated task,
/// and compares every result.
macro_rules! same_as_std {
    ($ours:ty, $std:ty, $a:expr, $b:expr) => {{
        let ours = <$ours>::new($a);
        let theirs = <$std>::new($a);
        let seq = Ordering::SeqCst;
        assert_eq!(ours.swap($b, seq), theirs.swap($b, seq));
        assert_eq!(
            ours.compare_exchange($a, $b, seq, seq),
            theirs.compare_exchange($a, $b, seq, seq)
        );
        assert_eq!(
            ours.compare_exchange_weak($b, $a, seq, seq),
            theirs.compare_exchange_weak($b, $a, seq, seq)
        );
        #[allow(deprecated)]
        {
            assert_eq!(
                ours.compare_and_swap($a, $b, seq),
                theirs.compare_and_swap($a, $b, seq)
            );
            assert_eq!(
                ours.compare_and_swap($a, $a, seq),
                theirs.compare_and_swap($a, $a, seq)
            );
        }
        let step = |value| Some(value);
        assert_eq!(
            ours.fetch_update(seq, seq, step),
            theirs.fetch_update(seq, seq, step)
        );
        assert_eq!(
            ours.fetch_update(seq, seq, |_| None),
            theirs.fetch_update(seq, seq, |_| None)
        );
        assert_eq!(ours.load(seq), theirs.load(seq));
        ours.store($a, seq);
        theirs.store($a, seq);
        assert_eq!(ours.into_inner(), theirs.into_inner());
    }};
}

macro_rules! same_arithmetic_as_std {
    ($ours:ty, $std:ty, $a:expr, $b:expr) => {{
        same_as_std!($ours, $std, $a, $b);
        let ours = <$ours>::new($a);
        let theirs = <$std>::new($a);
        let seq = Ordering::SeqCst;
        assert_eq!(ours.fetch_add($b, seq), theirs.fetch_add($b, seq));
        assert_eq!(ours.fetch_sub($a, seq), theirs.fetch_sub($a, seq));
        assert_eq!(ours.fetch_and($b, seq), theirs.fetch_and($b, seq));
        assert_eq!(ours.fetch_nand($a, seq), theirs.fetch_nand($a, seq));
        assert_eq!(ours.fetch_or($b, seq), theirs.fetch_or($b, seq));
        assert_eq!(ours.fetch_xor($a, seq), theirs.fetch_xor($a, seq));
        assert_eq!(ours.fetch_max($b, seq), theirs.fetch_max($b, seq));
        assert_eq!(ours.fetch_min($a, seq), theirs.fetch_min($a, seq));
        assert_eq!(ours.load(seq), theirs.load(seq));
    }};
}

#[test]
fn every_atomic_type_gives_std_s_results() {
    passes_everywhere(|| {
        same_arithmetic_as_std!(AtomicU16, std_atomic::AtomicU16, 40_000, 30_000);
        same_arithmetic_as_std!(AtomicUsize, std_atomic::AtomicUsize, 7, 12);
        same_arithmetic_as_std!(AtomicI8, std_atomic::AtomicI8, -100, 100);
        same_arithmetic_as_std!(AtomicI64, std_atomic::AtomicI64, i64::MIN, 5);
        same_arithmetic_as_std!(AtomicIsize, std_atomic::AtomicIsize, -3, 3);
        same_as_std!(AtomicBool, std_atomic::AtomicBool, true, false);
        let ours = AtomicBool::new(true);
        let theirs = std_atomic::AtomicBool::new(true);
        assert_eq!(
            ours.fetch_not(Ordering::SeqCst),
            theirs.fetch_not(Ordering::SeqCst)
        );
        assert_eq!(
            ours.fetch_nand(true, Ordering::SeqCst),
            theirs.fetch_nand(true, Ordering::SeqCst)
        );
        let (mut x, mut y) = (1u8, 2u8);
        let (px, py): (*mut u8, *mut u8) = (&mut x, &mut y);
        same_as_std!(AtomicPtr<u8>, std_atomic::AtomicPtr<u8>, px, py);
        assert!(AtomicPtr::<u8>::default().load(Ordering::SeqCst).is_null());
    });
}

#[test]
fn atomic_ptr_accesses_are_scheduling_points_so_a_racy_publish_is_found() {
    // Two tasks each publish a pointer with a load then a store: one publication is lost in
    // the interleavings that put both loads first.
    let (report, _) = search(&mut Dfs::new(u32::MAX), || {
        let slot = Arc::new(AtomicPtr::<u32>::new(std::ptr::null_mut()));
        let other = slot.clone();
        let publish = |slot: &AtomicPtr<u32>| {
            if slot.load(Ordering::SeqCst).is_null() {
                slot.store(Box::into_raw(Box::new(1)), Ordering::SeqCst);
                true
            } else {
                false
            }
        };
        let worker = thread::spawn(move || publish(&other));
        let mine = publish(&slot);
        assert!(mine != worker.join().unwrap(), "both tasks published");
    });
    let failure = report.failure().expect("the racy publish is found");
    assert!(
        failure.to_string().contains("both tasks published"),
        "{failure}"
    );
}

#[test]
fn a_rendezvous_try_send_is_full_unless_the_receiver_waits() {
    let states = passes_everywhere(|| {
        let (tx, rx) = mpsc::sync_channel(0);
        // Nobody receives yet: std's rendezvous has no room at all.
        assert_eq!(tx.try_send(1), Err(TrySendError::Full(1)));
        let receiver = thread::spawn(move || rx.recv().unwrap());
        let mut attempts = 0;
        loop {
            attempts += 1;
            match tx.try_send(2) {
                Ok(()) => break,
                Err(TrySendError::Full(_)) => thread::yield_now(),
                Err(error) => panic!("{error:?}"),
            }
        }
        assert_eq!(receiver.join().unwrap(), 2);
        record(format!("first_try={}", attempts == 1));
    });
    // The search reaches both: the receiver already waiting, and not yet.
    assert_eq!(
        states,
        BTreeSet::from(["first_try=false".to_owned(), "first_try=true".to_owned()])
    );
}

#[test]
fn a_rendezvous_send_returns_only_once_the_value_is_received() {
    passes_everywhere(|| {
        let (tx, rx) = mpsc::sync_channel(0);
        let received = Arc::new(AtomicBool::new(false));
        let seen = received.clone();
        let receiver = thread::spawn(move || {
            let value = rx.recv().unwrap();
            seen.store(true, Ordering::SeqCst);
            let more: Vec<u32> = rx.iter().collect();
            (value, more)
        });
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        // The second send returned, so the receiver has taken the first value and noted it.
        assert!(received.load(Ordering::SeqCst));
        drop(tx);
        assert_eq!(receiver.join().unwrap(), (1, vec![2]));
    });
    // With no receiver, a send blocks for ever: a deadlock, where a buffer would pass.
    let (report, _) = search(&mut Dfs::new(u32::MAX), || {
        let (tx, _rx) = mpsc::sync_channel(0);
        tx.send(1).unwrap();
    });
    let failure = report.failure().expect("the unmatched send never returns");
    assert!(
        matches!(failure.kind, FailureKind::Deadlock { .. }),
        "{failure}"
    );
}

#[test]
fn a_rendezvous_send_to_a_dropped_receiver_gets_its_value_back() {
    passes_everywhere(|| {
        let (tx, rx) = mpsc::sync_channel::<u32>(0);
        let dropper = thread::spawn(move || drop(rx));
        let result = tx.send(5);
        dropper.join().unwrap();
        assert_eq!(result, Err(mpsc::SendError(5)));
    });
}

#[test]
fn scoped_threads_borrow_the_stack_and_are_all_joined_before_scope_returns() {
    let states = passes_everywhere(|| {
        let mut numbers = vec![1u32, 2, 3];
        let total = AtomicUsize::new(0);
        let mut named = None;
        let doubled = thread::scope(|scope| {
            // Not joined: `scope` must still wait for it.
            scope.spawn(|| {
                total.fetch_add(numbers.len(), Ordering::SeqCst);
            });
            let handle = thread::Builder::new()
                .name("summer".to_owned())
                .stack_size(1 << 16)
                .spawn_scoped(scope, || {
                    named = thread::current().name().map(str::to_owned);
                    numbers.iter().sum::<u32>()
                })
                .unwrap();
            // A thread spawned from a scoped thread, through the scope it borrows.
            scope
                .spawn(|| scope.spawn(|| total.fetch_add(10, Ordering::SeqCst)).join())
                .join()
                .unwrap()
                .unwrap();
            handle.join().unwrap() * 2
        });
        // Every scoped thread is done: the unjoined one's addition is in.
        assert_eq!(total.load(Ordering::SeqCst), 13);
        assert_eq!(named.as_deref(), Some("summer"));
        numbers.push(doubled);
        record(format!("{numbers:?}"));
    });
    // What std's scope gives for the same computation, (1 + 2 + 3) * 2 (the project bans
    // std threads outside sim/src/workers.rs, so it is written out).
    let expected = [1u32, 2, 3].iter().sum::<u32>() * 2;
    assert_eq!(states, BTreeSet::from([format!("[1, 2, 3, {expected}]")]));
}
