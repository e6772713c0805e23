//! Unit tests of the DPOR strategy, driven by hand: views and events as the executor would
//! report them (whole models run under the executor in `sim/tests/it/dpor.rs`).

use vigil_core::rt::TaskId;

use super::*;
use crate::dependency::ObjectKey;

const BOTH: [TaskId; 2] = [TaskId(0), TaskId(1)];

fn view<'a>(runnable: &'a [TaskId], faults: &'a [String]) -> PickView<'a> {
    PickView {
        step: 0,
        current: None,
        runnable,
        faults_pending: faults.len() as u32,
        faults_window: !faults.is_empty(),
        fault_names: faults,
        current_yields: false,
        yielding: &[],
        current_shared: false,
    }
}

fn event(dpor: &mut Dpor, task: u32, accesses: &[Access]) {
    let actor = Actor::Task(TaskId(task));
    dpor.stepped(&Event {
        actor: &actor,
        accesses,
        spawned: &[],
        barrier: false,
    });
}

/// One execution of two tasks with one event each, `t0` first when the search leaves it the
/// choice; returns the task picked first.
fn execute(dpor: &mut Dpor, first: &[Access], second: &[Access]) -> Choice {
    let choice = dpor.pick(&view(&BOTH, &[])).unwrap();
    let (ran_first, ran_second) = match choice {
        Choice::Task(TaskId(0)) => ((0, first), (1, second)),
        _ => ((1, second), (0, first)),
    };
    event(dpor, ran_first.0, ran_first.1);
    event(dpor, ran_second.0, ran_second.1);
    choice
}

#[test]
fn independent_events_need_one_execution() {
    let mut dpor = Dpor::new(2, 0);
    dpor.start(0).unwrap();
    let left = [Access::write(ObjectKey::Shared(0))];
    let right = [Access::write(ObjectKey::Shared(1))];
    assert_eq!(execute(&mut dpor, &left, &right), Choice::Task(TaskId(0)));
    assert_eq!(dpor.start(1), None);
    assert!(dpor.coverage().unwrap().exhaustive);
}

#[test]
fn conflicting_events_are_run_in_both_orders() {
    let mut dpor = Dpor::new(2, 0);
    let write = [Access::write(ObjectKey::Shared(0))];
    dpor.start(0).unwrap();
    assert_eq!(execute(&mut dpor, &write, &write), Choice::Task(TaskId(0)));
    assert!(!dpor.coverage().unwrap().exhaustive);
    dpor.start(1).unwrap();
    assert_eq!(execute(&mut dpor, &write, &write), Choice::Task(TaskId(1)));
    assert_eq!(dpor.start(2), None);
}

#[test]
fn stats_say_which_race_started_each_execution() {
    let mut dpor = Dpor::new(2, 0);
    let write = [Access::write(ObjectKey::Shared(0))];
    let other = [Access::write(ObjectKey::Shared(1))];
    dpor.start(0).unwrap();
    execute(&mut dpor, &write, &write);
    dpor.start(1).unwrap();
    execute(&mut dpor, &write, &write);
    assert_eq!(dpor.start(2), None);
    let stats = dpor.stats();
    assert_eq!((stats.from_races, stats.from_last_switch), (1, 0));
    assert_eq!((stats.from_fault_first, stats.sleep_blocked), (0, 0));
    // Independent events start no second execution, so nothing is counted.
    let mut dpor = Dpor::new(2, 0);
    dpor.start(0).unwrap();
    execute(&mut dpor, &write, &other);
    assert_eq!(dpor.start(1), None);
    assert_eq!(dpor.stats(), DporStats::default());
}

#[test]
fn two_reads_commute() {
    let mut dpor = Dpor::new(2, 0);
    let read = [Access::read(ObjectKey::Shared(0))];
    dpor.start(0).unwrap();
    execute(&mut dpor, &read, &read);
    assert_eq!(dpor.start(1), None);
}

#[test]
fn a_pending_fault_is_fired_first_and_not_firing_it_is_explored_after() {
    let mut dpor = Dpor::new(0, 1);
    let faults = ["crash a".to_owned()];
    let only = [TaskId(0)];
    dpor.start(0).unwrap();
    assert_eq!(dpor.pick(&view(&only, &faults)), Ok(Choice::Fault(0)));
    let fault = Actor::Fault("crash a".to_owned());
    let budget = [Access::write(ObjectKey::FaultBudget)];
    dpor.stepped(&Event {
        actor: &fault,
        accesses: &budget,
        spawned: &[],
        barrier: false,
    });
    // The budget is spent: the fault is no longer offered.
    assert_eq!(
        dpor.pick(&view(&only, &faults)),
        Ok(Choice::Task(TaskId(0)))
    );
    event(&mut dpor, 0, &[]);
    dpor.start(1).unwrap();
    assert_eq!(
        dpor.pick(&view(&only, &faults)),
        Ok(Choice::Task(TaskId(0)))
    );
    event(&mut dpor, 0, &[]);
    assert_eq!(dpor.start(2), None);
}

#[test]
fn coverage_sentences_name_the_bounds() {
    let coverage = Coverage {
        preemptions_max: 1,
        faults_max: 2,
        exhaustive: true,
        open_branches: 0,
        explored_branches: 4,
    };
    assert_eq!(
        coverage.describe(5),
        "no violation within 1 preemption and 2 faults, 5 executions, exhaustive"
    );
    let partial = Coverage {
        exhaustive: false,
        open_branches: 3,
        ..coverage
    };
    assert_eq!(
        partial.describe(5),
        "no violation found within 1 preemption and 2 faults in 5 executions, not exhaustive: \
         4 of 7 known branches explored, 3 still open"
    );
}

