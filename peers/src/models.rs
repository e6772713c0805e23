//! The models of the peer bench, written once against a std-shaped facade named `rt` (with
//! `rt::sync` and `rt::thread`) that the parent module binds: `peers/src/main.rs` loads this
//! file three times, as a child of modules binding `rt` to vigil-sim, shuttle and loom, and
//! `sim/examples/systematic.rs` once more. Only what all three facades share is used: `Arc`,
//! `Mutex`, `AtomicU32` with `SeqCst`, spawn, join.
//!
//! Each model is a function of `fixed` returning the closure one execution runs; the buggy
//! version fails an assertion (or deadlocks) under some interleaving, the fixed one never does.

use super::rt;
use rt::sync::atomic::{AtomicU32, Ordering};
use rt::sync::{Arc, Mutex};
use rt::thread;

/// Registration racing a crash (3 threads: registrar, crash listener, snapshot reader).
///
/// Buggy: the registrar checks that the process is alive before arming its monitor, so a crash
/// in between is never noticed and a dead worker stays registered (one preemption: the
/// registrar, between its check and its arm). Fixed: it arms, checks and inserts under the
/// table lock, which the listener holds while it marks the process dead and removes. (Both
/// sides under one lock also keeps loom, which treats `SeqCst` as acquire-release, from
/// reporting the store-buffering outcome no sequentially consistent machine can show.)
pub(crate) fn register_races_crash(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let table = Arc::new(Mutex::new(Vec::<u32>::new()));
        let alive = Arc::new(AtomicU32::new(1));
        let armed = Arc::new(AtomicU32::new(0));
        let (t, a, m) = (table.clone(), alive.clone(), armed.clone());
        let registrar = thread::spawn(move || {
            if fixed {
                let mut entries = t.lock().unwrap();
                m.store(1, Ordering::SeqCst);
                if a.load(Ordering::SeqCst) == 1 {
                    entries.push(1);
                }
            } else if a.load(Ordering::SeqCst) == 1 {
                m.store(1, Ordering::SeqCst);
                t.lock().unwrap().push(1);
            }
        });
        let (t, a, m) = (table.clone(), alive.clone(), armed.clone());
        let listener = thread::spawn(move || {
            let mut entries = t.lock().unwrap();
            a.store(0, Ordering::SeqCst);
            if m.load(Ordering::SeqCst) == 1 {
                entries.retain(|worker| *worker != 1);
            }
        });
        let t = table.clone();
        let reader = thread::spawn(move || t.lock().unwrap().len());
        registrar.join().unwrap();
        listener.join().unwrap();
        reader.join().unwrap();
        let registered = table.lock().unwrap().contains(&1);
        assert!(
            !registered || alive.load(Ordering::SeqCst) == 1,
            "a dead worker stays registered"
        );
    }
}

/// Unregister racing a crash (4 threads: registrar, unregister, crash listener, main).
///
/// The registrar registers worker 2 (arm, insert under the table lock). Worker 1 is being
/// unregistered: under the table lock the unregister marks it `removing`, disarms its
/// monitor, then clears the mark. Worker 1's crash listener decides whether the crash belongs
/// to a live registration by reading the mark, the monitor and the mark again. Buggy: it reads
/// without the lock, and a listener that reads between the disarm and the clear takes a
/// removed worker for an armed one (two preemptions: the unregister after its mark, the
/// listener after its first read). Fixed: the listener reads under the table lock.
pub(crate) fn unregister_races_crash(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let table = Arc::new(Mutex::new(vec![1u32]));
        let removing = Arc::new(AtomicU32::new(0));
        let disarmed = Arc::new(AtomicU32::new(0));
        let armed_other = Arc::new(AtomicU32::new(0));
        let (t, o) = (table.clone(), armed_other.clone());
        let registrar = thread::spawn(move || {
            o.store(1, Ordering::SeqCst);
            t.lock().unwrap().push(2);
        });
        let (t, r, d) = (table.clone(), removing.clone(), disarmed.clone());
        let unregister = thread::spawn(move || {
            let mut entries = t.lock().unwrap();
            r.store(1, Ordering::SeqCst);
            d.store(1, Ordering::SeqCst);
            entries.retain(|worker| *worker != 1);
            r.store(0, Ordering::SeqCst);
        });
        let (t, r, d) = (table.clone(), removing.clone(), disarmed.clone());
        let listener = thread::spawn(move || {
            let _guard = fixed.then(|| t.lock().unwrap());
            let first = r.load(Ordering::SeqCst);
            let disarmed = d.load(Ordering::SeqCst);
            let again = r.load(Ordering::SeqCst);
            assert!(
                !(first == 1 && disarmed == 1 && again == 0),
                "the crash of an unregistered worker was taken for a live one"
            );
        });
        registrar.join().unwrap();
        unregister.join().unwrap();
        listener.join().unwrap();
    }
}

/// The classic lost update: two increments by load and store (fixed: `fetch_add`).
pub(crate) fn lost_update(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let counter = Arc::new(AtomicU32::new(0));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let counter = counter.clone();
                thread::spawn(move || {
                    if fixed {
                        counter.fetch_add(1, Ordering::SeqCst);
                    } else {
                        let value = counter.load(Ordering::SeqCst);
                        counter.store(value + 1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::SeqCst), 2, "an increment was lost");
    }
}

/// The classic lock-order inversion between two threads, a deadlock (fixed: one order).
pub(crate) fn lock_order(fixed: bool) -> impl Fn() + Send + Sync + Clone + 'static {
    move || {
        let a = Arc::new(Mutex::new(0));
        let b = Arc::new(Mutex::new(0));
        let (wa, wb) = (a.clone(), b.clone());
        let worker = thread::spawn(move || {
            if fixed {
                let _a = wa.lock().unwrap();
                let _b = wb.lock().unwrap();
            } else {
                let _b = wb.lock().unwrap();
                let _a = wa.lock().unwrap();
            }
        });
        {
            let _a = a.lock().unwrap();
            let _b = b.lock().unwrap();
        }
        worker.join().unwrap();
    }
}
