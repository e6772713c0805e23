//! Scenario parser tests: one valid file, and one case per class of malformed input.

use super::*;

const VALID: &str = r#"
name = "crash-before-insert"
description = "a crash between arming and inserting"
seed = 7
invariants = ["snapshot-monitored", "crash-removed"]

[strategy]
kind = "random"
executions = 100
steps_max = 5000

[[tasks]]
name = "owner"
steps = [
  { op = "register_with_participant", worker = "a", capacity = 2, tags = ["send-email"] },
  { op = "set_in_flight", worker = "a", value = 1 },
  { op = "snapshot" },
  { op = "unregister", worker = "a" },
]

[faults]
budget = 1
reasons = ["error", "normal"]

[[faults.at]]
task = "owner"
site = "pool.insert"
worker = "a"
reason = "kill"

[expect]
outcome = "pass"
"#;

#[test]
fn a_valid_file_parses_completely() {
    let scenario = parse("valid.toml", VALID).unwrap();
    assert_eq!(scenario.name, "crash-before-insert");
    assert_eq!(scenario.seed, 7);
    assert_eq!(scenario.strategy.kind, StrategyKind::Random);
    assert_eq!(scenario.strategy.executions, 100);
    assert_eq!(
        scenario.workers,
        [WorkerSpec {
            name: "a".into(),
            queue: "q".into(),
            supplied: true
        }]
    );
    assert_eq!(scenario.tasks[0].steps.len(), 4);
    assert_eq!(scenario.faults.budget, 1);
    assert_eq!(
        scenario.faults.reasons,
        [ExitReason::Error, ExitReason::Normal]
    );
    assert_eq!(scenario.faults.at[0].site, "pool.insert");
    assert_eq!(scenario.faults.at[0].reason, ExitReason::Kill);
    assert_eq!(
        scenario.invariants,
        [Invariant::SnapshotMonitored, Invariant::CrashRemoved]
    );
    assert_eq!(scenario.expect, Expect::Pass);
}

/// Parses `text` and checks the error's line (the first line containing `at`), field and a
/// fragment of its message.
fn check(text: &str, at: &str, field: &str, fragment: &str) {
    let line = text
        .lines()
        .position(|line| line.contains(at))
        .map_or(1, |index| index + 1);
    let error = parse("bad.toml", text).unwrap_err();
    assert_eq!((error.line, error.field.as_str()), (line, field), "{error}");
    assert!(error.message.contains(fragment), "{error}");
    assert!(
        error.to_string().starts_with(&format!("bad.toml:{line}:")),
        "{error}"
    );
}

fn replace(from: &str, to: &str) -> String {
    assert!(VALID.contains(from), "{from}");
    VALID.replacen(from, to, 1)
}

#[test]
fn syntax_error_names_its_line() {
    check(
        &replace("seed = 7", "seed = = 7"),
        "seed = = 7",
        "seed",
        "extra `=`",
    );
}

#[test]
fn unknown_field_is_rejected_by_name() {
    check(
        &replace("seed = 7", "seed = 7\ncolour = \"red\""),
        "colour",
        "colour",
        "unknown field",
    );
}

#[test]
fn wrong_type_is_rejected() {
    check(
        &replace("executions = 100", "executions = \"many\""),
        "many",
        "executions",
        "expected i64",
    );
}

#[test]
fn unknown_invariant_is_rejected() {
    check(
        &replace("\"crash-removed\"]", "\"crash-removd\"]"),
        "crash-removd",
        "invariants",
        "unknown invariant 'crash-removd'",
    );
}

#[test]
fn unknown_worker_in_a_step_is_rejected() {
    check(
        &replace(
            "{ op = \"unregister\", worker = \"a\" }",
            "{ op = \"unregister\", worker = \"zz\" }",
        ),
        "zz",
        "tasks.steps.worker",
        "unknown worker 'zz'",
    );
}

#[test]
fn negative_budget_is_rejected() {
    check(
        &replace("budget = 1", "budget = -1"),
        "budget = -1",
        "faults.budget",
        "at least 0",
    );
}

#[test]
fn empty_file_is_rejected() {
    check("", "", "(file)", "empty");
    check("  \n\n", "  ", "(file)", "empty");
}

#[test]
fn binary_garbage_is_rejected_without_panicking() {
    let error = parse("bad.toml", "\u{0}\u{1}\u{7f}PNG\r\n").unwrap_err();
    assert_eq!(error.file, "bad.toml");
}

#[test]
fn unknown_strategy_site_reason_and_participant_are_rejected() {
    check(
        &replace("kind = \"random\"", "kind = \"genetic\""),
        "genetic",
        "strategy.kind",
        "unknown strategy 'genetic'",
    );
    check(
        &replace("site = \"pool.insert\"", "site = \"pool.inzert\""),
        "inzert",
        "faults.at.site",
        "unknown site 'pool.inzert'",
    );
    check(
        &replace("reason = \"kill\"", "reason = \"bored\""),
        "bored",
        "faults.at.reason",
        "unknown exit reason 'bored'",
    );
    check(
        &replace("worker = \"a\"\nreason", "worker = \"nobody\"\nreason"),
        "nobody",
        "faults.at.worker",
        "unknown participant 'nobody'",
    );
}

