#!/usr/bin/env bash
# The mutant suite: applies each planted bug (mutants/*.patch, spec section g) to a scratch
# copy of the tracked tree, builds `vigil` there, and asserts that
#   1. every regression scenario documenting the mutant fails with its named invariant, and
#   2. the 10,000-execution random exploration (scenarios/faults/random-exploration.toml)
#      finds the mutant too.
# The unpatched code passes the same scenarios in `cargo test` (the corpus test).
# Usage: mutants/check.sh [PATCH_NAME...]   (default: every patch)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}/mutants"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for patch in mutants/*.patch; do names+=("$(basename "$patch" .patch)"); done
fi

failed=()
for name in "${names[@]}"; do
  echo "=== mutant $name"
  rm -rf "$scratch/tree" && mkdir -p "$scratch/tree"
  git ls-files -z | xargs -0 cp --parents -t "$scratch/tree"
  (cd "$scratch/tree" && git apply "$root/mutants/$name.patch")
  CARGO_TARGET_DIR="$target" cargo build --quiet --release -p vigil-sim \
    --manifest-path "$scratch/tree/Cargo.toml"
  vigil="$target/release/vigil"
  if ! (cd "$scratch/tree" && "$vigil" run scenarios/regressions --mutant "$name" --no-reports); then
    failed+=("$name: its regression scenario did not fail with the named invariant")
  fi
  set +e
  (cd "$scratch/tree" && "$vigil" run scenarios/faults/random-exploration.toml --no-reports >"$scratch/explore.out")
  status=$?
  set -e
  if [ "$status" -ne 1 ]; then
    failed+=("$name: random exploration did not find it (exit $status)")
  fi
  grep -E '^random-exploration' "$scratch/explore.out" || true
done

if [ ${#failed[@]} -gt 0 ]; then
  printf 'mutant suite FAILED:\n'
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "mutant suite passed: ${#names[@]} mutants caught"
