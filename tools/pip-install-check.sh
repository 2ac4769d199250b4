#!/usr/bin/env bash
# The pip route, as a new user takes it (README "Python package"): a fresh virtual environment over
# Debian's Python (--system-site-packages: NumPy; offline, no build isolation), `pip install .` from
# this checkout, then, from outside the source tree, the installed package alone:
#   - `import pitfall` maps no CUDA library;
#   - `python -m pitfall list` lists the whole catalog and `python -m pitfall run P07` reproduces it;
#   - the package carries libpitfall_cuda.so beside libpitfall.so.N when nvcc was there to build it.
# Exits non-zero on any failure. Environment: PIP_CHECK_DIR (scratch folder, default build-pip-check/).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${PIP_CHECK_DIR:-$root/build-pip-check}
start=$(date +%s)

rm -rf "$work"
mkdir -p "$work"
/usr/bin/python3 -m venv --system-site-packages "$work/venv"
python="$work/venv/bin/python"
# setup.py's CMake build uses every core unless told otherwise.
"$python" -m pip install --no-build-isolation --no-index --quiet "$root"
installed=$("$python" -c 'import os, pitfall; print(os.path.dirname(pitfall.__file__))' 2>/dev/null) ||
  { cd "$work" && "$python" -c 'import pitfall'; exit 1; }
case "$installed" in
  "$work"/venv/*) ;;
  *) echo "pip-install-check: pitfall was imported from $installed, not from the venv" >&2; exit 1 ;;
esac
echo "pip-install-check: installed into $installed ($(ls "$installed" | grep -c '\.so' ) shared objects)"

cd "$work"  # nothing of the source tree on the path from here on
"$python" - <<'PY'
import pitfall
with open("/proc/self/maps") as f:
    cuda = sorted({line.split()[-1] for line in f if any(n in line for n in ("libcudart", "libcublas", "libcudnn"))})
assert not cuda, f"import pitfall mapped CUDA libraries: {cuda}"
print("pip-install-check: import pitfall maps no CUDA library")
PY
listing=$("$python" -m pitfall list)
entries=$(grep -c '^P[0-9][0-9] ' <<<"$listing")
expected=$(ls "$root"/examples/pitfalls/p[0-9][0-9]_*.py | wc -l)
if [[ "$entries" -ne "$expected" ]]; then
  echo "pip-install-check: 'pitfall list' from the installed package lists $entries pitfalls, the catalog has $expected" >&2
  echo "$listing" >&2
  exit 1
fi
echo "pip-install-check: 'python -m pitfall list' lists all $entries pitfalls"
MPLBACKEND=Agg "$python" -m pitfall run P07 >"$work/p07.log" 2>&1 ||
  { echo "pip-install-check: 'python -m pitfall run P07' failed:" >&2; tail -30 "$work/p07.log" >&2; exit 1; }
tail -3 "$work/p07.log"
if command -v nvcc >/dev/null 2>&1 || [[ -x /usr/local/cuda/bin/nvcc ]]; then
  [[ -f "$installed/libpitfall_cuda.so" ]] ||
    { echo "pip-install-check: nvcc is here but the package has no libpitfall_cuda.so" >&2; exit 1; }
  echo "pip-install-check: the package carries the CUDA module (libpitfall_cuda.so)"
fi
echo "pip-install-check: passed in $(($(date +%s) - start)) s"
