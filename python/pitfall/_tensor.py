"""Python behaviour of pitfall.Tensor: operators, indexing, NumPy interop and printing.

The class itself is the C++ handle (_pitfall.Tensor); this module adds the methods once at import.
"""
import operator

import numpy as np

from . import _pitfall as _C
from ._convert import Tensor, _NoGrad, convert_like, convert_pair, convert_to_tensor, is_tensor_like, \
    numpy_dtype, standardize_dtype

_raw = _C.ops


# ---- NumPy interop

def numpy(self, dtype=None):
    """A NumPy copy. float16 stays float16; bfloat16 needs an explicit dtype (NumPy has none)."""
    if dtype is None:
        return self._to_numpy()
    target = numpy_dtype(standardize_dtype(dtype))
    source = self
    if self.dtype == "bfloat16":
        with _NoGrad():
            source = _raw.cast(self, "float32")  # exact: every bfloat16 is a float32
    return source._to_numpy().astype(target, copy=False)


def __array__(self, dtype=None, copy=None):
    return numpy(self, dtype)


# ---- operators

def _binary(op_name, reflected=False):
    raw = getattr(_raw, op_name)

    def method(self, other):
        if not is_tensor_like(other):
            return NotImplemented
        a, b = (other, self) if reflected else (self, other)
        a, b = convert_pair(a, b, op_name)
        return raw(a, b)

    method.__name__ = op_name
    return method


_OPERATORS = {
    "__add__": ("add", False), "__radd__": ("add", True),
    "__sub__": ("subtract", False), "__rsub__": ("subtract", True),
    "__mul__": ("multiply", False), "__rmul__": ("multiply", True),
    "__truediv__": ("divide", False), "__rtruediv__": ("divide", True),
    "__pow__": ("power", False), "__rpow__": ("power", True),
    "__matmul__": ("matmul", False), "__rmatmul__": ("matmul", True),
    "__eq__": ("equal", False), "__ne__": ("not_equal", False),
    "__lt__": ("less", False), "__le__": ("less_equal", False),
    "__gt__": ("greater", False), "__ge__": ("greater_equal", False),
}


def __neg__(self):
    return _raw.negative(self)


def __pos__(self):
    return self


def __abs__(self):
    return _raw.abs(self)


def __bool__(self):
    if self.size != 1:
        raise ValueError(f"the truth value of a tensor with {self.size} elements is ambiguous; "
                         "reduce it first (e.g. pf.ops.max, pf.ops.min)")
    return bool(self.item())


def __float__(self):
    return float(self.item())


def __int__(self):
    return int(self.item())


def __index__(self):
    if self.dtype not in ("int32", "int64", "uint8") or self.size != 1:
        raise TypeError(f"only one-element integer tensors can be used as an index, "
                        f"not shape {self.shape} {self.dtype}")
    return int(self.item())


def __format__(self, spec):
    if self.ndim == 0:
        return format(self.item(), spec)
    return format(repr(self), spec)


def __len__(self):
    if self.ndim == 0:
        raise TypeError("len() of a 0-d tensor")
    return self.shape[0]


def __iter__(self):
    if self.ndim == 0:
        raise TypeError("iteration over a 0-d tensor")
    for i in range(self.shape[0]):
        yield self[i]


def __setitem__(self, key, value):
    raise TypeError("pitfall tensors do not support item assignment; use a pf.Variable and .assign(), "
                    "or build a new tensor (e.g. with pf.ops.where)")


# ---- indexing: ints, slices (any step), Ellipsis, None and one integer array

def _is_integer_index(key):
    return isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_))


def _expand_ellipsis(key, ndim):
    if sum(k is Ellipsis for k in key) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    consumed = sum(k is not None and k is not Ellipsis for k in key)
    if consumed > ndim:
        raise IndexError(f"too many indices for tensor: tensor is {ndim}-dimensional, but {consumed} were indexed")
    fill = (slice(None),) * (ndim - consumed)
    if any(k is Ellipsis for k in key):
        at = next(i for i, k in enumerate(key) if k is Ellipsis)
        return key[:at] + fill + key[at + 1:]
    return key + fill


def _array_index(key):
    indices = convert_to_tensor(key)
    if indices.dtype == "bool":
        raise NotImplementedError("boolean mask indexing is not supported; use pf.ops.where, or index "
                                  "with integer positions (np.nonzero(mask)[0])")
    if indices.dtype not in ("int32", "int64", "uint8"):
        raise IndexError(f"arrays used as indices must be of integer type, not {indices.dtype}")
    return indices


