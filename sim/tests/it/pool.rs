//! The real worker pool under the deterministic scheduler: register, unregister, snapshot and
//! crash removal, with no spin loops and no sleeps on the wall clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering as StdOrdering};
use std::time::Duration;

use vigil_core::aion::{WorkerCapacity, dispatch_channel};
use vigil_core::pool::{LISTENER_TASK, WorkerContext, WorkerRegistration};
use vigil_core::process::{ExitReason, IdleWorkerProcess, Pid};
use vigil_core::rt;

use vigil_sim::{Config, FaultAction, FaultView, Faults, Observer, Random, Runner, StepView};

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

/// Offers one injected panic of the context's listener task, once it exists, per execution;
/// counts the executions in which it fired.
struct PanicListener {
    fired: bool,
    executions_fired: Arc<AtomicUsize>,
}

impl Faults for PanicListener {
    fn start_execution(&mut self) {
        self.fired = false;
    }

    fn pending(&mut self, view: &FaultView<'_>) -> u32 {
        u32::from(!self.fired && view.live_task(LISTENER_TASK).is_some())
    }

    fn fire(&mut self, _k: u32, view: &FaultView<'_>) -> Option<FaultAction> {
        self.fired = true;
        self.executions_fired.fetch_add(1, StdOrdering::SeqCst);
        view.live_task(LISTENER_TASK)
            .map(|task| FaultAction::Panic { task })
    }
}

/// One listener task serves every worker of a context; a panic injected into it anywhere
/// (while it waits, while it takes a notice, half-way through a teardown) is reported and
/// the listener carries on: both crashes are handled, the survivor stays, and every
/// registration is served by the same task.
#[test]
fn a_panic_in_the_shared_listener_does_not_stop_it_watching_the_others() {
    let executions_fired = Arc::new(AtomicUsize::new(0));
    let mut config = Config::default();
    config.seed = 12;
    config.executions = 400;
    let report = Runner::new(config)
        .faults(PanicListener {
            fired: false,
            executions_fired: executions_fired.clone(),
        })
        .run(&mut Random::new(12), || {
            let context = WorkerContext::new();
            let first = register(&context, "first");
            let listener = context
                .peek_listener()
                .expect("the first monitor spawned it");
            let second = register(&context, "second");
            let survivor = register(&context, "survivor");
            assert_eq!(
                context.peek_listener().map(|view| view.task),
                Some(listener.task)
            );
            let node = context.peek_supervisor().unwrap().node().clone();
            node.terminate(first.participant(), ExitReason::Error);
            rt::sleep(QUIET);
            node.terminate(second.participant(), ExitReason::Kill);
            rt::sleep(QUIET);
            assert_eq!(snapshot_ids(&context), ["survivor"]);
            drop(first);
            drop(second);
            survivor.unregister().unwrap();
            assert!(snapshot_ids(&context).is_empty());
        });
    let stats = report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(stats.executions, 400);
    let fired = executions_fired.load(StdOrdering::SeqCst);
    assert!(fired > 0, "the listener was never panicked");
}

/// A graceful unregister sends the listener nothing it acts on: the worker leaves the watch
/// list before its actor closes and its owned process ends, so the exit that causes is
/// dropped, and the listener never reaches a teardown.
#[test]
fn a_graceful_unregister_never_reaches_the_listeners_teardown() {
    let teardowns = Arc::new(AtomicUsize::new(0));
    let seen = teardowns.clone();
    let report = Runner::new({
        let mut config = Config::default();
        config.seed = 13;
        config.executions = 200;
        config
    })
    .observer(TeardownCounter(seen))
    .run(&mut Random::new(13), || {
        let context = WorkerContext::new();
        let owned = context
            .register_worker("prod", "email", capacity(1))
            .unwrap();
        let supplied = register(&context, "supplied");
        owned.unregister().unwrap();
        drop(supplied);
        rt::sleep(QUIET);
    });
    report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(teardowns.load(StdOrdering::SeqCst), 0);
}

/// Counts the steps past `listener.teardown`.
struct TeardownCounter(Arc<AtomicUsize>);

impl Observer for TeardownCounter {
    fn name(&self) -> &str {
        "teardown-counter"
    }

    fn after_step(&mut self, view: &StepView<'_>) -> Result<(), String> {
        if view
            .site
            .is_some_and(|site| site.name == "listener.teardown")
        {
            self.0.fetch_add(1, StdOrdering::SeqCst);
        }
        Ok(())
    }
}
