"""pitfall.ops: the engine's ops with keras.ops names, argument names and defaults.

Any argument that takes a tensor also takes a NumPy array or a Python value. Python scalars adopt
the dtype of the tensor they meet; NumPy arrays keep theirs, so mixing dtypes raises the engine's
TypeError (see pitfall/_convert.py). ``cast`` is the only op that changes a dtype.

``gelu`` defaults to the tanh approximation (``approximate=True``) as ``keras.ops.gelu`` does;
PyTorch's ``F.gelu`` and ``keras.activations.gelu`` default to the exact erf form (``approximate=False``).
"""
import numpy as np

from . import _pitfall as _C
from ._convert import floatx, Tensor, convert_list, convert_pair, \
    convert_to_tensor as _convert_to_tensor, placed as _placed, standardize_dtype

_raw = _C.ops

__all__ = [
    "add", "subtract", "multiply", "divide", "true_divide", "power", "maximum", "minimum",
    "equal", "not_equal", "less", "less_equal", "greater", "greater_equal", "where",
    "negative", "exp", "log", "sqrt", "square", "abs", "absolute", "tanh", "sigmoid", "relu",
    "leaky_relu", "elu", "gelu", "clip", "cast", "softmax", "log_softmax",
    "sparse_softmax_cross_entropy", "matmul",
    "reshape", "transpose", "expand_dims", "squeeze", "broadcast_to", "concatenate", "stack",
    "slice", "take", "one_hot", "sum", "mean", "max", "min", "var", "argmax",
    "convert_to_tensor", "convert_to_numpy", "stop_gradient", "shape", "dtype",
]


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


def one_hot(x, num_classes, axis=-1, dtype=None):
    """Integer labels -> one-hot vectors of length num_classes along `axis` (default: a new last axis)."""
    out = _raw.one_hot(_tensor(x), int(num_classes), standardize_dtype(dtype) or floatx())
    ndim = out.ndim
    axis = int(axis)
    if axis < -ndim or axis >= ndim:
        raise ValueError(f"one_hot: axis {axis} is out of range for a result of rank {ndim}")
    axis %= ndim
    if axis != ndim - 1:
        order = list(range(ndim - 1))
        order.insert(axis, ndim - 1)
        out = _raw.transpose(out, order)
    return out


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


def argmax(x, axis=None, keepdims=False):
    """Index (int64) of the first maximum along `axis`; axis=None indexes the flattened x."""
    x = _tensor(x)
    if axis is None:
        out = _raw.argmax(_raw.reshape(x, [-1]), 0, False)
        return _raw.reshape(out, [1] * x.ndim) if keepdims else out
    return _raw.argmax(x, int(axis), bool(keepdims))


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
