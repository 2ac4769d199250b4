"""pip/setuptools entry point: builds pitfall with CMake and packages the Python module.

The CMake build installs into a staging prefix laid out so that the extension, libpitfall.so and (when
nvcc was found) the CUDA device module libpitfall_cuda.so sit together in the package (`_pitfall`
finds the library through its $ORIGIN rpath; libpitfall loads the module from its own folder when a
GPU driver is present). The pitfall catalog (examples/pitfalls, the subpackage pitfall.pitfalls that
`pitfall list` / `pitfall run` read) comes from the same staging; setuptools copies the pure-Python
modules from python/pitfall. Extra CMake arguments: CMAKE_ARGS="-DPITFALL_NATIVE=OFF".
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
# Keep setuptools' scratch space out of the source tree and apart from CMake's build/.
PIP_BUILD = ROOT / "build-pip"


def project_version():
    text = (ROOT / "CMakeLists.txt").read_text()
    return re.search(r"project\(pitfall\s+VERSION\s+([0-9.]+)", text).group(1)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        package_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        cmake_build = Path(self.build_temp).resolve() / "cmake"
        stage = cmake_build / "stage"
        configure = [
            "cmake", "-S", str(ROOT), "-B", str(cmake_build),
            "-DCMAKE_BUILD_TYPE=Release",
            f"-DPython3_EXECUTABLE={sys.executable}",
            "-DPITFALL_BUILD_TESTS=OFF", "-DPITFALL_BUILD_BENCH=OFF",
            f"-DCMAKE_INSTALL_PREFIX={stage}",
            # extension and library in one folder: <stage>/site/pitfall/
            "-DPITFALL_PYTHON_INSTALL_DIR=site", "-DCMAKE_INSTALL_LIBDIR=site/pitfall",
        ] + shlex.split(os.environ.get("CMAKE_ARGS", ""))
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.run(configure, check=True)
        subprocess.run(["cmake", "--build", str(cmake_build), "-j", jobs], check=True)
        shutil.rmtree(stage, ignore_errors=True)
        subprocess.run(["cmake", "--install", str(cmake_build)], check=True)

        staged = stage / "site" / "pitfall"
        package_dir.mkdir(parents=True, exist_ok=True)
        copied = []
        for path in staged.iterdir():
            # the extension, the library under its SONAME (libpitfall.so.0), the name the extension
            # asks the loader for (the other symlinked names would be duplicate copies), and the
            # CUDA module when it was built
            if (path.name.startswith("_pitfall") and path.suffix == ".so" or re.fullmatch(r"libpitfall\.so\.\d+", path.name)
                    or path.name == "libpitfall_cuda.so"):
                shutil.copyfile(path.resolve(), package_dir / path.name)
                copied.append(path.name)
        if not any(name.startswith("_pitfall") for name in copied):
            raise RuntimeError(f"the CMake build produced no _pitfall extension in {staged}")
        catalog = staged / "pitfalls"
        if not (catalog / "__init__.py").is_file():
            raise RuntimeError(f"the CMake install staged no pitfall catalog in {catalog}")
        shutil.rmtree(package_dir / "pitfalls", ignore_errors=True)
        shutil.copytree(catalog, package_dir / "pitfalls", ignore=shutil.ignore_patterns("__pycache__"))
        copied.append(f"pitfalls/ ({sum(1 for _ in catalog.glob('p[0-9][0-9]_*.py'))} catalog entries)")
        print(f"pitfall: packaged {', '.join(sorted(copied))}")


PIP_BUILD.mkdir(exist_ok=True)
setup(
    name="pitfall",
    version=project_version(),
    description="A minimal C++ deep-learning engine with a Keras-like API, built to reproduce training pitfalls",
    python_requires=">=3.9",
    install_requires=["numpy"],
    package_dir={"": "python"},
    packages=find_packages(where="python"),
    ext_modules=[CMakeExtension("pitfall._pitfall")],
    cmdclass={"build_ext": CMakeBuild},
    entry_points={"console_scripts": ["pitfall = pitfall.cli:main"]},
    zip_safe=False,
    options={"build": {"build_base": str(PIP_BUILD)}, "egg_info": {"egg_base": str(PIP_BUILD)}},
)