def __getitem__(self, key):
    key = _expand_ellipsis(key if isinstance(key, tuple) else (key,), self.ndim)
    shape = self.shape
    begin, end, step, plan, arrays = [], [], [], [], []
    axis = 0
    for k in key:
        if k is None:
            plan.append(("new", None))
            continue
        dim = shape[axis]
        if isinstance(k, slice):
            b, e, s = k.indices(dim)
            plan.append(("keep", None))
        elif _is_integer_index(k) or (isinstance(k, Tensor) and k.ndim == 0 and k.dtype != "bool"):
            i = operator.index(k)
            if not -dim <= i < dim:
                raise IndexError(f"index {i} is out of bounds for axis {axis} with size {dim}")
            i += dim if i < 0 else 0
            b, e, s = i, i + 1, 1
            plan.append(("drop", None))
        elif isinstance(k, (Tensor, np.ndarray, list, tuple)):
            b, e, s = 0, dim, 1
            arrays.append((axis, _array_index(k)))
            plan.append(("array", arrays[-1][1]))
        else:
            raise IndexError(f"only integers, slices, Ellipsis, None and integer arrays are valid indices, "
                             f"not {type(k).__name__}")
        begin.append(b), end.append(e), step.append(s)
        axis += 1

    out = self
    if any((b, e, s) != (0, d, 1) for b, e, s, d in zip(begin, end, step, shape)):
        out = _raw.strided_slice(out, begin, end, step)
    if len(arrays) > 1:
        raise NotImplementedError("indexing with more than one integer array is not supported; index one "
                                  "axis at a time (or use pf.ops.take)")
    if arrays:
        out = _raw.take(out, arrays[0][1], arrays[0][0])
    # Drop integer-indexed axes, insert None axes, splice in the index array's shape.
    new_shape, position = [], 0
    for kind, indices in plan:
        if kind == "new":
            new_shape.append(1)
        elif kind == "drop":
            position += 1
        elif kind == "keep":
            new_shape.append(out.shape[position])
            position += 1
        else:
            new_shape.extend(out.shape[position:position + indices.ndim])
            position += indices.ndim
    if tuple(new_shape) != out.shape:
        out = _raw.reshape(out, new_shape)
    return out


# ---- convenience methods (Keras tensors have few; these mirror NumPy's most used ones)

def reshape(self, *shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    return _raw.reshape(self, list(shape))


def transpose(self, *axes):
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return _raw.transpose(self, list(axes))


def astype(self, dtype):
    return _raw.cast(self, standardize_dtype(dtype))


def _T(self):
    return _raw.transpose(self, [])


def __repr__(self):
    values = numpy(self, "float32") if self.dtype == "bfloat16" else numpy(self)
    body = np.array2string(values, separator=", ", prefix="tensor(", threshold=200)
    extras = f"dtype={self.dtype}"
    if self.requires_grad:
        extras += ", requires_grad=True"
    return f"tensor({body}, {extras})"


def _rebuild(array, dtype, requires_grad):
    out = convert_to_tensor(array, dtype)
    out.requires_grad = requires_grad
    return out


def __reduce__(self):
    """Pickles (and deep-copies) the values, dtype and requires_grad; not the autograd graph."""
    values = numpy(self, "float32") if self.dtype == "bfloat16" else numpy(self)
    return _rebuild, (values, self.dtype, self.requires_grad and self.is_leaf)


def __deepcopy__(self, memo):
    return _rebuild(*__reduce__(self)[1])


def install():
    """Adds the Python methods to the C++ Tensor class (called once by pitfall/__init__.py)."""
    for name, (op_name, reflected) in _OPERATORS.items():
        setattr(Tensor, name, _binary(op_name, reflected))
    for function in (numpy, __array__, __neg__, __pos__, __abs__, __bool__, __float__, __int__, __index__,
                     __format__, __len__, __iter__, __getitem__, __setitem__, reshape, transpose, astype,
                     __repr__, __reduce__, __deepcopy__):
        setattr(Tensor, function.__name__, function)
    Tensor.__str__ = __repr__
    Tensor.__module__ = "pitfall"
    Tensor.T = property(_T, doc="The transpose (axes reversed).")
    Tensor.__hash__ = object.__hash__  # identity, though == is elementwise (like torch)
    Tensor.__array_ufunc__ = None  # ndarray (op) tensor defers to the tensor's reflected operator
    Tensor.cast = astype
    Tensor.cpu = lambda self: self.to("cpu")
    Tensor.cuda = lambda self, index=0: self.to(f"cuda:{int(index)}")
    Tensor.sum = lambda self, axis=None, keepdims=False: _ops().sum(self, axis, keepdims)
    Tensor.mean = lambda self, axis=None, keepdims=False: _ops().mean(self, axis, keepdims)
    Tensor.max = lambda self, axis=None, keepdims=False: _ops().max(self, axis, keepdims)
    Tensor.min = lambda self, axis=None, keepdims=False: _ops().min(self, axis, keepdims)


def _ops():
    from . import ops
    return ops
