#!/usr/bin/env bash
# Certifies window scenarios at preemption bound 2 with one fault, the way issue 10 asks:
# `vigil explore FILE --strategy dpor --preemptions 2 --faults 1`, one scenario after another
# on one thread, and prints a markdown table of executions, seconds (wall clock, and CPU when
# GNU time is installed: the search is single-threaded, so CPU seconds hold still on a busy
# machine) and peak memory per scenario. The biggest take tens of minutes each on this project's 2-core machine, so this
# is a bench, not part of CI (CI requires the certificates that fit: see `certify` in the
# scenario files).
#
# Usage: benches/certify.sh [FILE...]   (default: every scenarios/faults/d3-*.toml)
# Environment: BUDGET (executions at most per scenario, default 100000000); VIGIL (a vigil
# binary to use instead of building this checkout's release build); CHECKPOINTS (a folder:
# each search keeps `--checkpoint FOLDER/NAME.ckpt`, so running the script again with the same
# sources resumes every search where it stopped instead of starting over; the times are then
# those of this run alone).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
budget="${BUDGET:-100000000}"
if [ "$#" -eq 0 ]; then
  set -- scenarios/faults/d3-*.toml
fi

if [ -n "${VIGIL:-}" ]; then
  vigil="$VIGIL"
else
  cargo build --release -p vigil-sim --bin vigil >&2
  vigil="${CARGO_TARGET_DIR:-$root/target}/release/vigil"
fi
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
if [ -n "${CHECKPOINTS:-}" ]; then
  mkdir -p "$CHECKPOINTS"
fi

echo "| scenario | result | executions | wall s | CPU s | peak memory |"
echo "|---|---|---:|---:|---:|---:|"
for file in "$@"; do
  name="$(basename "$file" .toml)"
  status=0
  keep=()
  if [ -n "${CHECKPOINTS:-}" ]; then
    keep=(--checkpoint "$CHECKPOINTS/$name.ckpt")
  fi
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f "%e %U %M" -o "$out/time" "$vigil" explore "$file" --strategy dpor \
      --preemptions 2 --faults 1 --executions "$budget" --jobs 1 --no-reports "${keep[@]}" \
      >"$out/stdout" 2>"$out/stderr" || status=$?
    # GNU time puts "Command exited with non-zero status N" first when the search fails.
    read -r seconds cpu kib < <(tail -n 1 "$out/time")
    memory="$((kib / 1024)) MiB"
  else
    start="$(date +%s)"
    "$vigil" explore "$file" --strategy dpor --preemptions 2 --faults 1 \
      --executions "$budget" --jobs 1 --no-reports "${keep[@]}" >"$out/stdout" \
      2>"$out/stderr" || status=$?
    seconds="$(($(date +%s) - start))"
    cpu="-"
    memory="-"
  fi
  # The certificate (or what was covered instead) is the line naming the scenario.
  line="$(grep -m1 "^$name: " "$out/stdout" || true)"
  executions="$(sed -n 's/.* \([0-9]*\) executions.*/\1/p' <<<"$line")"
  case "$line" in
    *", exhaustive") result="certified (exhaustive)" ;;
    *"not exhaustive"*) result="budget ran out: ${line#*not exhaustive: }" ;;
    *) result="exit $status: $(tail -n 1 "$out/stderr")" ;;
  esac
  echo "| $name | $result | ${executions:--} | $seconds | $cpu | $memory |"
done
