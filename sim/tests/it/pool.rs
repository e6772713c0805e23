//! The real worker pool under the deterministic scheduler: register, unregister, snapshot and
//! crash removal, with no spin loops and no sleeps on the wall clock.

use std::time::Duration;

use vigil_core::aion::{WorkerCapacity, dispatch_channel};
use vigil_core::pool::{WorkerContext, WorkerRegistration};
use vigil_core::process::{ExitReason, IdleWorkerProcess, Pid};
use vigil_core::rt;

use super::explore;

/// Long enough in virtual time for every listener, actor and runner to go quiet: `rt::sleep`
/// only returns once no other task can run before its deadline.
const QUIET: Duration = Duration::from_secs(5);

fn capacity(max: usize) -> WorkerCapacity {
    WorkerCapacity {
        max_concurrent: max,
        activity_types: vec!["send-email".into()],
    }
}

fn participant(context: &WorkerContext) -> Pid {
    let channel = dispatch_channel("prod", "email").unwrap();
    context
        .supervisor_for(&channel)
        .unwrap()
        .node()
        .spawn("participant", Box::new(IdleWorkerProcess), false)
        .unwrap()
}

fn register(context: &WorkerContext, worker_id: &str) -> WorkerRegistration {
    let pid = participant(context);
    context
        .register_worker_with_participant("prod", "email", worker_id, pid, capacity(2))
        .unwrap()
}

fn snapshot_ids(context: &WorkerContext) -> Vec<String> {
    let channel = dispatch_channel("prod", "email").unwrap();
    context
        .workers_for_channel(&channel)
        .unwrap()
        .into_iter()
        .map(|worker| worker.worker_id.into())
        .collect()
}

/// Spec f.1 test 4, deterministically: the crash crosses the actor's runner and the listener
/// task, and the snapshot is read once the simulated system is quiet.
#[test]
fn crashed_worker_is_removed_by_process_link_without_affecting_survivors() {
    let report = explore(300, || {
        let context = WorkerContext::new();
        let crashed = register(&context, "crashed");
        let survivor = register(&context, "survivor");
        survivor.set_in_flight(1);
        let node = context.peek_supervisor().unwrap().node().clone();
        node.terminate(crashed.participant(), ExitReason::Error);
        rt::sleep(QUIET);
        assert_eq!(snapshot_ids(&context), ["survivor"]);
        assert!(!crashed.is_active());
        assert_eq!(
            crashed.try_next(),
            Ok(None),
            "the crash dropped the subscription"
        );
        assert_eq!(survivor.current_in_flight(), 1);
        drop(crashed);
        survivor.unregister().unwrap();
        assert!(snapshot_ids(&context).is_empty());
    });
    let stats = report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(stats.executions, 300);
}

#[test]
fn register_snapshot_and_unregister_from_concurrent_tasks() {
    let report = explore(300, || {
        let context = WorkerContext::new();
        let owners: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                let context = context.clone();
                vigil_core::thread::spawn(&format!("owner-{name}"), move || {
                    let worker = register(&context, name);
                    assert!(snapshot_ids(&context).contains(&name.to_owned()));
                    worker.unregister().unwrap();
                    assert!(!snapshot_ids(&context).contains(&name.to_owned()));
                })
            })
            .collect();
        for owner in owners {
            owner.join().unwrap();
        }
        assert!(snapshot_ids(&context).is_empty());
    });
    report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn normal_termination_of_a_participant_counts_as_a_crash() {
    let report = explore(100, || {
        let context = WorkerContext::new();
        let worker = register(&context, "a");
        let node = context.peek_supervisor().unwrap().node().clone();
        node.terminate(worker.participant(), ExitReason::Normal);
        rt::sleep(QUIET);
        assert!(snapshot_ids(&context).is_empty());
    });
    report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
}

#[test]
fn generated_workers_and_the_default_context_start_fresh_in_every_execution() {
    let report = explore(50, || {
        let worker = vigil_core::pool::register_worker("prod", "email", capacity(1)).unwrap();
        // The default context lives in the execution's globals, so numbering restarts.
        assert_eq!(worker.worker_id(), "worker-1");
        worker.unregister().unwrap();
    });
    report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
}
