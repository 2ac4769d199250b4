"""pitfall.saving: keras.saving's names for saving, loading and custom-object registration.

``@register_keras_serializable(package="Custom", name=None)`` registers a class (a layer, loss,
metric, ...) under "package>name" (keras/src/saving/object_registration.py); a registered layer
is rebuilt by ``load_model`` and ``Model.from_config`` through its ``from_config(config)`` without
``custom_objects``. ``custom_object_scope`` registers objects for the duration of a ``with`` block.
"""
import contextlib
import importlib
import inspect
import types

import numpy as np

from . import _pitfall as _C

_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}
_SCOPES = []


class _LayerClassByName:
    """What the engine's layer registry holds for a custom class name: the class itself is looked up
    when a config is rebuilt (custom_objects of the load in progress, open custom_object_scopes,
    registrations), so that objects given for one load are known to that load only, as in Keras."""

    def __init__(self, name):
        self.name = name

    def from_config(self, config):
        from . import layers
        cls = get_registered_object(self.name, layers._DESERIALIZATION["custom_objects"])
        if cls is None:
            raise TypeError(f"Could not locate class '{self.name}'. Make sure custom classes are decorated with "
                            "`@keras.saving.register_keras_serializable()`, or pass them when loading: "
                            f"load_model(path, custom_objects={{'{self.name}': {self.name}}}) (or open a "
                            "custom_object_scope)")
        return _from_config_and_build(cls, config)


def _from_config_and_build(cls, config):
    """cls.from_config(config), then build_from_config with the config's "build_config" (which a
    saved subclassed model carries) as keras/src/saving/serialization_lib.py does."""
    config = dict(config)
    build_config = config.pop("build_config", None)
    instance = cls.from_config(config)
    if build_config and hasattr(instance, "build_from_config"):
        instance.build_from_config(build_config)
    return instance


_ENGINE_CLASSES = set()


def _register_layer(name, obj):
    """Makes the engine build configs of class `name` (and of obj's own class name) through Python;
    the names of the engine's own classes (Dense, Functional, ...) keep meaning those."""
    if not _ENGINE_CLASSES:
        _ENGINE_CLASSES.update(_C.registered_layer_classes())
    if inspect.isclass(obj) and issubclass(obj, _C.Layer):
        for key in {name, obj.__name__} - _ENGINE_CLASSES:
            _C.register_python_layer_class(key, _LayerClassByName(key))
    elif inspect.isfunction(obj):
        # A function may be a built-in layer's activation=: configs record it by name.
        for key in {name, get_registered_name(obj)} - set(_C.activation_names()):
            _C.register_activation(key, obj)


def register_keras_serializable(package="Custom", name=None):
    """Registers a class or function with the serialization framework (keras.saving)."""
    def decorator(arg):
        class_name = name if name is not None else arg.__name__
        registered_name = f"{package}>{class_name}"
        if inspect.isclass(arg) and not hasattr(arg, "get_config"):
            raise ValueError(f"register_keras_serializable: {arg.__name__} has no get_config() method, so it cannot be "
                             "serialized; define get_config(self) returning its constructor arguments")
        if registered_name in _GLOBAL_CUSTOM_OBJECTS and _GLOBAL_CUSTOM_OBJECTS[registered_name] is not arg:
            raise ValueError(f"register_keras_serializable: {registered_name} has already been registered to "
                             f"{_GLOBAL_CUSTOM_OBJECTS[registered_name]}")
        _GLOBAL_CUSTOM_OBJECTS[registered_name] = arg
        _GLOBAL_CUSTOM_NAMES[arg] = registered_name
        _register_layer(class_name, arg)  # configs name the class by __name__, registered or not
        return arg
    return decorator


def get_custom_objects():
    """The global {registered name: object} dict (changes to it register objects too)."""
    return _GLOBAL_CUSTOM_OBJECTS


