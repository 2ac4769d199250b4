"""pitfall.ops: the engine's ops with keras.ops names, argument names and defaults.

Any argument that takes a tensor also takes a NumPy array or a Python value. Python scalars adopt
the dtype of the tensor they meet; NumPy arrays keep theirs, so mixing dtypes raises the engine's
TypeError (see pitfall/_convert.py). ``cast`` is the only op that changes a dtype.

``gelu`` defaults to the tanh approximation (``approximate=True``) as ``keras.ops.gelu`` does;
PyTorch's ``F.gelu`` and ``keras.activations.gelu`` default to the exact erf form (``approximate=False``).

The neural-network functions are also reachable as ``pitfall.ops.nn.<name>``, as in ``keras.ops.nn``.

Where pitfall differs from keras.ops:

* index results (``argmax``, ``argmin``, ``argsort``, ``top_k``'s indices) are int64, not int32;
* float-only ops (``sin``, ``floor``, ``std``, ``norm``, ...) raise for integer tensors instead of
  casting them to floatx, and ``full``/``full_like``/``pad`` refuse a fill value the dtype cannot
  hold instead of truncating it;
* labels outside [0, num_classes) raise in ``one_hot`` and the sparse crossentropy (Keras gives an
  all-zero row);
* ``pad`` supports the modes constant, edge, reflect, symmetric and wrap, reflecting at most once
  (tf.pad's limit); ``norm`` has no nuclear or spectral matrix norm; ``conv`` is 1-D and 2-D without
  dilation or groups; ``top_k`` always returns sorted, stable results.
"""
import builtins
import numbers
import sys
import types

import numpy as np

from . import _pitfall as _C
from ._convert import floatx, Tensor, convert_like, convert_list, convert_pair, \
    convert_to_tensor as _convert_to_tensor, placed as _placed, standardize_dtype

_raw = _C.ops

# keras.ops.nn's functions, which pitfall.ops also holds (as keras.ops does).
_NN = [
    "relu", "leaky_relu", "elu", "gelu", "silu", "sigmoid", "softmax", "log_softmax", "one_hot",
    "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy", "conv",
    "moments",
]

__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "divide_no_nan", "power", "maximum",
    "minimum", "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "where",
    "logical_and", "logical_or", "logical_not",
    "negative", "exp", "log", "sqrt", "square", "abs", "absolute", "tanh", "sin", "cos", "floor",
    "ceil", "round", "sign", "clip", "cast", "sparse_softmax_cross_entropy", "matmul", "einsum",
    "tensordot", "norm",
    "reshape", "transpose", "expand_dims", "squeeze", "broadcast_to", "concatenate", "stack",
    "split", "tile", "repeat", "pad", "slice", "slice_update", "take", "take_along_axis",
    "sum", "mean", "max", "min", "var", "std", "any", "all", "argmax", "argmin", "cumsum",
    "cumprod", "sort", "argsort", "top_k",
    "ones", "zeros", "ones_like", "zeros_like", "full", "full_like", "arange", "eye",
    "cond", "convert_to_tensor", "convert_to_numpy", "stop_gradient", "shape", "dtype", "nn",
] + _NN


def _tensor(x):
    return x if isinstance(x, Tensor) else _placed(_convert_to_tensor(x))


def _axes(axis):
    """keras axis argument (None, int or sequence) -> the engine's axis list."""
    if axis is None:
        return []
    if isinstance(axis, (tuple, list)):
        return [int(a) for a in axis]
    return [int(axis)]


def _shape(shape):
    if isinstance(shape, (int, np.integer)):
        return [int(shape)]
    return [int(d) for d in shape]


# ---- elementwise binary

def _binary(name, doc):
    raw = getattr(_raw, name)

    def op(x1, x2):
        return raw(*convert_pair(x1, x2, name))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


add = _binary("add", "x1 + x2 with NumPy broadcasting.")
subtract = _binary("subtract", "x1 - x2 with NumPy broadcasting.")
multiply = _binary("multiply", "x1 * x2 with NumPy broadcasting.")
divide = _binary("divide", "x1 / x2 (floating dtypes only).")
true_divide = divide
power = _binary("power", "x1 ** x2 (floating dtypes only).")
maximum = _binary("maximum", "Elementwise maximum; on ties the gradient goes to x1.")
minimum = _binary("minimum", "Elementwise minimum; on ties the gradient goes to x1.")
equal = _binary("equal", "x1 == x2 (bool).")
not_equal = _binary("not_equal", "x1 != x2 (bool).")
less = _binary("less", "x1 < x2 (bool).")
less_equal = _binary("less_equal", "x1 <= x2 (bool).")
greater = _binary("greater", "x1 > x2 (bool).")
greater_equal = _binary("greater_equal", "x1 >= x2 (bool).")
matmul = _binary("matmul", "Matrix product with broadcast batch axes; 1-D operands follow NumPy.")


