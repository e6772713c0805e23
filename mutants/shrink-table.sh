#!/usr/bin/env bash
# For every mutant (or those named): builds it, runs its regression scenarios with shrinking
# on, and prints one Markdown row per failure: the failure as found against the shrunk one,
# and the depth the systematic search proved. Usage: mutants/shrink-table.sh [PATCH_NAME...]
source "$(dirname "$0")/common.sh"

echo "| mutant | scenario | found (preemptions / faults / steps) | shrunk | replays | depth |"
echo "|---|---|---|---|---:|---|"
for name in "${names[@]}"; do
  build_mutant "$name"
  set +e
  (cd "$scratch/tree" && "$vigil" run scenarios/regressions --mutant "$name" --no-reports --json \
    >"$scratch/run.json")
  set -e
  python3 - "$name" "$scratch/run.json" <<'PY'
import json, sys
name, path = sys.argv[1], sys.argv[2]
for run in json.load(open(path))["scenarios"]:
    shrunk = run.get("failure", {}).get("shrunk")
    if not shrunk:
        print(f"| {name} | {run['name']} | {run['outcome']} | not shrunk | | |")
        continue
    size = lambda s: f"{s['preemptions']} / {s['faults']} / {s['steps']}"
    proven = "proven" if shrunk["depth_proven"] else "not proven"
    print(f"| {name} | {run['name']} | {size(shrunk['original'])} | {size(shrunk['shrunk'])} "
          f"| {shrunk['replays']} | {proven}: {shrunk['depth']} |")
PY
done
