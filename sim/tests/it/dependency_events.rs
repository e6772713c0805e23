//! What the executor tells a reducing search about steps that change a shared object without
//! a scheduling point of their own: the drop of a channel's end, and the release of a lock by
//! a task unwinding out of its critical section. Each must show as an access of the object in
//! the step it falls in, or DPOR treats the step as independent of the other side's
//! operations and explores one order where two give different results. The accesses are
//! also no coarser than they need be: a channel is three objects (see `core`'s
//! `sync::channel`), so that drops commute with what cannot tell their order.

use std::sync::Arc;

use vigil_core::rt;
use vigil_core::sync::{Mutex, channel};
use vigil_core::thread;
use vigil_sim::{
    Access, Actor, Choice, Divergence, DrawView, Event, ObjectKey, PickView, Runner, Start,
    Strategy,
};

use super::dpor::config;
use super::faults::PanicVictim;

/// Runs one execution, lowest task first and a pending fault at once, and records every
/// event: who acted and what it touched.
#[derive(Default)]
struct Recorder {
    started: bool,
    events: Vec<(Actor, Vec<Access>)>,
}

impl Strategy for Recorder {
    fn start(&mut self, _execution_idx: u64) -> Option<Start> {
        (!std::mem::replace(&mut self.started, true)).then_some(Start { seed: 0 })
    }

    fn pick(&mut self, view: &PickView<'_>) -> Result<Choice, Divergence> {
        Ok(if view.faults_pending > 0 {
            Choice::Fault(0)
        } else {
            Choice::Task(view.runnable[0])
        })
    }

    fn draw(&mut self, _view: &DrawView) -> Result<u64, Divergence> {
        Ok(0)
    }

    fn tracks_dependencies(&self) -> bool {
        true
    }

    fn stepped(&mut self, event: &Event<'_>) {
        self.events
            .push((event.actor.clone(), event.accesses.to_vec()));
    }
}

impl Recorder {
    /// The accesses of each event of `actor`, in order.
    fn of(&self, actor: &Actor) -> Vec<&[Access]> {
        let events = self.events.iter().filter(|(who, _)| who == actor);
        events.map(|(_, accesses)| accesses.as_slice()).collect()
    }
}

fn shared_writes(accesses: &[Access]) -> Vec<ObjectKey> {
    shared(accesses, true)
}

/// The shared objects an event writes (`write`) or only reads, in order, without repeats.
fn shared(accesses: &[Access], write: bool) -> Vec<ObjectKey> {
    let matching = accesses.iter().filter(|access| access.write == write);
    let shared = matching.filter(|access| matches!(access.object, ObjectKey::Shared(_)));
    let mut objects: Vec<ObjectKey> = shared.map(|access| access.object).collect();
    objects.dedup();
    objects
}

#[test]
fn a_channel_is_a_queue_a_sending_side_and_a_receiving_side() {
    let mut recorder = Recorder::default();
    let report = Runner::new(config(1)).run(&mut recorder, || {
        let (tx, rx) = channel::<u32>("ends", 1);
        let other = tx.clone();
        let task = thread::spawn("ends", move || {
            tx.send(1).unwrap();
            rt::step("a");
            drop(tx);
            rt::step("b");
            drop(other);
            assert_eq!(rx.try_recv(), Ok(1));
            assert!(rx.try_recv().is_err());
            rt::step("e");
            drop(rx);
        });
        task.join().unwrap();
    });
    assert!(report.failure().is_none(), "{:?}", report.failure());
    // One event per step of the task: the first runs up to the send's point, and each of the
    // others from a point (the send, a named step, a receive) to the next.
    let events = recorder.of(&Actor::Task(rt::TaskId(1)));
    let steps: Vec<(Vec<ObjectKey>, Vec<ObjectKey>)> = events
        .iter()
        .skip(1)
        .map(|event| (shared(event, true), shared(event, false)))
        .collect();
    let [send, a, b, c, d, e] = steps.as_slice() else {
        panic!("expected six steps after the first, got {steps:?}");
    };
    let (queue, receiving) = send.clone();
    assert_eq!((queue.len(), receiving.len()), (1, 1), "send: {send:?}");
    // Dropping a sender that is not the last only reads the sending side: drops commute.
    assert!(a.0.is_empty() && a.1.len() == 1, "first drop: {a:?}");
    let sending = a.1.clone();
    assert!(sending != queue && sending != receiving, "{steps:?}");
    // The last sender's drop writes it: an empty channel now reads as disconnected.
    assert_eq!(b, &(sending.clone(), vec![]), "last drop: {steps:?}");
    // A receive that finds a value does not look at the senders; one that finds none does.
    assert_eq!(c, &(queue.clone(), vec![]), "receive of a value: {steps:?}");
    assert_eq!(d, &(queue.clone(), sending), "receive on empty: {steps:?}");
    // The receiver's drop writes what every send reads.
    assert_eq!(e, &(receiving, vec![]), "receiver drop: {steps:?}");
}

#[test]
fn unwinding_out_of_a_critical_section_writes_the_mutex() {
    let mut recorder = Recorder::default();
    let report = Runner::new(config(1))
        .faults(PanicVictim { fired: false })
        .run(&mut recorder, || {
            let lock = Arc::new(Mutex::named("section", 0));
            let victim = thread::spawn("victim", move || {
                let mut guard = lock.lock();
                rt::step("inside");
                *guard += 1;
            });
            assert!(victim.join().is_err(), "the victim was not panicked");
        });
    assert!(report.failure().is_none(), "{:?}", report.failure());
    let events = recorder.of(&Actor::Task(rt::TaskId(1)));
    let acquired: Vec<ObjectKey> = events.iter().flat_map(|e| shared_writes(e)).collect();
    let unwound = events.last().expect("the victim ran");
    assert!(events.len() >= 2, "{events:?}");
    assert_eq!(
        shared_writes(unwound),
        acquired[..1],
        "the step that unwound out of the section does not release the mutex: {events:?}"
    );
}
