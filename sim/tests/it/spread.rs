//! Exploration spread over threads (`--jobs`) and machines (`--shard K/N` and `vigil merge`):
//! the same command gives the same results whatever the spread, and the shards of a run,
//! merged, give the unsharded run byte for byte.

use std::path::{Path, PathBuf};
use std::process::Command;

use vigil_sim::report::{self, Row};
use vigil_sim::scenario::{self, Scenario, StrategyKind};
use vigil_sim::{Observed, Overrides, ScenarioRun, Shard, ShardLog, merge_scenario, run_scenario};

pub(crate) fn load(file: &str) -> (Scenario, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(file);
    (scenario::load(&path).unwrap(), file.to_owned())
}

/// Everything `vigil` writes about a run except times: the JSON, the summary, JUnit, and
/// the failure's trace text when there is one.
/// Every output a run makes: JSON, summary, JUnit, coverage plot, and a failure's trace.
pub(crate) fn outputs(run: &ScenarioRun) -> String {
    let rows = [Row { run, elapsed: None }];
    let mut out = report::json(&rows);
    out.push_str(&report::summary_markdown(&rows));
    out.push_str(&report::junit(&rows));
    out.push_str(&report::coverage_svg(run));
    if run.failure.is_some() {
        out.push_str(&report::trace_text(run));
    }
    out
}

fn with(overrides: &Overrides, jobs: u64, shard: Option<Shard>) -> Overrides {
    Overrides {
        jobs,
        shard,
        ..overrides.clone()
    }
}

/// The runs of shards 1/n..n/n, their logs sent through the JSON form, merged.
fn merged(scenario: &Scenario, file: &str, overrides: &Overrides, n: u64) -> ScenarioRun {
    let logs: Vec<ShardLog> = (1..=n)
        .map(|index| {
            let shard = Shard { index, count: n };
            let run = run_scenario(scenario, file, &with(overrides, 2, Some(shard)));
            let log = run
                .shard_log
                .expect("a sharded run carries its shard's log");
            ShardLog::from_json(&log.to_json()).expect("the log reads back")
        })
        .collect();
    merge_scenario(scenario, file, logs).expect("the shards merge")
}

/// PCT, a passing random search, a failing one (a planted livelock), a portfolio search, a
/// systematic one run whole, and split systematic searches.
fn cases() -> Vec<(Scenario, String, Overrides)> {
    let plain = Overrides::default();
    let portfolio = Overrides {
        strategy: Some(StrategyKind::Portfolio),
        executions: Some(120),
        ..Overrides::default()
    };
    let dpor = Overrides {
        strategy: Some(StrategyKind::Dpor {
            preemptions_max: 1,
            faults_max: 1,
        }),
        executions: Some(60),
        ..Overrides::default()
    };
    let (smoke, smoke_file) = load("scenarios/smoke/reused-worker-id.toml");
    let (failing, failing_file) = load("sim/tests/fixtures/step-limit.toml");
    let pct = Overrides {
        strategy: Some(StrategyKind::Pct { depth: 3 }),
        executions: Some(90),
        ..Overrides::default()
    };
    // Dispatch outcomes are tallied per execution: the JSON's tally must not depend on the
    // spread either.
    let (dispatch, dispatch_file) = load("scenarios/smoke/dispatch.toml");
    let dispatches = Overrides {
        executions: Some(40),
        ..Overrides::default()
    };
    let mut cases = vec![
        (smoke.clone(), smoke_file.clone(), plain.clone()),
        (failing, failing_file, plain),
        (smoke.clone(), smoke_file.clone(), portfolio),
        (smoke.clone(), smoke_file.clone(), dpor),
        (smoke, smoke_file, pct),
    ];
    cases.extend(split_cases());
    cases.push((dispatch, dispatch_file, dispatches));
    cases
}

