//! Generated workloads: drawn from the schedule, replayed exactly, saved as fixed steps.

use std::path::Path;

use vigil_sim::scenario::{self, Invariant, OpKind, Scenario};
use vigil_sim::{
    Observed, Overrides, Workload, regression_scenario, replay_scenario, run_scenario,
};

/// A generated scenario whose executions outrun a small step limit, so the real code fails
/// (`shutdown-bounded`) with a generated workload to report.
const TOO_LONG: &str = r#"
name = "too-long"
seed = 5

[strategy]
kind = "random"
executions = 5
steps_max = 300

[generate]
owners = [2, 3]
channels = [1, 2]
workers = [3, 6]
steps = [4, 8]

[faults]
budget = 1
kinds = ["participant", "monitor"]

[expect]
outcome = "pass"
"#;

fn parse(text: &str) -> Scenario {
    scenario::parse("generated.toml", text).unwrap_or_else(|error| panic!("{error}"))
}

#[test]
fn the_same_seed_draws_the_same_workload_and_other_seeds_draw_others() {
    let scenario = parse(TOO_LONG);
    let spec = scenario.generate.as_ref().expect("a [generate] table");
    let first = Workload::generate(&scenario, spec, 42);
    assert_eq!(first, Workload::generate(&scenario, spec, 42));
    assert!(first.generated && !first.workers.is_empty());
    let mut workloads = Vec::new();
    let mut mixes = Vec::new();
    for seed in 0..40 {
        let workload = Workload::generate(&scenario, spec, seed);
        mixes.push(workload.op_kinds.clone());
        workloads.push(workload.to_toml());
    }
    workloads.sort();
    workloads.dedup();
    mixes.sort();
    mixes.dedup();
    assert!(
        workloads.len() > 30,
        "{} distinct workloads",
        workloads.len()
    );
    // Swarm testing: executions switch different step kinds on.
    assert!(mixes.len() > 5, "{mixes:?}");
    assert!(
        mixes
            .iter()
            .all(|kinds| kinds.iter().any(|kind| kind.registers())),
        "every draw keeps a way to register: {mixes:?}"
    );
}

#[test]
fn a_generated_workload_can_reuse_worker_ids_and_share_processes() {
    let scenario = parse(TOO_LONG);
    let spec = scenario.generate.as_ref().expect("a [generate] table");
    let mut restarted = false;
    let mut shared = false;
    for seed in 0..200 {
        let text = Workload::generate(&scenario, spec, seed).to_toml();
        restarted |= text.contains("~2\"");
        shared |= text.contains("shares = ");
    }
    assert!(
        restarted && shared,
        "restart: {restarted}, shared: {shared}"
    );
    assert!(OpKind::Restart.registers() && !OpKind::Crash.registers());
}

#[test]
fn a_generated_failure_replays_byte_identically_and_saves_as_a_fixed_step_regression() {
    let scenario = parse(TOO_LONG);
    let as_found = Overrides {
        no_shrink: true,
        ..Overrides::default()
    };
    let run = run_scenario(&scenario, "generated.toml", &as_found);
    assert_eq!(
        run.observed,
        Observed::Fail {
            invariant: Some(Invariant::ShutdownBounded)
        },
        "{:?}",
        run.failure
    );
    let schedule = run.schedule.clone().expect("a failing schedule");
    let workload = run.workload.clone().expect("the failing workload is kept");
    let original = run.trace.render();
    for _ in 0..2 {
        let replayed = replay_scenario(&scenario, "generated.toml", schedule.clone());
        assert_eq!(replayed.trace.render(), original);
        assert_eq!(replayed.workload.as_deref(), Some(&*workload));
    }
    // The failure report prints the steps a person can read.
    let text = vigil_sim::report::trace_text(&run);
    assert!(text.contains(&workload.to_toml()), "{text}");

    let saved = regression_scenario(&run).expect("a generated failure saves as a regression");
    let fixed = parse(&saved);
    assert!(fixed.generate.is_none() && fixed.pinned.len() == 1);
    assert_eq!(fixed.tasks, workload.tasks);
    let rerun = run_scenario(&fixed, "saved.toml", &as_found);
    assert!(rerun.as_expected(), "{:?}", rerun.observed);
    assert_eq!(rerun.observed, run.observed);
    // The same execution, step for step; only the workload draw is gone.
    let without_draw: Vec<&str> = original
        .lines()
        .filter(|line| !line.contains(" draw 0x"))
        .collect();
    assert_eq!(
        rerun.trace.render().lines().collect::<Vec<_>>(),
        without_draw
    );
}

