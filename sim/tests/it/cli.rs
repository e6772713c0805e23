//! The `vigil` command and its reports: exit codes, malformed input, and snapshots of the
//! summary table, the JSON output, a failure report and its SVG timeline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use vigil_sim::report::{self, Row};
use vigil_sim::{Observed, Overrides, ScenarioRun, run_scenario, scenario};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Runs the `vigil` binary in `dir` with `args`.
fn vigil(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the vigil binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A fresh scratch folder under the target directory, removed first if left over.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run_fixture(name: &str) -> ScenarioRun {
    let file = format!("tests/fixtures/{name}.toml");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(&file);
    let scenario = scenario::load(&path).unwrap();
    run_scenario(&scenario, &file, &Overrides::default())
}

#[test]
fn a_failing_scenario_gives_a_stable_summary_json_trace_and_timeline() {
    let run = run_fixture("step-limit");
    assert_eq!(
        run.observed,
        Observed::Fail {
            invariant: Some(scenario::Invariant::ShutdownBounded)
        }
    );
    let rows = [Row {
        run: &run,
        elapsed: None,
    }];
    insta::assert_snapshot!("summary_table", report::summary_table(&rows));
    insta::assert_snapshot!("summary_json", report::json(&rows));
    insta::assert_snapshot!("summary_markdown", report::summary_markdown(&rows));
    insta::assert_snapshot!("failure_trace", report::trace_text(&run));
    insta::assert_snapshot!("failure_timeline_svg", report::timeline_svg(&run));
    // Same inputs, same bytes.
    let again = run_fixture("step-limit");
    assert_eq!(report::trace_text(&again), report::trace_text(&run));
    assert_eq!(report::timeline_svg(&again), report::timeline_svg(&run));
}

#[test]
fn run_writes_reports_and_exits_1_on_an_unexpected_failure() {
    let dir = scratch("cli-failure");
    let fixture = fixtures().join("step-limit.toml");
    let output = vigil(
        &dir,
        &["run", fixture.to_str().unwrap(), "--junit", "junit.xml"],
    );
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("fail(shutdown-bounded)"), "{stdout}");
    assert!(
        stdout.contains("vigil replay"),
        "the failure says how to replay it: {stdout}"
    );
    let summary = std::fs::read_to_string(dir.join("target/vigil-reports/summary.md")).unwrap();
    assert!(
        summary.contains("step-limit | fail(shutdown-bounded)"),
        "{summary}"
    );
    assert!(
        dir.join("target/vigil-reports/failures/step-limit.trace.txt")
            .is_file()
    );
    assert!(
        dir.join("target/vigil-reports/failures/step-limit.svg")
            .is_file()
    );
    let junit = std::fs::read_to_string(dir.join("junit.xml")).unwrap();
    assert!(
        junit.contains("failures=\"1\"") && junit.contains("<failure"),
        "{junit}"
    );
    // The report is byte-identical when the run is repeated.
    let first = std::fs::read(dir.join("target/vigil-reports/failures/step-limit.svg")).unwrap();
    let _ = vigil(&dir, &["run", fixture.to_str().unwrap()]);
    let second = std::fs::read(dir.join("target/vigil-reports/failures/step-limit.svg")).unwrap();
    assert_eq!(first, second);
}

#[test]
fn the_printed_replay_command_reproduces_the_failure() {
    let dir = scratch("cli-replay");
    let run = run_fixture("step-limit");
    let schedule = run.failure.as_ref().unwrap().schedule.clone();
    let fixture = fixtures().join("step-limit.toml");
    let output = vigil(
        &dir,
        &["replay", fixture.to_str().unwrap(), &schedule, "--trace"],
    );
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("fail(shutdown-bounded)"), "{stdout}");
    assert!(
        stdout.contains(&run.trace.render()),
        "replay gives the same trace"
    );
}

