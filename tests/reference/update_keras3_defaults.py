"""Adds classes to keras3_defaults.json from a Keras source checkout (the reference the argument
tests compare every declared default with).

    /usr/bin/python3 tests/reference/update_keras3_defaults.py KERAS_CHECKOUT layers/Dot layers/Subtract ...

KERAS_CHECKOUT is a clone (or a bare git directory) of keras-team/keras; the classes are read at
the commit keras3_defaults.json names. Each class's __init__ is parsed (the first base's when the
class defines none): arguments after self in order, their literal defaults, keyword-only ones, and
whether **kwargs reaches keras's Layer / Optimizer / Loss / Metric base. (Arguments an
intermediate base takes through **kwargs, intermediate_base_kwargs, are not followed: add them by hand.)
"""
import ast
import json
import pathlib
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent
REFERENCE = HERE / "keras3_defaults.json"
FAMILY_EXPORT = {"layers": "keras.layers", "optimizers": "keras.optimizers", "losses": "keras.losses",
                 "metrics": "keras.metrics", "initializers": "keras.initializers",
                 "regularizers": "keras.regularizers", "callbacks": "keras.callbacks",
                 "schedules": "keras.optimizers.schedules"}
BASES = {"Layer": "base/Layer", "Optimizer": "base/Optimizer", "Loss": "base/Loss", "Metric": "base/Metric"}


class Source:
    def __init__(self, checkout, commit):
        path = pathlib.Path(checkout)
        self.git = ["git", f"--git-dir={path / '.git' if (path / '.git').exists() else path}"]
        self.commit = commit
        files = subprocess.run(self.git + ["ls-tree", "-r", "--name-only", commit, "keras/src"], check=True,
                               capture_output=True, text=True).stdout.split()
        self.files = [f for f in files if f.endswith(".py") and "/tests/" not in f and not f.endswith("_test.py")]
        self._trees = {}

    def tree(self, path):
        if path not in self._trees:
            text = subprocess.run(self.git + ["show", f"{self.commit}:{path}"], check=True, capture_output=True,
                                  text=True).stdout
            self._trees[path] = ast.parse(text)
        return self._trees[path]

    def find_class(self, name, export=None):
        """(file, ClassDef): the exported class when `export` is given, else the first definition."""
        for path in self.files:
            for node in self.tree(path).body:
                if isinstance(node, ast.ClassDef) and node.name == name:
                    if export is None or any(export in ast.unparse(d) for d in node.decorator_list):
                        return path, node
        return None, None


def base_name(cls):
    """The first base's class name ("layers.Layer" -> "Layer"), or None."""
    return ast.unparse(cls.bases[0]).split(".")[-1] if cls.bases else None


def init_of(source, path, cls):
    """(path, class, __init__) of the class or its first base that defines __init__."""
    while cls is not None:
        for node in cls.body:
            if isinstance(node, ast.FunctionDef) and node.name == "__init__":
                return path, cls, node
        if base_name(cls) in BASES or base_name(cls) is None:
            return path, cls, None
        path, cls = source.find_class(base_name(cls))
    return None, None, None


def arguments(init):
    args, out = init.args, []
    positional = args.args[1:]
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for arg, default in zip(positional, defaults):
        out.append(entry(arg.arg, default, False))
    for arg, default in zip(args.kwonlyargs, args.kw_defaults):
        out.append(entry(arg.arg, default, True))
    return out


def entry(name, default, keyword_only):
    item = {"name": name}
    if default is None:
        item["required"] = True
    else:
        try:
            item["default"] = ast.literal_eval(default)
        except ValueError:
            item["default_expr"] = ast.unparse(default)
    if keyword_only:
        item["keyword_only"] = True
    return item


def describe(source, key):
    family, name = key.split("/")
    path, cls = source.find_class(name, FAMILY_EXPORT[family] + "." + name)
    if cls is None:
        raise SystemExit(f"{key}: no class exported as {FAMILY_EXPORT[family]}.{name} in keras/src")
    init_path, init_cls, init = init_of(source, path, cls)
    result = {"source": path, "bases_as_written": [ast.unparse(b) for b in cls.bases]}
    if init_cls is not cls:
        result["init_defined_in"] = f"{init_cls.name} ({init_path})" if init_cls else "the Keras base"
    result["args"] = arguments(init) if init is not None else []
    result["var_kwargs"] = init is None or init.args.kwarg is not None
    base = cls
    while base is not None and base_name(base) is not None and base_name(base) not in BASES:
        base = source.find_class(base_name(base))[1]
    if base is not None and base_name(base) in BASES and result["var_kwargs"]:
        result["base_kwargs"] = BASES[base_name(base)]
    return result


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    reference = json.loads(REFERENCE.read_text())
    source = Source(argv[1], reference["keras_commit"])
    for key in argv[2:]:
        reference["classes"][key] = describe(source, key)
        print(key, json.dumps(reference["classes"][key]))
    temporary = REFERENCE.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(reference, indent=2) + "\n")
    temporary.replace(REFERENCE)


if __name__ == "__main__":
    main(sys.argv)
