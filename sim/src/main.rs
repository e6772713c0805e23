//! The `vigil` command: run, explore, replay and report on scenario files.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

mod merge;
use vigil_sim::report::{self, Row};
use vigil_sim::scenario::{self, Scenario, StrategyKind};
use vigil_sim::{
    Overrides, ScenarioRun, Schedule, replay_scenario, run_scenario_with_progress, stopwatch,
};

/// A long search makes and frees many small allocations per step for hours while its log
/// grows; glibc's allocator slows down as its heap fragments (about a quarter of such a run's
/// time went to `malloc` and `free`), mimalloc does not. Measured on 300,000 executions of
/// d3-05's DPOR search, one run after the other: 175.6 CPU seconds with glibc's allocator,
/// 140.9 with mimalloc (`benches/README.md`, "Window scenarios").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Every outcome as expected.
const EXIT_OK: u8 = 0;
/// A scenario failed (or could not be run faithfully) when it was expected to pass, or failed
/// a different invariant than expected.
const EXIT_UNEXPECTED_FAILURE: u8 = 1;
/// A scenario expected to fail passed (or passed vacuously).
const EXIT_UNEXPECTED_PASS: u8 = 2;
/// The command line, a scenario file or a schedule could not be used; nothing ran.
const EXIT_BAD_INPUT: u8 = 3;
/// Ctrl-C stopped the run between executions; what ran was reported.
const EXIT_INTERRUPTED: u8 = 4;

#[derive(Parser, Debug)]
#[command(
    name = "vigil",
    version,
    about = "Deterministic simulation of the vigil worker pool",
    after_help = "Exit codes:\n  0  every outcome as expected\n  1  a scenario failed (or could not \
                  be run faithfully) when expected to pass, or failed another invariant\n  \
                  2  a scenario expected to fail passed\n  3  bad input: the command line, a \
                  scenario file or a schedule could not be used; nothing ran\n  4  interrupted (Ctrl-C): \
                  what ran before the interrupt was reported"
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
        spread: Spread,
        #[command(flatten)]
        output: Output,
    },
    /// Explore one scenario with another strategy, seed or budget.
    Explore {
        /// The scenario file to explore.
        file: PathBuf,
        /// The root seed instead of the file's: decimal or 0x-prefixed hex, any u64.
        #[arg(long, value_parser = parse_seed)]
        seed: Option<u64>,
        /// The strategy instead of the file's.
        #[arg(long, value_enum)]
        strategy: Option<StrategyArg>,
        /// PCT's depth, at least 1 (only with `--strategy pct`; default 3).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
        depth: Option<u32>,
        /// The preemption bound (only with `--strategy dfs` or `dpor`; default 2).
        #[arg(long)]
        preemptions: Option<u32>,
        /// The bound on chosen faults per execution (only with `--strategy dpor`; default 1).
        #[arg(long)]
        faults: Option<u32>,
        /// How many executions at most, instead of the file's budget.
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
        executions: Option<u64>,
        /// Split a dfs or dpor search at this many branching choice points, instead of the
        /// file's `split_depth`: above it the search is exhaustive, and each subtree below
        /// is a unit that `--jobs` and `--shard` share out (0: run the search whole).
        #[arg(long)]
        split_depth: Option<u32>,
        /// Keep a dpor search's state in this file, saved every million executions and when
        /// the search stops (Ctrl-C included); when the file exists, resume from it. A resumed
        /// search reports what one uninterrupted run would have. For certifications that take
        /// hours: run the same command again to go on.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        #[command(flatten)]
        spread: Spread,
        #[command(flatten)]
        output: Output,
    },
    /// Merge the JSON reports of `--shard K/N` runs (all N shards of the same command) into
    /// the summary, verdicts and reports of the unsharded run. Run it from the folder the
    /// shards ran in: the scenario files are read again to reproduce and shrink failures.
    Merge {
        /// The shards' JSON reports (`--json` output), in any order.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[command(flatten)]
        to: Destinations,
    },
    /// Split a dpor search saved with `explore --checkpoint` in two, to run on two cores or
    /// machines: NEW takes the shallowest alternative the search had scheduled and FILE keeps
    /// the rest. Resume each with the command that saved FILE (`--checkpoint NEW` for the
    /// new part); the bound is exhausted when both searches are, and the whole search ran
    /// both counts of executions less the count at the split. Split either part again for
    /// more.
    SplitCheckpoint {
        /// The checkpoint to split (rewritten in place).
        file: PathBuf,
        /// The new part's checkpoint; must not exist.
        new: PathBuf,
    },
    /// Replay one schedule (a `v1:` string or a schedule file) of a scenario.
    Replay {
        /// The scenario file the schedule was recorded for.
        file: PathBuf,
        /// A `v1:` string (as printed with failures) or a schedule file.
        schedule: String,
        /// Print the whole trace, not just the outcome.
        #[arg(long)]
        trace: bool,
    },
    /// Shrink a failing schedule of a scenario to a minimal one that fails the same way.
    Shrink {
        /// The scenario file the schedule was recorded for.
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
        /// Scenario files and folders (default: the corpus).
        #[arg(default_value = "scenarios")]
        paths: Vec<PathBuf>,
        /// Where to write the reports.
        #[arg(long, default_value = "reports")]
        reports: PathBuf,
    },
}