/// With shrinking on, a failing generated workload comes back as fewer fixed steps that fail
/// the same way, saved with the shrunk schedule pinned; the note says how to replay the
/// failure as found.
#[test]
fn a_generated_failure_is_shrunk_to_fewer_fixed_steps() {
    let scenario = parse(TOO_LONG);
    let found = run_scenario(
        &scenario,
        "generated.toml",
        &Overrides {
            no_shrink: true,
            ..Overrides::default()
        },
    );
    let run = run_scenario(&scenario, "generated.toml", &Overrides::default());
    assert_eq!(run.observed, found.observed);
    let steps = |tasks: &[vigil_sim::scenario::TaskSpec]| -> usize {
        tasks.iter().map(|task| task.steps.len()).sum()
    };
    let before = steps(&found.workload.as_ref().unwrap().tasks);
    let after = steps(&run.workload.as_ref().expect("the shrunk workload").tasks);
    assert!(after < before, "{after} steps, not fewer than {before}");
    let note = run
        .notes
        .iter()
        .find(|note| note.contains("was shrunk from"))
        .expect("a note");
    assert!(
        note.contains(&found.schedule.as_ref().unwrap().encode()),
        "{note}"
    );
    let saved = parse(run.regression.as_deref().expect("the shrunk regression"));
    assert_eq!(steps(&saved.tasks), after);
    assert_eq!(saved.pinned.len(), 1);
    let rerun = run_scenario(&saved, "saved.toml", &Overrides::default());
    assert!(rerun.as_expected(), "{:?}", rerun.observed);
    assert_eq!(
        rerun.executions, 1,
        "the pinned schedule alone gives the verdict"
    );
    // Shrinking is deterministic.
    let again = run_scenario(&scenario, "generated.toml", &Overrides::default());
    assert_eq!(again.regression, run.regression);
}

#[test]
fn every_fixed_step_scenario_renders_back_to_itself() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut checked = 0;
    for dir in ["smoke", "faults", "regressions"] {
        let mut files: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        files.sort();
        for file in files {
            let scenario = scenario::load(&file).unwrap_or_else(|error| panic!("{error}"));
            if scenario.generate.is_some() {
                continue;
            }
            let rendered = scenario::render::scenario(&scenario);
            let back = scenario::parse("rendered.toml", &rendered)
                .unwrap_or_else(|error| panic!("{}: {error}\n{rendered}", file.display()));
            assert_eq!(back, scenario, "{}", file.display());
            checked += 1;
        }
    }
    assert!(checked > 20, "{checked}");
}

/// The generated dispatch mix: every draw that dispatches can register dispatch workers;
/// most dispatches go to a queue that a dispatch worker written earlier in the same task
/// serves (so it is live when the dispatch starts unless something ends it), and some still
/// go where none does (the empty-pool case stays in the mix); crashes mostly name a dispatch
/// worker.
#[test]
fn generated_dispatches_mostly_find_a_worker_of_their_own_task_and_crashes_target_them() {
    use vigil_sim::scenario::Step;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/generated/dispatch.toml");
    let scenario = scenario::load(&path).unwrap_or_else(|error| panic!("{error}"));
    let spec = scenario.generate.as_ref().expect("a [generate] table");
    let (mut dispatches, mut served_here, mut unserved) = (0, 0, 0);
    let (mut crashes, mut crashes_on_servers) = (0, 0);
    for seed in 0..400 {
        let workload = Workload::generate(&scenario, spec, seed);
        if !workload.op_kinds.contains(&OpKind::Dispatch) {
            continue;
        }
        assert!(workload.op_kinds.contains(&OpKind::Register), "seed {seed}");
        // Pool-owned registrations are the dispatch workers; supplied processes never answer.
        let servers: Vec<(&str, &str)> = (workload.tasks.iter())
            .flat_map(|task| &task.steps)
            .filter_map(|step| match step {
                Step::Register {
                    worker,
                    queue,
                    supplied: false,
                    ..
                } => Some((worker.as_str(), queue.as_str())),
                _ => None,
            })
            .collect();
        for task in &workload.tasks {
            let mut here: Vec<&str> = Vec::new();
            for step in &task.steps {
                match step {
                    Step::Register {
                        queue,
                        supplied: false,
                        ..
                    } => here.push(queue),
                    Step::Dispatch { queue, .. } => {
                        dispatches += 1;
                        served_here += usize::from(here.contains(&queue.as_str()));
                        unserved += usize::from(!servers.iter().any(|(_, q)| q == queue));
                    }
                    Step::Crash { worker, .. } => {
                        crashes += 1;
                        crashes_on_servers +=
                            usize::from(servers.iter().any(|(name, _)| name == worker));
                    }
                    _ => {}
                }
            }
        }
    }
    assert!(dispatches > 500, "{dispatches} dispatches");
    assert!(
        served_here * 2 > dispatches,
        "{served_here} of {dispatches} dispatches follow a dispatch worker of their own task"
    );
    assert!(unserved > 0, "no dispatch goes to a queue nobody serves");
    assert!(
        crashes_on_servers * 3 > crashes * 2,
        "{crashes_on_servers} of {crashes} crashes name a dispatch worker"
    );
}
