"""Keyword binding, signatures and help text from the engine's argument tables.

Every class a user constructs by name declares its arguments once, in C++ (core/arguments.h): name,
kind, default (Keras's value; a conventions-table key where Keras and PyTorch differ), check and a
one-line doc. This module reads those tables and derives the Python side from them:

- ``bind(table, args, kwargs)``: Python's own call rules (positional order, unknown keywords with
  "did you mean", missing required arguments, all TypeError), then each value converted to what the
  engine stores (an initializer object to its config, a function to its name, a tuple to a list);
  the engine then checks the values (ValueError naming the class, the argument, the value and what
  is allowed) and resolves every default;
- ``signature(table)`` for ``inspect.signature(cls)``, and ``docstring(table)`` for ``help(cls)``.
"""
import difflib
import inspect
import os

import numpy as np

from . import _pitfall as _C

_TABLES = {}


def table(family, class_name):
    """The argument table of a registered class (a dict), cached."""
    key = (family, class_name)
    if key not in _TABLES:
        found = _C.argument_table(family, class_name)
        if found is None:
            raise KeyError(f"no argument table for {family}/{class_name}")
        _TABLES[key] = found
    return _TABLES[key]


def did_you_mean(name, candidates):
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    listing = ", ".join(sorted(candidates))
    if close:
        return "did you mean " + " or ".join(f"'{c}'" for c in close) + f"? Accepted: {listing}"
    return f"accepted: {listing}"


# ---------------------------------------------------------------- signatures and docs

def _positional(tab):
    return [a for a in tab["arguments"] if not a["keyword_only"]]


def _keyword_only(tab):
    return [a for a in tab["arguments"] if a["keyword_only"]]


def signature(tab):
    """inspect.Signature with Keras's names, order and defaults (pitfall-only arguments keyword-only,
    then **kwargs for the base class's keywords)."""
    P = inspect.Parameter
    params = []
    for a in _positional(tab):
        params.append(P(a["name"], P.POSITIONAL_OR_KEYWORD, default=P.empty if a["required"] else a["default"]))
    for a in _keyword_only(tab):
        params.append(P(a["name"], P.KEYWORD_ONLY, default=P.empty if a["required"] else a["default"]))
    if tab["base_names"]:
        params.append(P("kwargs", P.VAR_KEYWORD))
    return inspect.Signature(params)


def docstring(tab, intro=None):
    """The help text: the class's line, its upstream source, then one line per argument."""
    lines = [intro or tab["doc"], "", f"Keras reference: {tab['source']}" if tab["source"] else "", "", "Arguments:"]
    for a in tab["arguments"]:
        default = "required" if a["required"] else f"default {_C.python_repr(a['default'])}"
        if "torch_default" in a and a["torch_default"] != a["default"]:
            default += f" (convention='torch': {_C.python_repr(a['torch_default'])})"
        notes = []
        if not a["supported"]:
            notes.append("accepted at its default only")
        if not a["keras"]:
            notes.append("pitfall")
        note = f" [{', '.join(notes)}]" if notes else ""
        lines.append(f"    {a['name']} ({a['kind']}, {default}){note}: {a['doc']}".rstrip(": "))
    if tab["base_names"]:
        lines.append(f"    **kwargs: {', '.join(tab['base_names'])}")
    return "\n".join(line for line in lines)


class _FromTable:
    """A class attribute made from the class's argument table when it is first read (inspect.signature
    reads ``__signature__``, help() reads ``__doc__``): importing pitfall builds none of them."""

    def __init__(self, make, family, class_name):
        self._make, self._family, self._class_name, self._value = make, family, class_name, None

    def __get__(self, instance, owner=None):
        if self._value is None:
            self._value = self._make(table(self._family, self._class_name))
        return self._value


def install(cls, family, class_name=None, intro=None):
    """Gives `cls` its table's signature and help text (made when first read); returns it."""
    class_name = class_name or cls.__name__
    cls.__signature__ = _FromTable(signature, family, class_name)
    cls.__doc__ = _FromTable(lambda tab: docstring(tab, intro), family, class_name)
    return cls


# ---------------------------------------------------------------- classes of a family

class FamilyClass(type):
    """The metaclass of a Keras class whose objects the engine builds from a config (a loss, metric,
    initializer or regularizer): calling the class binds the arguments against its table and builds
    the engine's object, ``isinstance(obj, cls)`` checks the object's class name, and
    ``cls.from_config(config)`` rebuilds one, as with Keras classes."""

    def __call__(cls, *args, **kwargs):
        config, _ = bind(table(cls._family, cls.__name__), args, kwargs)
        return cls.from_config(config)

    def __instancecheck__(cls, instance):
        return isinstance(instance, cls._base) and instance.class_name == cls.__name__

    def from_config(cls, config):
        return cls._build({"class_name": cls.__name__, "config": config})


