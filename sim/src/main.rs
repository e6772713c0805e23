//! The `vigil` command: run, explore, replay and report on scenario files.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use vigil_sim::report::{self, Row};
use vigil_sim::scenario::{self, Scenario, StrategyKind};
use vigil_sim::{
    Overrides, ScenarioRun, Schedule, replay_scenario, run_scenario_with_progress, stopwatch,
};

/// Every outcome as expected.
const EXIT_OK: u8 = 0;
/// A scenario failed (or could not be run faithfully) when it was expected to pass, or failed
/// a different invariant than expected.
const EXIT_UNEXPECTED_FAILURE: u8 = 1;
/// A scenario expected to fail passed (or passed vacuously).
const EXIT_UNEXPECTED_PASS: u8 = 2;
/// The command line, a scenario file or a schedule could not be used; nothing ran.
const EXIT_BAD_INPUT: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "vigil",
    version,
    about = "Deterministic simulation of the vigil worker pool"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run scenario files and folders; exit 0 only when every outcome is as expected.
    Run {
        /// Scenario files (`*.toml`) and folders searched recursively.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Run only the scenarios whose `[mutant]` table names this patch, expecting each to
        /// fail its mutant invariant (used by the mutant suite on a patched build).
        #[arg(long, value_name = "PATCH")]
        mutant: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Explore one scenario with another strategy, seed or budget.
    Explore {
        file: PathBuf,
        #[arg(long)]
        seed: Option<u64>,
        #[arg(long, value_enum)]
        strategy: Option<StrategyArg>,
        /// PCT's depth (with `--strategy pct`).
        #[arg(long, default_value_t = 3)]
        depth: u32,
        /// The preemption bound (with `--strategy dfs` or `dpor`).
        #[arg(long, default_value_t = 2)]
        preemptions: u32,
        /// The bound on chosen faults per execution (with `--strategy dpor`).
        #[arg(long, default_value_t = 1)]
        faults: u32,
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        executions: Option<u64>,
        #[command(flatten)]
        output: Output,
    },
    /// Replay one schedule (a `v1:` string or a schedule file) of a scenario.
    Replay {
        file: PathBuf,
        schedule: String,
        /// Print the whole trace, not just the outcome.
        #[arg(long)]
        trace: bool,
    },
    /// Shrink a failing schedule of a scenario to a minimal one that fails the same way.
    Shrink {
        file: PathBuf,
        /// A `v1:` string or a schedule file.
        schedule: String,
        /// Write the shrunk failure as a regression scenario (the scenario with the shrunk
        /// schedule pinned, expecting the same failure) to this file.
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
        /// Print the whole shrunk trace, not just the outcome.
        #[arg(long)]
        trace: bool,
    },
    /// Regenerate reports/ by running the scenario corpus (same as `run scenarios`).
    Report {
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        #[arg(long, default_value = "reports")]
        reports: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct Output {
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Where to write the summary and failure artefacts.
    #[arg(long, default_value = "reports")]
    reports: PathBuf,
    /// Do not write reports.
    #[arg(long)]
    no_reports: bool,
    /// Report failures as found instead of shrinking them first.
    #[arg(long)]
    no_shrink: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StrategyArg {
    Random,
    Pct,
    Dfs,
    /// Partial-order reduction within `--preemptions` and `--faults`, with a certificate.
    Dpor,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            let code = if error.use_stderr() {
                EXIT_BAD_INPUT
            } else {
                EXIT_OK
            };
            let _ = error.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            eprintln!("vigil: {error:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run {
            paths,
            mutant,
            output,
        } => {
            let mut scenarios = load_all(&paths)?;
            if let Some(patch) = mutant {
                scenarios = expect_mutant(scenarios, &patch)?;
            }
            let overrides = Overrides {
                no_shrink: output.no_shrink,
                ..Overrides::default()
            };
            run_and_report(&scenarios, &overrides, &output)
        }
        Command::Explore {
            file,
            seed,
            strategy,
            depth,
            preemptions,
            faults,
            executions,
            output,
        } => {
            let scenarios = load_all(&[file])?;
            let strategy = strategy.map(|strategy| match strategy {
                StrategyArg::Random => StrategyKind::Random,
                StrategyArg::Pct => StrategyKind::Pct { depth },
                StrategyArg::Dfs => StrategyKind::Dfs {
                    preemptions_max: preemptions,
                },
                StrategyArg::Dpor => StrategyKind::Dpor {
                    preemptions_max: preemptions,
                    faults_max: faults,
                },
            });
            let overrides = Overrides {
                seed,
                strategy,
                executions,
                no_shrink: output.no_shrink,
            };
            run_and_report(&scenarios, &overrides, &output)
        }
        Command::Replay {
            file,
            schedule,
            trace,
        } => replay(&file, &schedule, trace),
        Command::Shrink {
            file,
            schedule,
            save,
            trace,
        } => shrink(&file, &schedule, save.as_deref(), trace),
        Command::Report { paths, reports } => {
            let scenarios = load_all(&paths)?;
            let output = Output {
                json: false,
                junit: None,
                reports,
                no_reports: false,
                no_shrink: false,
            };
            run_and_report(&scenarios, &Overrides::default(), &output)
        }
    }
}

/// Every scenario file named by `paths` (folders searched recursively, in name order). All
/// files are parsed before anything runs, so one bad file stops the whole command.
fn load_all(paths: &[PathBuf]) -> Result<Vec<(String, Scenario)>> {
    let mut files = Vec::new();
    for path in paths {
        collect(path, &mut files)?;
    }
    if files.is_empty() {
        bail!(
            "no scenario files (*.toml) found in {}",
            display_paths(paths)
        );
    }
    let mut scenarios = Vec::with_capacity(files.len());
    let mut errors = Vec::new();
    for file in files {
        match scenario::load(&file) {
            Ok(scenario) => scenarios.push((file.display().to_string(), scenario)),
            Err(error) => errors.push(error.to_string()),
        }
    }
    if !errors.is_empty() {
        bail!(
            "{} scenario file(s) are invalid; nothing was run:\n  {}",
            errors.len(),
            errors.join("\n  ")
        );
    }
    Ok(scenarios)
}

/// Keeps the scenarios that document mutant `patch`, each now expected to fail its
/// invariant.
fn expect_mutant(
    scenarios: Vec<(String, Scenario)>,
    patch: &str,
) -> Result<Vec<(String, Scenario)>> {
    let chosen: Vec<(String, Scenario)> = scenarios
        .into_iter()
        .filter_map(|(file, mut scenario)| {
            let invariant = scenario
                .mutant
                .as_ref()
                .filter(|m| m.patch == patch)?
                .invariant;
            scenario.expect = scenario::Expect::Fail { invariant };
            Some((file, scenario))
        })
        .collect();
    if chosen.is_empty() {
        bail!("no scenario names mutant '{patch}' in a [mutant] table");
    }
    Ok(chosen)
}

fn display_paths(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    names.join(", ")
}

fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    if path.is_file() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    if !path.is_dir() {
        bail!("{}: no such file or folder", path.display());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", path.display()))?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            collect(&entry, files)?;
        } else if entry.extension().is_some_and(|ext| ext == "toml") {
            files.push(entry);
        }
    }
    Ok(())
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
    if let Ok(style) = ProgressStyle::with_template("{msg} {bar:30} {pos}/{len} executions") {
        bar.set_style(style);
    }
    bar
}

