#!/usr/bin/env bash
# THE test command: installs dependencies, builds (Release) and runs the whole suite through ctest:
# the doctest C++ cases, pytest, and the install test (cmake --install + find_package consumer).
# Exits non-zero on any failure. BUILD_DIR (default build/) picks the build tree.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir "${BUILD_DIR:-build}" --output-on-failure ${CTEST_ARGS:-}