#[test]
fn a_corrupt_schedule_is_bad_input() {
    let dir = scratch("cli-corrupt-schedule");
    let fixture = fixtures().join("step-limit.toml");
    let output = vigil(
        &dir,
        &["replay", fixture.to_str().unwrap(), "v1:not*base64"],
    );
    assert_eq!(output.status.code(), Some(3));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("schedule"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_vacuous_pass_is_reported_and_fails_the_run() {
    let dir = scratch("cli-vacuous");
    let fixture = fixtures().join("never-fires.toml");
    let output = vigil(&dir, &["run", fixture.to_str().unwrap(), "--no-reports"]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("vacuous"), "{stdout}");
    assert!(
        stdout.contains("faults.at[0]") && stdout.contains("never fired"),
        "{stdout}"
    );
}

#[test]
fn an_unexpected_pass_exits_2() {
    let dir = scratch("cli-unexpected-pass");
    let source = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/smoke/crash-removal.toml"),
    )
    .unwrap();
    let expecting_failure = source.replace(
        "outcome = \"pass\"",
        "outcome = \"fail\"\ninvariant = \"crash-removed\"",
    );
    std::fs::write(dir.join("expects-failure.toml"), expecting_failure).unwrap();
    let output = vigil(
        &dir,
        &["run", "expects-failure.toml", "--no-reports", "--json"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stdout));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["unexpected"], 1);
    assert_eq!(json["scenarios"][0]["outcome"], "pass");
}

/// Each malformed file gets its own error naming file, line and field, exit code 3, no panic,
/// and nothing is run or written.
#[test]
fn malformed_scenarios_get_a_specific_error_and_exit_3() {
    let cases = [
        ("syntax-error.toml", ":2:", "seed"),
        ("unknown-field.toml", ":3:", "colour: unknown field"),
        ("wrong-type.toml", ":5:", "executions: invalid type"),
        (
            "unknown-invariant.toml",
            ":3:",
            "unknown invariant 'no-such-thing'",
        ),
        ("unknown-worker.toml", ":8:", "unknown worker 'ghost'"),
        (
            "negative-budget.toml",
            ":10:",
            "faults.budget: must be at least 0",
        ),
        ("empty.toml", ":1:", "the file is empty"),
        ("binary-garbage.toml", ":1:", "not UTF-8"),
    ];
    let dir = scratch("cli-malformed");
    for (file, location, fragment) in cases {
        let path = fixtures().join("malformed").join(file);
        let output = vigil(&dir, &["run", path.to_str().unwrap()]);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(3), "{file}: {stderr}");
        assert!(
            stderr.contains(&format!("{file}{location}")),
            "{file}: {stderr}"
        );
        assert!(stderr.contains(fragment), "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
        assert!(output.stdout.is_empty(), "{file}: nothing ran");
    }
    assert!(!dir.join("reports").exists(), "nothing was written");
}

#[test]
fn one_bad_file_in_a_folder_stops_the_whole_run() {
    let dir = scratch("cli-mixed");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/smoke/crash-removal.toml"),
        dir.join("good.toml"),
    )
    .unwrap();
    std::fs::copy(
        fixtures().join("malformed/unknown-field.toml"),
        dir.join("bad.toml"),
    )
    .unwrap();
    let output = vigil(&dir, &["run", "."]);
    assert_eq!(output.status.code(), Some(3));
    assert!(output.stdout.is_empty());
    assert!(!dir.join("reports").exists());
}

#[test]
fn unknown_verbs_flags_and_strategies_are_bad_input() {
    let dir = scratch("cli-args");
    for args in [
        vec!["frobnicate"],
        vec!["run"],
        vec!["explore", "x.toml", "--strategy", "genetic"],
        vec!["run", "does-not-exist.toml"],
        vec!["explore", "x.toml", "--executions", "0"],
    ] {
        let output = vigil(&dir, &args);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{args:?}: {}",
            text(&output.stderr)
        );
        assert!(!text(&output.stderr).contains("panicked"));
    }
}