/// Split systematic searches (DFS and DPOR, passing and failing) whose units spread over
/// jobs and shards.
fn split_cases() -> Vec<(Scenario, String, Overrides)> {
    let split = |strategy, executions, depth| Overrides {
        strategy: Some(strategy),
        executions: Some(executions),
        split_depth: Some(depth),
        ..Overrides::default()
    };
    let dfs = StrategyKind::Dfs { preemptions_max: 1 };
    let dpor = StrategyKind::Dpor {
        preemptions_max: 2,
        faults_max: 1,
    };
    let (passing, passing_file) = load("scenarios/faults/d3-02-dies-after-link-before-notify.toml");
    let (failing, failing_file) = load("sim/tests/fixtures/split-step-limit.toml");
    vec![
        (passing.clone(), passing_file.clone(), split(dpor, 5000, 2)),
        (passing, passing_file, split(dfs, 400, 3)),
        (failing.clone(), failing_file.clone(), split(dpor, 5000, 2)),
        (failing, failing_file, split(dfs, 5000, 2)),
    ]
}

#[test]
fn every_output_is_the_same_for_any_number_of_jobs() {
    for (scenario, file, overrides) in cases() {
        let one = run_scenario(&scenario, &file, &with(&overrides, 1, None));
        assert!(one.reach.states() > 0, "{file}: states are counted");
        for jobs in [2, 3] {
            let many = run_scenario(&scenario, &file, &with(&overrides, jobs, None));
            assert_eq!(outputs(&one), outputs(&many), "{file} with {jobs} jobs");
        }
    }
}

#[test]
fn shards_merged_equal_the_unsharded_run_byte_for_byte() {
    for (scenario, file, overrides) in cases() {
        let whole = run_scenario(&scenario, &file, &with(&overrides, 1, None));
        let merged = merged(&scenario, &file, &overrides, 4);
        assert_eq!(outputs(&whole), outputs(&merged), "{file}");
    }
}

#[test]
fn a_failure_is_the_lowest_failing_execution_whatever_the_split() {
    let (scenario, file, overrides) = cases().swap_remove(1);
    let whole = run_scenario(&scenario, &file, &overrides);
    assert_eq!(
        whole.observed,
        Observed::Fail {
            invariant: Some(scenario::Invariant::ShutdownBounded)
        }
    );
    let failure = whole.failure.as_ref().unwrap();
    // Every execution up to the failing one ran, and none after it counts.
    assert_eq!(whole.executions, failure.execution_idx + 1);
    for jobs in [2, 4] {
        let split = run_scenario(&scenario, &file, &with(&overrides, jobs, None));
        let found = split.failure.as_ref().unwrap();
        assert_eq!(found.execution_idx, failure.execution_idx, "{jobs} jobs");
        assert_eq!(found.schedule, failure.schedule, "{jobs} jobs");
    }
}

#[test]
fn a_portfolio_failure_names_the_strategy_and_seed_that_found_it() {
    let (scenario, file, _) = cases().swap_remove(1);
    let overrides = Overrides {
        strategy: Some(StrategyKind::Portfolio),
        ..Overrides::default()
    };
    let run = run_scenario(&scenario, &file, &with(&overrides, 2, None));
    let failure = run.failure.as_ref().expect("the livelock is found");
    let note = run
        .notes
        .iter()
        .find(|note| note.starts_with("found by the portfolio's"))
        .expect("a note names the member");
    assert!(
        note.contains(&format!("at execution {}", failure.execution_idx)),
        "{note}"
    );
    assert!(note.contains("execution seed 0x"), "{note}");
}

#[test]
fn merging_wrong_shards_is_an_error_naming_the_problem() {
    let (scenario, file, overrides) = cases().swap_remove(0);
    let log = |index, count| {
        let shard = Shard { index, count };
        run_scenario(&scenario, &file, &with(&overrides, 1, Some(shard)))
            .shard_log
            .unwrap()
    };
    let missing = merge_scenario(&scenario, &file, vec![log(1, 3), log(3, 3)]).unwrap_err();
    assert!(missing.contains("shard 2/3 is missing"), "{missing}");
    let twice = merge_scenario(&scenario, &file, vec![log(1, 2), log(1, 2)]).unwrap_err();
    assert!(twice.contains("shard 1/2 given twice"), "{twice}");
    let mixed = merge_scenario(&scenario, &file, vec![log(1, 2), log(2, 3)]).unwrap_err();
    assert!(mixed.contains("different splits"), "{mixed}");
}

fn vigil(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the vigil binary runs")
}

