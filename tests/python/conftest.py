"""Puts the build tree's package (${PITFALL_BUILD_DIR:-build}/python) first on sys.path."""
import os
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = pathlib.Path(os.environ.get("PITFALL_BUILD_DIR", ROOT / "build"))
if not BUILD_DIR.is_absolute():
    BUILD_DIR = ROOT / BUILD_DIR
PYTHON_DIR = BUILD_DIR / "python"
sys.path.insert(0, str(PYTHON_DIR))
# Subprocess tests import the same build.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PYTHON_DIR), os.environ.get("PYTHONPATH")]))
