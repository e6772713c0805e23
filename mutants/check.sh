#!/usr/bin/env bash
# The mutant suite: applies each planted bug (mutants/*.patch, spec section g) to a scratch
# copy of the tracked tree, builds `vigil` there, and asserts that
#   1. every regression scenario documenting the mutant fails with its named invariant, and
#   2. the 10,000-execution random exploration (scenarios/faults/random-exploration.toml)
#      finds the mutant too.
# The unpatched code passes the same scenarios in `cargo test` (the corpus test).
# Usage: mutants/check.sh [PATCH_NAME...]   (default: every patch)
source "$(dirname "$0")/common.sh"

failed=()
for name in "${names[@]}"; do
  echo "=== mutant $name"
  build_mutant "$name"
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