#[test]
fn explore_overrides_the_strategy_and_budget() {
    let dir = scratch("cli-explore");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/smoke/crash-removal.toml");
    for strategy in ["random", "pct", "dfs"] {
        let output = vigil(
            &dir,
            &[
                "explore",
                file.to_str().unwrap(),
                "--strategy",
                strategy,
                "--executions",
                "25",
                "--seed",
                "9",
                "--json",
                "--no-reports",
            ],
        );
        assert_eq!(
            output.status.code(),
            Some(0),
            "{strategy}: {}",
            text(&output.stdout)
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let executions = json["scenarios"][0]["executions"].as_u64().unwrap();
        assert!((1..=25).contains(&executions), "{strategy}: {executions}");
    }
}

/// A failed execution under a fault plan is confirmed by replaying it; the replay must not see
/// anything the failed execution left behind (a regression: it once saw the old execution's
/// workers and offered faults on them, and reported nondeterminism instead of the failure).
#[test]
fn a_failure_under_a_fault_plan_is_confirmed_not_reported_as_nondeterminism() {
    for seed in 0..20 {
        let path = fixtures().join("step-limit-with-faults.toml");
        let scenario = scenario::load(&path).unwrap();
        let overrides = Overrides {
            seed: Some(seed),
            ..Overrides::default()
        };
        let run = run_scenario(&scenario, "step-limit-with-faults.toml", &overrides);
        assert_eq!(
            run.observed,
            Observed::Fail {
                invariant: Some(scenario::Invariant::ShutdownBounded)
            },
            "seed {seed}: {:?}",
            run.failure.map(|failure| failure.message)
        );
    }
}

/// A pinned schedule recorded before a change to the workload no longer fits it: the run says
/// where it diverged and searches on from the part that still fits, instead of stopping.
#[test]
fn a_pinned_schedule_that_no_longer_fits_is_reported_and_the_search_continues() {
    let before = run_fixture("step-limit");
    let pinned = before.schedule.clone().expect("the fixture fails");
    let dir = scratch("pinned-diverges");
    let text = std::fs::read_to_string(fixtures().join("step-limit.toml")).unwrap();
    // The change: another task takes snapshots beside the owner, so the recorded picks stop
    // matching the tasks that are runnable.
    let changed = text.replace(
        "[expect]",
        &format!(
            "[[tasks]]\nname = \"observer\"\nsteps = [{{ op = \"snapshot\" }}, {{ op = \"snapshot\" }}]\n\n\
             [expect]\nschedule = [{{ schedule = \"{}\" }}]\n",
            pinned.encode()
        ),
    );
    let file = dir.join("changed.toml");
    std::fs::write(&file, &changed).unwrap();
    let scenario = scenario::load(&file).unwrap_or_else(|error| panic!("{error}\n{changed}"));
    assert_eq!(scenario.pinned, vec![pinned]);
    let run = run_scenario(&scenario, "changed.toml", &Overrides::default());
    let note = run
        .notes
        .first()
        .unwrap_or_else(|| panic!("no note: {run:?}"));
    assert!(note.contains("no longer fits"), "{note}");
    assert!(note.contains("diverged at step"), "{note}");
    assert!(run.executions >= 1);
    assert!(
        matches!(run.observed, Observed::Fail { .. }),
        "the search went on and found the step limit again: {:?}",
        run.observed
    );
    let summary = report::summary_markdown(&[Row {
        run: &run,
        elapsed: None,
    }]);
    assert!(summary.contains("no longer fits"), "{summary}");
}

/// `vigil shrink` prints the shrunk failure and its depth, and `--save` writes a regression
/// scenario whose pinned schedule reproduces the failure; a corrupt schedule is bad input.
#[test]
fn vigil_shrink_prints_and_saves_the_shrunk_failure() {
    let found = run_fixture("step-limit");
    let schedule = found.schedule.clone().unwrap().encode();
    let dir = scratch("shrink-cli");
    std::fs::copy(
        fixtures().join("step-limit.toml"),
        dir.join("step-limit.toml"),
    )
    .unwrap();
    let output = vigil(
        &dir,
        &[
            "shrink",
            "step-limit.toml",
            &schedule,
            "--save",
            "saved.toml",
        ],
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("shrunk from"), "{stdout}");
    assert!(stdout.contains("the bug needs"), "{stdout}");
    let saved = scenario::load(&dir.join("saved.toml")).expect("the saved scenario loads");
    assert_eq!(saved.pinned.len(), 1);
    assert!(matches!(saved.expect, scenario::Expect::Fail { .. }));
    let rerun = run_scenario(&saved, "saved.toml", &Overrides::default());
    assert!(rerun.as_expected(), "{:?}", rerun.observed);
    assert_eq!(
        rerun.executions, 1,
        "the pinned schedule alone gave the verdict"
    );

    let corrupt = vigil(&dir, &["shrink", "step-limit.toml", "v1:AAAA"]);
    assert_eq!(corrupt.status.code(), Some(3));
    assert!(
        text(&corrupt.stderr).contains("schedule"),
        "{}",
        text(&corrupt.stderr)
    );
    assert!(!dir.join("saved.toml.tmp-vigil").exists());
}

/// A file named twice, or reached again through a symlinked folder (even a loop), runs once.
#[test]
fn paths_are_deduplicated_and_symlink_loops_are_walked_once() {
    let dir = scratch("cli-paths");
    let cases = dir.join("cases");
    std::fs::create_dir_all(&cases).unwrap();
    std::fs::copy(fixtures().join("step-limit.toml"), cases.join("a.toml")).unwrap();
    std::os::unix::fs::symlink(&cases, cases.join("loop")).unwrap();
    let output = vigil(
        &dir,
        &[
            "run",
            "cases",
            "cases/a.toml",
            "--no-reports",
            "--json",
            "--no-shrink",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stderr)));
    assert_eq!(json["total"], 1, "{json}");
}