/// How the search is spread over threads and machines.
#[derive(clap::Args, Debug)]
struct Spread {
    /// OS threads to explore on (one executor each); default: the machine's cores. Splits
    /// random and portfolio searches; systematic searches and PCT run on one thread. The
    /// results are the same for every value; only times differ.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    jobs: Option<u64>,
    /// Run only shard K of N (1 <= K <= N) of every search, for a CI matrix; merge the
    /// shards' `--json` reports with `vigil merge`. A shard's own verdicts cover its part.
    #[arg(long, value_name = "K/N", value_parser = vigil_sim::Shard::parse)]
    shard: Option<vigil_sim::Shard>,
}

impl Spread {
    fn jobs(&self) -> u64 {
        self.jobs.unwrap_or_else(|| {
            std::thread::available_parallelism().map_or(1, |cores| cores.get() as u64)
        })
    }
}

/// Where results go: shared by the commands that report runs (`run`, `explore`, `merge`).
#[derive(clap::Args, Debug)]
struct Destinations {
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    json: bool,
    /// Also write JUnit XML to this file.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Where to write the summary and failure artefacts. Default: `reports` when running the
    /// corpus (`vigil run scenarios`), otherwise `target/vigil-reports`, so a partial run, an
    /// exploration or a merge never overwrites the corpus's committed summary.
    #[arg(long)]
    reports: Option<PathBuf>,
    /// Do not write reports.
    #[arg(long)]
    no_reports: bool,
}

#[derive(clap::Args, Debug)]
struct Output {
    #[command(flatten)]
    to: Destinations,
    /// Report failures as found instead of shrinking them first.
    #[arg(long)]
    no_shrink: bool,
}

