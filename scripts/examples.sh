#!/usr/bin/env bash
# THE examples command (the main job): installs dependencies, builds (Release) and runs every bundled
# example: the pitfall catalog (`pitfall run --all`: every pitfall broken and fixed, its signature and
# verdict; the HTML report and plots go to $BUILD_DIR/report/), examples/python/*.py against the in-tree
# package (build/python), the examples/cpp programs and the C++ pitfall programs (examples/pitfalls/cpp).
# Exits non-zero if any example fails or any pitfall is not reproduced or not fixed.
# BUILD_DIR (default build/) picks the build tree.
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
run "pitfall run --all" "$BUILD_DIR/bin/pitfall" run --all --plot "$BUILD_DIR/report/plots" \
  --report "$BUILD_DIR/report/report.html"
for script in examples/python/*.py; do
  run "$script" "$PYTHON" "$script"
done
run_built() {  # run_built SOURCE EXECUTABLE: a C++ example program, failed if it was not built
  if [[ -x "$2" ]]; then
    run "$1" "$2"
  else
    echo "==== FAILED: $1 was not built ($2 missing)"; failed+=("$1")
  fi
}
for source in examples/cpp/*.cpp; do
  run_built "$source" "$BUILD_DIR/examples/bin/$(basename "$source" .cpp)"
done
for source in examples/pitfalls/cpp/p[0-9][0-9]_*.cpp; do
  run_built "$source" "$BUILD_DIR/examples/bin/pitfall_$(basename "$source" .cpp)"
done

echo "examples: $ran run, ${#failed[@]} failed"
if ((${#failed[@]})); then
  printf '  failed: %s\n' "${failed[@]}"
  exit 1
fi