def where(condition, x1=None, x2=None):
    """x1 where condition (bool) is true, else x2; all three broadcast together."""
    if x1 is None or x2 is None:
        raise NotImplementedError("where(condition) without x1 and x2 (nonzero) is not supported; "
                                  "pass both branches")
    condition = _tensor(condition)
    x1, x2 = convert_pair(x1, x2, "where")
    return _raw.where(condition, x1, x2)


# ---- elementwise unary

def negative(x):
    return _raw.negative(_tensor(x))


def exp(x):
    return _raw.exp(_tensor(x))


def log(x):
    return _raw.log(_tensor(x))


def sqrt(x):
    return _raw.sqrt(_tensor(x))


def square(x):
    return _raw.square(_tensor(x))


def abs(x):
    """|x|; the gradient is sign(x), 0 at 0."""
    return _raw.abs(_tensor(x))


absolute = abs


def tanh(x):
    return _raw.tanh(_tensor(x))


def sigmoid(x):
    return _raw.sigmoid(_tensor(x))


def relu(x):
    """max(x, 0); the gradient at 0 is 0."""
    return _raw.relu(_tensor(x))


def leaky_relu(x, negative_slope=0.2):
    return _raw.leaky_relu(_tensor(x), float(negative_slope))


def elu(x, alpha=1.0):
    return _raw.elu(_tensor(x), float(alpha))


def gelu(x, approximate=True):
    """x * Phi(x): the tanh approximation by default (keras.ops), the exact erf form with approximate=False."""
    return _raw.gelu(_tensor(x), bool(approximate))


def clip(x, x_min, x_max):
    """min(max(x, x_min), x_max); the gradient passes where x_min <= x <= x_max."""
    return _raw.clip(_tensor(x), float(x_min), float(x_max))


def cast(x, dtype):
    """The only op that changes a dtype (differentiable between floating dtypes)."""
    return _raw.cast(_tensor(x), standardize_dtype(dtype))


def softmax(x, axis=-1):
    return _raw.softmax(_tensor(x), int(axis))


def log_softmax(x, axis=-1):
    return _raw.log_softmax(_tensor(x), int(axis))


def sparse_softmax_cross_entropy(logits, labels):
    """-log(softmax(logits)[label]) per row in one pass, forward and backward
    (tf.nn.sparse_softmax_cross_entropy_with_logits): logits (..., classes), integer labels (...)."""
    return _raw.sparse_softmax_cross_entropy(_tensor(logits), _tensor(labels))


# ---- shape and indexing

def reshape(x, newshape):
    """A new shape over the same elements (one -1 allowed)."""
    return _raw.reshape(_tensor(x), _shape(newshape))


def transpose(x, axes=None):
    """Permutes the axes; reverses them when axes is None."""
    return _raw.transpose(_tensor(x), [] if axes is None else _shape(axes))


def expand_dims(x, axis):
    """Inserts size-1 axes at `axis` (an int or a sequence, positions in the result)."""
    x = _tensor(x)
    if not isinstance(axis, (tuple, list)):
        return _raw.expand_dims(x, int(axis))
    ndim = x.ndim + len(axis)
    for a in sorted(int(a) % ndim if -ndim <= int(a) < ndim else int(a) for a in axis):
        x = _raw.expand_dims(x, a)
    return x


def squeeze(x, axis=None):
    """Removes size-1 axes: all of them when axis is None."""
    return _raw.squeeze(_tensor(x), _axes(axis))


def broadcast_to(x, shape):
    return _raw.broadcast_to(_tensor(x), _shape(shape))


def concatenate(xs, axis=0):
    return _raw.concatenate(convert_list(xs, "concatenate"), int(axis))


def stack(x, axis=0):
    return _raw.stack(convert_list(x, "stack"), int(axis))


def slice(inputs, start_indices, shape):
    """The block starting at start_indices with extent `shape` (-1: to the end of the axis)."""
    return _raw.slice(_tensor(inputs), _shape(start_indices), _shape(shape))


