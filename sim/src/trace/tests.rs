//! Unit tests of trace rendering and the digest.

use vigil_core::rt::{Instant, Op, Site, TaskId};

use super::*;

fn event(step: u64, nanos: u64, task: u32, kind: EventKind) -> Event {
    Event {
        step,
        now: Instant::from_nanos(nanos),
        task: TaskId(task),
        kind,
    }
}

fn sample() -> Trace {
    let mut trace = Trace::default();
    trace.push_name("main".to_owned());
    trace.push_name("worker".to_owned());
    let lock = Site::new("pool", Op::Lock);
    let message = trace.push_text("oh\nno".to_owned());
    trace.push(event(0, 0, 0, EventKind::Start));
    trace.push(event(0, 0, 0, EventKind::Spawn(TaskId(1))));
    trace.push(event(1, 0, 1, EventKind::Start));
    trace.push(event(
        1,
        0,
        1,
        EventKind::Block(lock, Some(Instant::from_nanos(1_500_000_000))),
    ));
    trace.push(event(2, 1_500_000_000, 1, EventKind::Timeout(lock)));
    trace.push(event(2, 1_500_000_000, 1, EventKind::Draw(0xabc)));
    trace.push(event(2, 1_500_000_000, 1, EventKind::Panic(message)));
    trace
}

#[test]
fn the_rendering_has_fixed_columns() {
    insta::assert_snapshot!(sample().render(), @r"
      step            time  task                                  site                      op
         0    0.000000000s  t0 main                               -                         start
         0    0.000000000s  t0 main                               -                         spawn t1 worker
         1    0.000000000s  t1 worker                             -                         start
         1    0.000000000s  t1 worker                             pool                      park until 1.500000000s
         2    1.500000000s  t1 worker                             pool                      lock (timed out)
         2    1.500000000s  t1 worker                             -                         draw 0x0000000000000abc
         2    1.500000000s  t1 worker                             -                         panic: oh\nno
    ");
}

#[test]
fn tail_keeps_the_last_lines_in_order() {
    let trace = sample();
    let tail = trace.tail(2);
    assert_eq!(tail.len(), 2);
    assert!(tail[0].ends_with("draw 0x0000000000000abc"));
    assert!(tail[1].ends_with("panic: oh\\nno"));
    assert_eq!(trace.tail(100).len(), trace.len());
}

#[test]
fn fnv1a64_matches_the_reference_vectors() {
    assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn first_difference_finds_changed_and_missing_events() {
    let trace = sample();
    assert_eq!(trace.first_difference(&trace.clone()), None);
    let mut shorter = sample();
    shorter.events.pop();
    assert_eq!(trace.first_difference(&shorter), Some(6));
    let mut renamed = sample();
    renamed.names[1] = "other".to_owned();
    assert_eq!(trace.first_difference(&renamed), Some(1));
    let mut retexted = sample();
    retexted.texts[0] = "different".to_owned();
    assert_eq!(trace.first_difference(&retexted), Some(6));
    assert_ne!(trace.digest(), retexted.digest());
}
