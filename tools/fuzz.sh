#!/usr/bin/env bash
# Fuzzes the file readers (IDX, NPY, NPZ, CSV) with libFuzzer + AddressSanitizer + UBSan.
#
#   tools/fuzz.sh [seconds_per_target]      (default 20)
#
# Builds tests/fuzz/fuzz_{idx,npy,npz,csv} with clang into build-fuzz/ (only the reader sources and
# the six core files they use), writes a seed corpus of small valid files (NumPy's own writers),
# then runs each target for the given time. New interesting inputs accumulate in
# build-fuzz/corpus/<target>/; a crash leaves its input in build-fuzz/crashes/ and makes the script
# exit non-zero. Reproduce one with: build-fuzz/fuzz_npy build-fuzz/crashes/fuzz_npy-crash-...
# Environment: JOBS (parallel compiles, default 2), FUZZ_BUILD_DIR (default <repo>/build-fuzz).
set -euo pipefail

seconds=${1:-20}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${JOBS:-2}
targets=(fuzz_idx fuzz_npy fuzz_npz fuzz_csv)

# clang and libFuzzer (Debian: clang, libclang-rt-14-dev); installed only when missing.
have_libfuzzer() {
  command -v clang++ >/dev/null 2>&1 &&
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1
}
if ! have_libfuzzer; then
  echo "fuzz.sh: installing clang and libFuzzer (apt-get install clang libclang-rt-14-dev)"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo="sudo"
  $sudo apt-get install -y clang libclang-rt-14-dev
fi

start=$(date +%s)
mkdir -p "$build/include/pitfall" "$build/crashes"
for folder in core data; do
  [[ -e $build/include/pitfall/$folder ]] || ln -s "$root/$folder" "$build/include/pitfall/$folder"
done
make --no-print-directory -s -C "$root/tests/fuzz" BUILD="$build" -j"$jobs"
built=$(date +%s)
echo "fuzz.sh: built ${targets[*]} in $((built - start)) s"

/usr/bin/python3 "$root/tests/fuzz/make_seeds.py" "$build/seeds"

status=0
for target in "${targets[@]}"; do
  kind=${target#fuzz_}
  corpus=$build/corpus/$target
  mkdir -p "$corpus"
  echo "fuzz.sh: $target for $seconds s"
  # malloc_limit: a legitimate parse of a small input never needs 512 MiB; more means a declared
  # size was trusted. timeout: a single input taking 10 s is a hang.
  if ! "$build/$target" "$corpus" "$build/seeds/$kind" -max_total_time="$seconds" -malloc_limit_mb=512 \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$build/crashes/$target-" \
      >"$build/$target.log" 2>&1; then
    echo "fuzz.sh: $target FAILED; see $build/$target.log and $build/crashes/" >&2
    tail -40 "$build/$target.log" >&2
    status=1
  else
    grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$build/$target.log" | tr '\n' ' '
    echo
  fi
done
echo "fuzz.sh: total $(($(date +%s) - start)) s (build $((built - start)) s)"
exit $status
