//! Names the sources this build compiles, for checkpoints (`src/harness/checkpoint.rs`): a
//! saved search resumes only under a build of the same sources, so its file records a digest
//! of them. The digest covers the files of this crate's and `vigil-core`'s `src` folders
//! (path and content, in path order), the manifests, the lock file (dependency versions
//! change seeds and orders too) and the compiler's version, and nothing that depends on the
//! folder or the machine the build runs in.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let crate_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = crate_dir
        .parent()
        .expect("the crate sits in the workspace")
        .to_owned();
    let mut files = Vec::new();
    for folder in ["sim/src", "core/src"] {
        println!("cargo:rerun-if-changed={}", root.join(folder).display());
        collect(&root, &root.join(folder), &mut files);
    }
    for file in [
        "Cargo.toml",
        "Cargo.lock",
        "sim/Cargo.toml",
        "core/Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(file).display());
        files.push(PathBuf::from(file));
    }
    files.sort();
    let mut digest = Fnv::default();
    for file in &files {
        let name = file.to_string_lossy().replace('\\', "/");
        let content = std::fs::read(root.join(file))
            .unwrap_or_else(|error| panic!("reading {}: {error}", file.display()));
        digest.field(name.as_bytes());
        digest.field(&content);
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .expect("the compiler runs")
        .stdout;
    digest.field(&version);
    println!("cargo:rustc-env=VIGIL_SOURCE_DIGEST={:016x}", digest.0);
}

/// Every file under `folder`, relative to `root`.
fn collect(root: &Path, folder: &Path, files: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(folder)
        .unwrap_or_else(|error| panic!("reading {}: {error}", folder.display()));
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            files.push(path.strip_prefix(root).expect("under the root").to_owned());
        }
    }
}

/// FNV-1a, 64 bits, over length-prefixed fields (so no two lists of files hash alike by
/// moving bytes between a name and a content).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn field(&mut self, bytes: &[u8]) {
        for byte in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}