def take(x, indices, axis=None):
    """Gathers entries of x at integer `indices` along `axis`; axis=None takes from the flattened x."""
    x = _tensor(x)
    indices = _tensor(indices)
    if axis is None:
        return _raw.take(_raw.reshape(x, [-1]), indices, 0)
    return _raw.take(x, indices, int(axis))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels -> one-hot vectors of length num_classes along `axis` (default: a new last axis).
    Labels outside [0, num_classes) raise IndexError (Keras gives an all-zero row)."""
    if sparse:
        raise NotImplementedError("one_hot: sparse=True is not supported; pitfall tensors are dense")
    x = _tensor(x)
    if x.dtype in ("float16", "bfloat16", "float32", "float64"):
        # Float labels holding whole numbers (y_train.astype("float32")) are read as int64, as Keras's
        # TensorFlow and torch backends convert them (keras/src/backend/tensorflow/nn.py one_hot).
        values = np.asarray(x)
        if not np.array_equal(values, np.round(values)):
            raise TypeError(f"one_hot: indices must be whole numbers, got {x.dtype} values such as "
                            f"{values[values != np.round(values)].flat[0]}; cast or round them first")
        x = cast(x, "int64")
    return _raw.one_hot(x, int(num_classes), standardize_dtype(dtype) or floatx(), int(axis))


# ---- reductions

def _reduction(name, doc):
    raw = getattr(_raw, name)

    def op(x, axis=None, keepdims=False):
        x = _tensor(x)
        if isinstance(axis, (tuple, list)) and len(axis) == 0:
            return x  # NumPy: reducing over no axes is the identity
        return raw(x, _axes(axis), bool(keepdims))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


sum = _reduction("sum", "Sum over `axis` (None: all axes).")
mean = _reduction("mean", "Mean over `axis` (None: all axes).")
max = _reduction("max", "Maximum over `axis` (None: all axes); tied maxima share the gradient.")
min = _reduction("min", "Minimum over `axis` (None: all axes); tied minima share the gradient.")
var = _reduction("var", "Population variance (ddof=0) over `axis` (None: all axes).")
# keras/src/backend/numpy/numpy.py std: np.std, ddof=0.
std = _reduction("std", "Population standard deviation (ddof=0, sqrt(var)) over `axis` (None: all axes).")


def _logical_reduction(name, doc):
    raw = getattr(_raw, name)

    def op(x, axis=None, keepdims=False):
        x = _tensor(x)
        if isinstance(axis, (tuple, list)) and len(axis) == 0:
            return _raw.cast(x, "bool") if x.dtype != "bool" else x  # np.any(x, axis=()): elementwise truth
        return raw(x, _axes(axis), bool(keepdims))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


any = _logical_reduction("any", "Whether any element is nonzero over `axis` (None: all axes); bool.")
all = _logical_reduction("all", "Whether every element is nonzero over `axis` (None: all axes); bool.")


def _arg_extreme(name, doc):
    raw = getattr(_raw, name)

    def op(x, axis=None, keepdims=False):
        x = _tensor(x)
        if axis is None:
            out = raw(_raw.reshape(x, [-1]), 0, False)
            return _raw.reshape(out, [1] * x.ndim) if keepdims else out
        return raw(x, int(axis), bool(keepdims))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


argmax = _arg_extreme("argmax", "Index (int64) of the first maximum along `axis`; axis=None indexes the "
                                "flattened x.")
argmin = _arg_extreme("argmin", "Index (int64) of the first minimum along `axis`; axis=None indexes the "
                                "flattened x.")


# ---- conversion

def convert_to_tensor(x, dtype=None):
    """A Tensor from a tensor, NumPy array or Python value (see pitfall.tensor for the dtype rules).
    New values go to the default device (pf.device scope); a tensor stays where it is."""
    out = _convert_to_tensor(x, dtype)
    return out if isinstance(x, Tensor) else _placed(out)


def convert_to_numpy(x):
    """A NumPy copy of x (bfloat16 tensors raise TypeError: NumPy has no bfloat16)."""
    if isinstance(x, Tensor):
        return x.numpy()
    return np.asarray(x)


def stop_gradient(variable):
    """The same values, cut from the autograd graph."""
    return _tensor(variable).detach()


def shape(x):
    return _tensor(x).shape


def dtype(x):
    return _tensor(x).dtype


def cond(pred, true_fn, false_fn):
    """true_fn() if pred else false_fn(), called eagerly (pred: a bool, or a one-element tensor)."""
    return true_fn() if bool(pred) else false_fn()


# ---- more elementwise ops

logical_and = _binary("logical_and", "x1 and x2, elementwise (nonzero is true); bool.")
logical_or = _binary("logical_or", "x1 or x2, elementwise (nonzero is true); bool.")
divide_no_nan = _binary("divide_no_nan", "x1 / x2, and 0 where x2 == 0 (the gradient too); floating only.")


def logical_not(x):
    """not x, elementwise (nonzero is true); bool."""
    return _raw.logical_not(_tensor(x))


def sin(x):
    return _raw.sin(_tensor(x))


def cos(x):
    return _raw.cos(_tensor(x))


def floor(x):
    """Largest integer <= x (floating; no gradient)."""
    return _raw.floor(_tensor(x))


def ceil(x):
    """Smallest integer >= x (floating; no gradient)."""
    return _raw.ceil(_tensor(x))


def round(x, decimals=0):
    """Rounds half to even at 10**-decimals, as np.round (no gradient); integers are returned as is."""
    return _raw.round(_tensor(x), _integer("round", "decimals", decimals))


def sign(x):
    """-1, 0 or 1 by the sign of x (NaN stays NaN); no gradient."""
    return _raw.sign(_tensor(x))


# ---- argument checks shared by the ops below

def _integer(op, name, value):
    """`value` as a Python int; a bool, a fraction or a non-number raises naming the op and argument."""
    if isinstance(value, Tensor):
        if value.size != 1 or value.dtype not in ("int32", "int64", "uint8"):
            raise TypeError(f"{op}: {name} must be an integer, got a tensor of shape {value.shape} and dtype "
                            f"{value.dtype}")
        value = value.item()
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be an integer, got {value!r}")
    return int(value)


def _integers(op, name, values):
    """An int or a sequence (list, tuple, array, tensor) of ints as a list of Python ints."""
    if isinstance(values, Tensor):
        values = values.numpy()
    if isinstance(values, np.ndarray):
        values = values.tolist() if values.ndim else [values.item()]
    if isinstance(values, (list, tuple)):
        return [_integer(op, name, v) for v in values]
    return [_integer(op, name, values)]


def _flat(x):
    return _raw.reshape(x, [-1])


# ---- scans and sorting

def _scan(name, doc):
    raw = getattr(_raw, name)

    def op(x, axis=None, dtype=None):
        x = _tensor(x)
        # keras/src/backend/numpy/numpy.py cumsum: computed in `dtype` (default x's), bool as int32.
        target = standardize_dtype(dtype) or ("int32" if x.dtype == "bool" else x.dtype)
        if target != x.dtype:
            x = _raw.cast(x, target)
        if axis is None:
            return raw(_flat(x), 0)
        return raw(x, _integer(name, "axis", axis))

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


cumsum = _scan("cumsum", "Running sum along `axis` (None: over the flattened x), in `dtype` if given.")
cumprod = _scan("cumprod", "Running product along `axis` (None: over the flattened x), in `dtype` if given.")


def sort(x, axis=-1):
    """Values sorted ascending along `axis` (None: the flattened x); NaN last; stable."""
    x = _tensor(x)
    return _raw.sort(_flat(x), 0) if axis is None else _raw.sort(x, _integer("sort", "axis", axis))


def argsort(x, axis=-1):
    """Indices (int64) that sort x ascending along `axis` (None: the flattened x); stable, NaN last."""
    x = _tensor(x)
    if axis is None:
        return _raw.argsort(_flat(x), 0, False)
    return _raw.argsort(x, _integer("argsort", "axis", axis), False)


def top_k(x, k, sorted=True, is_stable=True):
    """(values, indices) of the k largest entries along the last axis, largest first, equal values in
    index order. The result is always sorted and stable, which also satisfies sorted=False and
    is_stable=False (their order is left open; keras/src/backend/numpy/math.py top_k)."""
    for name, value in (("sorted", sorted), ("is_stable", is_stable)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"top_k: {name} must be a bool, got {value!r}")
    return _raw.top_k(_tensor(x), _integer("top_k", "k", k))


def take_along_axis(x, indices, axis=None):
    """np.take_along_axis: entries of x at integer `indices` (same rank as x; other axes broadcast)
    along `axis`; axis=None takes from the flattened x with 1-D indices."""
    x = _tensor(x)
    indices = _tensor(indices)
    if axis is None:
        if indices.ndim != 1:
            raise ValueError(f"take_along_axis: axis=None needs 1-D indices, got shape {indices.shape}")
        return _raw.take_along_axis(_flat(x), indices, 0)
    return _raw.take_along_axis(x, indices, _integer("take_along_axis", "axis", axis))


# ---- creation

def _is_number(value):
    return isinstance(value, (numbers.Real, np.bool_))


def _filled(op, shape, value, dtype, device=None):
    """A tensor of `shape` filled with the number `value` in `dtype`, on `device` (default: the
    default device). Values the dtype cannot hold exactly (2.5 as int32, 2 as bool) raise instead of
    being truncated."""
    if isinstance(value, Tensor) and value.size == 1:
        value = value.item()
    if not _is_number(value):
        raise TypeError(f"{op}: the fill value must be a number, got {value!r}")
    value = float(value)
    if dtype in ("int32", "int64", "uint8") and not value.is_integer():
        raise ValueError(f"{op}: the fill value {value} is not an integer, but dtype is {dtype}; pass an "
                         "integer or a floating dtype")
    if dtype == "bool" and value not in (0.0, 1.0):
        raise ValueError(f"{op}: the fill value {value} is not a bool (True/False, 1/0) for dtype bool")
    out = _C.full(_shape(shape), value, dtype)
    if device is None:
        return _placed(out)
    return out if out.device == device else out.to(device)


def ones(shape, dtype=None):
    """Ones of `shape` in `dtype` (default floatx)."""
    return _filled("ones", shape, 1, standardize_dtype(dtype) or floatx())


def zeros(shape, dtype=None):
    """Zeros of `shape` in `dtype` (default floatx)."""
    return _filled("zeros", shape, 0, standardize_dtype(dtype) or floatx())


def full(shape, fill_value, dtype=None):
    """`fill_value` (a number, or an array broadcast to `shape`) in `dtype` (default floatx, as Keras)."""
    dtype = standardize_dtype(dtype) or floatx()
    if _is_array(fill_value):
        return broadcast_to(convert_to_tensor(fill_value, dtype), _shape(shape)).contiguous()
    return _filled("full", shape, fill_value, dtype)


def _is_array(value):
    """A fill value with axes (np.full broadcasts it to the shape)."""
    return isinstance(value, (Tensor, np.ndarray, list, tuple)) and np.ndim(value) > 0


def _like(x):
    x = _tensor(x)
    return list(x.shape), x.dtype, x.device


def ones_like(x, dtype=None):
    shape, x_dtype, device = _like(x)
    return _filled("ones_like", shape, 1, standardize_dtype(dtype) or x_dtype, device)


def zeros_like(x, dtype=None):
    shape, x_dtype, device = _like(x)
    return _filled("zeros_like", shape, 0, standardize_dtype(dtype) or x_dtype, device)


def full_like(x, fill_value, dtype=None):
    shape, x_dtype, device = _like(x)
    dtype = standardize_dtype(dtype) or x_dtype
    if _is_array(fill_value):
        out = full(shape, fill_value, dtype)
        return out if out.device == device else out.to(device)
    return _filled("full_like", shape, fill_value, dtype, device)


def _python_number_dtype(value):
    """Keras's dtype for an arange argument: a tensor's or array's own, int32 for Python ints,
    floatx for Python floats (keras/src/backend/common/dtypes.py result_type)."""
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        return standardize_dtype(value.dtype)
    if isinstance(value, (bool, numbers.Integral)):
        return "int32"
    return floatx()


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced values in [start, stop) by `step` (np.arange; arange(n) is [0, n)). Without
    dtype: the widest of the arguments' dtypes, Python ints counting as int32 and Python floats as
    floatx (Keras's result_type)."""
    given = {"start": start, "stop": stop, "step": step}
    args = {name: value for name, value in given.items() if value is not None}
    for name, value in args.items():
        if isinstance(value, Tensor):
            args[name] = value = value.item()
        if not _is_number(value):
            raise TypeError(f"arange: {name} must be a number, got {given[name]!r}")
    if dtype is None:
        kinds = [_python_number_dtype(given[name]) for name in args]
        floating = [k for k in kinds if "float" in k]
        dtype = builtins.max(floating, key=_C.dtype_size) if floating else \
            builtins.max(kinds, key=_C.dtype_size)
    dtype = standardize_dtype(dtype)
    if stop is None:
        args["start"], args["stop"] = 0, args["start"]
    if args.get("step", 1) == 0:
        raise ValueError("arange: step must be nonzero, got 0")
    values = np.arange(args["start"], args["stop"], args.get("step", 1), dtype=_numpy_compute_dtype(dtype))
    return convert_to_tensor(values, dtype)