#[test]
fn a_fault_between_two_tasks_does_not_hide_the_switch_after_it() {
    // t0 blocks (say at a join), a fault fires, t1 runs: the switch is at t1's node, where a
    // task the fault spawned can run instead for free under a preemption bound.
    let mut dpor = Dpor::new(0, 1);
    let chosen = [
        Actor::Task(TaskId(0)),
        Actor::Fault("push 9".into()),
        Actor::Task(TaskId(1)),
        Actor::Task(TaskId(1)),
        Actor::Task(TaskId(1)),
    ];
    dpor.nodes = (chosen.iter().cloned())
        .map(|chosen| Node {
            chosen,
            ..Node::default()
        })
        .collect();
    assert_eq!(dpor.last_switch(4), Some(2));
    assert_eq!(dpor.last_switch(2), Some(2));
    assert_eq!(dpor.last_switch(1), None);
    // The same task on both sides of a fault is no switch.
    dpor.nodes[2].chosen = Actor::Task(TaskId(0));
    assert_eq!(dpor.last_switch(2), None);
}

#[test]
fn only_a_lock_attempt_ended_by_an_unlock_of_its_mutex_is_a_wait() {
    let (mutex, other) = (ObjectKey::Shared(0), ObjectKey::Shared(1));
    let parked = Access::write(ObjectKey::Task(TaskId(1)));
    let attempt = [Access::acquire(mutex), parked];
    let unlock = [
        Access::release(mutex),
        Access::read(ObjectKey::Task(TaskId(1))),
    ];
    assert!(ends_wait(&attempt, &unlock));
    // Another mutex's unlock, a plain write, and a lock attempt after an unlock (reversed at
    // the acquire the unlock ended, not here) are races as before.
    assert!(!ends_wait(&attempt, &[Access::release(other)]));
    assert!(!ends_wait(&[Access::write(mutex), parked], &unlock));
    assert!(!ends_wait(&unlock, &attempt));
}

/// One execution of `tasks`, each with one event, in the order the search picks them.
fn execute_each(dpor: &mut Dpor, tasks: &[(TaskId, &[Access])]) -> Vec<TaskId> {
    let mut left: Vec<TaskId> = tasks.iter().map(|(task, _)| *task).collect();
    let mut order = Vec::new();
    while !left.is_empty() {
        let Ok(Choice::Task(task)) = dpor.pick(&view(&left, &[])) else {
            panic!("a task is picked");
        };
        left.retain(|other| *other != task);
        let (_, accesses) = tasks.iter().find(|(id, _)| *id == task).unwrap();
        event(dpor, task.0, accesses);
        order.push(task);
    }
    order
}

#[test]
fn a_split_hands_over_one_alternative_that_never_sleeps_in_the_part_that_kept_the_rest() {
    // t0 writes two objects, t1 and t2 one each: both race with t0 at the first node.
    let both = [
        Access::write(ObjectKey::Shared(0)),
        Access::write(ObjectKey::Shared(1)),
    ];
    let one = [Access::write(ObjectKey::Shared(0))];
    let other = [Access::write(ObjectKey::Shared(1))];
    let tasks: [(TaskId, &[Access]); 3] =
        [(TaskId(0), &both), (TaskId(1), &one), (TaskId(2), &other)];
    let mut dpor = Dpor::new(2, 0);
    dpor.start(0).unwrap();
    assert_eq!(
        execute_each(&mut dpor, &tasks),
        [TaskId(0), TaskId(1), TaskId(2)]
    );
    let scheduled = dpor.nodes[0].backtrack.clone();
    assert_eq!(scheduled.len(), 2, "{scheduled:?}");
    let (mut new, handed) = dpor.split_off().unwrap();
    assert_eq!(handed.node, 0);
    let kept = scheduled
        .iter()
        .find(|actor| **actor != handed.actor)
        .unwrap()
        .clone();
    // The new part runs the handed-over alternative first, and the kept one nowhere.
    new.start(1).unwrap();
    let Actor::Task(first) = handed.actor.clone() else {
        panic!("a task")
    };
    assert_eq!(execute_each(&mut new, &tasks)[0], first);
    assert!(new.nodes[0].done.iter().any(|done| done.actor == kept));
    // The kept part runs its own alternative, and the handed-over one stays awake in it
    // (its accesses there are unknown, so nothing could wake it).
    dpor.start(1).unwrap();
    let Actor::Task(own) = kept.clone() else {
        panic!("a task")
    };
    assert_eq!(execute_each(&mut dpor, &tasks)[0], own);
    assert!(
        !dpor.nodes[1]
            .sleep
            .iter()
            .any(|asleep| asleep.actor == handed.actor)
    );
    assert!(!dpor.nodes[0].backtrack.contains(&handed.actor));
}

#[test]
fn a_search_without_a_preemption_bound_or_with_nothing_left_is_not_split() {
    let error = Dpor::new(u32::MAX, 0).split_off().err().unwrap();
    assert!(error.contains("preemption bound"), "{error}");
    let error = Dpor::new(2, 0).split_off().err().unwrap();
    assert!(error.contains("no alternative is left"), "{error}");
}