fn run_and_report(
    scenarios: &[(String, Scenario)],
    overrides: &Overrides,
    output: &Output,
) -> Result<u8> {
    let bar = progress_bar();
    let terminal = std::io::stderr().is_terminal();
    let started = stopwatch();
    let mut runs: Vec<(ScenarioRun, Duration)> = Vec::with_capacity(scenarios.len());
    for (index, (file, scenario)) in scenarios.iter().enumerate() {
        let executions = overrides.executions.unwrap_or(scenario.strategy.executions);
        bar.set_length(executions);
        bar.set_position(0);
        bar.set_message(format!(
            "[{}/{}] {}",
            index + 1,
            scenarios.len(),
            scenario.name
        ));
        let elapsed = stopwatch();
        let tick = bar.clone();
        let run = run_scenario_with_progress(scenario, file, overrides, move |done| {
            // The bar appears only on a terminal, once the whole run has taken a second.
            if terminal && tick.is_hidden() && started() >= Duration::from_secs(1) {
                tick.set_draw_target(ProgressDrawTarget::stderr());
            }
            tick.set_position(done);
        });
        runs.push((run, elapsed()));
    }
    bar.finish_and_clear();
    let rows: Vec<Row<'_>> = runs
        .iter()
        .map(|(run, elapsed)| Row {
            run,
            elapsed: Some(*elapsed),
        })
        .collect();
    if output.json {
        print!("{}", report::json(&rows));
    } else {
        print!("{}", report::summary_table(&rows));
        let details = report::unexpected_details(&rows);
        if !details.is_empty() {
            print!("\n{details}");
        }
    }
    if let Some(junit) = &output.junit {
        write_atomically(junit, &report::junit(&rows))?;
    }
    if !output.no_reports {
        write_reports(&output.reports, &rows)?;
    }
    Ok(exit_code(&rows))
}

