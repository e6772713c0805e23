#!/usr/bin/env bash
# The mutant suite: applies each planted bug (mutants/*.patch, spec section g) to a scratch
# copy of the tracked tree, builds `vigil` there, and asserts that
#   1. every regression scenario documenting the mutant fails with its named invariant
#      (after shrinking, which must give the same result twice), and
#   2. the generated scenarios (scenarios/generated/, smallest first) find the mutant without
#      its regression scenario: workloads nobody wrote for it.
# The unpatched code passes the same scenarios in `cargo test` (the corpus test).
# Usage: mutants/check.sh [PATCH_NAME...]   (default: every patch)
source "$(dirname "$0")/common.sh"

failed=()
for name in "${names[@]}"; do
  echo "=== mutant $name"
  build_mutant "$name"
  # Shrinking is on: the shrunk failure must still break the named invariant, and shrinking
  # twice must give the same schedules (elapsed times aside).
  for round in 1 2; do
    if ! (cd "$scratch/tree" && "$vigil" run scenarios/regressions --mutant "$name" --no-reports \
      --json >"$scratch/regression-$round.json"); then
      failed+=("$name: its regression scenario did not fail with the named invariant")
    fi
    sed -i '/"elapsed_ms"/d' "$scratch/regression-$round.json"
  done
  if ! cmp -s "$scratch/regression-1.json" "$scratch/regression-2.json"; then
    failed+=("$name: shrinking the same failure twice gave different results")
  fi
  grep -E '"(outcome|depth)"' "$scratch/regression-1.json" || true
  found=""
  for generated in scenarios/generated/small.toml scenarios/generated/dispatch.toml \
    scenarios/generated/medium.toml \
    scenarios/generated/churn-200.toml; do
    set +e
    (cd "$scratch/tree" && "$vigil" run "$generated" --no-reports --no-shrink >"$scratch/explore.out")
    status=$?
    set -e
    grep -E '^generated-' "$scratch/explore.out" || true
    if [ "$status" -eq 1 ]; then found="$generated"; break; fi
  done
  if [ -z "$found" ]; then
    failed+=("$name: no generated scenario found it")
  fi
done

if [ ${#failed[@]} -gt 0 ]; then
  printf 'mutant suite FAILED:\n'
  printf '  %s\n' "${failed[@]}"
  exit 1
fi
echo "mutant suite passed: ${#names[@]} mutants caught"
