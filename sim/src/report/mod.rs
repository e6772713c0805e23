//! What `vigil run` prints and writes: the summary table, JSON, JUnit XML, and per-failure
//! trace text and SVG timelines. Everything written under `reports/` is a pure function of
//! the runs (no timestamps, no wall-clock durations), so the same inputs give the same bytes.

mod html;
mod plot;
mod svg;

use std::fmt::Write as _;
use std::time::Duration;

pub use html::explorer_html;
pub use plot::coverage_svg;
pub use svg::timeline_svg;

use crate::harness::{Observed, ScenarioRun, expect_label};

/// One row of the summary: a run and, on the console only, how long it took.
#[derive(Clone, Copy, Debug)]
pub struct Row<'a> {
    pub run: &'a ScenarioRun,
    pub elapsed: Option<Duration>,
}

fn verdict(run: &ScenarioRun) -> &'static str {
    if run.as_expected() {
        "ok"
    } else {
        "UNEXPECTED"
    }
}

/// The summary table as fixed-width text (the console form).
pub fn summary_table(rows: &[Row<'_>]) -> String {
    let width = rows
        .iter()
        .map(|row| row.run.scenario.name.len())
        .max()
        .unwrap_or(8)
        .max(8);
    let mut out = format!(
        "{:<width$}  {:<26}  {:<26}  {:>10}  {:>9}  {:>7}  {:>8}  {}\n",
        "scenario", "outcome", "expected", "executions", "schedules", "states", "time", "verdict"
    );
    for row in rows {
        let run = row.run;
        let time = row.elapsed.map_or_else(
            || "-".to_owned(),
            |elapsed| format!("{:.2}s", elapsed.as_secs_f64()),
        );
        let _ = writeln!(
            out,
            "{:<width$}  {:<26}  {:<26}  {:>10}  {:>9}  {:>7}  {:>8}  {}",
            run.scenario.name,
            run.outcome(),
            expect_label(&run.scenario.expect),
            run.executions,
            run.distinct_schedules,
            run.reach.states(),
            time,
            verdict(run)
        );
    }
    out.push_str(&certificates(rows, "", ""));
    out.push_str(&dispatch_outcomes(rows));
    let unexpected = rows.iter().filter(|row| !row.run.as_expected()).count();
    let _ = writeln!(
        out,
        "\n{} scenarios, {} as expected, {unexpected} unexpected",
        rows.len(),
        rows.len() - unexpected
    );
    out
}

/// How each run's dispatches ended, for runs whose scenario dispatches; empty otherwise.
fn dispatch_outcomes(rows: &[Row<'_>]) -> String {
    let mut out = String::new();
    for run in rows.iter().map(|row| row.run) {
        if let Some(tally) = &run.dispatch {
            let _ = writeln!(out, "\ndispatch outcomes of {}:", run.scenario.name);
            out.push_str(&tally.describe());
        }
    }
    out
}

/// Details for every run that did not end as expected: the failure text or the reason.
pub fn unexpected_details(rows: &[Row<'_>]) -> String {
    let mut out = String::new();
    for row in rows.iter().filter(|row| !row.run.as_expected()) {
        let run = row.run;
        let _ = writeln!(out, "--- {} ({})", run.scenario.name, run.file);
        for note in &run.notes {
            let _ = writeln!(out, "note: {note}");
        }
        match (&run.observed, &run.failure) {
            (_, Some(failure)) => {
                let _ = writeln!(out, "{failure}");
                if let Some(workload) = &run.workload {
                    let _ = writeln!(
                        out,
                        "\nThe failing execution generated this workload (written as a \
                         fixed-step scenario with its schedule pinned to \
                         failures/{}.regression.toml):\n\n{}",
                        artefact_stem(run),
                        workload.to_toml().trim_end()
                    );
                }
            }
            (Observed::Pass, None) if !run.certified() => {
                let required = run.scenario.certify.map_or(String::new(), |bound| {
                    crate::strategy::bounds_phrase(bound.preemptions, bound.faults)
                });
                let got = run.certificate().unwrap_or_else(|| {
                    "the strategy is not a systematic search (use kind = \"dpor\")".to_owned()
                });
                let _ = writeln!(
                    out,
                    "the scenario requires certification within {required}, but: {got}"
                );
            }
            (Observed::Vacuous { unfired }, None) => {
                let _ = writeln!(
                    out,
                    "every execution passed, but the fault plan never fired, so the pass proves \
                     nothing:"
                );
                for line in unfired {
                    let _ = writeln!(out, "  - {line}");
                }
            }
            (Observed::Error { message }, None) => {
                let _ = writeln!(out, "{message}");
            }
            (_, None) => {
                let _ = writeln!(
                    out,
                    "expected {} but every execution passed",
                    expect_label(&run.scenario.expect)
                );
            }
        }
    }
    out
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The file stem used for a scenario's failure artefacts.
pub fn artefact_stem(run: &ScenarioRun) -> String {
    slug(&run.scenario.name)
}

/// The artefact stem of each row: the scenario's name, or, when two rows share a name, the
/// name and the file it came from, so no two scenarios write the same files.
pub fn artefact_stems(rows: &[Row<'_>]) -> Vec<String> {
    let mut counts = std::collections::BTreeMap::new();
    for row in rows {
        *counts.entry(slug(&row.run.scenario.name)).or_insert(0) += 1;
    }
    rows.iter()
        .map(|row| {
            let stem = slug(&row.run.scenario.name);
            if counts[&stem] > 1 {
                let file = row.run.file.trim_end_matches(".toml");
                format!("{stem}--{}", slug(file))
            } else {
                stem
            }
        })
        .collect()
}

/// The file stem of the failure artefacts of the scenario named `name`.
pub fn artefact_stem_of(name: &str) -> String {
    slug(name)
}

/// The share of lock-dependent checks skipped because a lock was held, e.g. `12.3%`.
fn skipped_share(run: &ScenarioRun) -> String {
    let total = run.checks_read + run.checks_skipped;
    if total == 0 {
        return "-".to_owned();
    }
    format!("{:.1}%", run.checks_skipped as f64 * 100.0 / total as f64)
}

/// The share of a run's states first reached in its last tenth of executions, e.g. `0.4%`.
fn tail_share(run: &ScenarioRun) -> String {
    run.reach
        .tail_share()
        .map_or_else(|| "-".to_owned(), |share| format!("{:.1}%", share * 100.0))
}

/// The stem of a scenario's coverage plot, `coverage/<stem>.svg`.
pub fn coverage_plot_path(stem: &str) -> String {
    format!("coverage/{stem}.svg")
}

/// The summary's coverage section: which runs are saturated (their last tenth of executions
/// added under 1 % of their states) and each run's saturation line, linked to its plot.
fn coverage_section(rows: &[Row<'_>]) -> String {
    let mut out = String::from("\n## Coverage\n\n");
    let runs: Vec<(&ScenarioRun, String)> = rows
        .iter()
        .map(|row| row.run)
        .zip(artefact_stems(rows))
        .filter(|(run, _)| run.reach.states() > 0)
        .collect();
    if runs.is_empty() {
        return String::new();
    }
    let saturated: Vec<&str> = runs
        .iter()
        .filter(|(run, _)| run.reach.saturated())
        .map(|(run, _)| run.scenario.name.as_str())
        .collect();
    let _ = writeln!(
        out,
        "Distinct abstract pool states (which registrations are visible, active, monitored and \
         in flight, as the observers see them). Saturated (the last 10 % of executions found \
         under 1 % of the states): {} of {}{}\n",
        saturated.len(),
        runs.len(),
        if saturated.is_empty() {
            String::new()
        } else {
            format!(": {}", saturated.join(", "))
        }
    );
    for (run, stem) in runs {
        let _ = writeln!(
            out,
            "- **{}** — {} states; {}{} ([plot]({}))",
            run.scenario.name,
            run.reach.states(),
            run.reach.saturation_line(),
            if run.reach.saturated() {
                "; saturated"
            } else {
                ""
            },
            coverage_plot_path(&stem)
        );
    }
    out
}

/// One line per run that has a coverage sentence (a systematic search that found nothing),
/// each between `prefix` and `suffix`; empty when no run has one.
fn certificates(rows: &[Row<'_>], prefix: &str, suffix: &str) -> String {
    let mut out = String::new();
    for run in rows.iter().map(|row| row.run) {
        if let Some(sentence) = run.certificate() {
            let _ = writeln!(out, "{prefix}{}: {sentence}{suffix}", run.scenario.name);
        }
    }
    if !out.is_empty() {
        out.insert(0, '\n');
    }
    out
}

/// `reports/summary.md`: the last run as a Markdown table, with links to failure artefacts.
pub fn summary_markdown(rows: &[Row<'_>]) -> String {
    let mut out = String::from(
        "# Last scenario run\n\nGenerated by `vigil run`; do not edit (see `README.md`).\n\n\
         | scenario | outcome | expected | executions | schedules | states | last 10 % found | checks skipped | verdict |\n\
         |---|---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for row in rows {
        let run = row.run;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            run.scenario.name,
            run.outcome(),
            expect_label(&run.scenario.expect),
            run.executions,
            run.distinct_schedules,
            run.reach.states(),
            tail_share(run),
            skipped_share(run),
            verdict(run)
        );
    }
    let noted: Vec<&ScenarioRun> = rows
        .iter()
        .map(|row| row.run)
        .filter(|run| run.failure.is_none() && !run.notes.is_empty())
        .collect();
    if !noted.is_empty() {
        out.push_str("\n## Notes\n\n");
        for run in noted {
            for note in &run.notes {
                let _ = writeln!(out, "- **{}** — {note}", run.scenario.name);
            }
        }
    }
    out.push_str(&coverage_section(rows));
    let certified = certificates(rows, "- ", "");
    if !certified.is_empty() {
        out.push_str("\n## Systematic search\n");
        out.push_str(&certified);
    }
    let failures: Vec<(&ScenarioRun, String)> = rows
        .iter()
        .map(|row| row.run)
        .zip(artefact_stems(rows))
        .filter(|(run, _)| run.failure.is_some())
        .collect();
    if !failures.is_empty() {
        out.push_str("\n## Failures\n\n");
        for (run, stem) in failures {
            let failure = run
                .failure
                .as_ref()
                .map_or("", |failure| failure.message.as_str());
            let mut lines = failure.lines();
            let first_line = lines.next().unwrap_or("");
            let _ = writeln!(
                out,
                "- **{}** — {}: {first_line} ([explorer](failures/{stem}.html), \
                 [trace](failures/{stem}.trace.txt), [timeline](failures/{stem}.svg))",
                run.scenario.name,
                run.outcome()
            );
            let rest: Vec<&str> = lines.collect();
            if !rest.is_empty() {
                out.push('\n');
                for line in rest {
                    let _ = writeln!(out, "      {line}");
                }
                out.push('\n');
            }
            if let Some(shrunk) = run.failure.as_ref().and_then(|f| f.shrunk.as_ref()) {
                let _ = writeln!(out, "  - {}", shrunk.describe());
                let _ = writeln!(out, "  - the bug {}", shrunk.depth());
            }
            for note in &run.notes {
                let _ = writeln!(out, "  - {note}");
            }
        }
    }
    out
}

/// The failing execution's full trace as stable text, headed by what failed and how to
/// replay it.
pub fn trace_text(run: &ScenarioRun) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "scenario: {} ({})", run.scenario.name, run.file);
    let _ = writeln!(out, "outcome:  {}", run.outcome());
    let _ = writeln!(out, "expected: {}", expect_label(&run.scenario.expect));
    if let Some(failure) = &run.failure {
        let _ = writeln!(out, "seed:     {:#x}", failure.seed);
        let _ = writeln!(
            out,
            "execution: {} ({} steps)",
            failure.execution_idx, failure.steps
        );
        let _ = writeln!(out, "replay:   {}", failure.replay_command);
        if let Some(shrunk) = &failure.shrunk {
            let _ = writeln!(out, "shrunk:   {}", shrunk.describe());
            let _ = writeln!(out, "depth:    the bug {}", shrunk.depth());
        }
        for note in &run.notes {
            let _ = writeln!(out, "note:     {note}");
        }
        let _ = writeln!(out, "\n{}\n", failure.message);
    }
    if let Some(workload) = &run.workload {
        let _ = writeln!(out, "generated workload:\n\n{}", workload.to_toml());
    }
    out.push_str(&run.trace.render());
    out
}

/// The runs as JSON (one object with a `scenarios` array), for CI systems.
pub fn json(rows: &[Row<'_>]) -> String {
    let scenarios: Vec<serde_json::Value> = rows
        .iter()
        .map(|row| {
            let run = row.run;
            let mut value = serde_json::json!({
                "name": run.scenario.name,
                "file": run.file,
                "outcome": run.outcome(),
                "expected": expect_label(&run.scenario.expect),
                "as_expected": run.as_expected(),
                "executions": run.executions,
                "distinct_schedules": run.distinct_schedules,
                "states": run.reach.states(),
                "saturation": {
                    "text": run.reach.saturation_line(),
                    "last_tenth_share": run.reach.tail_share(),
                    "saturated": run.reach.saturated(),
                },
                "checks_read": run.checks_read,
                "checks_skipped_lock_held": run.checks_skipped,
            });
            if let Some(failure) = &run.failure {
                value["failure"] = serde_json::json!({
                    "message": failure.message,
                    "seed": failure.seed,
                    "execution": failure.execution_idx,
                    "steps": failure.steps,
                    "schedule": failure.schedule,
                    "replay": failure.replay_command,
                });
                if let Some(shrunk) = &failure.shrunk {
                    let size = |size: &crate::shrink::Size| {
                        serde_json::json!({
                            "preemptions": size.preemptions,
                            "faults": size.faults,
                            "steps": size.steps,
                        })
                    };
                    let below: Vec<serde_json::Value> = shrunk
                        .below
                        .iter()
                        .map(|check| {
                            serde_json::json!({
                                "preemptions": check.preemptions,
                                "faults": check.faults,
                                "executions": check.executions,
                                "exhaustive": check.exhaustive,
                            })
                        })
                        .collect();
                    value["failure"]["shrunk"] = serde_json::json!({
                        "original": size(&shrunk.original),
                        "shrunk": size(&shrunk.size),
                        "replays": shrunk.runs,
                        "stopped_early": shrunk.stopped_early,
                        "depth": shrunk.depth(),
                        "depth_proven": shrunk.depth_proven(),
                        "smaller_bounds": below,
                    });
                }
            }
            if !run.notes.is_empty() {
                value["notes"] = serde_json::json!(run.notes);
            }
            if let Observed::Vacuous { unfired } = &run.observed {
                value["unfired_faults"] = serde_json::json!(unfired);
            }
            if let (Some(sentence), Some(coverage)) = (run.certificate(), run.coverage) {
                value["certificate"] = serde_json::json!({
                    "text": sentence,
                    "exhaustive": coverage.exhaustive,
                    "preemptions_max": coverage.preemptions_max,
                    "faults_max": coverage.faults_max,
                    "open_branches": coverage.open_branches,
                });
            }
            if let Some(shard) = &run.shard_log {
                value["shard"] = shard.to_json();
            }
            if let Some(tally) = &run.dispatch {
                value["dispatch"] = tally.to_json();
            }
            if let Some(elapsed) = row.elapsed {
                value["elapsed_ms"] = serde_json::json!(elapsed.as_millis() as u64);
            }
            value
        })
        .collect();
    let unexpected = rows.iter().filter(|row| !row.run.as_expected()).count();
    let document = serde_json::json!({
        "scenarios": scenarios,
        "total": rows.len(),
        "unexpected": unexpected,
    });
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
    text.push('\n');
    text
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The runs as JUnit XML: one test case per scenario, a failure element when unexpected.
pub fn junit(rows: &[Row<'_>]) -> String {
    let unexpected = rows.iter().filter(|row| !row.run.as_expected()).count();
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n  <testsuite name=\"vigil\" \
         tests=\"{}\" failures=\"{unexpected}\">\n",
        rows.len()
    );
    for row in rows {
        let run = row.run;
        let time = row.elapsed.map_or(0.0, |elapsed| elapsed.as_secs_f64());
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" time=\"{time:.3}\"",
            xml_escape(&run.file),
            xml_escape(&run.scenario.name)
        );
        if run.as_expected() {
            match run.certificate() {
                Some(sentence) => {
                    let _ = write!(
                        out,
                        ">\n      <system-out>{}</system-out>\n    </testcase>\n",
                        xml_escape(&sentence)
                    );
                }
                None => out.push_str("/>\n"),
            }
            continue;
        }
        let details = unexpected_details(&[*row]);
        let _ = write!(
            out,
            ">\n      <failure message=\"{} (expected {})\">{}</failure>\n    </testcase>\n",
            xml_escape(&run.outcome()),
            xml_escape(&expect_label(&run.scenario.expect)),
            xml_escape(&details)
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