def family_get(identifier, base, what, example, by_name=None, by_config=None, by_function=None):
    """Keras's ``get`` of a family: an object of `base` as it is, else a name (`by_name`), a config
    dict (`by_config`) or a function (`by_function`) where the family takes one; anything else is a
    TypeError "cannot interpret <identifier> as <what>; pass <example>"."""
    if isinstance(identifier, base):
        return identifier
    if by_name is not None and isinstance(identifier, str):
        return by_name(identifier)
    if by_config is not None and isinstance(identifier, dict):
        return by_config(identifier)
    if by_function is not None and callable(identifier):
        return by_function(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as {what}; pass {example}")


def family_classes(family, base, build, module, names):
    """The classes `names` of `family` (FamilyClass), each with its table's signature and help;
    `build` makes the engine's object from {"class_name", "config"}, `base` is its Python type."""
    attributes = {"__module__": module, "_family": family, "_base": base, "_build": staticmethod(build)}
    return [install(FamilyClass(name, (), dict(attributes)), family) for name in names]


# ---------------------------------------------------------------- binding

def _plain(value):
    """Tuples as lists, NumPy scalars and arrays as Python values, paths as strings, recursively."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _activation_name(value, where):
    """An activation as the engine stores it: its name. A built-in function stands for its name; a
    function of the user's is registered under its registered name (register_keras_serializable) or
    its __name__, which the config then records (as Keras records a custom function by name)."""
    if value is None or isinstance(value, str):
        return value
    name = getattr(value, "__name__", None)
    if name is not None and name in _C.activation_names():
        return name
    if not callable(value) or isinstance(value, type):
        raise TypeError(f"{where}: activation must be a name or a function, got {value!r}")
    return register_activation(value, where)


def register_activation(fn, where="activation"):
    """Makes a Python function usable by name as a built-in layer's activation; returns the name."""
    from .saving import get_registered_name
    name = get_registered_name(fn)
    if not name or name == "<lambda>":
        raise ValueError(f"{where}: a lambda cannot be an activation by name (its config could not name it); "
                         "define it with def, or use a Lambda layer")
    _C.register_activation(name, fn)
    return name


def convert(argument, value, where):
    """A Python value as the engine stores it, by the argument's kind."""
    if value is None:
        return None
    kind = argument["kind"]
    if kind == "initializer":
        if isinstance(value, (str, dict)):
            return value
        from . import initializers
        return initializers.serialize(initializers.get(value))
    if kind == "regularizer":
        if isinstance(value, (str, dict)):
            return value
        from . import regularizers
        return regularizers.get(value)._config_entry()
    if kind == "activation":
        return _activation_name(value, where)
    if kind == "dtype":
        from ._convert import standardize_dtype
        return standardize_dtype(value)
    return _plain(value)


def _base_value(name, value):
    """A Layer base keyword (name, trainable, dtype, input_shape, ...) as a layer config holds it."""
    if name == "dtype" and value is not None:
        from .mixed_precision import policy_name
        return policy_name(value)
    if name in ("input_shape", "batch_input_shape") and value is not None:
        return [value] if isinstance(value, (int, np.integer)) else _plain(list(value))
    return _plain(value)


def bind(tab, args, kwargs):
    """(config, objects) for a call cls(*args, **kwargs): Python's call rules as TypeError, values
    converted by kind; object arguments (functions, other objects) come back apart, as given."""
    where = tab["class_name"]
    arguments = {a["name"]: a for a in tab["arguments"]}
    positional = [a["name"] for a in _positional(tab)]
    if len(args) > len(positional):
        raise TypeError(f"{where}() takes at most {len(positional)} positional arguments "
                        f"({', '.join(positional)}), got {len(args)}")
    bound = dict(zip(positional, args))
    for key, value in kwargs.items():
        if key in bound:
            raise TypeError(f"{where}() got multiple values for argument '{key}'")
        if key not in arguments and key not in tab["base_names"]:
            hint = tab["hints"].get(key)
            raise TypeError(f"{where}() got an unexpected keyword argument '{key}'; "
                            + (hint or did_you_mean(key, list(arguments) + list(tab["base_names"]))))
        bound[key] = value
    for name, a in arguments.items():
        if a["required"] and name not in bound:
            raise TypeError(f"{where}() missing required argument '{name}'" + (f": {a['doc']}" if a["doc"] else ""))
    config, objects = {}, {}
    for name, value in bound.items():
        a = arguments.get(name)
        if a is None:
            if name == "input_dim":
                if value is not None:
                    config["input_shape"] = [int(value)]
                continue
            config[name] = _base_value(name, value)
        elif a["kind"] == "object" and value is not None and not isinstance(value, (dict, str)):
            objects[name] = value
        else:
            config[name] = convert(a, value, where)
    return config, objects
