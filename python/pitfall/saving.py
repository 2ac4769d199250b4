"""pitfall.saving: keras.saving's names for saving, loading and custom-object registration.

``@register_keras_serializable(package="Custom", name=None)`` registers a class (a layer, loss,
metric, ...) under "package>name" (keras/src/saving/object_registration.py); a registered layer
is rebuilt by ``load_model`` and ``Model.from_config`` through its ``from_config(config)`` without
``custom_objects``. ``custom_object_scope`` registers objects for the duration of a ``with`` block.
"""
import contextlib
import inspect

from . import _pitfall as _C

_GLOBAL_CUSTOM_OBJECTS = {}
_GLOBAL_CUSTOM_NAMES = {}
_SCOPES = []


def _register_layer(name, obj):
    if inspect.isclass(obj) and issubclass(obj, _C.Layer):
        _C.register_python_layer_class(name, obj)


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
        _register_layer(class_name, arg)
        return arg
    return decorator


def get_custom_objects():
    """The global {registered name: object} dict (changes to it register objects too)."""
    return _GLOBAL_CUSTOM_OBJECTS


def get_registered_name(obj):
    """'package>name' for a registered object, else its __name__."""
    return _GLOBAL_CUSTOM_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The object registered (or given in custom_objects / an open custom_object_scope) as `name`;
    a plain class name also finds "package>name" registrations."""
    for table in [custom_objects or {}] + list(reversed(_SCOPES)) + [_GLOBAL_CUSTOM_OBJECTS, module_objects or {}]:
        if name in table:
            return table[name]
    matches = [obj for key, obj in _GLOBAL_CUSTOM_OBJECTS.items() if key.split(">", 1)[-1] == name]
    return matches[0] if len(matches) == 1 else None


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


def serialize_keras_object(obj):
    """{"module", "class_name", "config", "registered_name"} for a layer, loss, metric, optimizer, ..."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if inspect.isfunction(obj):
        return {"module": obj.__module__, "class_name": "function", "config": obj.__name__,
                "registered_name": get_registered_name(obj)}
    config = obj.get_config()
    class_name = getattr(obj, "class_name", type(obj).__name__)
    if not isinstance(class_name, str):
        class_name = type(obj).__name__
    return {"module": type(obj).__module__, "class_name": class_name, "config": config,
            "registered_name": get_registered_name(type(obj))}


def deserialize_keras_object(config, custom_objects=None, safe_mode=True, **kwargs):
    """The object a serialize_keras_object dict describes (built-in classes by their family, custom
    ones through custom_objects, scopes or registration)."""
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        found = get_registered_object(config, custom_objects)
        if found is not None:
            return found
        raise ValueError(f"deserialize_keras_object: unknown object {config!r}; pass it in custom_objects")
    class_name = config.get("class_name")
    inner = config.get("config", {})
    if class_name == "function":
        found = get_registered_object(config.get("registered_name") or inner, custom_objects)
        if found is None:
            raise ValueError(f"deserialize_keras_object: unknown function {inner!r}; pass it in custom_objects")
        return found
    found = get_registered_object(config.get("registered_name") or class_name, custom_objects) or \
        get_registered_object(class_name, custom_objects)
    if found is not None:
        return found.from_config(inner)
    from . import layers, losses, metrics, optimizers, initializers, regularizers
    for family in (layers, losses, metrics, optimizers, initializers, regularizers):
        cls = getattr(family, class_name, None)
        if cls is not None and hasattr(cls, "from_config"):
            return cls.from_config(inner)
    if class_name in ("Functional", "Sequential", "Model"):
        from .models import Model, Sequential
        return (Sequential if class_name == "Sequential" else Model).from_config(inner, custom_objects=custom_objects)
    raise ValueError(f"deserialize_keras_object: unknown class {class_name!r}; register it with "
                     "@pf.saving.register_keras_serializable() or pass it in custom_objects")


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    from .models import load_model as _load
    return _load(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True, **kwargs):
    """model.save(filepath): config, compile config and weights in one file, written atomically."""
    if kwargs:
        raise TypeError(f"save_model: unexpected arguments {sorted(kwargs)}")
    import os
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"save_model: {filepath} exists and overwrite=False")
    model.save(str(filepath))