fn exit_code(rows: &[Row<'_>]) -> u8 {
    let mut code = EXIT_OK;
    for row in rows.iter().filter(|row| !row.run.as_expected()) {
        let failed = !matches!(
            row.run.observed,
            vigil_sim::Observed::Pass | vigil_sim::Observed::Vacuous { .. }
        );
        let expected_pass = matches!(row.run.scenario.expect, scenario::Expect::Pass);
        if failed || expected_pass {
            return EXIT_UNEXPECTED_FAILURE;
        }
        code = EXIT_UNEXPECTED_PASS;
    }
    code
}

/// Writes `reports/summary.md` and, per failure, `failures/<name>.trace.txt`, `.svg` and
/// `.html` (the explorer page) (and
/// `.regression.toml`, the failing generated workload as a fixed-step scenario).
/// Old failure artefacts are removed so the folder always describes the last run.
fn write_reports(dir: &Path, rows: &[Row<'_>]) -> Result<()> {
    let failures = dir.join("failures");
    if failures.is_dir() {
        for entry in std::fs::read_dir(&failures)? {
            let path = entry?.path();
            if path
                .extension()
                .is_some_and(|ext| ext == "txt" || ext == "svg" || ext == "toml" || ext == "html")
            {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
    }
    write_atomically(&dir.join("summary.md"), &report::summary_markdown(rows))?;
    for row in rows.iter().filter(|row| row.run.failure.is_some()) {
        let stem = report::artefact_stem(row.run);
        write_atomically(
            &failures.join(format!("{stem}.trace.txt")),
            &report::trace_text(row.run),
        )?;
        write_atomically(
            &failures.join(format!("{stem}.svg")),
            &report::timeline_svg(row.run),
        )?;
        write_atomically(
            &failures.join(format!("{stem}.html")),
            &report::explorer_html(row.run),
        )?;
        let regression = row
            .run
            .regression
            .clone()
            .or_else(|| vigil_sim::regression_scenario(row.run));
        if let Some(regression) = regression {
            write_atomically(
                &failures.join(format!("{stem}.regression.toml")),
                &regression,
            )?;
        }
    }
    Ok(())
}

/// Writes through a temporary file and a rename, so a reader never sees half a file.
fn write_atomically(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path
        .parent()
        .filter(|parent| !parent.as_os_str().is_empty())
    {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let temporary = path.with_extension("tmp-vigil");
    std::fs::write(&temporary, text)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    std::fs::rename(&temporary, path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// A schedule given on the command line: a `v1:` string or the path of a schedule file.
fn schedule_argument(schedule: &str) -> Result<Schedule> {
    if Path::new(schedule).is_file() {
        let text = std::fs::read_to_string(schedule)
            .with_context(|| format!("cannot read schedule file {schedule}"))?;
        Schedule::from_file_text(&text).with_context(|| format!("schedule file {schedule}"))
    } else {
        Schedule::decode(schedule).context("the schedule argument")
    }
}

fn shrink(file: &Path, schedule: &str, save: Option<&Path>, show_trace: bool) -> Result<u8> {
    let scenario = scenario::load(file)?;
    let schedule = schedule_argument(schedule)?;
    let run = vigil_sim::shrink_scenario(&scenario, &file.display().to_string(), schedule);
    let Some(failure) = &run.failure else {
        bail!(
            "the schedule does not fail on {}: it replays to {}, so there is nothing to shrink",
            file.display(),
            run.observed.label()
        );
    };
    println!("{failure}");
    if show_trace {
        print!("\n{}", run.trace.render());
    }
    if let Some(path) = save {
        let Some(regression) = vigil_sim::pinned_regression(&run) else {
            bail!(
                "the failure ({}) is not one of the scenario's invariants, so it cannot be \
                 saved as an expected failure",
                failure.kind
            );
        };
        write_atomically(path, &regression)?;
        println!("\nwrote {}", path.display());
    }
    Ok(EXIT_OK)
}

fn replay(file: &Path, schedule: &str, show_trace: bool) -> Result<u8> {
    let scenario = scenario::load(file)?;
    let schedule = schedule_argument(schedule)?;
    let run = replay_scenario(&scenario, &file.display().to_string(), schedule);
    let rows = [Row {
        run: &run,
        elapsed: None,
    }];
    print!("{}", report::summary_table(&rows));
    if let Some(failure) = &run.failure {
        println!("\n{failure}");
    }
    if show_trace {
        print!("\n{}", run.trace.render());
    }
    Ok(exit_code(&rows))
}
