#!/usr/bin/env bash
# Runs the data-pipeline C++ tests under ThreadSanitizer.
#
#   tools/tsan.sh [test_suite_filter]      (default 'data*', a doctest --test-suite pattern)
#
# Configures and builds pitfall_tests with -fsanitize=thread into build-tsan/ (CPU only, Eigen GEMM:
# OpenBLAS's own threads are not instrumented and would report false races), then runs the selected
# suites with 2 engine threads. Any ThreadSanitizer report fails the run (halt_on_error) and the
# script exits non-zero; the full log is build-tsan/tsan.log. Safe to re-run: the build is
# incremental. Works from any directory.
# Environment: JOBS (parallel compiles, default 2), TSAN_BUILD_DIR (default <repo>/build-tsan),
# CXX (default g++; TSan needs g++ or clang++), TSAN_SETARCH=1 (always run under setarch -R).
#
# Some kernels map memory where TSan's fixed shadow layout expects none (high mmap ASLR entropy) and
# every instrumented binary dies with "FATAL: ThreadSanitizer: unexpected memory mapping". The script
# probes for that with a tiny program and, when needed, runs the tests (and the build's test
# discovery step) under `setarch <arch> -R`, which turns ASLR off for that process only.
set -euo pipefail

suite=${1:-data*}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${TSAN_BUILD_DIR:-$root/build-tsan}
jobs=${JOBS:-2}
cxx=${CXX:-g++}
start=$(date +%s)
mkdir -p "$build"

# ---- does a TSan binary run here, and does it need ASLR off?
probe_src=$build/tsan_probe.cpp
cat >"$probe_src" <<'EOF'
#include <atomic>
#include <thread>
int main() {
  std::atomic<int> counter{0};
  std::thread worker([&] { counter.fetch_add(1); });
  counter.fetch_add(1);
  worker.join();
  return counter.load() == 2 ? 0 : 1;
}
EOF
if ! "$cxx" -std=c++20 -fsanitize=thread -g -O1 -pthread "$probe_src" -o "$build/tsan_probe" 2>"$build/tsan_probe.log"; then
  echo "tsan.sh: $cxx cannot build with -fsanitize=thread (on Debian: apt-get install libtsan2, or use clang++):" >&2
  cat "$build/tsan_probe.log" >&2
  exit 2
fi
runner=()
if [[ ${TSAN_SETARCH:-0} == 1 ]]; then
  runner=(setarch "$(uname -m)" -R)
elif ! "$build/tsan_probe" >"$build/tsan_probe.log" 2>&1; then
  if grep -q "unexpected memory mapping" "$build/tsan_probe.log" &&
      setarch "$(uname -m)" -R "$build/tsan_probe" >/dev/null 2>&1; then
    runner=(setarch "$(uname -m)" -R)
    echo "tsan.sh: this kernel's ASLR breaks TSan's memory layout; running under '${runner[*]}'"
  else
    echo "tsan.sh: a minimal TSan program fails on this machine:" >&2
    cat "$build/tsan_probe.log" >&2
    exit 2
  fi
fi
# doctest_discover_tests runs the test binary after linking; it needs the same wrapper.
emulator=$(IFS=';'; echo "${runner[*]:-}")

# ---- configure and build
cmake -S "$root" -B "$build" -DCMAKE_CXX_COMPILER="$(command -v "$cxx")" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DPITFALL_SANITIZE=thread -DPITFALL_BUILD_PYTHON=OFF -DPITFALL_BUILD_BENCH=OFF -DPITFALL_CUDA=OFF \
  -DPITFALL_BLAS=Eigen -DCMAKE_CROSSCOMPILING_EMULATOR="$emulator" >"$build/configure.log" 2>&1 ||
  { cat "$build/configure.log" >&2; echo "tsan.sh: configure failed" >&2; exit 2; }
cmake --build "$build" -j"$jobs" --target pitfall_tests
built=$(date +%s)
echo "tsan.sh: built in $((built - start)) s"

# ---- run
log=$build/tsan.log
status=0
# exitcode=66 is TSan's default, spelled out so a report can never end as exit 0.
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 exitcode=66 ${TSAN_OPTIONS:-}" PITFALL_NUM_THREADS=2 \
  "${runner[@]}" "$build/tests/pitfall_tests" --test-suite="$suite" >"$log" 2>&1 || status=$?
tail -4 "$log"
if grep -q "WARNING: ThreadSanitizer\|ERROR: ThreadSanitizer\|FATAL: ThreadSanitizer" "$log"; then
  echo "tsan.sh: ThreadSanitizer reported a problem; the first report:" >&2
  sed -n '/ThreadSanitizer/,/^SUMMARY: ThreadSanitizer/p' "$log" | head -80 >&2
  [[ $status -ne 0 ]] || status=1
elif [[ $status -ne 0 ]]; then
  echo "tsan.sh: the tests failed (exit $status); see $log" >&2
elif ! grep -Eq "test cases: +[1-9]" "$log"; then
  echo "tsan.sh: no test case matched --test-suite='$suite'" >&2
  status=1
fi
done_at=$(date +%s)
echo "tsan.sh: total $((done_at - start)) s (build $((built - start)) s, tests $((done_at - built)) s)" \
  "$([[ $status -eq 0 ]] && echo clean || echo FAILED)"
exit $status
