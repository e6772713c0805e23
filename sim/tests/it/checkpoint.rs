//! Checkpoints of a dpor search (`vigil explore --checkpoint FILE`): a search cut anywhere
//! and resumed, once or many times, reports what one uninterrupted run reports, byte for
//! byte; a checkpoint that belongs to another search, or is damaged, is refused before
//! anything runs and left as it was.

use std::path::Path;
use std::process::Command;

use vigil_sim::scenario::{Scenario, StrategyKind};
use vigil_sim::{Overrides, ScenarioRun, checkpoint_status, run_scenario, split_checkpoint};

use crate::spread::{load, outputs, scratch, timeless};

fn dpor(executions: u64) -> Overrides {
    Overrides {
        strategy: Some(StrategyKind::Dpor {
            preemptions_max: 2,
            faults_max: 1,
        }),
        executions: Some(executions),
        ..Overrides::default()
    }
}

/// Runs the `vigil` binary from the repository's root.
fn vigil(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_vigil"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(".."))
        .output()
        .expect("the vigil binary runs")
}

fn saved(overrides: &Overrides, path: &Path, every: u64) -> Overrides {
    Overrides {
        checkpoint: Some(path.to_owned()),
        checkpoint_every: Some(every),
        ..overrides.clone()
    }
}

/// Runs `scenario` under `overrides` as a sequence of runs with the budgets `cuts` (each
/// resuming the last one's checkpoint) and then the full budget; returns the last run.
fn resumed(scenario: &Scenario, file: &str, overrides: &Overrides, cuts: &[u64]) -> ScenarioRun {
    let dir = scratch(&format!(
        "checkpoint-{}-{}",
        scenario.name,
        cuts.iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("-")
    ));
    let path = dir.join("search.ckpt");
    for &cut in cuts {
        let part = Overrides {
            executions: Some(cut),
            ..saved(overrides, &path, 97)
        };
        let run = run_scenario(scenario, file, &part);
        assert!(run.executions <= cut, "a cut run stops at its budget");
        let coverage = run.coverage.expect("dpor reports its coverage");
        assert!(!coverage.exhaustive, "a cut run certifies nothing");
    }
    run_scenario(scenario, file, &saved(overrides, &path, 97))
}

#[test]
fn a_passing_search_resumed_anywhere_reports_what_an_uninterrupted_one_does() {
    let (scenario, file) = load("scenarios/faults/d3-02-dies-after-link-before-notify.toml");
    let overrides = dpor(100_000);
    let whole = run_scenario(&scenario, &file, &overrides);
    assert!(whole.certified(), "the search exhausts its bounds");
    let all = whole.executions;
    // Cut at the first execution, inside and at the end of a save interval, several times,
    // and one short of the end.
    for cuts in [vec![1], vec![97], vec![300, 301, 700], vec![all - 1]] {
        let resumed = resumed(&scenario, &file, &overrides, &cuts);
        assert_eq!(outputs(&resumed), outputs(&whole), "cut at {cuts:?}");
    }
}

#[test]
fn a_failing_search_resumed_before_its_failure_finds_and_shrinks_the_same_one() {
    let (scenario, file) = load("sim/tests/fixtures/dpor-step-limit.toml");
    let overrides = dpor(5000);
    let whole = run_scenario(&scenario, &file, &overrides);
    assert!(whole.failure.is_some(), "the planted livelock is found");
    // The search counts its executions up to and including the failing one.
    let at = whole.executions - 1;
    assert!(
        at > 100,
        "the failure is deep enough to cut before it (at {at})"
    );
    for cuts in [vec![1], vec![at / 2, at]] {
        let resumed = resumed(&scenario, &file, &overrides, &cuts);
        assert_eq!(outputs(&resumed), outputs(&whole), "cut at {cuts:?}");
    }
}

#[test]
fn a_checkpoint_keeps_totals_so_it_does_not_grow_with_the_executions_run() {
    let (scenario, file) = load("scenarios/faults/d3-02-dies-after-link-before-notify.toml");
    let path = scratch("checkpoint-size").join("search.ckpt");
    let size_after = |executions: u64| {
        let run = run_scenario(
            &scenario,
            &file,
            &Overrides {
                executions: Some(executions),
                ..saved(&dpor(100_000), &path, 100)
            },
        );
        assert_eq!(run.executions, executions);
        std::fs::metadata(&path).unwrap().len()
    };
    let early = size_after(100);
    let late = size_after(1_300);
    // Rows kept per execution (16 bytes or more each) would add 19 kB over these 1,200.
    assert!(
        late < early + 4_000,
        "{early} bytes after 100 executions, {late} after 1,300"
    );
}

