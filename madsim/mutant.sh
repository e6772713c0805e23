#!/usr/bin/env bash
# Applies one patch from mutants/ to core, runs the madsim service test once per seed, and
# prints which seeds found it and with which check; reverts the patch on exit.
#   madsim/mutant.sh insert-before-arm [SEEDS]
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: madsim/mutant.sh MUTANT [SEEDS]}
seeds=${2:-100}
patch=mutants/$name.patch
git apply --check "$patch"
git apply "$patch"
trap 'git apply -R "$patch"' EXIT
export RUSTFLAGS="--cfg madsim" CARGO_TARGET_DIR=target/madsim
cargo test --manifest-path madsim/Cargo.toml --test it --no-run -q 2>/dev/null
found=0
for seed in $(seq 1 "$seeds"); do
    out=$(MADSIM_TEST_SEED=$seed cargo test -q --manifest-path madsim/Cargo.toml --test it \
        service::no_request_is_lost 2>&1 || true)
    if grep -q "test result: FAILED" <<<"$out"; then
        found=$((found + 1))
        check=$(grep -o 'Some(("[a-z-]*"' <<<"$out" | head -1 | cut -d'"' -f2)
        echo "seed $seed: found (${check:-other failure})"
    fi
done
echo "mutant $name: found by $found of $seeds seeds"