pub(crate) fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The JSON report without the lines that hold times.
pub(crate) fn timeless(json: &[u8]) -> String {
    String::from_utf8_lossy(json)
        .lines()
        .filter(|line| !line.contains("\"elapsed_ms\""))
        .map(|line| line.trim_end_matches(','))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_cli_merges_shard_reports_into_the_unsharded_reports() {
    let dir = scratch("spread-cli");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let files = [
        "scenarios/smoke/reused-worker-id.toml",
        "sim/tests/fixtures/step-limit.toml",
    ];
    let reports = |name: &str| dir.join(name).display().to_string();
    let mut args = vec!["run"];
    args.extend(files);
    let whole_reports = reports("whole");
    let mut whole_args = args.clone();
    whole_args.extend(["--json", "--jobs", "2", "--reports", &whole_reports]);
    let whole = vigil(&root, &whole_args);
    assert_eq!(whole.status.code(), Some(1), "the livelock fixture fails");
    let mut shard_files = Vec::new();
    for shard in ["1/3", "2/3", "3/3"] {
        let mut shard_args = args.clone();
        shard_args.extend(["--json", "--no-reports", "--shard", shard]);
        let out = vigil(&root, &shard_args);
        let path = dir.join(format!("shard-{}.json", &shard[..1]));
        std::fs::write(&path, &out.stdout).unwrap();
        shard_files.push(path.display().to_string());
    }
    let merged_reports = reports("merged");
    let mut merge_args = vec!["merge", "--json", "--reports", &merged_reports];
    merge_args.extend(shard_files.iter().map(String::as_str));
    let merged = vigil(&root, &merge_args);
    assert_eq!(
        merged.status.code(),
        whole.status.code(),
        "{}",
        String::from_utf8_lossy(&merged.stderr)
    );
    assert_eq!(timeless(&merged.stdout), timeless(&whole.stdout));
    let summary = |name: &str| std::fs::read_to_string(dir.join(name).join("summary.md")).unwrap();
    assert_eq!(summary("merged"), summary("whole"));
    let plot = "coverage/reused-worker-id.svg";
    assert_eq!(
        std::fs::read_to_string(dir.join("merged").join(plot)).unwrap(),
        std::fs::read_to_string(dir.join("whole").join(plot)).unwrap()
    );
    // A shard report given twice (so one is missing) is refused, naming the scenario.
    let bad = vigil(
        &root,
        &["merge", &shard_files[0], &shard_files[0], &shard_files[1]],
    );
    assert_eq!(bad.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("given twice"));
}

#[test]
fn a_split_search_cut_by_its_budget_stops_at_the_same_execution_and_certifies_nothing() {
    let (scenario, file) = load("scenarios/faults/d3-02-dies-after-link-before-notify.toml");
    let split = |executions| Overrides {
        strategy: Some(StrategyKind::Dpor {
            preemptions_max: 2,
            faults_max: 1,
        }),
        executions: Some(executions),
        split_depth: Some(1),
        ..Overrides::default()
    };
    let full = run_scenario(&scenario, &file, &split(20_000));
    let all = full.executions;
    let coverage = full.coverage.expect("dpor reports its coverage");
    assert!(
        coverage.exhaustive,
        "every unit ends within 20000 executions"
    );
    assert!(full.certified());
    // Cut inside the first unit, between units, and one short of the end: the run stops at
    // the budget whatever the spread, and never certifies.
    for budget in [1, 37, all / 2, all - 1] {
        let whole = run_scenario(&scenario, &file, &split(budget));
        assert_eq!(whole.executions, budget);
        let coverage = whole.coverage.unwrap();
        assert!(!coverage.exhaustive, "budget {budget}");
        assert!(coverage.open_branches > 0, "budget {budget}");
        assert!(!whole.certified(), "budget {budget}");
        let spread = run_scenario(&scenario, &file, &with(&split(budget), 3, None));
        assert_eq!(outputs(&spread), outputs(&whole), "budget {budget}, 3 jobs");
        let merged = merged(&scenario, &file, &split(budget), 3);
        assert_eq!(
            outputs(&merged),
            outputs(&whole),
            "budget {budget}, 3 shards"
        );
    }
}
