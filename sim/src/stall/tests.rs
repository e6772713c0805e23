//! The stall decision, driven tick by tick, and the message the watchdog prints.

use super::{StallDetector, StallView, stall_message};

/// Feeds `(running, progress)` ticks to a detector with `ticks_max`; the tick indices at
/// which it reported a stall.
fn stalls(ticks_max: u64, ticks: &[(bool, u64)]) -> Vec<usize> {
    let mut detector = StallDetector::new(ticks_max);
    (ticks.iter().enumerate())
        .filter(|(_, (running, progress))| detector.tick(*running, *progress))
        .map(|(idx, _)| idx)
        .collect()
}

#[test]
fn a_running_execution_whose_counter_stands_still_for_the_limit_is_a_stall() {
    // The first tick only learns the counter; three still ticks after it make the stall.
    assert_eq!(
        stalls(3, &[(true, 5), (true, 5), (true, 5), (true, 5)]),
        [3]
    );
    assert_eq!(
        stalls(3, &[(true, 5), (true, 5), (true, 5)]),
        Vec::<usize>::new()
    );
}

#[test]
fn any_progress_starts_the_count_afresh() {
    let ticks = [
        (true, 1),
        (true, 1),
        (true, 1),
        (true, 2),
        (true, 2),
        (true, 2),
    ];
    assert_eq!(stalls(3, &ticks), Vec::<usize>::new());
    let ticks = [
        (true, 1),
        (true, 1),
        (true, 2),
        (true, 2),
        (true, 2),
        (true, 2),
    ];
    assert_eq!(stalls(3, &ticks), [5]);
}

#[test]
fn an_idle_executor_never_stalls() {
    // Between executions (or after the run) nothing moves, and that is no stall.
    let idle = [(false, 9); 10];
    assert_eq!(stalls(2, &idle), Vec::<usize>::new());
    // Idle ticks in between reset the count too.
    let ticks = [
        (true, 9),
        (true, 9),
        (false, 9),
        (true, 9),
        (true, 9),
        (true, 9),
    ];
    assert_eq!(stalls(2, &ticks), [5]);
}

#[test]
fn the_message_names_the_task_the_step_the_causes_and_the_fixes() {
    let view = StallView {
        task: 2,
        name: "thread-2".to_owned(),
        step: 17,
        secs: 30,
    };
    insta::assert_snapshot!(stall_message(&view));
}
