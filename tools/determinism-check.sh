#!/usr/bin/env bash
# Runs `pitfall run --all` twice and checks that both runs print identical numbers. The only lines
# allowed to differ are the signature checks marked [time] (wall-clock measurements, e.g. P26's
# prefetch speed-up); everything else (losses, weights, signatures, verdicts) must match exactly.
#
#   bash tools/determinism-check.sh [IDS...]     (default: the whole catalog; needs a built tree)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build}
pitfall="$BUILD_DIR/bin/pitfall"
[[ -x "$pitfall" ]] || { echo "determinism-check: $pitfall missing; build first (bash scripts/build.sh)" >&2; exit 1; }
args=("$@")
((${#args[@]})) || args=(--all)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for attempt in 1 2; do
  echo "determinism-check: run $attempt of pitfall run ${args[*]}"
  # A failing pitfall is the catalog's business (scripts/examples.sh); here only the output matters.
  MPLBACKEND=Agg "$pitfall" run "${args[@]}" --quiet > "$work/run$attempt.txt" || true
  grep -v '\[time\]' "$work/run$attempt.txt" > "$work/numbers$attempt.txt"
done
lines=$(wc -l < "$work/numbers1.txt")
timing=$(grep -c '\[time\]' "$work/run1.txt" || true)
if ! diff -u "$work/numbers1.txt" "$work/numbers2.txt"; then
  echo "determinism-check: FAILED: the two runs printed different numbers (diff above)" >&2
  exit 1
fi
echo "determinism-check: ok: $lines lines identical in both runs ($timing wall-clock lines excluded)"