/// Two scenarios with the same name write their artefacts to different files.
#[test]
fn colliding_scenario_names_get_separate_artefacts() {
    let dir = scratch("cli-collide");
    std::fs::create_dir_all(dir.join("x")).unwrap();
    std::fs::create_dir_all(dir.join("y")).unwrap();
    std::fs::copy(fixtures().join("step-limit.toml"), dir.join("x/s.toml")).unwrap();
    std::fs::copy(fixtures().join("step-limit.toml"), dir.join("y/s.toml")).unwrap();
    let output = vigil(&dir, &["run", "x", "y", "--reports", "out", "--no-shrink"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let mut names: Vec<String> = std::fs::read_dir(dir.join("out/failures"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".trace.txt"))
        .collect();
    names.sort();
    assert_eq!(names.len(), 2, "{names:?}");
    assert_ne!(names[0], names[1]);
}

/// A report write that fails leaves the previous reports as they were.
#[test]
fn a_failed_report_write_keeps_the_previous_reports() {
    let dir = scratch("cli-failed-write");
    let fixture = fixtures().join("step-limit.toml");
    let fixture = fixture.to_str().unwrap();
    let first = vigil(&dir, &["run", fixture, "--reports", "out", "--no-shrink"]);
    assert_eq!(first.status.code(), Some(1));
    let summary = std::fs::read(dir.join("out/summary.md")).unwrap();
    // The staging folder cannot be created: a file is in its way.
    std::fs::write(dir.join("out/.vigil-staging"), "in the way").unwrap();
    let second = vigil(&dir, &["run", fixture, "--reports", "out", "--no-shrink"]);
    assert_eq!(second.status.code(), Some(3), "{}", text(&second.stderr));
    assert!(
        text(&second.stderr).contains("left as they were"),
        "{}",
        text(&second.stderr)
    );
    assert_eq!(std::fs::read(dir.join("out/summary.md")).unwrap(), summary);
    assert!(dir.join("out/failures/step-limit.trace.txt").is_file());
}

/// Seeds in decimal and hex mean the same; flags that do not fit the strategy are rejected.
#[test]
fn seeds_take_both_notations_and_misplaced_flags_are_rejected() {
    let dir = scratch("cli-seeds");
    let fixture = fixtures().join("step-limit.toml");
    let fixture = fixture.to_str().unwrap();
    let run = |seed: &str| {
        let output = vigil(
            &dir,
            &[
                "explore",
                fixture,
                "--seed",
                seed,
                "--no-reports",
                "--json",
                "--no-shrink",
            ],
        );
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stderr)));
        json["scenarios"][0]["failure"]["schedule"].clone()
    };
    assert_eq!(run("16"), run("0x10"));
    assert!(run("18446744073709551615").is_string());
    for bad in [
        vec!["--depth", "3"],
        vec!["--strategy", "pct", "--depth", "0"],
        vec!["--preemptions", "1"],
        vec!["--strategy", "dfs", "--faults", "1"],
        vec!["--seed", "0xZZ"],
    ] {
        let mut args = vec!["explore", fixture, "--no-reports"];
        args.extend(bad.iter().copied());
        let output = vigil(&dir, &args);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{bad:?}: {}",
            text(&output.stderr)
        );
    }
}