#[test]
fn a_finished_search_resumed_again_reports_the_same_without_running() {
    let (scenario, file) = load("scenarios/faults/d3-02-dies-after-link-before-notify.toml");
    let path = scratch("checkpoint-finished").join("search.ckpt");
    let overrides = saved(&dpor(100_000), &path, 500);
    let first = run_scenario(&scenario, &file, &overrides);
    assert!(first.certified());
    let bytes = std::fs::read(&path).unwrap();
    let again = run_scenario(&scenario, &file, &overrides);
    assert_eq!(outputs(&again), outputs(&first));
    assert_eq!(
        std::fs::read(&path).unwrap(),
        bytes,
        "nothing new was saved"
    );
}

#[test]
fn a_checkpoint_of_another_search_or_a_damaged_one_is_refused_saying_why() {
    let (scenario, file) = load("scenarios/faults/d3-02-dies-after-link-before-notify.toml");
    let (other, _) = load("scenarios/faults/d3-06-unregister-races-snapshot.toml");
    let dir = scratch("checkpoint-refused");
    let path = dir.join("search.ckpt");
    let overrides = saved(&dpor(200), &path, 100);
    run_scenario(&scenario, &file, &overrides);
    assert_eq!(
        checkpoint_status(&scenario, &overrides),
        Ok(Some(200)),
        "it resumes after its 200 executions"
    );
    let bounds = Overrides {
        strategy: Some(StrategyKind::Dpor {
            preemptions_max: 1,
            faults_max: 1,
        }),
        ..overrides.clone()
    };
    let seed = Overrides {
        seed: Some(7),
        ..overrides.clone()
    };
    let random = Overrides {
        strategy: Some(StrategyKind::Random),
        ..overrides.clone()
    };
    let split = Overrides {
        split_depth: Some(1),
        ..overrides.clone()
    };
    let refused = |scenario: &Scenario, overrides: &Overrides| {
        checkpoint_status(scenario, overrides).expect_err("the checkpoint is refused")
    };
    let said = refused(&scenario, &bounds);
    assert!(
        said.contains("saved for 2 preemptions and 1 faults, not 1 and 1"),
        "{said}"
    );
    let said = refused(&scenario, &seed);
    assert!(said.contains("not 7"), "{said}");
    let said = refused(&other, &overrides);
    assert!(said.contains("another scenario"), "{said}");
    let said = refused(&scenario, &random);
    assert!(said.contains("only kept for the dpor strategy"), "{said}");
    let said = refused(&scenario, &split);
    assert!(said.contains("not one split into units"), "{said}");

    let bytes = std::fs::read(&path).unwrap();
    let damaged = |name: &str, bytes: &[u8]| {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let said = refused(&scenario, &saved(&dpor(200), &path, 100));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            bytes,
            "{name} is left as it was"
        );
        said
    };
    let said = damaged("truncated.ckpt", &bytes[..bytes.len() / 2]);
    assert!(said.contains("truncated or corrupt"), "{said}");
    let mut flipped = bytes.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x10;
    let said = damaged("flipped.ckpt", &flipped);
    assert!(said.contains("truncated or corrupt"), "{said}");
    let said = damaged("text.ckpt", b"executions = 200\n");
    assert!(
        said.contains("does not start as a vigil search checkpoint"),
        "{said}"
    );
    let said = damaged("empty.ckpt", b"");
    assert!(said.contains("does not start as"), "{said}");
}

#[test]
fn the_cli_refuses_an_unusable_checkpoint_with_exit_3_and_resumes_a_good_one() {
    let dir = scratch("checkpoint-cli");
    let path = dir.join("search.ckpt").display().to_string();
    let file = "scenarios/faults/d3-02-dies-after-link-before-notify.toml";
    let plain = [
        "explore",
        file,
        "--strategy",
        "dpor",
        "--no-reports",
        "--json",
    ];
    let uninterrupted = vigil(&plain);
    let explore = |extra: &[&str]| {
        let mut args = plain.to_vec();
        args.extend(["--checkpoint", path.as_str()]);
        args.extend(extra);
        vigil(&args)
    };
    let cut = explore(&["--executions", "300"]);
    assert_eq!(
        cut.status.code(),
        Some(1),
        "the file requires a certificate"
    );
    let saved = std::fs::read(&path).unwrap();
    let wrong = explore(&["--preemptions", "1"]);
    assert_eq!(wrong.status.code(), Some(3));
    let said = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        said.contains("--checkpoint") && said.contains("not 1 and 1"),
        "{said}"
    );
    assert!(wrong.stdout.is_empty(), "nothing ran");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        saved,
        "the checkpoint is left as it was"
    );
    let done = explore(&[]);
    assert_eq!(done.status.code(), Some(0));
    let said = String::from_utf8_lossy(&done.stderr);
    assert!(
        said.contains("resuming the search saved in") && said.contains("after 300 executions"),
        "{said}"
    );
    let report = timeless(&done.stdout);
    assert!(report.contains(", exhaustive\""), "{report}");
    assert_eq!(report, timeless(&uninterrupted.stdout));
}