def _numpy_compute_dtype(dtype):
    """The NumPy dtype that builds a `dtype` tensor's values (bfloat16 via float32, rounded once)."""
    return np.float32 if dtype == "bfloat16" else np.dtype(dtype)


def eye(N, M=None, k=0, dtype=None):
    """A 2-D tensor with ones on diagonal k (np.eye), in `dtype` (default floatx)."""
    dtype = standardize_dtype(dtype) or floatx()
    rows = _integer("eye", "N", N)
    cols = rows if M is None else _integer("eye", "M", M)
    if rows < 0 or cols < 0:
        raise ValueError(f"eye: N and M must be >= 0, got N={rows}, M={cols}")
    return convert_to_tensor(np.eye(rows, cols, _integer("eye", "k", k), dtype=_numpy_compute_dtype(dtype)), dtype)


# ---- shape ops

def tile(x, repeats):
    """np.tile: x repeated along each axis (repeats: an int or one count per axis)."""
    return _raw.tile(_tensor(x), _integers("tile", "repeats", repeats))


def repeat(x, repeats, axis=None):
    """np.repeat: each element `repeats` times (or repeats[i] times) along `axis`; None: flattened."""
    x = _tensor(x)
    counts = _integers("repeat", "repeats", repeats)
    if axis is None:
        return _raw.repeat(_flat(x), counts, 0)
    return _raw.repeat(x, counts, _integer("repeat", "axis", axis))