impl Output {
    /// Fills in the default reports folder: `reports` for the corpus, else a folder of its own.
    fn resolved(mut self, corpus: bool) -> Output {
        if self.to.reports.is_none() {
            let default = if corpus {
                "reports"
            } else {
                "target/vigil-reports"
            };
            self.to.reports = Some(PathBuf::from(default));
        }
        self
    }
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum StrategyArg {
    Random,
    Pct,
    Dfs,
    /// Partial-order reduction within `--preemptions` and `--faults`, with a certificate.
    Dpor,
    /// Random walk and PCT at depths 2, 3 and 5 by turns (split over `--jobs` and shards).
    Portfolio,
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
            spread,
            output,
        } => {
            let mut scenarios = load_all(&paths)?;
            if let Some(patch) = mutant {
                scenarios = expect_mutant(scenarios, &patch)?;
            }
            let overrides = Overrides {
                no_shrink: output.no_shrink,
                jobs: spread.jobs(),
                shard: spread.shard,
                ..Overrides::default()
            };
            let corpus = paths.len() == 1
                && paths[0]
                    .components()
                    .eq(Path::new("scenarios").components());
            let output = output.resolved(corpus);
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
            split_depth,
            checkpoint,
            spread,
            output,
        } => {
            let pct = matches!(strategy, Some(StrategyArg::Pct));
            let bounded = matches!(strategy, Some(StrategyArg::Dfs | StrategyArg::Dpor));
            if depth.is_some() && !pct {
                bail!("--depth is PCT's depth: use it with --strategy pct");
            }
            if preemptions.is_some() && !bounded {
                bail!(
                    "--preemptions bounds a systematic search: use it with --strategy dfs or dpor"
                );
            }
            if faults.is_some() && !matches!(strategy, Some(StrategyArg::Dpor)) {
                bail!("--faults bounds dpor's fault choices: use it with --strategy dpor");
            }
            let scenarios = load_all(&[file])?;
            let preemptions = preemptions.unwrap_or(2);
            let strategy = strategy.map(|strategy| match strategy {
                StrategyArg::Random => StrategyKind::Random,
                StrategyArg::Pct => StrategyKind::Pct {
                    depth: depth.unwrap_or(3),
                },
                StrategyArg::Dfs => StrategyKind::Dfs {
                    preemptions_max: preemptions,
                },
                StrategyArg::Dpor => StrategyKind::Dpor {
                    preemptions_max: preemptions,
                    faults_max: faults.unwrap_or(1),
                },
                StrategyArg::Portfolio => StrategyKind::Portfolio,
            });
            if split_depth.is_some() {
                let kind = strategy.unwrap_or(scenarios[0].1.strategy.kind);
                if !matches!(kind, StrategyKind::Dfs { .. } | StrategyKind::Dpor { .. }) {
                    bail!(
                        "--split-depth splits a systematic search, but the strategy is {}: use \
                         it with --strategy dfs or dpor",
                        kind.name()
                    );
                }
            }
            let overrides = Overrides {
                seed,
                strategy,
                executions,
                split_depth,
                no_shrink: output.no_shrink,
                jobs: spread.jobs(),
                shard: spread.shard,
                checkpoint,
                ..Overrides::default()
            };
            match vigil_sim::checkpoint_status(&scenarios[0].1, &overrides) {
                Err(error) => bail!("--checkpoint: {error}"),
                Ok(Some(ran)) => eprintln!(
                    "vigil: resuming the search saved in {} after {ran} executions",
                    overrides
                        .checkpoint
                        .as_deref()
                        .unwrap_or(Path::new(""))
                        .display()
                ),
                Ok(None) => {}
            }
            let output = output.resolved(false);
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
        Command::SplitCheckpoint { file, new } => {
            let split = vigil_sim::split_checkpoint(&file, &new).map_err(anyhow::Error::msg)?;
            println!(
                "split after {} executions at choice point {}: {} runs {} there, {} keeps the \
                 rest; the whole search ran both counts of executions less {}",
                split.executions,
                split.depth,
                new.display(),
                split.actor,
                file.display(),
                split.executions
            );
            Ok(EXIT_OK)
        }
        Command::Merge { files, to } => {
            // The shards recorded whether they shrink; the merge follows them.
            let output = Output {
                to,
                no_shrink: false,
            }
            .resolved(false);
            let runs = merge::merge(&files)?;
            let runs: Vec<(vigil_sim::ScenarioRun, Option<Duration>)> =
                runs.into_iter().map(|run| (run, None)).collect();
            report_runs(&runs, &output, false)
        }
        Command::Report { paths, reports } => {
            let scenarios = load_all(&paths)?;
            let output = Output {
                to: Destinations {
                    json: false,
                    junit: None,
                    reports: Some(reports),
                    no_reports: false,
                },
                no_shrink: false,
            };
            let overrides = Overrides {
                jobs: Spread {
                    jobs: None,
                    shard: None,
                }
                .jobs(),
                ..Overrides::default()
            };
            run_and_report(&scenarios, &overrides, &output)
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

/// A seed on the command line: decimal or 0x-prefixed hex, any u64.
fn parse_seed(text: &str) -> Result<u64, String> {
    vigil_sim::parse_seed(text)
        .ok_or_else(|| format!("{text:?} is not a seed: use a decimal or 0x-prefixed hex u64"))
}

fn display_paths(paths: &[PathBuf]) -> String {
    let names: Vec<String> = paths
        .iter()
        .map(|path| path.display().to_string())
        .collect();
    names.join(", ")
}

/// Adds the scenario files under `path` to `files`, once each: a file named twice (or reached
/// through two paths) is run once, and a folder reached again through a symlink is skipped
/// rather than walked for ever.
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut seen_files = std::collections::BTreeSet::new();
    for file in files.iter() {
        if let Ok(real) = file.canonicalize() {
            seen_files.insert(real);
        }
    }
    let mut seen_dirs = std::collections::BTreeSet::new();
    walk(path, files, &mut seen_files, &mut seen_dirs)
}

fn walk(
    path: &Path,
    files: &mut Vec<PathBuf>,
    seen_files: &mut std::collections::BTreeSet<PathBuf>,
    seen_dirs: &mut std::collections::BTreeSet<PathBuf>,
) -> Result<()> {
    let real = path
        .canonicalize()
        .with_context(|| format!("{}: no such file or folder", path.display()))?;
    if path.is_file() {
        if seen_files.insert(real) {
            files.push(path.to_path_buf());
        }
        return Ok(());
    }
    if !path.is_dir() {
        bail!("{}: no such file or folder", path.display());
    }
    if !seen_dirs.insert(real) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .with_context(|| format!("cannot list {}", path.display()))?
        .map(|entry| entry.map(|entry| entry.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot list {}", path.display()))?;
    entries.sort();
    for entry in entries {
        if entry.is_dir() || entry.extension().is_some_and(|ext| ext == "toml") {
            walk(&entry, files, seen_files, seen_dirs)?;
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

/// The flag a Ctrl-C sets; the handler is installed on first use.
fn interrupt_flag() -> Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let handler_flag = flag.clone();
        // Without a handler Ctrl-C simply ends the process, as before.
        let _ = ctrlc::set_handler(move || handler_flag.store(true, Ordering::Relaxed));
        flag
    })
    .clone()
}

/// How often a run without a terminal prints a progress line.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

fn run_and_report(
    scenarios: &[(String, Scenario)],
    overrides: &Overrides,
    output: &Output,
) -> Result<u8> {
    let bar = progress_bar();
    let terminal = std::io::stderr().is_terminal();
    let started = stopwatch();
    let interrupt = interrupt_flag();
    let overrides = Overrides {
        interrupt: Some(interrupt.clone()),
        ..overrides.clone()
    };
    let mut runs: Vec<(ScenarioRun, Duration)> = Vec::with_capacity(scenarios.len());
    for (index, (file, scenario)) in scenarios.iter().enumerate() {
        if interrupt.load(Ordering::Relaxed) {
            break;
        }
        let executions = overrides.executions.unwrap_or(scenario.strategy.executions);
        let label = format!("[{}/{}] {}", index + 1, scenarios.len(), scenario.name);
        bar.set_length(executions);
        bar.set_position(0);
        bar.set_message(label.clone());
        if !terminal {
            eprintln!("vigil: {label}: {executions} executions");
        }
        let elapsed = stopwatch();
        let tick = bar.clone();
        let since_line = stopwatch();
        let mut next_line = PROGRESS_EVERY;
        let run = run_scenario_with_progress(scenario, file, &overrides, move |done| {
            // The bar appears only on a terminal, once the whole run has taken a second.
            if terminal && tick.is_hidden() && started() >= Duration::from_secs(1) {
                tick.set_draw_target(ProgressDrawTarget::stderr());
            }
            tick.set_position(done);
            // Without a terminal, a plain line every few seconds.
            if !terminal && since_line() >= next_line {
                let seconds = since_line().as_secs_f64();
                eprintln!(
                    "vigil: {label}: {done}/{executions} executions, {:.0}/s",
                    done as f64 / seconds.max(1e-9)
                );
                next_line += PROGRESS_EVERY;
            }
        });
        runs.push((run, elapsed()));
    }
    let interrupted = interrupt.load(Ordering::Relaxed);
    if interrupted {
        eprintln!(
            "vigil: interrupted; {} of {} scenarios ran (the last one cut short); reporting those",
            runs.len(),
            scenarios.len()
        );
    }
    bar.finish_and_clear();
    let runs: Vec<(ScenarioRun, Option<Duration>)> = runs
        .into_iter()
        .map(|(run, elapsed)| (run, Some(elapsed)))
        .collect();
    report_runs(&runs, output, interrupted)
}

/// Prints and writes what `runs` found, and the exit code that says so.
fn report_runs(
    runs: &[(ScenarioRun, Option<Duration>)],
    output: &Output,
    interrupted: bool,
) -> Result<u8> {
    let rows: Vec<Row<'_>> = runs
        .iter()
        .map(|(run, elapsed)| Row {
            run,
            elapsed: *elapsed,
        })
        .collect();
    if output.to.json {
        print!("{}", report::json(&rows));
    } else {
        print!("{}", report::summary_table(&rows));
        let details = report::unexpected_details(&rows);
        if !details.is_empty() {
            print!("\n{details}");
        }
    }
    if let Some(junit) = &output.to.junit {
        write_atomically(junit, &report::junit(&rows))?;
    }
    if !output.to.no_reports
        && let Some(dir) = &output.to.reports
    {
        write_reports(dir, &rows)?;
        eprintln!("vigil: reports written to {}", dir.display());
    }
    if interrupted {
        return Ok(EXIT_INTERRUPTED);
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
    // Everything is written to a staging folder first; only when all of it is written do the
    // old failure artefacts go and the new files move in, so a failed write (a full disk, a
    // read-only folder) leaves the previous reports as they were.
    let staging = dir.join(".vigil-staging");
    let written = stage_reports(&staging, rows);
    if let Err(error) = written {
        let _ = std::fs::remove_dir_all(&staging);
        return Err(error.context(format!(
            "the reports in {} were left as they were",
            dir.display()
        )));
    }
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
    std::fs::create_dir_all(&failures)
        .with_context(|| format!("cannot create {}", failures.display()))?;
    let staged_failures = staging.join("failures");
    if staged_failures.is_dir() {
        for entry in std::fs::read_dir(&staged_failures)? {
            let path = entry?.path();
            let target = failures.join(path.file_name().unwrap_or_default());
            std::fs::rename(&path, &target)
                .with_context(|| format!("cannot write {}", target.display()))?;
        }
    }
    replace_folder(&staging.join("coverage"), &dir.join("coverage"))?;
    let summary = dir.join("summary.md");
    std::fs::rename(staging.join("summary.md"), &summary)
        .with_context(|| format!("cannot write {}", summary.display()))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}

/// Replaces the plots in `target` with the staged ones in `staged` (none left when none were
/// staged), so the folder describes the last run only.
fn replace_folder(staged: &Path, target: &Path) -> Result<()> {
    if target.is_dir() {
        for entry in std::fs::read_dir(target)? {
            let path = entry?.path();
            if path.extension().is_some_and(|ext| ext == "svg") {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
    }
    if staged.is_dir() {
        std::fs::create_dir_all(target)
            .with_context(|| format!("cannot create {}", target.display()))?;
        for entry in std::fs::read_dir(staged)? {
            let path = entry?.path();
            let destination = target.join(path.file_name().unwrap_or_default());
            std::fs::rename(&path, &destination)
                .with_context(|| format!("cannot write {}", destination.display()))?;
        }
    }
    Ok(())
}

fn stage_reports(staging: &Path, rows: &[Row<'_>]) -> Result<()> {
    if staging.exists() {
        std::fs::remove_dir_all(staging)
            .with_context(|| format!("cannot clear {}", staging.display()))?;
    }
    let failures = staging.join("failures");
    write_atomically(&staging.join("summary.md"), &report::summary_markdown(rows))?;
    let stems = report::artefact_stems(rows);
    for (row, stem) in rows.iter().zip(&stems) {
        if row.run.reach.states() > 0 {
            write_atomically(
                &staging.join(report::coverage_plot_path(stem)),
                &report::coverage_svg(row.run),
            )?;
        }
        if row.run.failure.is_none() {
            continue;
        }
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

/// A schedule given on the command line (a `v1:`/`v2:` string or the path of a schedule
/// file), refused when it was recorded for a scenario other than `scenario` (`file`).
fn schedule_argument(schedule: &str, scenario: &Scenario, file: &Path) -> Result<Schedule> {
    let parsed = if Path::new(schedule).is_file() {
        let text = std::fs::read_to_string(schedule)
            .with_context(|| format!("cannot read schedule file {schedule}"))?;
        Schedule::from_file_text(&text).with_context(|| format!("schedule file {schedule}"))?
    } else {
        Schedule::decode(schedule).context("the schedule argument")?
    };
    scenario
        .check_schedule(&parsed)
        .map_err(|problem| anyhow::anyhow!("{}: {problem}", file.display()))?;
    Ok(parsed)
}

fn shrink(file: &Path, schedule: &str, save: Option<&Path>, show_trace: bool) -> Result<u8> {
    let scenario = scenario::load(file)?;
    let schedule = schedule_argument(schedule, &scenario, file)?;
    let run = vigil_sim::shrink_scenario(&scenario, &file.display().to_string(), schedule);
    let Some(failure) = &run.failure else {
        bail!(
            "the schedule does not fail on {}: it replays to {}, so there is nothing to shrink",
            file.display(),
            run.outcome()
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
    let schedule = schedule_argument(schedule, &scenario, file)?;
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
