"""The folders' layering: arrows point down only.

Each folder is a CMake library whose include root holds only its own headers and those of the
folders it DEPENDS on (CMakeLists.txt pitfall_folder_library), so an upward ``#include
"pitfall/<folder>/..."`` fails to compile. These tests read the same DEPENDS lines and check what
the compiler cannot: that the declared graph is the documented one, and that no source reaches
another folder by a relative path ("../layers/layer.h") around the include roots.
"""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
FOLDERS = ["core", "data", "optim", "layers", "training", "cuda"]
SOURCE_SUFFIXES = {".h", ".cpp", ".cu", ".cuh"}


def declared_dependencies():
    """{folder: set of folders it may include}, transitively, from each folder's CMakeLists.txt."""
    direct = {}
    for folder in FOLDERS:
        text = (ROOT / folder / "CMakeLists.txt").read_text()
        depends = set()
        for match in re.finditer(r"pitfall_folder_library\(\s*(\w+)([^)]*)\)", text):
            assert match.group(1) == folder, f"{folder}/CMakeLists.txt declares library {match.group(1)}"
            depends |= {name[len("pitfall_"):] for name in re.findall(r"pitfall_\w+", match.group(2))}
        # What its target links or takes include directories from (cuda/ is a module: it names
        # core's include root directly).
        for match in re.finditer(r"target_(?:link_libraries|include_directories)\(\s*pitfall_" + folder +
                                 r"\b((?:[^()]|\([^()]*\))*)\)", text):
            depends |= {name[len("pitfall_"):] for name in re.findall(r"pitfall_\w+", match.group(1))}
        direct[folder] = depends & set(FOLDERS)

    def closure(folder, seen=()):
        assert folder not in seen, f"dependency cycle through {folder}: {seen}"
        out = set()
        for dep in direct[folder]:
            out |= {dep} | closure(dep, seen + (folder,))
        return out

    return {folder: closure(folder) for folder in FOLDERS}


def test_the_declared_graph_is_the_documented_one():
    # DESIGN: core <- data, core <- optim, core <- layers <- training <- python; cuda depends on core only.
    deps = declared_dependencies()
    assert deps["core"] == set()
    assert deps["data"] == {"core"}
    assert deps["optim"] == {"core"}
    assert deps["layers"] == {"core"}
    assert deps["training"] == {"core", "data", "optim", "layers"}
    assert deps["cuda"] == {"core"}


@pytest.mark.parametrize("folder", FOLDERS)
def test_no_source_includes_a_folder_above_it(folder):
    allowed = declared_dependencies()[folder] | {folder}
    include = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]', re.M)
    problems = []
    for path in sorted((ROOT / folder).rglob("*")):
        if path.suffix not in SOURCE_SUFFIXES:
            continue
        for target in include.findall(path.read_text()):
            where = f"{path.relative_to(ROOT)}: #include \"{target}\""
            if target.startswith("pitfall/"):
                parts = target.split("/")
                named = parts[1] if len(parts) > 2 else "training"  # <pitfall/pitfall.h> is the umbrella
                if named not in allowed:
                    problems.append(f"{where} reaches up into {named}/")
            elif ".." in target:
                resolved = (path.parent / target).resolve()
                top = resolved.relative_to(ROOT).parts[0] if ROOT in resolved.parents else "?"
                if top != folder:
                    problems.append(f"{where} reaches {top}/ by a relative path around the include roots")
    assert not problems, "\n".join(problems)