def split(x, indices_or_sections, axis=0):
    """np.split: a list of pieces along `axis`, either `sections` equal ones or cut at the indices."""
    x = _tensor(x)
    axis = _integer("split", "axis", axis)
    if isinstance(indices_or_sections, (list, tuple, np.ndarray, Tensor)):
        return list(_raw.split(x, _integers("split", "indices_or_sections", indices_or_sections), axis))
    return list(_raw.split(x, _integer("split", "indices_or_sections", indices_or_sections), axis))


def _pad_pairs(pad_width, ndim):
    """keras.ops.pad's pad_width forms -> one (before, after) pair per axis (keras/src/ops/numpy.py Pad)."""
    if isinstance(pad_width, (Tensor, np.ndarray)):
        pad_width = np.asarray(pad_width).tolist()
    if isinstance(pad_width, (bool, np.bool_)) or not isinstance(pad_width, (numbers.Integral, list, tuple)):
        raise TypeError(f"pad: pad_width must be an int or (before, after) pairs, got {pad_width!r}")
    if isinstance(pad_width, numbers.Integral):
        pairs = [(pad_width, pad_width)]
    elif len(pad_width) > 0 and builtins.all(isinstance(p, numbers.Integral) for p in pad_width):
        pairs = [tuple(pad_width)]
    else:
        pairs = [tuple(p) if isinstance(p, (list, tuple)) else p for p in pad_width]
    out = []
    for p in pairs:
        if not isinstance(p, tuple) or len(p) not in (1, 2):
            raise ValueError(f"pad: each entry of pad_width must be (before, after) or (width,), got {p!r} in "
                             f"{pad_width!r}")
        out.append((_integer("pad", "pad_width", p[0]), _integer("pad", "pad_width", p[-1])))
    if len(out) == 1:
        out = out * ndim
    if len(out) != ndim:
        raise ValueError(f"pad: pad_width has {len(out)} entries for a tensor of rank {ndim}; give one "
                         "(before, after) pair per axis, or one pair for all axes")
    return out


