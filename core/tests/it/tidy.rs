//! Tidy checks that run as ordinary tests: every Rust file says what it is for, nothing is
//! ignored or left unfinished, and the determinism bans have only their agreed exemptions.

use std::path::{Path, PathBuf};

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("core/ lives inside the workspace")
        .to_path_buf()
}

fn rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![workspace_root()];
    while let Some(dir) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|entry| entry.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "mutants" {
                    pending.push(path);
                }
            } else if name.ends_with(".rs") {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 10, "the walk found too few files: {files:?}");
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(workspace_root())
        .unwrap()
        .to_string_lossy()
        .replace('\\', "/")
}

/// Lines of every Rust file containing `needle`, except in files `allowed` names.
fn offenders(needle: &str, allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for path in rust_files() {
        let name = relative(&path);
        if allowed.contains(&name.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (index, line) in text.lines().enumerate() {
            if line.contains(needle) {
                found.push(format!("{name}:{}: {}", index + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn every_rust_file_starts_with_a_module_doc_line() {
    let missing: Vec<_> = rust_files()
        .into_iter()
        .filter(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            !text.starts_with("//!")
        })
        .map(|path| relative(&path))
        .collect();
    assert!(
        missing.is_empty(),
        "files without a leading //! line: {missing:?}"
    );
}

#[test]
fn nothing_is_ignored_expected_to_panic_or_unfinished() {
    // Spelled in pieces so this file does not match its own search.
    let needles = [
        concat!("#[", "ignore"),
        concat!("#[", "should_panic"),
        concat!("todo", "!("),
        concat!("unimplemented", "!("),
    ];
    for needle in needles {
        let found = offenders(needle, &[]);
        assert!(found.is_empty(), "{needle} found: {found:#?}");
    }
}

#[test]
fn determinism_bans_have_only_their_agreed_exemptions() {
    // The benches that measure the real machine (OS threads, sleeps, the wall clock) are
    // agreed exemptions too; nothing they do runs under the simulator. So is the module that
    // starts `vigil --jobs`'s threads, each running whole executions on its own executor, and
    // the stall watchdog's thread. The test of the stray-thread check starts one OS thread
    // inside a model on purpose: that mistake is what it checks is caught.
    let found = offenders(
        concat!("clippy::", "disallowed_"),
        &[
            "core/src/rt/os.rs",
            "sim/src/wall_clock.rs",
            "sim/src/workers.rs",
            "sim/tests/it/facade_stray.rs",
            "benches/benches/snapshot.rs",
            "benches/examples/soak.rs",
        ],
    );
    assert!(found.is_empty(), "unexpected exemptions: {found:#?}");
}

#[test]
fn tests_never_sleep_or_read_the_wall_clock() {
    let needles = [
        concat!("thread::", "sleep"),
        concat!("Instant::", "now()"),
        concat!("SystemTime::", "now()"),
    ];
    for needle in needles {
        let found: Vec<_> = offenders(needle, &["core/src/rt/os.rs", "sim/src/wall_clock.rs"])
            .into_iter()
            .filter(|line| line.contains("tests") || line.contains("/benches/"))
            .collect();
        assert!(found.is_empty(), "{needle} in tests: {found:#?}");
    }
}

/// Every planted mutant still applies to the current tree (a stale patch would make the
/// mutant suite test nothing).
#[test]
fn every_mutant_patch_applies_to_the_current_tree() {
    let root = workspace_root();
    let mut patches: Vec<PathBuf> = std::fs::read_dir(root.join("mutants"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "patch"))
        .collect();
    patches.sort();
    assert!(patches.len() >= 9, "mutants are missing: {patches:?}");
    for patch in patches {
        let output = std::process::Command::new("git")
            .args(["apply", "--check"])
            .arg(&patch)
            .current_dir(&root)
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "{} no longer applies: {}",
            patch.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
