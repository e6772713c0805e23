//! The fault seam in the executor: site holds, delays, injected panics, fault choices.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool as StdAtomicBool, AtomicUsize, Ordering as StdOrdering};

use vigil_core::rt::{self, Site, TaskId};
use vigil_core::sync::Mutex;
use vigil_core::thread;
use vigil_sim::{
    Config, FailureKind, FaultAction, FaultView, Faults, INJECTED_FAULT_MARKER, Random, Runner,
};

fn config(executions: u64) -> Config {
    let mut config = Config::default();
    config.seed = 11;
    config.executions = executions;
    config
}

/// Fires one action when task `task` reaches site `site`, once per execution.
struct AtSite {
    task: &'static str,
    site: &'static str,
    fired: bool,
    make: fn(TaskId) -> FaultAction,
}

impl Faults for AtSite {
    fn start_execution(&mut self) {
        self.fired = false;
    }

    fn pending(&mut self, _view: &FaultView<'_>) -> u32 {
        0
    }

    fn fire(&mut self, _k: u32, _view: &FaultView<'_>) -> Option<FaultAction> {
        None
    }

    fn reached(
        &mut self,
        task: TaskId,
        task_name: &str,
        site: Site,
        _view: &FaultView<'_>,
    ) -> Option<FaultAction> {
        if self.fired || task_name != self.task || site.name != self.site {
            return None;
        }
        self.fired = true;
        Some((self.make)(task))
    }
}

static LANDED: StdAtomicBool = StdAtomicBool::new(false);

/// A site fault holds the arriving task until the fault's own task has finished, so the
/// fault lands exactly between the site and the task's next step, in every interleaving.
#[test]
fn a_site_fault_lands_before_the_held_task_moves_on() {
    let faults = AtSite {
        task: "worker",
        site: "window",
        fired: false,
        make: |task| FaultAction::Spawn {
            name: "fault".into(),
            body: Box::new(|| {
                rt::step("fault.work");
                LANDED.store(true, StdOrdering::SeqCst);
            }),
            hold: Some(task),
        },
    };
    let report = Runner::new(config(200))
        .faults(faults)
        .run(&mut Random::new(11), || {
            LANDED.store(false, StdOrdering::SeqCst);
            let worker = thread::spawn("worker", || {
                rt::step("before");
                rt::step("window");
                assert!(
                    LANDED.load(StdOrdering::SeqCst),
                    "the fault landed in the window"
                );
            });
            let other = thread::spawn("other", || {
                for _ in 0..5 {
                    rt::yield_now();
                }
            });
            worker.join().unwrap();
            other.join().unwrap();
        });
    let stats = report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(stats.executions, 200);
}

/// A delay keeps the task off the processor for its steps while others can run, and is
/// released early when nothing else could run.
#[test]
fn a_delay_holds_a_task_but_never_stalls_the_execution() {
    let faults = AtSite {
        task: "slow",
        site: "gate",
        fired: false,
        make: |task| FaultAction::Delay { task, steps: 1_000 },
    };
    let report = Runner::new(config(50))
        .faults(faults)
        .run(&mut Random::new(3), || {
            let slow = thread::spawn("slow", || {
                rt::step("gate");
                rt::step("after");
            });
            let busy = thread::spawn("busy", || {
                for _ in 0..5 {
                    rt::step("busy.work");
                }
            });
            busy.join().unwrap();
            slow.join().unwrap();
        });
    let trace = report.trace().render();
    let stats = report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
    let lines: Vec<&str> = trace.lines().collect();
    let delayed = lines
        .iter()
        .position(|line| line.contains("Delay("))
        .unwrap_or_else(|| panic!("the delay is traced:\n{trace}"));
    let busy_done = lines
        .iter()
        .rposition(|line| line.contains("busy") && line.contains("finish"))
        .expect("busy finishes");
    let slow_after = lines
        .iter()
        .position(|line| line.contains("after") && line.contains("step"))
        .expect("slow reaches its next step");
    // Held while another task could run: 'slow' passes its gate only after 'busy' is done.
    assert!(
        delayed < busy_done && busy_done < slow_after,
        "slow ran while held:\n{trace}"
    );
    // Released early once nothing else could run: far fewer than the 1,000 held steps.
    assert!(stats.steps_max_seen < 100, "{stats:?}");
}

/// Offers one panic fault on task "victim" until it fires.
pub(super) struct PanicVictim {
    pub(super) fired: bool,
}

impl Faults for PanicVictim {
    fn start_execution(&mut self) {
        self.fired = false;
    }

    fn pending(&mut self, view: &FaultView<'_>) -> u32 {
        u32::from(!self.fired && view.live_task("victim").is_some())
    }

    fn fire(&mut self, _k: u32, view: &FaultView<'_>) -> Option<FaultAction> {
        self.fired = true;
        view.live_task("victim")
            .map(|task| FaultAction::Panic { task })
    }
}

static INJECTED: AtomicUsize = AtomicUsize::new(0);

/// An injected panic is a fault, not a failure: `join` reports it, and it lands only at named
/// steps and receives, never at an unlock point, where unwinding would leave the lock held
/// and the next `lock` would hang.
#[test]
fn an_injected_panic_reaches_join_and_never_leaves_a_lock_held() {
    INJECTED.store(0, StdOrdering::SeqCst);
    let report = Runner::new(config(300))
        .faults(PanicVictim { fired: false })
        .run(&mut Random::new(5), || {
            let shared = Arc::new(Mutex::named("shared", 0u32));
            let victim = {
                let shared = shared.clone();
                thread::spawn("victim", move || {
                    for _ in 0..20 {
                        *shared.lock() += 1;
                        rt::step("victim.work");
                    }
                })
            };
            if let Err(error) = victim.join() {
                assert!(error.message.starts_with(INJECTED_FAULT_MARKER), "{error}");
                INJECTED.fetch_add(1, StdOrdering::SeqCst);
            }
            // Hangs (a deadlock failure) if the panic unwound past an unlock.
            *shared.lock() += 1;
        });
    let stats = report
        .into_result()
        .unwrap_or_else(|failure| panic!("{failure}"));
    assert_eq!(stats.executions, 300);
    // The fault did fire, and every time it reached join as an injected panic.
    let injected = INJECTED.load(StdOrdering::SeqCst);
    assert!(injected > 0 && injected <= 300, "{injected}");
}

/// A fault chosen by the strategy is recorded in the schedule, so replay reproduces it.
#[test]
fn chosen_faults_are_part_of_the_schedule() {
    let model = || {
        let victim = thread::spawn("victim", || {
            for _ in 0..10 {
                rt::step("victim.work");
            }
        });
        if victim.join().is_err() {
            panic!("the injected fault fired");
        }
    };
    let report = Runner::new(config(500))
        .faults(PanicVictim { fired: false })
        .run(&mut Random::new(8), model);
    let failure = report.failure().expect("some execution fires the fault");
    assert!(
        failure.message.contains("the injected fault fired"),
        "{failure}"
    );
    assert!(matches!(failure.kind, FailureKind::Panic));
    let decoded = vigil_sim::Schedule::decode(&failure.schedule).unwrap();
    assert!(
        decoded
            .choices
            .iter()
            .any(|choice| matches!(choice, vigil_sim::Choice::Fault(0))),
        "{:?}",
        decoded.choices
    );
    assert!(report.trace().render().contains("injected fault"));
}
