//! Unit tests of the dependency relation.

use vigil_core::rt::TaskId;

use super::*;

fn check(left: &[Access], right: &[Access], expect: bool) {
    assert_eq!(dependent(left, right), expect, "{left:?} vs {right:?}");
    assert_eq!(dependent(right, left), expect, "{right:?} vs {left:?}");
}

#[test]
fn two_reads_of_one_object_commute() {
    let load = Access::read(ObjectKey::Shared(3));
    check(&[load], &[load], false);
}

#[test]
fn a_write_conflicts_with_any_access_to_the_same_object() {
    let read = Access::read(ObjectKey::Shared(3));
    let write = Access::write(ObjectKey::Shared(3));
    check(&[read], &[write], true);
    check(&[write], &[write], true);
}

#[test]
fn accesses_to_different_objects_commute() {
    let mutex = Access::write(ObjectKey::Shared(1));
    let other = Access::write(ObjectKey::Shared(2));
    let task = Access::write(ObjectKey::Task(TaskId(1)));
    check(&[mutex], &[other], false);
    check(&[mutex], &[task], false);
    check(&[], &[mutex], false);
}

#[test]
fn any_conflicting_pair_makes_steps_dependent() {
    let left = [
        Access::write(ObjectKey::Shared(1)),
        Access::write(ObjectKey::Task(TaskId(2))),
    ];
    let right = [
        Access::read(ObjectKey::Shared(5)),
        Access::write(ObjectKey::Task(TaskId(2))),
    ];
    check(&left, &right, true);
}

#[test]
fn faults_never_commute_with_each_other() {
    let budget = Access::write(ObjectKey::FaultBudget);
    check(&[budget], &[budget], true);
}

#[test]
fn lock_attempts_and_unlocks_are_writes_of_their_mutex() {
    let mutex = ObjectKey::Shared(4);
    let (acquire, release) = (Access::acquire(mutex), Access::release(mutex));
    assert_eq!(acquire.lock, LockRole::Acquire);
    assert_eq!(release.lock, LockRole::Release);
    check(&[acquire], &[acquire], true);
    check(&[release], &[acquire], true);
    check(&[release], &[Access::read(mutex)], true);
    check(&[acquire], &[Access::acquire(ObjectKey::Shared(5))], false);
}