def pad(x, pad_width, mode="constant", constant_values=None):
    """np.pad with mode 'constant' (constant_values, default 0), 'edge', 'reflect', 'symmetric' or
    'wrap'. reflect pads at most size - 1 per side, symmetric and wrap at most size (tf.pad's limit)."""
    x = _tensor(x)
    if constant_values is not None and mode != "constant":
        raise ValueError(f"pad: constant_values can only be given with mode='constant', got mode={mode!r}")
    value = 0 if constant_values is None else constant_values
    if isinstance(value, Tensor):
        value = value.item()
    if not _is_number(value):
        raise TypeError(f"pad: constant_values must be a number, got {constant_values!r}")
    return _raw.pad(x, _pad_pairs(pad_width, x.ndim), str(mode), float(value))


def slice_update(inputs, start_indices, updates):
    """A copy of inputs with the block starting at start_indices replaced by updates (same rank and
    dtype; the block must lie inside inputs)."""
    inputs = _tensor(inputs)
    updates = convert_like(updates, inputs, "slice_update")
    return _raw.slice_update(inputs, _integers("slice_update", "start_indices", start_indices), updates)


# ---- linear algebra

def einsum(subscripts, *operands, **kwargs):
    """np.einsum for one or more operands of one dtype (NumPy subscripts: '...', implicit output,
    diagonals)."""
    if kwargs:
        raise TypeError(f"einsum: keyword arguments {sorted(kwargs)} are not supported (the contraction "
                        "order is left to right)")
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: subscripts must be a string such as 'ij,jk->ik', got {subscripts!r}")
    return _raw.einsum(subscripts, convert_list(operands, "einsum"))


