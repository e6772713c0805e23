#!/usr/bin/env bash
# Measures how many executions a scenario needs to find each mutant, over seeds 1..10 (not
# run by CI; its figures go into closing notes). The scenario is $SCENARIO, by default the
# small generated one.
# Usage: [SCENARIO=scenarios/generated/medium.toml] mutants/measure.sh [PATCH_NAME...]
source "$(dirname "$0")/common.sh"
scenario="${SCENARIO:-scenarios/generated/small.toml}"
echo "scenario: $scenario"
printf '%-28s %-30s %s\n' mutant "executions to find (seeds 1-10)" "median; invariant; time"
for name in "${names[@]}"; do
  build_mutant "$name"
  counts=()
  invariant=""
  total_ms=0
  for seed in 1 2 3 4 5 6 7 8 9 10; do
    json="$(cd "$scratch/tree" && "$vigil" explore \
      "$scenario" --seed "$seed" --json --no-reports --no-shrink || true)"
    counts+=("$(printf '%s' "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin)["scenarios"][0]; print(d["executions"] if d["outcome"]!="pass" else "none")')")
    invariant="$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["scenarios"][0]["outcome"])')"
    ms="$(printf '%s' "$json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["scenarios"][0]["elapsed_ms"])')"
    total_ms=$((total_ms + ms))
  done
  median="$(printf '%s\n' "${counts[@]}" | python3 -c 'import sys,statistics; v=[int(x) for x in sys.stdin.read().split() if x!="none"]; print(statistics.median(v) if len(v)==10 else "not found by every seed")')"
  printf '%-28s %-30s %s; %s; %sms total\n' "$name" "${counts[*]}" "$median" "$invariant" "$total_ms"
done
