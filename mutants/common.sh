# Shared by check.sh and measure.sh (sourced, not run): the scratch tree, the mutant build and
# the list of mutant names. Sets `root`, `target`, `scratch`, `names` and `vigil`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}/mutants"
vigil="$target/release/vigil"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# The mutants named on the command line, or every patch under mutants/.
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for patch in mutants/*.patch; do names+=("$(basename "$patch" .patch)"); done
fi

# Copies the tracked tree to $scratch/tree, applies mutant $1 and builds `vigil` from it.
build_mutant() {
  rm -rf "$scratch/tree" && mkdir -p "$scratch/tree"
  git ls-files -z | xargs -0 cp --parents -t "$scratch/tree"
  (cd "$scratch/tree" && git apply "$root/mutants/$1.patch")
  CARGO_TARGET_DIR="$target" cargo build --quiet --release -p vigil-sim \
    --manifest-path "$scratch/tree/Cargo.toml"
}
