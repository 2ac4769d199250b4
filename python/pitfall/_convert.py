"""Conversion of Python and NumPy values to tensors, and the dtype rules that govern it.

The rules (documented for users in pitfall.tensor):

* A NumPy array keeps its dtype: float64 stays float64, int64 stays int64. Nothing is downcast.
* Python values (scalars, nested lists/tuples) have no dtype of their own. On their own they become
  ``floatx()`` (float32) when any element is a float, int32 when all are ints (int64 when a value
  does not fit in int32), bool when all are bools - like ``keras.ops.convert_to_tensor``.
* Next to a tensor, a Python scalar (or a NumPy scalar such as ``np.float64(2.0)``) adopts the
  tensor's dtype: ``x * 2.0`` keeps ``x`` float32/float16/float64. A lossy conversion (2.5 into an
  int32 tensor) is an error. A NumPy *array* never adopts anything: float64 array + float32 tensor
  raises the engine's dtype error, which names both dtypes and ``cast``.
"""
import numbers

import numpy as np

from . import _pitfall as _C

Tensor = _C.Tensor



def floatx():
    """The engine's floatx (pitfall.backend.floatx), read each time: set_floatx may change it."""
    return _C.floatx()


_NUMPY_NAMES = {
    np.dtype(np.float16): "float16",
    np.dtype(np.float32): "float32",
    np.dtype(np.float64): "float64",
    np.dtype(np.int32): "int32",
    np.dtype(np.int64): "int64",
    np.dtype(np.uint8): "uint8",
    np.dtype(np.bool_): "bool",
}
_SUPPORTED = "float16, bfloat16, float32, float64, int32, int64, uint8, bool"
_PYTHON_TYPES = {bool: "bool", int: "int64"}


def standardize_dtype(dtype):
    """Canonical dtype name ('float32') for a name, a NumPy dtype/type, or a Python type; None stays None."""
    if dtype is None:
        return None
    if isinstance(dtype, str):
        return _C.canonical_dtype(dtype)
    if dtype is float:
        return floatx()
    if dtype in _PYTHON_TYPES:
        return _PYTHON_TYPES[dtype]
    try:
        np_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"unknown dtype {dtype!r}; expected one of {_SUPPORTED}") from None
    if np_dtype.name == "bfloat16":  # ml_dtypes' bfloat16, if the user has it
        return "bfloat16"
    name = _NUMPY_NAMES.get(np_dtype.newbyteorder("="))
    if name is None:
        raise TypeError(f"dtype {np_dtype} is not supported by pitfall; expected one of {_SUPPORTED}")
    return name


def numpy_dtype(name):
    """The NumPy dtype of a pitfall dtype name (bfloat16 has none: TypeError)."""
    if name == "bfloat16":
        raise TypeError("NumPy has no bfloat16 dtype; convert explicitly with t.numpy('float32') "
                        "or pf.ops.cast(t, 'float32') first")
    return np.dtype("bool" if name == "bool" else name)


def is_weak_scalar(value):
    """Python scalars and NumPy scalars: values that adopt the dtype of the tensor they meet."""
    if isinstance(value, (bool, np.bool_)):
        return True
    return isinstance(value, (numbers.Integral, numbers.Real)) and not isinstance(value, (np.ndarray, Tensor))


def is_python_value(value):
    """Python scalars and (nested) lists/tuples: values without a dtype of their own."""
    return isinstance(value, (bool, int, float, list, tuple)) and not isinstance(value, np.generic)


def is_tensor_like(value):
    return isinstance(value, (Tensor, np.ndarray, np.generic, bool, int, float, list, tuple))


def _python_dtype(array):
    """The dtype a dtype-less Python value gets (see the module docstring)."""
    kind = array.dtype.kind
    if kind == "b":
        return "bool"
    if kind in "iu":
        if array.size and (array.min() < np.iinfo(np.int32).min or array.max() > np.iinfo(np.int32).max):
            return "int64"
        return "int32"
    if kind == "f":
        return floatx()
    raise TypeError(f"cannot convert a value of NumPy kind {array.dtype} to a tensor; "
                    f"supported dtypes are {_SUPPORTED}")


