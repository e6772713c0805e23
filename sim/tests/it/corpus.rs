//! The scenario corpus: every file under `scenarios/` runs and ends as it expects.

use std::path::{Path, PathBuf};

use vigil_sim::scenario;
use vigil_sim::{Overrides, run_scenario};

fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|ext| ext == "toml") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_scenario_in_the_corpus_ends_as_expected() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = corpus_files(&root);
    assert!(files.len() >= 2, "the corpus is missing: {files:?}");
    let mut unexpected = Vec::new();
    for file in files {
        let scenario = scenario::load(&file).unwrap_or_else(|error| panic!("{error}"));
        let run = run_scenario(
            &scenario,
            &file.display().to_string(),
            &Overrides::default(),
        );
        if !run.as_expected() {
            let detail = run.failure.as_ref().map_or_else(
                || format!("{:?}", run.observed),
                |failure| failure.to_string(),
            );
            unexpected.push(format!(
                "{}: {}\n{detail}",
                file.display(),
                run.observed.label()
            ));
        }
    }
    assert!(unexpected.is_empty(), "{}", unexpected.join("\n\n"));
}
