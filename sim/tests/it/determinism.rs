//! The same seed gives byte-identical traces, in this process and in a fresh one.

use vigil_sim::{Config, Random, run};

use crate::{explore_from, is_child, models, run_child};

fn pipeline_trace(seed: u64) -> String {
    explore_from(seed, 1, models::pipeline()).trace().render()
}

#[test]
fn the_same_seed_twice_gives_byte_identical_traces() {
    for seed in 0..16 {
        let first = pipeline_trace(seed);
        assert_eq!(first, pipeline_trace(seed), "seed {seed}");
        assert!(
            first.contains("(timed out)"),
            "the model exercises timeouts:\n{first}"
        );
        assert!(
            first.contains("draw 0x"),
            "the model exercises draws:\n{first}"
        );
    }
    assert_ne!(
        pipeline_trace(1),
        pipeline_trace(2),
        "different seeds explore differently"
    );
}

#[test]
fn the_same_seed_twice_finds_the_same_failure() {
    let first = explore_from(5, 300, models::lock_order(false));
    let second = explore_from(5, 300, models::lock_order(false));
    assert_eq!(first.failure(), second.failure());
    assert_eq!(first.trace().render(), second.trace().render());
}

#[test]
fn the_determinism_check_accepts_a_deterministic_model() {
    let mut config = Config::default();
    config.executions = 200;
    config.determinism_check = true;
    let report = run(&config, &mut Random::new(config.seed), models::pipeline());
    let stats = report
        .stats()
        .unwrap_or_else(|| panic!("{}", report.failure().unwrap()));
    assert_eq!(stats.executions, 200);
}

const DIGEST_SEED: u64 = 0xd16e57;
const DIGEST_PREFIX: &str = "vigil-it-digest=";

#[test]
fn the_trace_digest_is_the_same_in_a_fresh_process() {
    let here = explore_from(DIGEST_SEED, 1, models::pipeline())
        .trace()
        .digest();
    let output = run_child("determinism::child_prints_the_digest", "digest", &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "child failed:\n{stdout}");
    let there = stdout
        .lines()
        .find_map(|line| Some(&line[line.find(DIGEST_PREFIX)? + DIGEST_PREFIX.len()..]))
        .unwrap_or_else(|| panic!("the child printed no digest:\n{stdout}"));
    assert_eq!(there, format!("{here:016x}"));
}

/// The child half of the test above; does nothing in a normal test run.
#[test]
fn child_prints_the_digest() {
    if is_child("digest") {
        let digest = explore_from(DIGEST_SEED, 1, models::pipeline())
            .trace()
            .digest();
        println!("{DIGEST_PREFIX}{digest:016x}");
    }
}