def _from_numpy(array, dtype=None):
    """A tensor copied from a NumPy array; `dtype` (canonical name) converts explicitly."""
    if dtype is None:
        dtype = standardize_dtype(array.dtype)
    if dtype == "bfloat16":
        # NumPy cannot hold bfloat16: bring the values in as they are and round once in the engine.
        source = array if array.dtype.newbyteorder("=") in _NUMPY_NAMES else array.astype(np.float32)
        with _NoGrad():
            return _C.ops.cast(_from_numpy(source), "bfloat16")
    target = numpy_dtype(dtype)
    if array.dtype != target:
        array = array.astype(target)
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    return _C.from_buffer(array, list(array.shape), dtype)


def convert_to_tensor(value, dtype=None):
    """A Tensor from a tensor, NumPy array/scalar or Python value; `dtype` casts explicitly."""
    dtype = standardize_dtype(dtype)
    if isinstance(value, Tensor):
        if dtype is None or dtype == value.dtype:
            return value
        return _C.ops.cast(value, dtype)
    if isinstance(value, (np.ndarray, np.generic)):
        return _from_numpy(np.asarray(value), dtype)
    if not is_python_value(value) and not hasattr(value, "__array__"):
        raise TypeError(f"cannot convert {type(value).__name__} to a pitfall tensor; expected a tensor, "
                        "a NumPy array or a Python number/list")
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"cannot convert {value!r} to a tensor: ragged or non-numeric values")
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        return _from_numpy(array, dtype)  # a list of tensors keeps their dtype, like np.stack
    return _from_numpy(array, dtype or _python_dtype(array))


def placed(tensor):
    """`tensor` on this thread's default device (pf.device scope); itself when it is there already."""
    device = _C.default_device()
    return tensor if tensor.device == device else tensor.to(device)


def convert_like(value, like, op):
    """Converts `value` to meet tensor `like` in `op`: scalars and Python lists adopt its dtype and
    device."""
    if isinstance(value, Tensor):
        return value
    converted = _convert_like(value, like, op)
    return converted if converted.device == like.device else converted.to(like.device)


def _convert_like(value, like, op):
    if isinstance(value, (bool, np.bool_)) and like.dtype == "bool":
        return _C.full([], float(value), "bool")
    if is_weak_scalar(value):
        return _C.ops.scalar_like(float(value), like, op)
    if is_python_value(value):
        array = np.asarray(value)
        if like.dtype != "bfloat16" and array.dtype.kind in "fiub":
            target = numpy_dtype(like.dtype)
            converted = array.astype(target)
            if target.kind in "iub" and not np.array_equal(converted, array):
                raise TypeError(f"{op}: the values {value!r} cannot be represented in the tensor's dtype "
                                f"{like.dtype}; cast the tensor (pf.ops.cast) or pass values of that dtype")
            return _from_numpy(converted, like.dtype)
        return convert_to_tensor(value, like.dtype)
    return convert_to_tensor(value)


def convert_pair(a, b, op):
    """Both operands of a binary op as tensors, by the rules in the module docstring."""
    if isinstance(a, Tensor):
        return a, convert_like(b, a, op)
    if isinstance(b, Tensor):
        return convert_like(a, b, op), b
    a_weak = is_weak_scalar(a) or is_python_value(a)
    b_weak = is_weak_scalar(b) or is_python_value(b)
    if a_weak and b_weak:
        common = _python_dtype(np.concatenate([np.ravel(a), np.ravel(b)]))
        return convert_to_tensor(a, common), convert_to_tensor(b, common)
    if a_weak:
        b = convert_to_tensor(b)
        return convert_like(a, b, op), b
    if b_weak:
        a = convert_to_tensor(a)
        return a, convert_like(b, a, op)
    return convert_to_tensor(a), convert_to_tensor(b)


def convert_list(values, op):
    """A sequence of operands (concatenate, stack): non-tensors adopt the first tensor's dtype."""
    values = list(values)
    like = next((v for v in values if isinstance(v, Tensor)), None)
    if like is None:
        like = convert_to_tensor(values[0]) if values else None
    return [convert_like(v, like, op) for v in values]


class _NoGrad:
    """Disables autograd recording (internal; the public one is pitfall.no_grad)."""

    def __enter__(self):
        self._previous = _C.grad_enabled()
        _C.set_grad_enabled(False)

    def __exit__(self, *exc):
        _C.set_grad_enabled(self._previous)
        return False