#[test]
fn expectations_must_be_consistent() {
    check(
        &replace("outcome = \"pass\"", "outcome = \"fail\""),
        "outcome",
        "expect.invariant",
        "must name the invariant",
    );
    check(
        &replace("outcome = \"pass\"", "outcome = \"maybe\""),
        "maybe",
        "expect.outcome",
        "unknown outcome",
    );
    check(
        &replace(
            "outcome = \"pass\"",
            "outcome = \"fail\"\ninvariant = \"no-leak\"",
        ),
        "no-leak",
        "expect.invariant",
        "not in the checked invariants",
    );
}

#[test]
fn a_dotted_namespace_is_rejected() {
    check(
        &replace("seed = 7\n", "seed = 7\nnamespace = \"a.b\"\n"),
        "a.b",
        "namespace",
        "must not contain dots",
    );
}

#[test]
fn missing_required_field_is_named() {
    check(&replace("seed = 7\n", ""), "", "seed", "missing field");
}

#[test]
fn duplicate_registration_is_rejected() {
    check(
        &replace(
            "{ op = \"set_in_flight\", worker = \"a\", value = 1 },",
            "{ op = \"register\", worker = \"a\" },",
        ),
        "{ op = \"register\", worker",
        "tasks.steps.as",
        "a registration named 'a' already exists",
    );
}

#[test]
fn non_utf8_file_is_rejected_with_a_location() {
    let dir = std::env::temp_dir().join(format!("vigil-scenario-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("garbage.toml");
    std::fs::write(&path, b"name = \"x\"\n\xff\xfe\x00binary").unwrap();
    let error = load(&path).unwrap_err();
    assert_eq!((error.line, error.field.as_str()), (2, "(file)"));
    assert!(error.message.contains("not UTF-8"));
    std::fs::remove_dir_all(&dir).unwrap();
}

mod fuzz {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let text = String::from_utf8_lossy(&bytes);
            let _ = super::parse("fuzz.toml", &text);
        }

        #[test]
        fn mutated_valid_files_never_panic_the_parser(cut in 0usize..1000, insert in "[ -~]{0,8}") {
            let mut text = super::VALID.to_owned();
            let at = cut % text.len();
            let at = (0..=at).rev().find(|index| text.is_char_boundary(*index)).unwrap_or(0);
            text.insert_str(at, &insert);
            let _ = super::parse("fuzz.toml", &text);
        }
    }
}

// ---- reused worker ids, generated workloads, limits and pinned schedules -------------------

#[test]
fn one_worker_id_may_be_registered_twice_under_two_names() {
    let text = replace(
        "  { op = \"set_in_flight\"",
        "  { op = \"register_with_participant\", worker = \"a\", as = \"a-again\" },\n  { op = \"set_in_flight\"",
    );
    let scenario = parse("valid.toml", &text).unwrap();
    let names: Vec<&str> = scenario.workers.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, ["a", "a-again"]);
    let Step::Register { worker, id, .. } = &scenario.tasks[0].steps[1] else {
        panic!("{:?}", scenario.tasks[0].steps[1]);
    };
    assert_eq!((worker.as_str(), id.as_str()), ("a-again", "a"));
}

#[test]
fn two_registrations_need_two_names() {
    let text = replace(
        "  { op = \"set_in_flight\"",
        "  { op = \"register_with_participant\", worker = \"a\" },\n  { op = \"set_in_flight\"",
    );
    check(
        &text,
        "{ op = \"register_with_participant\", worker = \"a\" }",
        "tasks.steps.as",
        "already exists; give each registration of a reused worker id its own name with `as`",
    );
}

#[test]
fn only_registrations_take_an_as_name() {
    check(
        &replace(
            "{ op = \"unregister\", worker = \"a\" }",
            "{ op = \"unregister\", worker = \"a\", as = \"b\" }",
        ),
        "as = \"b\"",
        "tasks.steps.as",
        "only a registration step names a registration",
    );
}

#[test]
fn a_generate_table_replaces_or_joins_fixed_steps() {
    let text = replace(
        "[faults]",
        "[generate]\nowners = [1, 2]\nworkers = 3\nswarm = false\n\n[faults]",
    );
    let scenario = parse("valid.toml", &text).unwrap();
    let spec = scenario.generate.expect("generate parsed");
    assert_eq!((spec.owners, spec.workers), ((1, 2), (3, 3)));
    assert!(!spec.swarm);
    assert_eq!(spec.mix.len(), OpKind::ALL.len());
    assert_eq!(scenario.strategy.steps_max, 5000, "an explicit limit stays");
    assert_eq!(scenario.strategy.tasks_max, 512);
}

