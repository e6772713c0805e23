//! Unit tests of the random, replay and PCT strategies.

use vigil_core::rt::TaskId;

use super::*;
use crate::schedule::Schedule;

const RUNNABLE: [TaskId; 3] = [TaskId(0), TaskId(2), TaskId(5)];

fn view(step: u64) -> PickView<'static> {
    PickView {
        step,
        current: Some(TaskId(0)),
        runnable: &RUNNABLE,
        faults_window: false,
        faults_pending: 0,
        fault_names: &[],
        current_yields: false,
        yielding: &[],
        current_shared: false,
    }
}

fn draw_view(step: u64) -> DrawView<'static> {
    DrawView {
        step,
        task: TaskId(2),
        alternatives: &[],
    }
}

fn picks(strategy: &mut dyn Strategy, count: u64) -> Vec<Choice> {
    (0..count)
        .map(|step| strategy.pick(&view(step)).unwrap())
        .collect()
}

#[test]
fn random_repeats_an_execution_exactly_from_its_index() {
    let mut first = Random::new(11);
    let mut second = Random::new(11);
    first.start(3).unwrap();
    second.start(0).unwrap();
    second.start(3).unwrap();
    assert_eq!(picks(&mut first, 50), picks(&mut second, 50));
    assert_eq!(first.draw(&draw_view(0)), second.draw(&draw_view(0)));
}

#[test]
fn random_executions_and_seeds_differ() {
    let mut strategy = Random::new(11);
    let seed_a = strategy.start(0).unwrap().seed;
    let a = picks(&mut strategy, 64);
    let seed_b = strategy.start(1).unwrap().seed;
    let b = picks(&mut strategy, 64);
    assert_ne!(seed_a, seed_b);
    assert_ne!(a, b);
    assert_ne!(Random::execution_seed(1, 0), Random::execution_seed(2, 0));
}

#[test]
fn random_picks_only_runnable_tasks_and_reaches_all_of_them() {
    let mut strategy = Random::new(5);
    strategy.start(0).unwrap();
    let chosen = picks(&mut strategy, 300);
    for id in RUNNABLE {
        assert!(chosen.contains(&Choice::Task(id)), "{id} never picked");
    }
    assert!(
        chosen
            .iter()
            .all(|c| matches!(c, Choice::Task(id) if RUNNABLE.contains(id)))
    );
}

fn replay_of(choices: Vec<Choice>) -> Replay {
    let mut replay = Replay::new(Schedule {
        seed: 9,
        choices,
        fingerprint: None,
    });
    assert_eq!(replay.start(0), Some(Start { seed: 9 }));
    replay
}

#[test]
fn replay_follows_its_schedule_once() {
    let mut replay = replay_of(vec![
        Choice::Task(TaskId(5)),
        Choice::Draw(3),
        Choice::Task(TaskId(0)),
    ]);
    assert_eq!(replay.pick(&view(0)), Ok(Choice::Task(TaskId(5))));
    assert_eq!(replay.draw(&draw_view(1)), Ok(3));
    assert_eq!(replay.pick(&view(1)), Ok(Choice::Task(TaskId(0))));
    assert_eq!(replay.end(2), Ok(()));
    assert_eq!(replay.start(1), None, "a replay has one execution");
}

#[test]
fn replay_reports_each_kind_of_divergence() {
    let mut not_runnable = replay_of(vec![Choice::Task(TaskId(1))]);
    let error = not_runnable.pick(&view(4)).unwrap_err();
    assert_eq!(error.step, 4);
    assert_eq!(error.expected, "a pick of t1");
    assert_eq!(
        error.found,
        "a pick among runnable t0, t2, t5 with 0 faults pending"
    );

    let mut draw_at_pick = replay_of(vec![Choice::Draw(1)]);
    assert_eq!(
        draw_at_pick.pick(&view(0)).unwrap_err().expected,
        "a random draw of 0x1"
    );

    let mut pick_at_draw = replay_of(vec![Choice::Task(TaskId(0))]);
    let error = pick_at_draw.draw(&draw_view(2)).unwrap_err();
    assert_eq!(
        (error.expected.as_str(), error.found.as_str()),
        ("a pick of t0", "a random draw by t2")
    );

    let mut exhausted = replay_of(Vec::new());
    assert_eq!(
        exhausted.pick(&view(7)).unwrap_err().expected,
        "no more choices"
    );

    let mut fault_not_pending = replay_of(vec![Choice::Fault(0)]);
    assert_eq!(
        fault_not_pending.pick(&view(0)).unwrap_err().expected,
        "fault 0"
    );

    let mut leftovers = replay_of(vec![Choice::Task(TaskId(0)), Choice::Draw(2)]);
    leftovers.pick(&view(0)).unwrap();
    let error = leftovers.end(12).unwrap_err();
    assert_eq!(
        error.expected,
        "1 more choices, starting with a random draw of 0x2"
    );
    assert!(
        error.to_string().starts_with("replay diverged at step 12:"),
        "{error}"
    );
}

/// The task PCT runs at each of `count` picks, feeding each pick back as the running task.
fn pct_run(pct: &mut Pct, count: u64, shared: bool, yields: bool) -> Vec<TaskId> {
    let mut current = TaskId(0);
    (0..count)
        .map(|step| {
            let yielding = [current];
            let view = PickView {
                current: Some(current),
                current_shared: shared,
                current_yields: yields,
                yielding: if yields { &yielding } else { &[] },
                ..view(step)
            };
            match pct.pick(&view).unwrap() {
                Choice::Task(task) => {
                    current = task;
                    task
                }
                other => panic!("PCT chose {other:?}, but only tasks were offered"),
            }
        })
        .collect()
}

#[test]
fn pct_changes_priorities_only_at_points_on_shared_objects() {
    for seed in 0..20 {
        let mut pct = Pct::new(seed, 3);
        pct.start(0).unwrap();
        let quiet = pct_run(&mut pct, 200, false, false);
        assert!(
            quiet.iter().all(|task| *task == quiet[0]),
            "seed {seed}: {quiet:?}"
        );
        // Both change points fall within the first execution's assumed horizon (64).
        let mut pct = Pct::new(seed, 3);
        pct.start(0).unwrap();
        let shared = pct_run(&mut pct, 64, true, false);
        assert!(
            shared.iter().any(|task| *task != shared[0]),
            "seed {seed}: {shared:?}"
        );
    }
}

#[test]
fn pct_lowers_a_task_that_yields_below_every_other() {
    let mut pct = Pct::new(1, 1);
    pct.start(0).unwrap();
    let yielding = pct_run(&mut pct, 6, false, true);
    for pair in yielding.windows(2) {
        assert_ne!(pair[0], pair[1], "{yielding:?}");
    }
}
