#!/usr/bin/env bash
# Measures split systematic searches on the d3 fault scenarios and prints two Markdown
# tables: the executions dpor needs at split depths 0..3 (the overhead of an exhaustive upper
# tree and of units that share no sleep sets), and the CLI's own time for `--jobs 1` against
# `--jobs 2` on split searches (the JSON's elapsed_ms; the machine's load average is printed,
# since the times mean little on a busy machine). Not run by CI.
# Usage: benches/split.sh [DEPTH_FOR_JOBS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
jobs_depth="${1:-1}"
cargo build --release -p vigil-sim >/dev/null 2>&1
vigil="$root/target/release/vigil"
field() {
  python3 -c 'import json,sys; d=json.load(sys.stdin)["scenarios"][0]; print(*[d.get(f) for f in sys.argv[1:]])' "$@"
}
dpor=(--strategy dpor --preemptions 2 --faults 1 --executions 40000 --json --no-reports)
printf '| scenario | D=0 | D=1 | D=2 | D=3 |\n|---|---:|---:|---:|---:|\n'
for file in scenarios/faults/d3-*.toml; do
  grep -q '^kind = "dpor"' "$file" || continue
  row="| $(basename "$file" .toml)"
  for depth in 0 1 2 3; do
    read -r executions < <("$vigil" explore "$file" "${dpor[@]}" --split-depth "$depth" --jobs 1 2>/dev/null | field executions)
    row="$row | $executions"
  done
  echo "$row |"
done
echo
echo "load average before timing: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| scenario | strategy | D | executions | jobs 1 ms | jobs 2 ms | speedup |\n|---|---|---:|---:|---:|---:|---:|\n'
for file in scenarios/faults/d3-*.toml; do
  grep -q '^kind = "dpor"' "$file" || continue
  for strategy in "dpor --faults 1" "dfs"; do
    args=(--strategy $strategy --preemptions 2 --executions 40000 --json --no-reports --split-depth "$jobs_depth")
    read -r executions one < <("$vigil" explore "$file" "${args[@]}" --jobs 1 2>/dev/null | field executions elapsed_ms)
    read -r _ two < <("$vigil" explore "$file" "${args[@]}" --jobs 2 2>/dev/null | field executions elapsed_ms)
    speedup="$(python3 -c "print(f'{$one / max($two, 1):.2f}')")"
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$(basename "$file" .toml)" "${strategy%% *}" "$jobs_depth" "$executions" "$one" "$two" "$speedup"
  done
done
echo "load average after timing: $(cut -d' ' -f1-3 /proc/loadavg)"
