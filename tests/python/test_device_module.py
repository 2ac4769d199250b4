"""The CUDA device as a module loaded at run time (core/device.cpp load_device_module).

libpitfall and the extension link no CUDA library: a process maps cuBLAS, cuDNN and the CUDA runtime
only when it asks about a GPU AND an NVIDIA driver is present. Each check runs in a fresh interpreter
(what a process has mapped is process-wide).
"""
import os
import pathlib
import subprocess
import sys

import pytest

BUILD = pathlib.Path(os.environ.get("PITFALL_BUILD_DIR", pathlib.Path(__file__).resolve().parents[2] / "build"))
CUDA_LIBRARIES = ("libcudart", "libcublas", "libcudnn", "libcuda.so", "libpitfall_cuda")
STUB_DRIVER = pathlib.Path("/usr/local/cuda/lib64/stubs/libcuda.so")

PROBE = r"""
import json, sys
import pitfall as pf

def cuda_maps():
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f if "/" in line}
    return sorted(p for p in paths if any(name in p for name in %r))

out = {"after_import": cuda_maps()}
out["gpus"] = len(pf.config.list_physical_devices("GPU"))
try:
    with pf.device("gpu"):
        pass
    out["error"] = None
except RuntimeError as e:
    out["error"] = str(e)
out["status"] = pf._pitfall._device_module_status("gpu")
out["after_asking"] = cuda_maps()
print(json.dumps(out))
""" % (CUDA_LIBRARIES,)


def driver_present():
    try:
        import ctypes
        ctypes.CDLL("libcuda.so.1")
        return True
    except OSError:
        return False


def probe(extra_env=None):
    env = dict(os.environ, PYTHONPATH=str(BUILD / "python"))
    env.update(extra_env or {})
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    import json
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_import_maps_no_cuda_library():
    out = probe()
    assert out["after_import"] == [], f"import pitfall mapped CUDA libraries: {out['after_import']}"


@pytest.mark.skipif(driver_present(), reason="an NVIDIA driver is present: the module loads, as it should")
def test_without_a_driver_asking_for_a_gpu_loads_nothing_and_says_why():
    out = probe()
    assert out["gpus"] == 0
    assert "no GPU was found (no NVIDIA driver" in out["error"]
    assert "use 'cpu' instead" in out["error"]
    assert out["after_asking"] == [], f"a query without a driver mapped {out['after_asking']}"


def test_the_module_can_be_turned_off():
    out = probe({"PITFALL_CUDA_MODULE": "none"})
    assert out["gpus"] == 0
    assert "turned off" in out["error"] and "PITFALL_CUDA_MODULE=none" in out["error"]
    assert out["after_asking"] == []


def stub_driver_env(tmp_path):
    folder = tmp_path / "driver"
    folder.mkdir()
    (folder / "libcuda.so.1").symlink_to(STUB_DRIVER)
    return {"LD_LIBRARY_PATH": f"{folder}:{os.environ.get('LD_LIBRARY_PATH', '')}"}


@pytest.mark.skipif(not (BUILD / "lib" / "libpitfall_cuda.so").exists() or not STUB_DRIVER.exists() or driver_present(),
                    reason="needs the CUDA module built (nvcc) and the toolkit's stub driver, on a machine without a GPU")
def test_with_a_driver_the_module_loads_from_beside_libpitfall(tmp_path):
    # The toolkit's stub libcuda.so stands for a driver that finds no GPU: the module loads (its CUDA
    # libraries are mapped only now, from beside libpitfall), asks the driver, and registers nothing.
    out = probe(stub_driver_env(tmp_path))
    assert out["after_import"] == []
    assert any("libpitfall_cuda.so" in p for p in out["after_asking"]), out
    assert any("libcudart" in p for p in out["after_asking"]), out
    assert out["gpus"] == 0
    assert "no GPU was found (the NVIDIA driver reports no device)" in out["error"]


@pytest.mark.skipif(not STUB_DRIVER.exists() or driver_present(), reason="needs the toolkit's stub driver, without a GPU")
def test_a_missing_module_is_named_with_its_path(tmp_path):
    missing = tmp_path / "nowhere" / "libpitfall_cuda.so"
    out = probe(dict(stub_driver_env(tmp_path), PITFALL_CUDA_MODULE=str(missing)))
    assert "has no CUDA device" in out["error"] and str(missing) in out["error"]
    assert out["after_asking"] == [] or all("libcuda.so" in p for p in out["after_asking"])
