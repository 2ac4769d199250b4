"""pf.function: tf.function's decorator, running the function eagerly.

pitfall has no graph compiler: every op already runs in C++ as it is called, so a decorated
function executes exactly as the undecorated one would, op by op, with the same numbers. What the
decorator keeps of tf.function is its contract with the caller: the arguments it takes
(``func``, ``input_signature``, ``autograph``, ``jit_compile``, ``reduce_retracing``), the use as
``@pf.function`` or ``@pf.function(...)`` on functions and methods, and ``input_signature``'s
checks (each argument converted to the spec's dtype, a tensor of another dtype or an incompatible
shape refused with TypeError). Arguments that only steer TensorFlow's graph building are errors
that say so.
"""
import functools
import inspect

import numpy as np

from ._convert import Tensor, convert_to_tensor

_ACCEPTED = ("func", "input_signature", "autograph", "jit_compile", "reduce_retracing")


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             **unsupported):
    """Decorates `func` as tf.function does, and runs it eagerly (the numbers are those of `func`).

        @pf.function
        def train_step(x, y):
            ...

        @pf.function(input_signature=[pf.data.TensorSpec((None, 784), "float32")])
        def predict(x):
            ...

    ``jit_compile``, ``autograph`` and ``reduce_retracing`` are accepted and validated; they change
    nothing, since there is no graph to compile, convert or retrace. ``input_signature`` (a list of
    pf.data.TensorSpec, nested in lists/tuples/dicts as the arguments are) fixes the arguments: each
    is converted to its spec's dtype, and a tensor of another dtype, a shape the spec does not allow,
    or an argument beyond the signature raises TypeError, as tf.function does.
    """
    if unsupported:
        raise TypeError(f"pf.function got unsupported arguments {sorted(unsupported)}; it accepts "
                        f"{', '.join(_ACCEPTED)}. The function runs eagerly, so TensorFlow's graph-building "
                        "options have no meaning here: remove them")
    for name, value in (("autograph", autograph), ("reduce_retracing", reduce_retracing)):
        if not isinstance(value, bool):
            raise TypeError(f"pf.function: {name} must be a bool, got {value!r}")
    if jit_compile is not None and not isinstance(jit_compile, bool):
        raise TypeError(f"pf.function: jit_compile must be None or a bool, got {jit_compile!r}")
    if input_signature is not None:
        if not isinstance(input_signature, (list, tuple)):
            raise TypeError(f"pf.function: input_signature must be a list or tuple of pf.data.TensorSpec, got "
                            f"{input_signature!r}")
        _check_specs(input_signature)
        input_signature = tuple(input_signature)

    def decorate(fn):
        if not callable(fn):
            raise TypeError(f"pf.function decorates a callable, got {fn!r}")
        return Function(fn, input_signature, jit_compile)

    return decorate if func is None else decorate(func)


def _check_specs(structure):
    from .data import TensorSpec
    if isinstance(structure, (list, tuple)):
        for item in structure:
            _check_specs(item)
    elif isinstance(structure, dict):
        for item in structure.values():
            _check_specs(item)
    elif not isinstance(structure, TensorSpec):
        raise TypeError(f"pf.function: input_signature entries must be pf.data.TensorSpec, got {structure!r}")


class Function:
    """What pf.function returns: calls ``python_function`` (checking ``input_signature`` if given);
    as a class attribute it binds to the instance like a method."""

    def __init__(self, python_function, input_signature, jit_compile, bound_to=None):
        self.python_function = python_function
        self.input_signature = input_signature
        self.jit_compile = jit_compile
        self._bound_to = bound_to
        functools.update_wrapper(self, python_function)

    def __get__(self, instance, owner=None):
        if instance is None:
            return self
        return Function(self.python_function, self.input_signature, self.jit_compile, bound_to=instance)

    def __call__(self, *args, **kwargs):
        if self.input_signature is not None:
            args, kwargs = self._conform(args, kwargs)
        if self._bound_to is not None:
            return self.python_function(self._bound_to, *args, **kwargs)
        return self.python_function(*args, **kwargs)

    def _conform(self, args, kwargs):
        """The arguments bound to the signature's parameters, each converted to its spec (tf.function:
        the input_signature covers the leading parameters; nothing may be passed beyond them)."""
        parameters = list(inspect.signature(self.python_function).parameters)
        if self._bound_to is not None:
            parameters = parameters[1:]
        covered = parameters[:len(self.input_signature)]
        name = getattr(self.python_function, "__name__", "function")
        extra = [k for k in kwargs if k not in covered]
        if len(args) > len(covered) or extra:
            raise TypeError(f"pf.function '{name}': its input_signature covers {covered}; got "
                            f"{len(args)} positional arguments and keywords {sorted(kwargs)}")
        values = list(args) + [kwargs[p] for p in covered[len(args):] if p in kwargs]
        if len(values) != len(covered):
            missing = [p for p in covered[len(args):] if p not in kwargs]
            raise TypeError(f"pf.function '{name}': missing arguments {missing} of its input_signature")
        return tuple(_conform(v, spec, f"{name}({p})") for v, spec, p in
                     zip(values, self.input_signature, covered)), {}

    def __repr__(self):
        return f"<pf.function {getattr(self.python_function, '__qualname__', self.python_function)!r} (eager)>"


def _conform(value, spec, where):
    if isinstance(spec, (list, tuple)):
        if not isinstance(value, (list, tuple)) or len(value) != len(spec):
            raise TypeError(f"{where}: got {value!r}, which does not match the input_signature structure {spec!r}")
        return type(spec)(_conform(v, s, f"{where}[{i}]") for i, (v, s) in enumerate(zip(value, spec)))
    if isinstance(spec, dict):
        if not isinstance(value, dict) or sorted(value) != sorted(spec):
            raise TypeError(f"{where}: got {value!r}, which does not match the input_signature keys {sorted(spec)}")
        return {k: _conform(value[k], spec[k], f"{where}[{k!r}]") for k in spec}
    if isinstance(value, Tensor):
        if value.dtype != spec.dtype:
            raise TypeError(f"{where}: a {value.dtype} tensor where the input_signature expects {spec.dtype}; "
                            "cast it (pf.ops.cast) or change the TensorSpec")
        tensor = value
    else:
        tensor = convert_to_tensor(np.asarray(value), spec.dtype)
    if not spec.is_compatible_with(tensor.shape):
        raise TypeError(f"{where}: shape {tuple(tensor.shape)} is not compatible with the input_signature's "
                        f"{spec.shape}")
    return tensor
