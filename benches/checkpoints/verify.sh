#!/usr/bin/env bash
# Checks the saved parts of d3-05's certificate: resumes a copy of each checkpoint in this
# folder with VIGIL (a build of the commit the files name, `991b51a`; see README.md), prints
# each part's verdict and count, and exits 0 only when every part reports "no violation ...,
# exhaustive". A finished search resumes in well under a second and runs no execution, and
# the copies leave the committed files as they are.
#
# Usage: VIGIL=../vigil-991b51a/target/release/vigil benches/checkpoints/verify.sh
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
vigil="${VIGIL:?set VIGIL to a vigil binary built from commit 991b51a (see benches/checkpoints/README.md)}"
scenario=scenarios/faults/d3-05-teardown-asymmetry.toml
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

failed=0
for file in "$here"/d3-05-teardown-asymmetry*.ckpt; do
  cp "$file" "$work/part.ckpt"
  output="$("$vigil" explore "$scenario" --strategy dpor --preemptions 2 --faults 1 \
    --executions 1000000000 --jobs 1 --no-reports --checkpoint "$work/part.ckpt" 2>&1 || true)"
  verdict="$(grep "^d3-05-teardown-asymmetry: " <<<"$output" || true)"
  verdict="${verdict#d3-05-teardown-asymmetry: }"
  echo "$(basename "$file"): ${verdict:-no verdict: $(tail -n 1 <<<"$output")}"
  case "$verdict" in
    "no violation within "*", exhaustive") ;;
    *) failed=1 ;;
  esac
done
if [ "$failed" -ne 0 ]; then
  echo "not every part is exhaustive without a violation" >&2
  exit 1
fi
echo "every part is exhaustive, no violation"
