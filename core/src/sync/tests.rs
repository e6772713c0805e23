//! Unit tests of the primitives under the production scheduler (no timing assertions).

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::thread;

#[test]
fn mutex_serialises_increments_across_tasks() {
    let counter = Arc::new(Mutex::named("counter", 0u32));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let counter = counter.clone();
            thread::spawn("incrementer", move || {
                for _ in 0..1000 {
                    *counter.lock() += 1;
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(*counter.lock(), 4000);
}

#[test]
fn capacity_one_channel_buffers_before_anyone_receives() {
    let (tx, rx) = channel::<u32>("exit", 1);
    assert_eq!(tx.try_send(7), Ok(()));
    assert_eq!(tx.try_send(8), Err(TrySendError::Full(8)));
    assert_eq!(rx.try_recv(), Ok(7));
    assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
}

#[test]
fn receiver_sees_disconnect_once_every_sender_is_gone() {
    let (tx, rx) = channel::<u32>("c", 2);
    let tx2 = tx.clone();
    tx.send(1).unwrap();
    drop(tx);
    drop(tx2);
    assert_eq!(rx.recv(), Ok(1));
    assert_eq!(rx.recv(), Err(RecvError));
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(60)),
        Err(RecvTimeoutError::Disconnected)
    );
}

#[test]
fn send_to_dropped_receiver_returns_the_value() {
    let (tx, rx) = channel::<String>("c", 1);
    drop(rx);
    assert_eq!(tx.send("x".into()), Err(SendError("x".into())));
    assert_eq!(
        tx.try_send("y".into()),
        Err(TrySendError::Disconnected("y".into()))
    );
}

#[test]
fn blocked_receiver_wakes_on_send_from_another_task() {
    let (tx, rx) = channel::<u32>("c", 1);
    let producer = thread::spawn("producer", move || {
        for value in 0..100 {
            tx.send(value).unwrap();
        }
    });
    let received: Vec<u32> = (0..100).map(|_| rx.recv().unwrap()).collect();
    producer.join().unwrap();
    assert_eq!(received, (0..100).collect::<Vec<_>>());
}

#[test]
fn zero_timeout_on_empty_channel_times_out() {
    let (_tx, rx) = channel::<u32>("c", 1);
    assert_eq!(
        rx.recv_timeout(Duration::ZERO),
        Err(RecvTimeoutError::Timeout)
    );
}

#[test]
fn once_cell_keeps_the_first_value_and_returns_the_loser() {
    let cell = OnceCell::named("cell");
    assert_eq!(cell.get(), None);
    assert_eq!(cell.set(1), Ok(()));
    assert_eq!(cell.set(2), Err(2));
    assert_eq!(cell.get(), Some(&1));
}

#[test]
fn join_reports_a_panicking_task() {
    let handle = thread::spawn("doomed", || -> u32 { panic!("boom") });
    let error = handle.join().unwrap_err();
    assert_eq!(error.task_name, "doomed");
    assert_eq!(error.message, "boom");
}

#[test]
fn atomics_and_try_lock() {
    let flag = AtomicBool::named("flag", true);
    assert!(flag.swap(false, Ordering::AcqRel));
    assert!(!flag.load(Ordering::Acquire));
    let n = AtomicU64::named("n", 5);
    assert_eq!(n.fetch_add(2, Ordering::Relaxed), 5);
    assert_eq!(
        n.compare_exchange(7, 9, Ordering::AcqRel, Ordering::Acquire),
        Ok(7)
    );
    let mutex = Mutex::new(1);
    let guard = mutex.lock();
    assert!(mutex.try_lock().is_none());
    assert_eq!(mutex.peek(|v| *v), None);
    drop(guard);
    assert_eq!(mutex.peek(|v| *v), Some(1));
}
