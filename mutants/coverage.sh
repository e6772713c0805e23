#!/usr/bin/env bash
# The state-count check: a planted bug that makes new pool states reachable must show in the
# coverage figures. Builds the sound `vigil` and the insert-before-arm mutant (an entry is
# visible before its monitor is armed), runs mutants/coverage/insert-before-arm.toml (which
# checks only invariants that mutant does not break, so both runs use the whole budget) on
# each, and asserts the mutant reaches more distinct states.
# Usage: mutants/coverage.sh
source "$(dirname "$0")/common.sh"

scenario=mutants/coverage/insert-before-arm.toml
states() { sed -n 's/^ *"states": \([0-9]*\),\{0,1\}$/\1/p' "$1" | head -n 1; }

cargo build --quiet --release -p vigil-sim
"${CARGO_TARGET_DIR:-$root/target}/release/vigil" run "$scenario" --no-reports --json \
  >"$scratch/sound.json"
build_mutant insert-before-arm
(cd "$scratch/tree" && "$vigil" run "$scenario" --no-reports --json >"$scratch/mutant.json")
sound=$(states "$scratch/sound.json")
mutant=$(states "$scratch/mutant.json")
echo "distinct states: sound $sound, insert-before-arm mutant $mutant"
if [ -z "$sound" ] || [ -z "$mutant" ] || [ "$mutant" -le "$sound" ]; then
  echo "coverage check FAILED: the mutant's extra states do not show in the state count"
  exit 1
fi
echo "coverage check passed"