/// A run cut short by the wall-time cap says so in its outcome, not as a plain pass.
#[test]
fn a_wall_time_stop_is_named() {
    let dir = scratch("cli-wall-time");
    let text_of = std::fs::read_to_string(fixtures().join("step-limit.toml")).unwrap();
    let scenario = text_of
        .replace(
            "steps_max = 60",
            "steps_max = 100000\nwall_time_max_secs = 1",
        )
        .replace("executions = 10", "executions = 1000000");
    std::fs::write(dir.join("slow.toml"), scenario).unwrap();
    let output = vigil(&dir, &["run", "slow.toml", "--no-reports", "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stderr)));
    let run = &json["scenarios"][0];
    assert_eq!(run["outcome"], "pass (wall-time stop)", "{json}");
    assert!(
        run["notes"][0].as_str().unwrap().contains("wall-time cap"),
        "{json}"
    );
}

/// Without a terminal the run prints plain progress lines; Ctrl-C (SIGINT) stops it between
/// executions, reports what ran as interrupted, and exits 4.
#[test]
fn ctrl_c_stops_between_executions_and_reports_what_ran() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;

    let dir = scratch("cli-interrupt");
    let long = std::fs::read_to_string(fixtures().join("step-limit.toml"))
        .unwrap()
        .replace("steps_max = 60", "steps_max = 100000")
        .replace("executions = 10", "executions = 100000000");
    std::fs::write(dir.join("long.toml"), long).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(["run", "long.toml", "--reports", "out"])
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    assert!(
        first.starts_with("vigil: [1/1] step-limit: 100000000 executions"),
        "{first}"
    );
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    assert_eq!(output.status.code(), Some(4), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    let stdout = text(&output.stdout);
    assert!(stdout.contains("pass (interrupted)"), "{stdout}");
    let summary = std::fs::read_to_string(dir.join("out/summary.md")).unwrap();
    assert!(summary.contains("pass (interrupted)"), "{summary}");
    assert!(summary.contains("interrupted after"), "{summary}");
}

/// A scenario file's seed may be any u64: a TOML integer, or a string in decimal or 0x hex
/// (TOML integers stop at i64::MAX). The notations of one seed run the same executions, and a
/// seed that is not one is bad input naming the file, line and field.
#[test]
fn seeds_in_scenario_files_take_both_notations() {
    let dir = scratch("cli-file-seeds");
    let original = std::fs::read_to_string(fixtures().join("step-limit.toml")).unwrap();
    let explore = |name: &str, seed: &str| {
        let file = format!("{name}.toml");
        std::fs::write(
            dir.join(&file),
            original.replace("seed = 7", &format!("seed = {seed}")),
        )
        .unwrap();
        vigil(
            &dir,
            &["explore", &file, "--no-reports", "--json", "--no-shrink"],
        )
    };
    let schedule = |output: Output| {
        let json: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("{error}: {}", text(&output.stderr)));
        json["scenarios"][0]["failure"]["schedule"].clone()
    };
    let decimal = schedule(explore("decimal", "16"));
    assert!(decimal.is_string());
    assert_eq!(schedule(explore("hex", "\"0x10\"")), decimal);
    assert_eq!(schedule(explore("text", "\"16\"")), decimal);
    let top = explore("top", "\"18446744073709551615\"");
    assert_eq!(
        schedule(top),
        schedule(explore("top-hex", "\"0xffffffffffffffff\""))
    );
    let mut errors = String::new();
    for (name, seed) in [
        ("negative", "-1"),
        ("not-hex", "\"0xZZ\""),
        ("too-big", "\"18446744073709551616\""),
    ] {
        let output = explore(name, seed);
        assert_eq!(output.status.code(), Some(3), "{}", text(&output.stderr));
        errors.push_str(&text(&output.stderr));
    }
    insta::assert_snapshot!("file_seed_errors", errors);
}

/// A schedule recorded for one scenario and replayed against another is refused, saying
/// which; a v1 schedule (recorded before fingerprints) still replays.
#[test]
fn a_schedule_replayed_against_another_scenario_is_rejected() {
    let dir = scratch("cli-cross-replay");
    for name in ["step-limit", "step-limit-with-faults"] {
        std::fs::copy(
            fixtures().join(format!("{name}.toml")),
            dir.join(format!("{name}.toml")),
        )
        .unwrap();
    }
    let run = run_fixture("step-limit");
    let recorded = run.failure.as_ref().unwrap().schedule.clone();
    assert!(recorded.starts_with("v2:"), "{recorded}");
    let output = vigil(&dir, &["replay", "step-limit-with-faults.toml", &recorded]);
    assert_eq!(output.status.code(), Some(3));
    insta::assert_snapshot!("cross_scenario_replay", text(&output.stderr));
    // The same schedule on its own scenario replays the failure.
    let output = vigil(&dir, &["replay", "step-limit.toml", &recorded]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("seed 0x"),
        "{}",
        text(&output.stdout)
    );
    // Without its fingerprint (as v1) it is accepted anywhere, as old schedules were.
    let mut old = vigil_sim::Schedule::decode(&recorded).unwrap();
    old.fingerprint = None;
    let old = old.encode();
    assert!(old.starts_with("v1:"));
    let output = vigil(&dir, &["replay", "step-limit-with-faults.toml", &old]);
    assert_ne!(output.status.code(), Some(3), "{}", text(&output.stderr));
}

/// `vigil explore` tallies how the dispatches ended, on the terminal and in `--json`. The
/// smoke scenario's dispatcher makes six dispatches per execution, three of them through a
/// routing function that always panics, overruns or selects an unknown worker, so those
/// counts are exact; the other three complete, fail by their worker or find no worker.
#[test]
fn dispatch_outcomes_are_tallied_on_the_terminal_and_in_json() {
    let dir = scratch("cli-dispatch-tally");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/smoke/dispatch.toml");
    let args = |json: bool| {
        let mut args = vec![
            "explore",
            file.to_str().unwrap(),
            "--executions",
            "20",
            "--no-reports",
        ];
        if json {
            args.push("--json");
        }
        vigil(&dir, &args)
    };
    let output = args(true);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let tally = &json["scenarios"][0]["dispatch"];
    let count = |path: &[&str]| -> u64 {
        let mut value = tally;
        for key in path {
            value = &value[*key];
        }
        value
            .as_u64()
            .unwrap_or_else(|| panic!("{path:?} in {tally}"))
    };
    assert_eq!(count(&["dispatches"]), 120, "{tally}");
    assert_eq!(count(&["errors", "routing_panicked"]), 20, "{tally}");
    assert_eq!(count(&["errors", "routing_timed_out"]), 20, "{tally}");
    assert_eq!(count(&["errors", "routing_unknown_worker"]), 20, "{tally}");
    assert_eq!(count(&["errors", "other"]), 0, "{tally}");
    let ended = count(&["completed"])
        + count(&["failed_by_worker"])
        + count(&["errors", "no_workers_available"]);
    assert_eq!(ended, 60, "{tally}");
    assert!(count(&["completed"]) > 0, "{tally}");
    let output = args(false);
    let table = text(&output.stdout);
    assert!(
        table.contains("dispatch outcomes of dispatch-smoke:\n  120 dispatches;"),
        "{table}"
    );
    // A scenario without dispatch steps prints and writes no tally.
    let plain = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/smoke/crash-removal.toml");
    let output = vigil(
        &dir,
        &[
            "explore",
            plain.to_str().unwrap(),
            "--executions",
            "5",
            "--json",
            "--no-reports",
        ],
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(json["scenarios"][0].get("dispatch").is_none(), "{json}");
}

/// `vigil replay --trace` prints the whole trace of a passing schedule, as it does of a
/// failing one: a pass has no failure report to take it from, so the replay takes it.
#[test]
fn a_passing_schedule_replays_with_its_whole_trace() {
    let output = vigil(
        &fixtures(),
        &["replay", "one-task.toml", "one-task.sched", "--trace"],
    );
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(stdout.contains("one-task  pass"), "{stdout}");
    for event in [
        "t0 main                               -                         start",
        "t1 owner                              -                         spawn t2 conversation-runner",
        "t0 main                               -                         finish",
    ] {
        assert!(stdout.contains(event), "no `{event}` in:\n{stdout}");
    }
    // Without `--trace` only the outcome is printed.
    let quiet = vigil(&fixtures(), &["replay", "one-task.toml", "one-task.sched"]);
    assert!(!text(&quiet.stdout).contains("conversation-runner"));
}
