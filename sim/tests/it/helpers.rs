//! The test helpers shuttle and loom users expect (`check_random`, `check_pct`, `check_dfs`,
//! `check_dpor`, `model`): each finds a planted bug and panics with the failure and its replay
//! command, passes the fixed model, and the printed command reproduces the failure in a fresh
//! process, whatever the strategy.

use std::panic::{AssertUnwindSafe, catch_unwind};

use vigil_sim::sync::atomic::{AtomicUsize, Ordering};
use vigil_sim::sync::{Arc, Mutex};
use vigil_sim::thread;
use vigil_sim::{check_dfs, check_dpor, check_pct, check_random, model};

use crate::{is_child, run_child};

/// Two incrementers; buggy: load then store (a lost update needs one preemption); fixed: the
/// increment under a lock.
fn counter(fixed: bool) -> impl Fn() + Send + Sync + 'static {
    move || {
        let counter = Arc::new(AtomicUsize::new(0));
        let lock = Arc::new(Mutex::new(()));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (counter, lock) = (counter.clone(), lock.clone());
                thread::spawn(move || {
                    let _guard = fixed.then(|| lock.lock().unwrap());
                    let seen = counter.load(Ordering::SeqCst);
                    counter.store(seen + 1, Ordering::SeqCst);
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        assert_eq!(counter.load(Ordering::SeqCst), 2, "an increment was lost");
    }
}

/// Every helper, by name, on `counter(fixed)`.
fn check(helper: &str, fixed: bool) {
    match helper {
        "random" => check_random(counter(fixed), 500),
        "pct" => check_pct(counter(fixed), 500, 3),
        "dfs" => check_dfs(counter(fixed), Some(2)),
        "dpor" => check_dpor(counter(fixed), Some(2)),
        "model" => model(counter(fixed)),
        other => panic!("no helper {other}"),
    }
}

const HELPERS: [&str; 5] = ["random", "pct", "dfs", "dpor", "model"];

fn panic_text(helper: &str) -> Option<String> {
    let result = catch_unwind(AssertUnwindSafe(|| check(helper, false)));
    let payload = result.err()?;
    Some(
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| {
                payload
                    .downcast_ref::<&str>()
                    .map(|text| (*text).to_owned())
            })
            .unwrap_or_default(),
    )
}

#[test]
fn every_helper_finds_the_bug_and_passes_the_fix() {
    for helper in HELPERS {
        let text = panic_text(helper).unwrap_or_else(|| panic!("{helper} missed the bug"));
        assert!(text.contains("an increment was lost"), "{helper}: {text}");
        assert!(
            text.contains("panicked"),
            "{helper}: the failure names the task: {text}"
        );
        assert!(text.contains("VIGIL_REPLAY=v1:"), "{helper}: {text}");
        assert!(text.contains("shrunk from"), "{helper}: {text}");
        check(helper, true);
    }
}

#[test]
fn every_helper_replays_its_printed_schedule_in_a_fresh_process() {
    for helper in HELPERS {
        let text = panic_text(helper).unwrap_or_else(|| panic!("{helper} missed the bug"));
        let schedule = text
            .split_whitespace()
            .find_map(|word| word.strip_prefix("VIGIL_REPLAY="))
            .expect("a replay command");
        let role = format!("helper-{helper}");
        let output = run_child(
            "helpers::child_runs_a_helper",
            &role,
            &[(vigil_sim::REPLAY_ENV, schedule)],
        );
        let output_text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !output.status.success(),
            "{helper}: the replay must fail\n{output_text}"
        );
        assert!(
            output_text.contains("vigil-sim: panic in execution 0"),
            "{helper}: {output_text}"
        );
        assert!(
            output_text.contains("an increment was lost"),
            "{output_text}"
        );
        assert!(
            output_text.contains(schedule),
            "{helper}: the same schedule\n{output_text}"
        );
    }
}

/// The child half of the test above: runs the helper its role names, with `VIGIL_REPLAY`
/// set by the parent. Does nothing in a normal test run.
#[test]
fn child_runs_a_helper() {
    for helper in HELPERS {
        if is_child(&format!("helper-{helper}")) {
            check(helper, false);
        }
    }
}

#[test]
fn a_failing_schedule_is_persisted_when_asked() {
    let role = "helper-persist";
    let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("persisted.schedule");
    let _ = std::fs::remove_file(&path);
    let output = run_child(
        "helpers::child_runs_a_helper",
        "helper-random",
        &[(vigil_sim::check::FAILURE_FILE_ENV, path.to_str().unwrap())],
    );
    assert!(!output.status.success(), "{role}: the child finds the bug");
    let text = std::fs::read_to_string(&path).expect("the schedule file was written");
    let schedule = vigil_sim::Schedule::from_file_text(&text).expect("a schedule file");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&schedule.encode()), "{stderr}");
}

/// The execution index a helper's failure names ("panic in execution N").
fn failing_execution(text: &str) -> u64 {
    let after = text
        .split("panic in execution ")
        .nth(1)
        .unwrap_or_else(|| panic!("no failing execution in:\n{text}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().unwrap()
}

#[test]
fn check_random_runs_only_its_shard_of_the_executions() {
    for (shard, residue) in [("1/2", 0), ("2/2", 1), ("2/3", 1), ("3/3", 2)] {
        let output = run_child(
            "helpers::child_runs_a_helper",
            "helper-random",
            &[
                (vigil_sim::check::SHARD_ENV, shard),
                ("VIGIL_NO_SHRINK", "1"),
            ],
        );
        let text = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(
            !output.status.success(),
            "{shard}: the bug is found\n{text}"
        );
        let count: u64 = shard[2..].parse().unwrap();
        let found = failing_execution(&text);
        assert_eq!(found % count, residue, "{shard} ran execution {found}");
    }
    let output = run_child(
        "helpers::child_runs_a_helper",
        "helper-random",
        &[(vigil_sim::check::SHARD_ENV, "3/2")],
    );
    let text = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        text.contains("VIGIL_SHARD: \"3/2\" is not a shard"),
        "{text}"
    );
}
