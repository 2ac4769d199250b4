#!/usr/bin/env bash
# Configures and builds pitfall (Release) into ${BUILD_DIR:-build}. Shared by test.sh and examples.sh.
# Arguments are passed to the CMake configure step, then CMAKE_ARGS from the environment, e.g.
#   CMAKE_ARGS="-DPITFALL_SANITIZE=address;undefined" BUILD_DIR=build-asan bash scripts/test.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
# Debian's interpreter: it is the one that has python3-numpy/pytest/torch (a pyenv python3 earlier
# on PATH does not).
PYTHON=${PYTHON:-/usr/bin/python3}

# shellcheck disable=SC2086
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$PYTHON" "$@" ${CMAKE_ARGS:-}
cmake --build "$BUILD_DIR" -j"$JOBS"