/// The checksum the checkpoint ends with (FNV-1a, 64 bits), for damaging a file so that the
/// checksum still matches.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[test]
fn a_checkpoint_damaged_anywhere_under_a_matching_checksum_never_panics() {
    let (scenario, file) = load("scenarios/faults/d3-02-dies-after-link-before-notify.toml");
    let dir = scratch("checkpoint-damaged");
    let path = dir.join("search.ckpt");
    run_scenario(&scenario, &file, &saved(&dpor(150), &path, 100));
    let bytes = std::fs::read(&path).unwrap();
    let body = bytes.len() - 8;
    let header = bytes.iter().position(|&byte| byte == b'\n').unwrap() + 1;
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let (mut refused, mut resumed) = (0, 0);
    for _ in 0..48 {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let at = header + (state >> 33) as usize % (body - header);
        let mut damaged = bytes.clone();
        damaged[at] ^= 1 << ((state >> 29) % 8);
        let checksum = fnv1a64(&damaged[..body]);
        damaged[body..].copy_from_slice(&checksum.to_le_bytes());
        let damaged_path = dir.join("damaged.ckpt");
        std::fs::write(&damaged_path, &damaged).unwrap();
        let overrides = saved(&dpor(300), &damaged_path, 100);
        let outcome = std::panic::catch_unwind(|| {
            checkpoint_status(&scenario, &overrides).err().or_else(|| {
                match run_scenario(&scenario, &file, &overrides).observed {
                    vigil_sim::Observed::Error { message } => Some(message),
                    _ => None,
                }
            })
        });
        match outcome {
            Ok(Some(_)) => refused += 1,
            Ok(None) => resumed += 1,
            Err(_) => panic!("byte {at} damaged: the resume panicked"),
        }
    }
    // Most damage is caught; some (a count, a flag, a cost) leaves a search that still runs.
    assert!(refused > 0, "{refused} refused, {resumed} resumed");
}

/// The abstract states a checkpointed search reached, read from its file: the log it saves
/// is a shard report's JSON, whose `states` lists each state's hash and first execution.
fn states_in(path: &Path) -> std::collections::BTreeSet<u64> {
    let bytes = std::fs::read(path).unwrap();
    let start = bytes.windows(2).position(|pair| pair == b"{\"").unwrap();
    let log: serde_json::Value = serde_json::Deserializer::from_slice(&bytes[start..])
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    let pairs = log["states"].as_array().expect("the log lists its states");
    pairs.iter().map(|pair| pair[0].as_u64().unwrap()).collect()
}

/// Runs `overrides`' search to `cut` executions with a checkpoint in `dir`, splits the file
/// in two, and resumes both parts to their end.
fn split_at(
    scenario: &Scenario,
    file: &str,
    overrides: &Overrides,
    dir: &Path,
    cut: u64,
) -> [(ScenarioRun, std::path::PathBuf); 2] {
    let kept = dir.join(format!("kept-{cut}.ckpt"));
    let new = dir.join(format!("new-{cut}.ckpt"));
    let first = Overrides {
        executions: Some(cut),
        ..saved(overrides, &kept, 97)
    };
    assert_eq!(run_scenario(scenario, file, &first).executions, cut);
    let split = split_checkpoint(&kept, &new).expect("a search cut short can be split");
    assert_eq!(split.executions, cut);
    [kept, new].map(|path| {
        (
            run_scenario(scenario, file, &saved(overrides, &path, 97)),
            path,
        )
    })
}

