#!/usr/bin/env bash
# Measures the systematic search on each mutant and prints a Markdown table: the smallest
# preemption bound (0, 1, 2) at which `--strategy dpor --faults 1` finds it on its regression
# scenario, and the executions it took (not run by CI; its figures go into closing notes).
# Usage: mutants/measure-dpor.sh [PATCH_NAME...]
source "$(dirname "$0")/common.sh"
budget="${DPOR_EXECUTIONS:-20000}"
printf '| mutant | bound needed | executions to find | outcome |\n|---|---:|---:|---|\n'
for name in "${names[@]}"; do
  scenario="$(grep -l "^patch = \"$name\"" scenarios/*/*.toml | head -n 1)"
  build_mutant "$name"
  found=""
  for bound in 0 1 2; do
    json="$(cd "$scratch/tree" && "$vigil" explore "$scenario" --strategy dpor \
      --preemptions "$bound" --faults 1 --executions "$budget" --json --no-reports || true)"
    read -r outcome executions < <(printf '%s' "$json" | python3 -c \
      'import json,sys; d=json.load(sys.stdin)["scenarios"][0]; print(d["outcome"], d["executions"])')
    if [ "$outcome" != pass ] && [ "$outcome" != vacuous ]; then
      printf '| %s | %s | %s | %s |\n' "$name" "$bound" "$executions" "$outcome"
      found=1
      break
    fi
  done
  if [ -z "$found" ]; then
    printf '| %s | %s | %s | %s |\n' "$name" "-" "$executions" "not found at bound 2 ($outcome)"
  fi
done
