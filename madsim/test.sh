#!/usr/bin/env bash
# Builds and tests vigil-madsim in madsim's simulation mode, in a target directory of its own
# (the workspace's default build never compiles madsim): fmt, clippy, the tests under 20
# fixed seeds (from MADSIM_TEST_SEED, default 1; MADSIM_TEST_NUM, default 20), then once more with madsim's determinism check (each test run twice, compared).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTFLAGS="--cfg madsim" RUSTDOCFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim
manifest=madsim/Cargo.toml
cargo fmt --check --manifest-path "$manifest"
cargo clippy --manifest-path "$manifest" --all-targets -- -D warnings
seed=${MADSIM_TEST_SEED:-1}
MADSIM_TEST_SEED=$seed MADSIM_TEST_NUM=${MADSIM_TEST_NUM:-20} cargo test --manifest-path "$manifest"
MADSIM_TEST_SEED=$seed MADSIM_TEST_CHECK_DETERMINISM=1 cargo test --manifest-path "$manifest" --test it