#[test]
fn a_search_split_anywhere_is_certified_by_its_two_parts_reaching_the_same_states() {
    let (scenario, file) = load("scenarios/faults/d3-07-drop-races-listener.toml");
    let dir = scratch("checkpoint-split");
    let whole_path = dir.join("whole.ckpt");
    let overrides = dpor(100_000);
    let whole = run_scenario(&scenario, &file, &saved(&overrides, &whole_path, 1000));
    assert!(whole.certified());
    let reached = states_in(&whole_path);
    for cut in [1, 97, 2_000, whole.executions / 2] {
        let [(kept, kept_path), (new, new_path)] =
            split_at(&scenario, &file, &overrides, &dir, cut);
        assert!(
            kept.certified() && new.certified(),
            "cut at {cut}: both parts exhaust"
        );
        assert!(
            new.executions > cut,
            "cut at {cut}: the new part has work of its own"
        );
        let mut union = states_in(&kept_path);
        union.extend(states_in(&new_path));
        assert_eq!(
            union, reached,
            "cut at {cut}: together they reach every state"
        );
        // Each part counts the executions before the split; none is lost in the hand-over.
        assert!(
            kept.executions + new.executions - cut >= whole.executions,
            "cut at {cut}: {} + {} - {cut} against {}",
            kept.executions,
            new.executions,
            whole.executions
        );
    }
}

#[test]
fn a_failing_search_split_before_its_failure_still_finds_it() {
    let (scenario, file) = load("sim/tests/fixtures/dpor-step-limit.toml");
    let dir = scratch("checkpoint-split-failing");
    let overrides = dpor(5000);
    let whole = run_scenario(&scenario, &file, &overrides);
    let kind = whole
        .failure
        .as_ref()
        .expect("the planted livelock is found")
        .kind
        .clone();
    let at = whole.executions - 1;
    for cut in [1, at / 2, at] {
        let parts = split_at(&scenario, &file, &overrides, &dir, cut);
        let found: Vec<_> = parts
            .iter()
            .filter_map(|(run, _)| run.failure.as_ref().map(|failure| failure.kind.clone()))
            .collect();
        assert!(found.contains(&kind), "cut at {cut}: {found:?}");
    }
}

#[test]
fn a_split_is_refused_saying_why_and_changes_nothing() {
    let (scenario, file) = load("scenarios/faults/d3-02-dies-after-link-before-notify.toml");
    let dir = scratch("checkpoint-split-refused");
    let path = dir.join("search.ckpt");
    let new = dir.join("new.ckpt");
    let refused = |into: &Path, says: &str| {
        let before = std::fs::read(&path).ok();
        let error = split_checkpoint(&path, into).expect_err("the split is refused");
        assert!(error.contains(says), "{error}");
        assert_eq!(
            std::fs::read(&path).ok(),
            before,
            "the file is left as it was"
        );
    };
    refused(&new, "cannot be read");
    let cut = Overrides {
        executions: Some(300),
        ..saved(&dpor(100_000), &path, 100)
    };
    run_scenario(&scenario, &file, &cut);
    std::fs::write(&new, b"mine").unwrap();
    refused(&new, "exists already");
    assert_eq!(
        std::fs::read(&new).unwrap(),
        b"mine",
        "an existing file is kept"
    );
    std::fs::remove_file(&new).unwrap();
    let mut damaged = std::fs::read(&path).unwrap();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let damaged_path = dir.join("damaged.ckpt");
    std::fs::write(&damaged_path, &damaged).unwrap();
    let error = split_checkpoint(&damaged_path, &new).expect_err("a damaged file is refused");
    assert!(error.contains("checksum"), "{error}");
    assert!(!new.exists(), "nothing is written");
    run_scenario(&scenario, &file, &saved(&dpor(100_000), &path, 100));
    refused(&new, "has ended");
    assert!(!new.exists(), "nothing is written");
}

#[test]
fn the_cli_splits_a_checkpoint_and_says_how_to_count_the_parts() {
    let dir = scratch("checkpoint-split-cli");
    let (kept, new) = (dir.join("kept.ckpt"), dir.join("new.ckpt"));
    let file = "scenarios/faults/d3-02-dies-after-link-before-notify.toml";
    let (kept, new) = (kept.to_str().unwrap(), new.to_str().unwrap());
    let explore = |path: &str, executions: &str| {
        vigil(&[
            "explore",
            file,
            "--strategy",
            "dpor",
            "--no-reports",
            "--executions",
            executions,
            "--checkpoint",
            path,
        ])
    };
    explore(kept, "300");
    let split = vigil(&["split-checkpoint", kept, new]);
    assert_eq!(split.status.code(), Some(0));
    let said = String::from_utf8_lossy(&split.stdout);
    assert!(
        said.contains("split after 300 executions") && said.contains("less 300"),
        "{said}"
    );
    let again = vigil(&["split-checkpoint", kept, new]);
    assert_eq!(again.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&again.stderr).contains("exists already"));
    for path in [kept, new] {
        let done = explore(path, "100000");
        assert_eq!(done.status.code(), Some(0), "{path} exhausts its part");
        let said = String::from_utf8_lossy(&done.stdout);
        assert!(said.contains(", exhaustive"), "{said}");
    }
}
