"""docs/keras-compatibility.md: which of Keras 3's public names pitfall has, which differ (and why),
and which are missing. The Keras side is tests/reference/keras3_api.json (the names keras/api
exports, read from a Keras checkout at the commit keras3_defaults.json names); the pitfall side is
looked up in the built package; the reasons for differences are DIFFERENCES below.

    /usr/bin/python3 scripts/keras_compatibility.py                       # rewrite the document
    /usr/bin/python3 scripts/keras_compatibility.py --check               # exit 1 if it is stale
    /usr/bin/python3 scripts/keras_compatibility.py --reference KERAS_GIT # re-read Keras's names

tests/python/test_keras_compatibility.py runs --check, so the table cannot drift from the code.
"""
import json
import pathlib
import re
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
REFERENCE = ROOT / "tests" / "reference" / "keras3_api.json"
DOCUMENT = ROOT / "docs" / "keras-compatibility.md"
MODULES = ["layers", "losses", "metrics", "optimizers", "optimizers/schedules", "callbacks", "initializers",
           "regularizers", "activations", "ops", "ops/nn", "models", "saving", "utils", "preprocessing", "random",
           "backend", "config", "mixed_precision", "datasets"]

# Names pitfall has but where it deliberately behaves differently from Keras 3, and why.
DIFFERENCES = {
    "ops.argmax": "indices are int64 (Keras: int32), as every index pitfall returns",
    "ops.argmin": "indices are int64 (Keras: int32)",
    "ops.argsort": "indices are int64 (Keras: int32); the sort is stable",
    "ops.top_k": "indices are int64 (Keras: int32); always sorted",
    "ops.one_hot": "a label out of range raises (Keras: an all-zero row)",
    "ops.pad": "modes linear_ramp, maximum, mean, median, minimum, empty, circular raise NotImplementedError",
    "ops.norm": "no nuclear or spectral (ord=2/-2) matrix norms",
    "ops.conv": "1-D and 2-D only; no dilation or groups",
    "ops.sin": "floating inputs only: integers raise instead of being promoted (docs/dtypes.md)",
    "layers.Layer": "add_weight(constraint=...) and autocast=False raise NotImplementedError",
    "layers.Lambda": "mask= is refused; a Python lambda loads only with safe_mode=False, as in Keras",
    "layers.UpSampling2D": "interpolation bicubic, lanczos3, lanczos5 and area raise NotImplementedError",
    "layers.Normalization": "adapt() accumulates its statistics in float64",
    "layers.Add": "inputs of different ranks raise (Keras expands dims silently)",
    "losses.MeanSquaredError": "y_true and y_pred aligned as Keras (squeeze_or_expand_to_same_rank); a hand-written "
                               "loss called directly broadcasts (pitfall P29)",
    "losses.CategoricalCrossentropy": "integer labels raise naming the sparse loss (pitfall P08; Keras: a shape error)",
    "losses.SparseCategoricalCrossentropy": "one-hot labels raise naming the categorical loss; a label out of range "
                                            "raises (pitfall P08)",
    "metrics.Precision": "one threshold only; top_k and class_id are accepted at None only",
    "metrics.Recall": "one threshold only; top_k and class_id are accepted at None only",
    "optimizers.Adam": "convention='torch' gives torch.optim.Adam's defaults and update rule (pitfall's own argument)",
    "models.Model": "a train_step / test_step / predict_step override runs the loop in Python; otherwise fit runs "
                    "in C++. Weights keep their path as name ('dense/kernel'; Keras 3: 'kernel', path 'dense/kernel')",
    "callbacks.EarlyStopping": "best_weights are NumPy arrays",
    "utils.timeseries_dataset_from_array": "returns a pf.data.Dataset",
}


def read_keras_names(git_dir):
    """{module: sorted names} from keras/api/<module>/__init__.py at the reference commit."""
    commit = json.loads((ROOT / "tests" / "reference" / "keras3_defaults.json").read_text())["keras_commit"]
    names = {}
    for module in MODULES:
        text = subprocess.run(["git", f"--git-dir={git_dir}", "show", f"{commit}:keras/api/{module}/__init__.py"],
                              check=True, capture_output=True, text=True).stdout
        found = set(re.findall(r"\bas (\w+),?\s*$", text, flags=re.M))
        submodules = {m.split("/")[-1] for m in MODULES if m.startswith(module + "/")}
        names[module] = sorted(n for n in found if not n.startswith("_") and n not in submodules)
    return {"keras_commit": commit, "modules": names}


def pitfall_object(module, name):
    import os
    build = pathlib.Path(os.environ.get("PITFALL_BUILD_DIR", ROOT / "build"))
    package = str((build if build.is_absolute() else ROOT / build) / "python")
    if package not in sys.path:
        sys.path.insert(0, package)
    import pitfall
    obj = pitfall
    for part in module.split("/"):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return getattr(obj, name, None)


def render():
    reference = json.loads(REFERENCE.read_text())
    lines = ["# Keras 3 compatibility", "",
             "Every public name of Keras 3 (keras/api at commit `" + reference["keras_commit"][:12] + "`) in the",
             "modules pitfall mirrors, and whether `pitfall` has it. **exists**: same name, arguments and",
             "behaviour as Keras 3 (tests check the arguments against keras/src, tests/python/test_arguments.py,",
             "and the behaviour against Keras's rules and PyTorch); **differs**: exists, with the difference",
             "given (a documented pitfall, or a deliberately stricter error); **missing**: not in pitfall yet",
             "(calling it raises AttributeError). Generated by scripts/keras_compatibility.py from the code;",
             "tests/python/test_keras_compatibility.py fails when this file is stale.", "",
             "Also accepted where tf.keras 2.x code still uses them: `optimizer.apply_gradients(zip(g, v))`",
             "beside `optimizer.apply(g, v)`, `model.compiled_loss` / `model.compiled_metrics` in a",
             "train_step, `layer.input_shape` / `layer.output_shape`, `Metric.add_weight`.", "",
             "| module | Keras names | exists | differs | missing |", "|---|---|---|---|---|"]
    sections = []
    for module in MODULES:
        names = reference["modules"][module]
        rows, counts = [], {"exists": 0, "differs": 0, "missing": 0}
        dotted = module.replace("/", ".")
        for name in names:
            key = f"{dotted}.{name}"
            if pitfall_object(module, name) is None:
                status, note = "missing", ""
            elif key in DIFFERENCES:
                status, note = "differs", DIFFERENCES[key]
            else:
                status, note = "exists", ""
            counts[status] += 1
            rows.append(f"| `{name}` | {status} | {note} |")
        lines.append(f"| [{dotted}](#{dotted.replace('.', '')}) | {len(names)} | {counts['exists']} | "
                     f"{counts['differs']} | {counts['missing']} |")
        sections += ["", f"## {dotted}", "", "| name | pitfall | difference |", "|---|---|---|"] + rows
    return "\n".join(lines + sections) + "\n"


def main(argv):
    if len(argv) > 2 and argv[1] == "--reference":
        REFERENCE.write_text(json.dumps(read_keras_names(argv[2]), indent=2) + "\n")
        return 0
    text = render()
    if len(argv) > 1 and argv[1] == "--check":
        if DOCUMENT.read_text() != text:
            print(f"{DOCUMENT} is stale: run /usr/bin/python3 scripts/keras_compatibility.py", file=sys.stderr)
            return 1
        return 0
    DOCUMENT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
