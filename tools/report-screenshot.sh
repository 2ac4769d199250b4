#!/usr/bin/env bash
# Renders the pitfall catalog's HTML report in headless Chromium and takes a screenshot, then checks
# the screenshot shows the page and its embedded plots (not a blank or broken page).
#
#   bash tools/report-screenshot.sh                      report of P07 P14 P21 -> build/report/report.html
#   bash tools/report-screenshot.sh REPORT.html OUT.png  screenshot an existing report
#   IDS="--all" bash tools/report-screenshot.sh          report of the whole catalog first (slow)
#
# Installs Debian's chromium if it is missing (root, apt-get). Exits non-zero if the report cannot be
# written or rendered, or the screenshot lacks the text or the plot colours.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD_DIR=${BUILD_DIR:-build}
PYTHON=${PYTHON:-/usr/bin/python3}
WIDTH=${WIDTH:-1200}
HEIGHT=${HEIGHT:-3000}

if ! command -v chromium > /dev/null; then
  echo "report-screenshot: installing chromium (Debian package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium > /dev/null
fi

report=${1:-$BUILD_DIR/report/report.html}
shot=${2:-${report%.html}.png}
if [[ $# -eq 0 ]]; then
  mkdir -p "$(dirname "$report")"
  ids=${IDS:-P07 P14 P21}
  [[ "$ids" == "--all" ]] && ids=""
  # shellcheck disable=SC2086
  PYTHONPATH="$PWD/$BUILD_DIR/python${PYTHONPATH:+:$PYTHONPATH}" MPLBACKEND=Agg \
    "$PYTHON" -m pitfall report "$report" $ids
fi
[[ -s "$report" ]] || { echo "report-screenshot: $report does not exist or is empty" >&2; exit 1; }

rm -f "$shot"
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless=new --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir="$profile" \
  --window-size="$WIDTH,$HEIGHT" --screenshot="$shot" "file://$(realpath "$report")" 2> "$profile/stderr" || {
  cat "$profile/stderr" >&2; echo "report-screenshot: chromium failed on $report" >&2; exit 1; }
[[ -s "$shot" ]] || { cat "$profile/stderr" >&2; echo "report-screenshot: no screenshot written" >&2; exit 1; }

# The page must show text (dark pixels) and the plots' broken (#c0392b) and fixed (#1e8449) curves:
# those colours only come from the embedded PNGs and the verdict text.
"$PYTHON" - "$shot" "$WIDTH" "$HEIGHT" <<'PY'
import sys
import matplotlib.image
import numpy as np
shot, width, height = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pixels = (matplotlib.image.imread(shot)[..., :3] * 255).astype(int)
if pixels.shape[:2] != (height, width):
    sys.exit(f"report-screenshot: {shot} is {pixels.shape[1]}x{pixels.shape[0]}, expected {width}x{height}")
def near(rgb, tolerance=40):
    return int((np.abs(pixels - np.array(rgb)).max(axis=-1) < tolerance).sum())
dark, red, green = near((34, 34, 34), 60), near((0xc0, 0x39, 0x2b)), near((0x1e, 0x84, 0x49))
print(f"report-screenshot: {shot}: {width}x{height}, text pixels {dark}, broken-curve pixels {red}, "
      f"fixed-curve pixels {green}")
if dark < 2000 or red < 200 or green < 200:
    sys.exit("report-screenshot: the screenshot lacks text or plots; the report did not render")
PY
echo "report-screenshot: ok, $shot"