def tensordot(x1, x2, axes=2):
    """np.tensordot: axes=N sums the last N axes of x1 against the first N of x2; axes=(a1, a2)
    pairs the listed axes."""
    x1, x2 = convert_pair(x1, x2, "tensordot")
    if isinstance(axes, (list, tuple)) and len(axes) == 2:
        first, second = (_integers("tensordot", "axes", a) for a in axes)
    else:
        n = _integer("tensordot", "axes", axes)
        if n < 0 or n > builtins.min(x1.ndim, x2.ndim):
            raise ValueError(f"tensordot: axes={n} must be in [0, {builtins.min(x1.ndim, x2.ndim)}] for shapes "
                             f"{x1.shape} and {x2.shape}")
        first, second = list(range(x1.ndim - n, x1.ndim)), list(range(n))
    return _raw.tensordot(x1, x2, first, second)


def norm(x, ord=None, axis=None, keepdims=False):
    """np.linalg.norm (keras/src/backend/numpy/linalg.py norm): vector norms (ord None/2, 1, inf, -inf,
    0, any p) over one axis, matrix norms ('fro', 1, -1, inf, -inf) over two; axis None: the 2-norm
    of the flattened x when ord is None, else a vector (1-D) or matrix (2-D) norm. The nuclear and
    spectral matrix norms (they need an SVD) are not supported."""
    x = _tensor(x)
    if axis is None:
        if ord is None:
            out = sqrt(sum(square(x)))
            return reshape(out, [1] * x.ndim) if keepdims else out
        if x.ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D tensor, got shape {x.shape}; "
                             "pass axis")
        axis = tuple(range(x.ndim))
    axes = [_integer("norm", "axis", a) for a in (axis if isinstance(axis, (tuple, list)) else [axis])]
    for a in axes:
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"norm: axis {a} is out of range for a tensor of rank {x.ndim}")
    axes = [a % x.ndim for a in axes]
    if len(axes) == 1:
        out = _vector_norm(x, ord, axes[0])
    elif len(axes) == 2 and axes[0] != axes[1]:
        out = _matrix_norm(x, ord, axes[0], axes[1])
    else:
        raise ValueError(f"norm: axis must be one axis or two different axes, got {axis!r}")
    return expand_dims(out, sorted(axes)) if keepdims else out


def _vector_norm(x, ord, axis):
    if ord is None or ord == 2:
        return sqrt(sum(square(x), axis=axis))
    if isinstance(ord, str):
        raise ValueError(f"norm: ord={ord!r} is a matrix norm; a vector norm takes a number (or None)")
    if ord == np.inf:
        return max(abs(x), axis=axis)
    if ord == -np.inf:
        return min(abs(x), axis=axis)
    if ord == 0:
        return sum(cast(not_equal(x, 0), x.dtype), axis=axis)
    if ord == 1:
        return sum(abs(x), axis=axis)
    return power(sum(power(abs(x), float(ord)), axis=axis), 1.0 / float(ord))


def _matrix_norm(x, ord, row_axis, col_axis):
    if ord is None or ord == "fro":
        return sqrt(sum(square(x), axis=(row_axis, col_axis)))
    if ord in (1, -1):  # largest / smallest column sum of |x|
        sums = sum(abs(x), axis=row_axis)
        return (max if ord == 1 else min)(sums, axis=col_axis - (col_axis > row_axis))
    if ord in (np.inf, -np.inf):  # largest / smallest row sum of |x|
        sums = sum(abs(x), axis=col_axis)
        return (max if ord == np.inf else min)(sums, axis=row_axis - (row_axis > col_axis))
    if ord in ("nuc", 2, -2):
        raise NotImplementedError(f"norm: the matrix norm ord={ord!r} needs singular values, which pitfall does "
                                  "not compute; use 'fro', 1, -1, inf or -inf")
    raise ValueError(f"norm: invalid ord={ord!r} for a matrix norm; use 'fro', 1, -1, inf or -inf")


# ---- keras.ops.nn

def silu(x):
    """x * sigmoid(x) (keras.ops.silu, also called swish)."""
    return _raw.silu(_tensor(x))


def _target_output(target, output, op):
    """The output as a tensor, and the target: a Python value adopts the output's dtype."""
    output = _tensor(output)
    target = _tensor(target) if isinstance(target, (np.ndarray, Tensor)) else convert_like(target, output, op)
    return target, output


def binary_crossentropy(target, output, from_logits=False):
    """Elementwise binary crossentropy of targets and probabilities (clipped to [1e-7, 1 - 1e-7]) or
    logits; target and output of one shape."""
    target, output = _target_output(target, output, "binary_crossentropy")
    return _raw.binary_crossentropy(target, output, bool(from_logits))


