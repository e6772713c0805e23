//! `vigil merge`: the shards' JSON reports read back and combined into the unsharded run.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use vigil_sim::{ScenarioRun, ShardLog, merge_scenario, scenario};

/// One scenario as a shard's report names it.
struct Entry {
    name: String,
    file: String,
    log: ShardLog,
}

/// Reads every shard's report and merges each scenario's shards, in the reports' order.
pub(crate) fn merge(files: &[PathBuf]) -> Result<Vec<ScenarioRun>> {
    let mut reports = Vec::with_capacity(files.len());
    for file in files {
        reports.push(read_report(file)?);
    }
    let Some(first) = reports.first() else {
        bail!("no shard reports given");
    };
    let names: Vec<(&str, &str)> = first
        .iter()
        .map(|entry| (entry.name.as_str(), entry.file.as_str()))
        .collect();
    for (path, report) in files.iter().zip(&reports) {
        let theirs: Vec<(&str, &str)> = report
            .iter()
            .map(|entry| (entry.name.as_str(), entry.file.as_str()))
            .collect();
        if theirs != names {
            bail!(
                "{} ran other scenarios than {}: merge the shards of one command",
                path.display(),
                files[0].display()
            );
        }
    }
    let mut runs = Vec::with_capacity(names.len());
    for (position, (name, file)) in names.iter().enumerate() {
        let logs: Vec<ShardLog> = reports
            .iter()
            .map(|report| report[position].log.clone())
            .collect();
        let loaded = scenario::load(Path::new(file))
            .with_context(|| format!("scenario '{name}' is read again from {file} to merge"))?;
        let run = merge_scenario(&loaded, file, logs)
            .map_err(|error| anyhow::anyhow!("cannot merge the shards: {error}"))?;
        runs.push(run);
    }
    Ok(runs)
}

fn read_report(path: &Path) -> Result<Vec<Entry>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read shard report {}", path.display()))?;
    let document: Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON (a `vigil run --json` report)",
            path.display()
        )
    })?;
    let Some(scenarios) = document.get("scenarios").and_then(Value::as_array) else {
        bail!(
            "{}: no 'scenarios' list; is it a `vigil run --json` report?",
            path.display()
        );
    };
    let mut entries = Vec::with_capacity(scenarios.len());
    for (index, value) in scenarios.iter().enumerate() {
        let text = |field: &str| {
            value
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .with_context(|| format!("{}: scenario {index} has no '{field}'", path.display()))
        };
        let (name, file) = (text("name")?, text("file")?);
        let Some(shard) = value.get("shard") else {
            bail!(
                "{}: scenario '{name}' has no 'shard' object; run each shard with --shard K/N \
                 --json",
                path.display()
            );
        };
        let log = ShardLog::from_json(shard)
            .map_err(|error| anyhow::anyhow!("{}: scenario '{name}': {error}", path.display()))?;
        entries.push(Entry { name, file, log });
    }
    Ok(entries)
}
