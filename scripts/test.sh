#!/usr/bin/env bash
# THE test command: installs dependencies, builds (Release) and runs the whole suite through ctest:
# the doctest C++ cases, pytest, and the install test (cmake --install + find_package consumer).
# Exits non-zero on any failure. BUILD_DIR (default build/) picks the build tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
# The suite needs the tests and the Python module whatever an existing build tree's cache says.
bash scripts/build.sh -DPITFALL_BUILD_TESTS=ON -DPITFALL_BUILD_PYTHON=ON
# shellcheck disable=SC2086
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure --no-tests=error ${CTEST_ARGS:-}