def get_registered_name(obj):
    """'package>name' for a registered object, else its __name__."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


_PUBLIC_MODULES = ("layers", "losses", "metrics", "optimizers", "initializers", "regularizers", "activations")


def _public_module(obj):
    """'pitfall.<family>' when that public module exports `obj` (a built-in class or function) under
    its name, Keras's "keras.regularizers" for keras.regularizers.L1; else None."""
    name = getattr(obj, "__name__", None)
    for family in _PUBLIC_MODULES:
        module = importlib.import_module(f"pitfall.{family}")
        if name is not None and getattr(module, name, None) is obj:
            return module.__name__
    return None


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or given in custom_objects / an open custom_object_scope) as `name`;
    a plain class name also finds "package>name" registrations, by that name or by the class's own
    __name__ (which configs record as class_name)."""
    for table in [custom_objects or {}] + list(reversed(_SCOPES)) + [_GLOBAL_CUSTOM_OBJECTS, module_objects or {}]:
        if name in table:
            return table[name]
    matches = [obj for key, obj in _GLOBAL_CUSTOM_OBJECTS.items()
               if key.split(">", 1)[-1] == name or getattr(obj, "__name__", None) == name]
    return matches[0] if len(set(map(id, matches))) == 1 else None


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """``with custom_object_scope({"MyLayer": MyLayer}):`` the objects are known to load_model and
    from_config inside the block."""
    _SCOPES.append(dict(custom_objects))
    try:
        for key, obj in custom_objects.items():
            _register_layer(key, obj)
        yield
    finally:
        _SCOPES.pop()


CustomObjectScope = custom_object_scope


def register_custom_objects(custom_objects, where):
    """Makes the layers in `custom_objects` (and those of open scopes) buildable by class name;
    raises TypeError naming an entry that is neither a class with from_config nor a function."""
    for key, obj in (custom_objects or {}).items():
        if not (inspect.isclass(obj) or callable(obj)):
            raise TypeError(f"{where}: custom_objects['{key}'] must be a class or a function, got {obj!r}")
        _register_layer(key, obj)


def serialize_dict(config):
    """A config dict with every Keras object in it serialized (keras/src/saving/serialization_lib.py)."""
    return {key: serialize_keras_object(value) for key, value in config.items()}


def serialize_keras_object(obj):
    """{"module", "class_name", "config", "registered_name"} for a layer, loss, metric, optimizer,
    regularizer, function, ...; nested objects in its config are serialized too. Built-in objects
    have the public module ("pitfall.regularizers") and registered_name None; custom ones their
    module and registered name ("package>name" once registered). A model or layer that can say how
    it was built adds "build_config" (keras/src/saving/serialization_lib.py)."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return {"class_name": "__numpy__", "config": {"value": obj.tolist(), "dtype": str(obj.dtype)}}
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(item) for item in obj]
    if isinstance(obj, dict):
        return serialize_dict(obj)
    if isinstance(obj, types.FunctionType):
        public = _public_module(obj)
        return {"module": public or obj.__module__, "class_name": "function", "config": obj.__name__,
                "registered_name": obj.__name__ if public else get_registered_name(obj)}
    if not hasattr(obj, "get_config"):
        raise TypeError(f"Cannot serialize object {obj!r} of type {type(obj).__name__}. To be serializable, a class "
                        "must implement the `get_config()` method.")
    config = obj.get_config()
    if not isinstance(config, dict):
        raise TypeError(f"The `get_config()` method of {obj!r} should return a dict. It returned: {config!r}")
    class_name = getattr(obj, "class_name", None)
    public = _public_module(type(obj))
    if isinstance(obj, _C.Model) and type(obj) in (_C.Model, _C.Sequential):
        public = "pitfall.models"
    if public is None or not isinstance(class_name, str):
        class_name = type(obj).__name__
    out = {"module": public or type(obj).__module__, "class_name": class_name, "config": serialize_dict(config),
           "registered_name": None if public else get_registered_name(type(obj))}
    build_config = obj.get_build_config() if hasattr(obj, "get_build_config") else None
    if build_config is not None:
        out["build_config"] = serialize_dict(build_config)
    return out


def _locate_class(config, custom_objects):
    """The class a serialized entry names: custom objects, scopes and registrations first (by
    registered name, then class name), then the public module it names, then pitfall's families."""
    class_name = config.get("class_name")
    found = get_registered_object(config.get("registered_name") or class_name, custom_objects) or \
        get_registered_object(class_name, custom_objects)
    if found is not None:
        return found
    if class_name in ("Functional", "Sequential", "Model"):
        from .models import Model, Sequential
        return Sequential if class_name == "Sequential" else Model
    module = config.get("module") or ""
    candidates = [module] if module.startswith("pitfall.") else []
    for name in candidates + [f"pitfall.{family}" for family in _PUBLIC_MODULES]:
        try:
            cls = getattr(importlib.import_module(name), class_name, None)
        except ImportError:
            cls = None
        if cls is not None and hasattr(cls, "from_config"):
            return cls
    raise TypeError(f"Could not locate class '{class_name}'. Make sure custom classes are decorated with "
                    "`@keras.saving.register_keras_serializable()`, or pass them in custom_objects. "
                    f"Full object config: {config}")


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a serialize_keras_object dict describes (built-in classes by their module or
    family, custom ones through custom_objects, scopes or registration); a "build_config" builds it."""
    if kwargs:
        raise TypeError(f"deserialize_keras_object: unexpected arguments {sorted(kwargs)}")
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, (list, tuple)):
        return [deserialize_keras_object(item, custom_objects, safe_mode) for item in config]
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        if found is not None:
            return found
        raise ValueError(f"deserialize_keras_object: unknown object {config!r}; pass it in custom_objects")
    class_name = config.get("class_name")
    inner = config.get("config", {})
    if class_name == "__numpy__":
        return np.array(inner["value"], dtype=inner["dtype"])
    if class_name == "function":
        found = get_registered_object(config.get("registered_name") or inner, custom_objects)
        if found is None and (config.get("module") or "").startswith("pitfall."):
            found = getattr(importlib.import_module(config["module"]), inner, None)
        if found is None:
            raise TypeError(f"Could not locate function '{inner}'. Make sure custom functions are decorated with "
                            "`@keras.saving.register_keras_serializable()`, or pass them in custom_objects")
        return found
    cls = _locate_class(config, custom_objects)
    from . import layers
    # Inside a load in progress (a custom from_config deserializing its sublayers), the load's
    # safe_mode and custom objects stay in force (keras/src/saving/serialization_lib.py).
    outer = layers._DESERIALIZATION
    objects = {**outer["custom_objects"], **(custom_objects or {})}
    with custom_object_scope(custom_objects or {}), \
            layers._deserialization_scope(safe_mode if outer["safe_mode"] is None else outer["safe_mode"], objects):
        if issubclass(cls, _C.Model) and class_name in ("Functional", "Sequential", "Model"):
            return cls.from_config(inner, custom_objects=custom_objects)
        if "build_config" in config:
            return _from_config_and_build(cls, {**inner, "build_config": config["build_config"]})
        return cls.from_config(inner)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    from .models import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, **kwargs):
    """keras.saving.save_model: model.save(filepath, overwrite=...) (config, compile config and
    weights in one file, written atomically)."""
    model.save(filepath, overwrite=overwrite, **kwargs)