def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """-sum(target * log p) along `axis`: p = softmax(output) from logits, else output renormalized to
    sum to 1 and clipped to [1e-7, 1 - 1e-7]; target and output of one shape."""
    target, output = _target_output(target, output, "categorical_crossentropy")
    return _raw.categorical_crossentropy(target, output, bool(from_logits),
                                         _integer("categorical_crossentropy", "axis", axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """categorical_crossentropy with integer class indices as target (output's shape without `axis`;
    a trailing axis of 1 is squeezed). Indices outside [0, classes) raise IndexError."""
    output = _tensor(output)
    target = _tensor(target)
    return _raw.sparse_categorical_crossentropy(target, output, bool(from_logits),
                                                _integer("sparse_categorical_crossentropy", "axis", axis))


_DATA_FORMATS = ("channels_last", "channels_first")


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """keras.ops.conv for 1-D and 2-D convolutions: inputs (N, *spatial, C) (channels_first:
    (N, C, *spatial)), kernel (*window, C, filters), padding 'valid' or 'same'. Dilation and grouped
    kernels are not supported."""
    inputs, kernel = convert_pair(inputs, kernel, "conv")
    data_format = data_format or "channels_last"
    if data_format not in _DATA_FORMATS:
        raise ValueError(f"conv: data_format must be one of {_DATA_FORMATS}, got {data_format!r}")
    if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
        raise ValueError(f"conv: padding must be 'valid' or 'same', got {padding!r}")
    spatial = inputs.ndim - 2
    if spatial not in (1, 2) or kernel.ndim != inputs.ndim:
        raise ValueError(f"conv: inputs of rank 3 or 4 and a kernel of the same rank are supported, got inputs "
                         f"{inputs.shape} and kernel {kernel.shape}")
    strides = _integers("conv", "strides", strides)
    dilation = _integers("conv", "dilation_rate", dilation_rate)
    if builtins.any(d != 1 for d in dilation):
        raise NotImplementedError(f"conv: dilation_rate={dilation_rate!r} is not supported; only 1")
    if len(strides) == 1:
        strides = strides * spatial
    if len(strides) != spatial:
        raise ValueError(f"conv: strides {strides} need one entry per spatial axis ({spatial})")
    x = inputs if data_format == "channels_last" else transpose(inputs, [0] + list(range(2, inputs.ndim)) + [1])
    if kernel.shape[-2] != x.shape[-1]:
        raise ValueError(f"conv: the kernel {kernel.shape} expects {kernel.shape[-2]} input channels but the inputs "
                         f"{inputs.shape} have {x.shape[-1]} ({data_format}); grouped convolution is not supported")
    if spatial == 1:  # a 1-D convolution is a 2-D one over a height of 1
        x = expand_dims(x, 1)
        kernel = expand_dims(kernel, 0)
        strides = [1] + strides
    out = _raw.conv2d(x, kernel, strides, padding.lower())
    if spatial == 1:
        out = squeeze(out, 1)
    if data_format == "channels_first":
        out = transpose(out, [0, out.ndim - 1] + list(range(1, out.ndim - 1)))
    return out


def moments(x, axes, keepdims=False, synchronized=False):
    """(mean, variance) over `axes` (variance two-pass: mean((x - mean)^2), as jnp.var). float16 and
    bfloat16 are computed in float32 and cast back, float16 clipped to its finite range first
    (keras/src/backend/jax/nn.py moments)."""
    if synchronized:
        raise NotImplementedError("moments: synchronized=True (a cross-replica mean) is not supported; "
                                  "pitfall computes moments on one device")
    x = _tensor(x)
    axes = _integers("moments", "axes", axes)
    compute = x if x.dtype not in ("float16", "bfloat16") else cast(x, "float32")
    mean_value = mean(compute, axis=axes, keepdims=keepdims)
    variance = var(compute, axis=axes, keepdims=keepdims)
    if compute is not x:
        if x.dtype == "float16":
            limit = float(np.finfo(np.float16).max)
            mean_value, variance = clip(mean_value, -limit, limit), clip(variance, -limit, limit)
        mean_value, variance = cast(mean_value, x.dtype), cast(variance, x.dtype)
    return mean_value, variance


nn = types.ModuleType(__name__ + ".nn", "keras.ops.nn: the neural-network functions of pitfall.ops.")
nn.__all__ = list(_NN)
for _name in _NN:
    setattr(nn, _name, globals()[_name])
sys.modules[nn.__name__] = nn
del _name
