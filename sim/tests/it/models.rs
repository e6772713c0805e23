//! Small models shared by the tests, each with a buggy and a fixed form where relevant.

use std::sync::Arc;
use std::time::Duration;

use vigil_core::rt;
use vigil_core::sync::{AtomicBool, AtomicU32, Mutex, Ordering, RecvTimeoutError, channel};
use vigil_core::thread;

/// Two tasks, two mutexes. Buggy: they lock them in opposite orders (a deadlock under some
/// interleavings). Fixed: both lock `lock_a` first.
pub(crate) fn lock_order(fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let a = Arc::new(Mutex::named("lock_a", 0u32));
        let b = Arc::new(Mutex::named("lock_b", 0u32));
        let (worker_a, worker_b) = (a.clone(), b.clone());
        let worker = thread::spawn("worker", move || {
            if fixed {
                let mut a = worker_a.lock();
                let mut b = worker_b.lock();
                *a += 1;
                *b += 1;
            } else {
                let mut b = worker_b.lock();
                let mut a = worker_a.lock();
                *a += 1;
                *b += 1;
            }
        });
        {
            let mut a = a.lock();
            let mut b = b.lock();
            *a += 1;
            *b += 1;
        }
        worker.join().unwrap();
        assert_eq!((*a.lock(), *b.lock()), (2, 2));
    }
}

/// Two claimers race to claim a one-time job. Buggy: check-then-act on an atomic flag without
/// the lock, so both may claim it under one interleaving. Fixed: the check and the act happen
/// under one mutex.
pub(crate) fn check_then_act(fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let claimed = Arc::new(AtomicBool::named("claimed", false));
        let claims = Arc::new(AtomicU32::named("claims", 0));
        let claim_lock = Arc::new(Mutex::named("claim_lock", ()));
        let claimers: Vec<_> = (0..2)
            .map(|_| {
                let (claimed, claims, claim_lock) =
                    (claimed.clone(), claims.clone(), claim_lock.clone());
                thread::spawn("claimer", move || {
                    let _guard = fixed.then(|| claim_lock.lock());
                    if !claimed.load(Ordering::Acquire) {
                        claimed.store(true, Ordering::Release);
                        claims.fetch_add(1, Ordering::AcqRel);
                    }
                })
            })
            .collect();
        for claimer in claimers {
            claimer.join().unwrap();
        }
        assert_eq!(
            claims.load(Ordering::Acquire),
            1,
            "the job was claimed twice"
        );
    }
}

/// Three tasks, a mutex, channels, random draws, sleeps and receive timeouts: produces every
/// kind of trace event, for determinism tests.
pub(crate) fn pipeline() -> impl Fn() + Send + Sync + 'static {
    || {
        let total = Arc::new(Mutex::named("total", 0u64));
        let (jobs_tx, jobs_rx) = channel::<u64>("jobs", 1);
        let (done_tx, done_rx) = channel::<u64>("done", 1);
        let producer_total = total.clone();
        let producer = thread::spawn("producer", move || {
            for _ in 0..3 {
                let job = rt::random_u64() % 100;
                *producer_total.lock() += job;
                jobs_tx.send(job).unwrap();
                rt::sleep(Duration::from_millis(30));
            }
        });
        let consumer_total = total.clone();
        let consumer = thread::spawn("consumer", move || {
            let mut seen = 0;
            let mut timeouts = 0;
            loop {
                match jobs_rx.recv_timeout(Duration::from_millis(20)) {
                    Ok(job) => seen += job,
                    Err(RecvTimeoutError::Timeout) => timeouts += 1,
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            }
            *consumer_total.lock() -= seen;
            done_tx.send(timeouts).unwrap();
        });
        let timeouts = done_rx.recv().unwrap();
        assert!(
            timeouts >= 1,
            "the producer's sleeps outlast the consumer's timeout"
        );
        producer.join().unwrap();
        consumer.join().unwrap();
        assert_eq!(*total.lock(), 0);
    }
}
