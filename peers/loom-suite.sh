#!/usr/bin/env bash
# Runs loom's own test suite against vigil's facade: copies loom 0.7.3's `tests/` from the
# cargo registry (fetched by peers/Cargo.toml's loom dependency), changes `loom::` to
# `vigil_sim::`, and prints one Markdown row per file: tests that behave as loom expects
# (its #[should_panic] tests panic, the others pass), tests that do not, or the first compile
# error. Nothing in the files is edited beyond the import path. Usage: peers/loom-suite.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

cargo fetch --manifest-path peers/Cargo.toml >/dev/null
registry="$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 1 -mindepth 1 -type d)"
loom_tests="$(find $registry -maxdepth 2 -type d -path '*/loom-0.7.3/tests' | head -n 1)"
if [ -z "$loom_tests" ]; then
  echo "loom 0.7.3's sources are not in the cargo registry" >&2
  exit 2
fi

crate="$root/target/loom-suite"
rm -rf "$crate/tests"
mkdir -p "$crate/tests" "$crate/src"
cat >"$crate/Cargo.toml" <<EOF
[package]
name = "loom-suite"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
vigil-sim = { path = "$root/sim" }

[profile.dev]
opt-level = 2

[workspace]
EOF
echo '//! Empty: the tests are loom'"'"'s.' >"$crate/src/lib.rs"
cp "$root/Cargo.lock" "$crate/Cargo.lock"
for file in "$loom_tests"/*.rs; do
  sed -e 's/loom::/vigil_sim::/g' "$file" >"$crate/tests/$(basename "$file")"
done

export CARGO_TARGET_DIR="$crate/target"
echo "| loom test file | tests | as loom expects | not as loom expects | note |"
echo "|---|---:|---:|---:|---|"
total=0
expected=0
for file in "$crate"/tests/*.rs; do
  name="$(basename "$file" .rs)"
  if ! build="$(cargo test --manifest-path "$crate/Cargo.toml" --test "$name" --no-run 2>&1)"; then
    error="$(grep -m1 -E '^error(\[E[0-9]+\])?:' <<<"$build" | sed -e 's/|/\\|/g' | cut -c1-110)"
    echo "| $name | – | – | – | does not compile: $error |"
    continue
  fi
  run="$(cargo test --manifest-path "$crate/Cargo.toml" --test "$name" 2>&1 || true)"
  summary="$(grep -m1 -E '^test result:' <<<"$run" || true)"
  if [ -z "$summary" ]; then
    last="$(tail -n 1 <<<"$run" | sed -e 's/|/\\|/g' | cut -c1-110)"
    echo "| $name | – | – | – | the test binary did not finish: $last |"
    continue
  fi
  passed="$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<<"$summary")"
  failed="$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$summary")"
  ignored="$(sed -E 's/.* ([0-9]+) ignored.*/\1/' <<<"$summary")"
  failing="$( (grep -E '^test .* FAILED$' <<<"$run" || true) | sed -E 's/^test ([^ ]+).*/\1/' | tr '\n' ' ')"
  note=""
  if [ "$ignored" != 0 ]; then note="$ignored ignored by loom itself; "; fi
  if [ -n "$failing" ]; then note="${note}not as expected: ${failing}"; fi
  echo "| $name | $((passed + failed)) | $passed | $failed | ${note%; } |"
  total=$((total + passed + failed))
  expected=$((expected + passed))
done
echo
echo "$expected of $total tests in files that compile behave as loom expects."
