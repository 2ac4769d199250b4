#!/usr/bin/env bash
# THE examples command: installs dependencies, builds (Release) and runs every bundled example:
# examples/python/*.py against the in-tree package (build/python) and the examples/cpp programs.
# Exits non-zero if any example fails. BUILD_DIR (default build/) picks the build tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
bash scripts/install-deps.sh
bash scripts/build.sh -DPITFALL_BUILD_PYTHON=ON

export PYTHONPATH="$PWD/$BUILD_DIR/python${PYTHONPATH:+:$PYTHONPATH}"
export MPLBACKEND=${MPLBACKEND:-Agg}  # examples that plot write files; no display needed

failed=()
ran=0
run() {  # run NAME COMMAND...
  local name=$1; shift
  echo "==== example: $name"
  ran=$((ran + 1))
  if "$@"; then echo "==== ok: $name"; else echo "==== FAILED ($?): $name"; failed+=("$name"); fi
}

shopt -s nullglob
for script in examples/python/*.py; do
  run "$script" "$PYTHON" "$script"
done
for source in examples/cpp/*.cpp; do
  exe="$BUILD_DIR/examples/bin/$(basename "$source" .cpp)"
  if [[ -x "$exe" ]]; then
    run "$source" "$exe"
  else
    echo "==== FAILED: $source was not built ($exe missing)"; failed+=("$source")
  fi
done

echo "examples: $ran run, ${#failed[@]} failed"
if ((${#failed[@]})); then
  printf '  failed: %s\n' "${failed[@]}"
  exit 1
fi