#[test]
fn malformed_generate_tables_say_what_and_where() {
    let with = |table: &str| replace("[faults]", &format!("[generate]\n{table}\n\n[faults]"));
    check(
        &with("workers = [5, 2]"),
        "workers = [5, 2]",
        "generate.workers",
        "min <= max",
    );
    check(
        &with("owners = [1, 2, 3]"),
        "owners = [1, 2, 3]",
        "generate.owners",
        "[min, max]",
    );
    check(
        &with("owners = 0"),
        "owners = 0",
        "generate.owners",
        "at least one owner",
    );
    check(
        &with("[generate.mix]\nteleport = 1"),
        "teleport",
        "generate.mix",
        "unknown step kind 'teleport'",
    );
    check(
        &with("[generate.mix]\nsnapshot = 2\nregister = 0"),
        "[generate.mix]",
        "generate.mix",
        "no registration step",
    );
}

#[test]
fn task_limits_come_from_the_file() {
    let text = replace("steps_max = 5000", "steps_max = 5000\ntasks_max = 40");
    assert_eq!(parse("valid.toml", &text).unwrap().strategy.tasks_max, 40);
    check(
        &replace("steps_max = 5000", "steps_max = 5000\ntasks_max = 1"),
        "tasks_max = 1",
        "strategy.tasks_max",
        "at least 2",
    );
}

#[test]
fn a_pinned_schedule_must_decode() {
    let text = format!("{VALID}\n[[expect.schedule]]\nschedule = \"v1:not-a-schedule\"\n");
    check(
        &text,
        "schedule = \"v1:",
        "expect.schedule.schedule",
        "not a recorded schedule",
    );
}

/// VALID with one more step at the end of the owner's list.
fn with_step(step: &str) -> String {
    replace(
        "  { op = \"unregister\", worker = \"a\" },\n",
        &format!("  {{ op = \"unregister\", worker = \"a\" }},\n  {step},\n"),
    )
}

#[test]
fn dispatch_steps_parse_with_defaults_and_render_back() {
    let text = with_step(
        "{ op = \"dispatch\", activity_type = \"fail\", policy = \"least-loaded\", routing = \"overrun\" }",
    );
    let scenario = parse("valid.toml", &text).unwrap();
    let step = scenario.tasks[0].steps.last().unwrap();
    assert_eq!(
        *step,
        Step::Dispatch {
            queue: "q".into(),
            activity_type: "fail".into(),
            policy: DispatchPolicy::LeastLoaded,
            routing: Some(RoutingScript::Overrun),
        }
    );
    let plain = parse("valid.toml", &with_step("{ op = \"dispatch\" }")).unwrap();
    assert_eq!(
        *plain.tasks[0].steps.last().unwrap(),
        Step::Dispatch {
            queue: "q".into(),
            activity_type: "activity".into(),
            policy: DispatchPolicy::FirstWithCapacity,
            routing: None,
        }
    );
    let rendered = render::step(step);
    let again = parse("valid.toml", &with_step(&rendered)).unwrap();
    assert_eq!(again.tasks[0].steps.last(), Some(step));
}

#[test]
fn malformed_dispatch_steps_say_what_and_where() {
    let bad_policy = with_step("{ op = \"dispatch\", policy = \"round-robin\" }");
    check(
        &bad_policy,
        "round-robin",
        "tasks.steps.policy",
        "unknown policy 'round-robin'; expected one of: first-with-capacity, least-loaded, affinity",
    );
    let bad_routing = with_step("{ op = \"dispatch\", routing = \"hang\" }");
    check(
        &bad_routing,
        "\"hang\"",
        "tasks.steps.routing",
        "unknown routing 'hang'; expected one of: panic, overrun, unknown",
    );
    let misplaced = with_step("{ op = \"snapshot\", policy = \"least-loaded\" }");
    check(
        &misplaced,
        "op = \"snapshot\", policy",
        "tasks.steps.policy",
        "only a dispatch step takes `policy`",
    );
    let dotted = with_step("{ op = \"dispatch\", queue = \"a.b\" }");
    check(&dotted, "a.b", "tasks.steps.queue", "must not contain dots");
}

#[test]
fn dispatch_is_off_in_a_default_mix_and_named_in_a_mix() {
    let text = replace("[faults]", "[generate]\nowners = 1\n\n[faults]");
    let spec = parse("valid.toml", &text).unwrap().generate.unwrap();
    assert!(spec.mix.contains(&(OpKind::Dispatch, 0)));
    let text = replace(
        "[faults]",
        "[generate]\n\n[generate.mix]\nregister = 1\ndispatch = 3\n\n[faults]",
    );
    let spec = parse("valid.toml", &text).unwrap().generate.unwrap();
    assert!(spec.mix.contains(&(OpKind::Dispatch, 3)));
}
