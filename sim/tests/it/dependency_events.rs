//! What the executor tells a reducing search about steps that change a shared object without
//! a scheduling point of their own: the drop of a channel's end, and the release of a lock by
//! a task unwinding out of its critical section. Each must show as a write of the object in
//! the step it falls in, or DPOR treats the step as independent of the other side's
//! operations and explores one order where two give different results.

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
    let writes = accesses.iter().filter(|access| access.write);
    let shared = writes.filter(|access| matches!(access.object, ObjectKey::Shared(_)));
    let mut objects: Vec<ObjectKey> = shared.map(|access| access.object).collect();
    objects.dedup();
    objects
}

#[test]
fn dropping_a_channel_end_writes_the_channel_in_the_step_it_falls_in() {
    for end in ["receiver", "sender"] {
        let mut recorder = Recorder::default();
        let report = Runner::new(config(1)).run(&mut recorder, move || {
            let (tx, rx) = channel::<u32>("ends", 1);
            let (kept_tx, kept_rx) = (tx.clone(), rx);
            let dropper = thread::spawn("dropper", move || {
                rt::step("before the drop");
                drop(tx);
                if end == "receiver" {
                    drop(kept_rx);
                } else {
                    drop(kept_tx);
                }
            });
            dropper.join().unwrap();
        });
        assert!(report.failure().is_none(), "{:?}", report.failure());
        // The dropper's first step ends at the named step; the second drops the end.
        let events = recorder.of(&Actor::Task(rt::TaskId(1)));
        let last = events.last().expect("the dropper ran");
        assert_eq!(
            shared_writes(last).len(),
            1,
            "dropping the {end} wrote no channel (or more than one): {last:?}"
        );
    }
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
