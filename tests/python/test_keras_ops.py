"""keras.ops names in pf.ops: values against NumPy and PyTorch, gradients through GradientTape against
central differences, and the errors for bad arguments."""
import math

import numpy as np
import pytest
import torch

import pitfall as pf
from pitfall import ops

RNG = np.random.default_rng(11)

# keras.ops names this module covers (keras/src/ops/numpy.py, core.py, math.py, nn.py, linalg.py).
KERAS_OPS = [
    "ones", "zeros", "ones_like", "zeros_like", "full", "full_like", "arange", "eye", "einsum", "cumsum",
    "cumprod", "tile", "repeat", "split", "pad", "stack", "any", "all", "logical_and", "logical_or",
    "logical_not", "sin", "cos", "floor", "ceil", "round", "sign", "divide_no_nan", "take_along_axis",
    "slice_update", "argmax", "argmin", "top_k", "sort", "argsort", "norm", "std", "var", "cond",
    "convert_to_tensor", "cast", "shape", "tensordot",
    "softmax", "log_softmax", "relu", "gelu", "silu", "one_hot", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "conv", "moments",
]
KERAS_NN_OPS = [
    "softmax", "log_softmax", "relu", "gelu", "silu", "one_hot", "binary_crossentropy",
    "categorical_crossentropy", "sparse_categorical_crossentropy", "conv", "moments",
]


def close(t, expected, rtol=1e-12, atol=1e-12):
    assert isinstance(t, pf.Tensor)
    np.testing.assert_allclose(t.numpy(), expected, rtol=rtol, atol=atol)


def same(t, expected, dtype=None):
    """Exact equality of values, shape and (when given) dtype."""
    assert isinstance(t, pf.Tensor)
    got = t.numpy()
    assert got.shape == np.shape(expected), (got.shape, np.shape(expected))
    np.testing.assert_array_equal(got, expected)
    if dtype is not None:
        assert t.dtype == dtype


def numeric_gradient(fn, x, eps=1e-6):
    """Central differences of sum(fn(x)) in float64."""
    grad = np.zeros_like(x)
    flat = grad.reshape(-1)
    for i in range(x.size):
        plus, minus = x.copy().reshape(-1), x.copy().reshape(-1)
        plus[i] += eps
        minus[i] -= eps
        f_plus = np.sum(fn(pf.tensor(plus.reshape(x.shape))).numpy())
        f_minus = np.sum(fn(pf.tensor(minus.reshape(x.shape))).numpy())
        flat[i] = (f_plus - f_minus) / (2 * eps)
    return grad


def weights(shape):
    """Distinct float64 weights 1, 2, ... of `shape`, so every output element's gradient differs."""
    return np.arange(1.0, np.prod(shape, dtype=int) + 1).reshape(shape)


def check_gradient(fn, x, rtol=1e-6, atol=1e-7):
    """GradientTape's gradient of sum(fn(v)) against central differences."""
    v = pf.Variable(x)
    with pf.GradientTape() as tape:
        loss = ops.sum(fn(v))
    analytic = tape.gradient(loss, v)
    assert analytic is not None
    np.testing.assert_allclose(analytic.numpy(), numeric_gradient(fn, x), rtol=rtol, atol=atol)


# ---- the names

def test_every_supported_keras_name_exists():
    missing = [name for name in KERAS_OPS if not callable(getattr(ops, name, None))]
    assert not missing
    missing_nn = [name for name in KERAS_NN_OPS if not callable(getattr(ops.nn, name, None))]
    assert not missing_nn
    for name in KERAS_NN_OPS:
        assert getattr(ops.nn, name) is getattr(ops, name)
    from pitfall.ops import nn  # importable as a module, like keras.ops.nn
    assert nn is ops.nn


def test_a_missing_name_would_fail_the_walk():
    assert not callable(getattr(ops, "no_such_keras_op", None))


# ---- creation

@pytest.mark.parametrize("dtype", [None, "float64", "int32", "bool", "float16"])
def test_ones_zeros_full(dtype):
    expected_dtype = dtype or "float32"
    np_dtype = np.dtype(expected_dtype)
    same(ops.ones((2, 3), dtype), np.ones((2, 3), np_dtype), expected_dtype)
    same(ops.zeros(4, dtype), np.zeros(4, np_dtype), expected_dtype)
    same(ops.zeros((0, 2), dtype), np.zeros((0, 2), np_dtype), expected_dtype)
    same(ops.full((3,), 1, dtype), np.full((3,), 1, np_dtype), expected_dtype)


def test_like_creation_keeps_shape_and_dtype():
    x = np.arange(6, dtype=np.int64).reshape(2, 3)
    same(ops.ones_like(x), np.ones_like(x), "int64")
    same(ops.zeros_like(x, dtype="float32"), np.zeros((2, 3), np.float32), "float32")
    same(ops.full_like(x, 7), np.full_like(x, 7), "int64")
    same(ops.full_like(np.ones(3), -0.25), np.full(3, -0.25), "float64")
    same(ops.full((2, 3), [1.0, 2.0, 3.0]), np.full((2, 3), [1.0, 2.0, 3.0], np.float32), "float32")
    same(ops.full((), 2.5), np.float32(2.5), "float32")
    with pytest.raises(ValueError, match=r"full_like: the fill value 2.5 is not an integer, but dtype is int64"):
        ops.full_like(x, 2.5)
    with pytest.raises(TypeError, match="full: the fill value must be a number"):
        ops.full((2,), "a")


@pytest.mark.parametrize("args,dtype,expected_dtype", [
    ((5,), None, "int32"), ((2, 9, 3), None, "int32"), ((0.5, 3), None, "float32"), ((1, 2, 0.25), None, "float32"),
    ((10, 0, -3), None, "int32"), ((3,), "float64", "float64"), ((np.int64(4),), None, "int64"),
    ((5, 2), None, "int32"), ((0, 1, 0.1), "float32", "float32"),
])
def test_arange_values_and_keras_dtype(args, dtype, expected_dtype):
    expected = np.arange(*args, dtype=np.dtype(expected_dtype))
    t = ops.arange(*args, dtype=dtype)
    assert t.dtype == expected_dtype
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-6)
    assert t.shape == expected.shape


def test_arange_and_eye_errors_and_eye_values():
    with pytest.raises(ValueError, match="arange: step must be nonzero"):
        ops.arange(0, 5, 0)
    with pytest.raises(TypeError, match="arange: stop must be a number"):
        ops.arange(0, "5")
    for n, m, k in [(3, None, 0), (3, 5, 1), (4, 2, -1), (2, 2, 5), (0, 3, 0)]:
        same(ops.eye(n, m, k), np.eye(n, m, k, dtype=np.float32), "float32")
    same(ops.eye(3, dtype="int32"), np.eye(3, dtype=np.int32), "int32")
    with pytest.raises(TypeError, match="eye: N must be an integer"):
        ops.eye(2.5)


# ---- elementwise

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_trigonometry_and_rounding(dtype):
    x = (RNG.standard_normal((3, 5)) * 4).astype(dtype)
    tol = 1e-6 if dtype == "float32" else 1e-14
    close(ops.sin(x), np.sin(x), rtol=tol, atol=tol)
    close(ops.cos(x), np.cos(x), rtol=tol, atol=tol)
    same(ops.floor(x), np.floor(x))
    same(ops.ceil(x), np.ceil(x))
    same(ops.sign(x), np.sign(x))
    halves = np.array([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5], dtype)
    same(ops.round(halves), np.round(halves))  # half to even
    for decimals in (1, 2, -1):
        same(ops.round(x * 10, decimals), np.round(x * 10, decimals))
    same(ops.round(np.array([15, -25]), 0), np.array([15, -25]))
    same(ops.sign(np.array([-3, 0, 5], np.int32)), np.array([-1, 0, 1], np.int32), "int32")


def test_rounding_has_no_gradient_and_sin_cos_do():
    v = pf.Variable([0.3, -1.2])
    with pf.GradientTape() as tape:
        y = ops.sum(ops.floor(v) + ops.round(v) + ops.ceil(v) + ops.sign(v))
    assert tape.gradient(y, v) is None
    x = RNG.standard_normal((2, 3))
    check_gradient(ops.sin, x)
    check_gradient(ops.cos, x)


def test_integer_input_to_float_only_ops_names_cast():
    with pytest.raises(TypeError, match="sin needs a floating tensor.*cast"):
        ops.sin(np.arange(3))
    with pytest.raises(TypeError, match="floor needs a floating tensor"):
        ops.floor(np.arange(3))


def test_logical_ops():
    a = np.array([[0, 1.5, -2, np.nan]])
    b = np.array([[0], [3]], np.int32)
    same(ops.logical_and(a, b), np.logical_and(a, b), "bool")
    same(ops.logical_or(a, b), np.logical_or(a, b), "bool")
    same(ops.logical_not(a), np.logical_not(a), "bool")
    same(ops.logical_and(True, np.array([True, False])), np.array([True, False]))


def test_divide_no_nan_values_and_gradients():
    a = RNG.standard_normal((3, 4))
    b = RNG.standard_normal((4,))
    b[1] = 0.0
    expected = np.where(b == 0, 0.0, a / np.where(b == 0, 1, b))
    close(ops.divide_no_nan(a, b), expected)
    check_gradient(lambda v: ops.divide_no_nan(v, b), a)
    check_gradient(lambda v: ops.divide_no_nan(a, v), np.abs(b) + 0.5)
    va, vb = pf.Variable(a), pf.Variable(b)
    with pf.GradientTape() as tape:
        y = ops.sum(ops.divide_no_nan(va, vb))
    ga, gb = tape.gradient(y, [va, vb])
    assert np.all(np.isfinite(ga.numpy())) and np.all(np.isfinite(gb.numpy()))
    assert np.all(ga.numpy()[:, 1] == 0) and gb.numpy()[1] == 0


# ---- reductions

@pytest.mark.parametrize("shape,axis,keepdims", [
    ((3, 4, 5), None, False), ((3, 4, 5), 1, True), ((3, 4, 5), (0, 2), False), ((3, 4, 5), -1, False),
    ((6,), 0, True), ((2, 0, 3), 1, False),
])
def test_std_var_any_all(shape, axis, keepdims):
    x = RNG.standard_normal(shape)
    ax = tuple(axis) if isinstance(axis, list) else axis
    if x.size and not (isinstance(ax, int) and x.shape[ax] == 0):
        close(ops.std(x, axis, keepdims), np.std(x, axis=ax, keepdims=keepdims), rtol=1e-10)
    bits = RNG.integers(0, 2, shape)
    same(ops.any(bits, axis, keepdims), np.any(bits, axis=ax, keepdims=keepdims), "bool")
    same(ops.all(bits, axis, keepdims), np.all(bits, axis=ax, keepdims=keepdims), "bool")


def test_std_gradient_and_torch():
    x = RNG.standard_normal((4, 3))
    check_gradient(lambda v: ops.std(v, axis=0), x)
    np.testing.assert_allclose(ops.std(x, axis=1).numpy(), torch.std(torch.tensor(x), dim=1, unbiased=False).numpy(),
                               rtol=1e-12)


def test_argmax_argmin_ties_negative_axes_and_keepdims():
    x = np.array([[1, 3, 3, -2], [0, 0, -5, -5], [2, 2, 2, 2]], np.float32)
    for fn, ref in ((ops.argmax, np.argmax), (ops.argmin, np.argmin)):
        for axis in (None, 0, 1, -1, -2):
            for keepdims in (False, True):
                got = fn(x, axis=axis, keepdims=keepdims)
                assert got.dtype == "int64"
                same(got, ref(x, axis=axis, keepdims=keepdims))
    with_nan = np.array([1.0, np.nan, -3.0, np.nan])
    assert ops.argmin(with_nan).item() == np.argmin(with_nan) == 1
    with pytest.raises(ValueError, match="argmin: axis 1 of .* has size 0"):
        ops.argmin(np.zeros((2, 0)), axis=1)


# ---- scans

@pytest.mark.parametrize("dtype", ["float64", "float32", "int32", "int64"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_cumsum_cumprod_against_numpy(dtype, axis):
    x = (RNG.standard_normal((3, 4)) * 2).astype(dtype) if "float" in dtype else RNG.integers(-3, 4, (3, 4)).astype(dtype)
    rtol = 1e-6 if dtype == "float32" else 1e-13
    for fn, ref in ((ops.cumsum, np.cumsum), (ops.cumprod, np.cumprod)):
        got = fn(x, axis=axis)
        assert got.dtype == dtype
        np.testing.assert_allclose(got.numpy(), ref(x, axis=axis), rtol=rtol, atol=1e-6)


def test_cumsum_dtype_rules_and_torch():
    b = np.array([True, False, True])
    same(ops.cumsum(b), np.array([1, 1, 2], np.int32), "int32")
    same(ops.cumprod(b), np.array([1, 0, 0], np.int32), "int32")
    got = ops.cumsum(np.array([1, 2, 3], np.int32), dtype="float64")
    same(got, np.array([1.0, 3.0, 6.0]), "float64")
    x = RNG.standard_normal((5, 3))
    np.testing.assert_allclose(ops.cumprod(x, axis=0).numpy(), torch.cumprod(torch.tensor(x), 0).numpy(), rtol=1e-12)
    same(ops.cumsum(np.zeros((0, 3)), axis=0), np.zeros((0, 3)))


def test_scan_gradients_including_zeros():
    x = RNG.standard_normal((3, 4))
    check_gradient(lambda v: ops.cumsum(v, axis=1), x)
    check_gradient(lambda v: ops.cumsum(v), x)
    check_gradient(lambda v: ops.cumprod(v, axis=0), x)
    with_zeros = np.array([[0.5, 0.0, 2.0, -1.0], [0.0, 0.0, 3.0, 1.5]])
    check_gradient(lambda v: ops.cumprod(v, axis=1), with_zeros)
    t = torch.tensor(with_zeros, requires_grad=True)
    torch.cumprod(t, 1).sum().backward()
    v = pf.Variable(with_zeros)
    with pf.GradientTape() as tape:
        y = ops.sum(ops.cumprod(v, axis=1))
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), t.grad.numpy(), rtol=1e-12)


# ---- sorting

@pytest.mark.parametrize("shape,axis", [((7,), -1), ((4, 6), 0), ((4, 6), 1), ((3, 4, 5), -2), ((2, 0), 1)])
def test_sort_and_argsort_against_numpy(shape, axis):
    x = RNG.integers(0, 4, shape).astype(np.float64)  # many ties: stability matters
    same(ops.sort(x, axis), np.sort(x, axis=axis))
    got = ops.argsort(x, axis)
    assert got.dtype == "int64"
    same(got, np.argsort(x, axis=axis, kind="stable"))


def test_sort_nan_last_axis_none_and_gradient():
    x = np.array([3.0, np.nan, -1.0, 2.0, np.nan, 0.0])
    same(ops.sort(x), np.sort(x))
    same(ops.argsort(x), np.argsort(x, kind="stable"))
    m = RNG.standard_normal((3, 4))
    same(ops.sort(m, axis=None), np.sort(m, axis=None))
    check_gradient(lambda v: ops.sort(v, axis=0) * np.arange(1.0, 4.0)[:, None], m)


@pytest.mark.parametrize("shape,k", [((10,), 3), ((4, 7), 7), ((2, 3, 5), 1), ((3, 4), 0)])
def test_top_k_against_torch(shape, k):
    x = RNG.standard_normal(shape)
    values, indices = ops.top_k(x, k)
    t_values, t_indices = torch.topk(torch.tensor(x), k, dim=-1, largest=True, sorted=True)
    np.testing.assert_array_equal(values.numpy(), t_values.numpy())
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    assert indices.dtype == "int64"


def test_top_k_ties_in_index_order_and_gradient():
    x = np.array([[1, 5, 5, 2, 5], [0, 0, 0, 0, 0]], np.int32)
    values, indices = ops.top_k(x, 3)
    same(values, np.array([[5, 5, 5], [0, 0, 0]], np.int32), "int32")
    same(indices, np.array([[1, 2, 4], [0, 1, 2]]))
    values, indices = ops.top_k(x, 2, sorted=False, is_stable=False)
    same(indices, np.array([[1, 2], [0, 1]]))
    m = RNG.standard_normal((3, 5))
    check_gradient(lambda v: ops.top_k(v, 2)[0] * np.array([1.0, 3.0]), m)
    with pytest.raises(ValueError, match=r"top_k: k=6 is outside \[0, 5\]"):
        ops.top_k(m, 6)
    with pytest.raises(TypeError, match="top_k: k must be an integer, got 2.5"):
        ops.top_k(m, 2.5)


# ---- take_along_axis / slice_update

@pytest.mark.parametrize("x_shape,index_shape,axis", [
    ((4, 5), (4, 3), 1), ((4, 5), (2, 5), 0), ((4, 5), (1, 5), 0), ((1, 5), (3, 2), 1), ((2, 3, 4), (2, 6, 1), 1),
    ((6,), (4,), None), ((3, 4), (3, 0), -1),
])
def test_take_along_axis_against_numpy(x_shape, index_shape, axis):
    x = RNG.standard_normal(x_shape)
    dim = x.size if axis is None else x_shape[axis]
    indices = RNG.integers(-dim, dim, index_shape)
    if axis is None:
        expected = np.take_along_axis(x.reshape(-1), indices, axis=0)
    else:
        expected = np.take_along_axis(np.broadcast_to(x, _along_shape(x_shape, index_shape, axis)),
                                      np.broadcast_to(indices, _along_shape(index_shape, x_shape, axis)), axis=axis)
    same(ops.take_along_axis(x, indices, axis), expected)
    if axis is not None and expected.size:
        check_gradient(lambda v: ops.take_along_axis(v, indices, axis) * weights(expected.shape), x)


def _along_shape(shape, other, axis):
    """`shape` broadcast against `other` outside `axis` (np.take_along_axis's broadcasting)."""
    axis %= len(shape)
    return tuple(shape[d] if d == axis else max(shape[d], other[d]) for d in range(len(shape)))


def test_take_along_axis_errors():
    x = np.zeros((3, 4))
    with pytest.raises(IndexError, match="take_along_axis: index 4 is out of bounds for axis 1 with size 4"):
        ops.take_along_axis(x, np.array([[4]]), 1)
    with pytest.raises(ValueError, match="take_along_axis: indices .* must have the rank of x"):
        ops.take_along_axis(x, np.array([1]), 1)
    with pytest.raises(TypeError, match="take_along_axis: indices must be int32 or int64"):
        ops.take_along_axis(x, np.array([[1.0]]), 1)


def test_slice_update_values_gradients_and_errors():
    x = RNG.standard_normal((4, 5))
    u = RNG.standard_normal((2, 3))
    expected = x.copy()
    expected[1:3, 2:5] = u
    same(ops.slice_update(x, (1, 2), u), expected)
    same(ops.slice_update(x, pf.tensor([0, 0], dtype="int32"), u)[:2, :3], u)
    check_gradient(lambda v: ops.slice_update(v, (1, 2), u) * x, x)
    check_gradient(lambda v: ops.slice_update(x, (2, 0), v) * x, u)
    with pytest.raises(IndexError, match=r"slice_update: .* start must be in \[0, 2\]"):
        ops.slice_update(x, (3, 0), u)
    with pytest.raises(TypeError, match="slice_update: operands have different dtypes"):
        ops.slice_update(x, (0, 0), u.astype(np.float32))


# ---- tile / repeat / split / pad / stack

@pytest.mark.parametrize("shape,reps", [((2, 3), 2), ((2, 3), (2, 1)), ((3,), (2, 2)), ((2, 1, 2), (1, 3)), ((2, 3), (0, 2))])
def test_tile_against_numpy(shape, reps):
    x = RNG.standard_normal(shape)
    same(ops.tile(x, reps), np.tile(x, reps))
    if 0 not in np.atleast_1d(reps):
        check_gradient(lambda v: ops.tile(v, reps) * weights(np.tile(x, reps).shape), x)


@pytest.mark.parametrize("shape,repeats,axis", [((2, 3), 2, None), ((2, 3), 3, 1), ((2, 3), [1, 0, 2], -1),
                                                ((4,), [2, 1, 1, 3], 0), ((2, 2), 0, 0)])
def test_repeat_against_numpy(shape, repeats, axis):
    x = RNG.standard_normal(shape)
    expected = np.repeat(x, repeats, axis=axis)
    same(ops.repeat(x, repeats, axis), expected)
    if expected.size:
        check_gradient(lambda v: ops.repeat(v, repeats, axis) * weights(expected.shape), x)


@pytest.mark.parametrize("shape,spec,axis", [((6, 2), 3, 0), ((2, 6), 2, -1), ((7,), [2, 5], 0), ((5, 2), [3, 1, 9], 0),
                                             ((4,), [-1], 0)])
def test_split_against_numpy(shape, spec, axis):
    x = RNG.standard_normal(shape)
    pieces = ops.split(x, spec, axis)
    expected = np.split(x, spec, axis=axis)
    assert isinstance(pieces, list) and len(pieces) == len(expected)
    for got, ref in zip(pieces, expected):
        same(got, ref)
    with pytest.raises(ValueError, match="split: axis 0 .* cannot be split into 4 equal sections"):
        ops.split(np.zeros(6), 4)


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("pad_width", [1, (1, 2), ((0, 2), (1, 1)), ((2,), (0,)), [[1, 0], [2, 2]]])
def test_pad_against_numpy(mode, pad_width):
    x = RNG.standard_normal((3, 4))
    expected = np.pad(x, pad_width, mode=mode)
    same(ops.pad(x, pad_width, mode), expected)
    check_gradient(lambda v: ops.pad(v, pad_width, mode) * weights(expected.shape), x)


def test_pad_constant_values_torch_and_errors():
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    same(ops.pad(x, ((1, 0), (2, 1)), constant_values=-1.5), np.pad(x, ((1, 0), (2, 1)), constant_values=-1.5))
    t = torch.nn.functional.pad(torch.tensor(x)[None], (2, 1), mode="reflect")[0]
    same(ops.pad(x, ((0, 0), (2, 1)), mode="reflect"), t.numpy())
    same(ops.pad(np.array([True]), 1), np.array([False, True, False]))
    with pytest.raises(ValueError, match="pad: constant_values can only be given with mode='constant'"):
        ops.pad(x, 1, mode="edge", constant_values=0)
    with pytest.raises(NotImplementedError, match="pad: mode 'median' is not supported"):
        ops.pad(x, 1, mode="median")
    with pytest.raises(ValueError, match="pad: mode 'reflect' pads axis 1 of size 3 by at most 2"):
        ops.pad(x, ((0, 0), (3, 3)), mode="reflect")
    with pytest.raises(ValueError, match="pad: pad_width has 3 entries for a tensor of rank 2"):
        ops.pad(x, ((1, 1), (1, 1), (1, 1)))
    with pytest.raises(ValueError, match=r"pad: widths must be >= 0, got \(-1, -1\)"):
        ops.pad(x, -1)


def test_stack_new_axis_and_negative():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    for axis in (0, 1, 2, -1, -3):
        same(ops.stack([a, b], axis), np.stack([a, b], axis=axis))


# ---- einsum / tensordot / norm

@pytest.mark.parametrize("subscripts,shapes", [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("bij,bjk->bik", [(2, 2, 3), (2, 3, 4)]),
    ("ii->i", [(3, 3)]), ("ii", [(4, 4)]), ("ij->ji", [(2, 3)]), ("ij->", [(2, 3)]), ("i,i", [(5,), (5,)]),
    ("i,j->ij", [(2,), (3,)]), ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]), ("ijk,ikl,lm->jm", [(2, 3, 4), (2, 4, 5), (5, 2)]),
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]), ("Ab,bA->A", [(3, 2), (2, 3)]), ("...i,...i", [(2, 3), (3,)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]), ("i,i->", [(0,), (0,)]),
])
def test_einsum_against_numpy(subscripts, shapes):
    operands = [RNG.standard_normal(s) for s in shapes]
    close(ops.einsum(subscripts, *operands), np.einsum(subscripts, *operands), rtol=1e-12, atol=1e-12)
    if operands[0].size:
        rest = operands[1:]
        expected = np.einsum(subscripts, *operands)
        check_gradient(lambda v: ops.einsum(subscripts, v, *rest) * weights(expected.shape), operands[0])


def test_einsum_errors_and_torch():
    with pytest.raises(ValueError, match="einsum: subscripts 'ij,jk' name 2 operands but 1 were given"):
        ops.einsum("ij,jk", np.ones((2, 2)))
    with pytest.raises(ValueError, match="'...' but the output has no '...'"):
        ops.einsum("...i->i", np.ones((2, 2)))
    with pytest.raises(TypeError, match="einsum: keyword arguments \\['optimize'\\] are not supported"):
        ops.einsum("ij", np.ones((2, 2)), optimize=True)
    with pytest.raises(TypeError, match="einsum: operands have different dtypes"):
        ops.einsum("i,i", np.ones(2), np.ones(2, np.float32))
    a, b = RNG.standard_normal((3, 4)).astype(np.float32), RNG.standard_normal((4, 2)).astype(np.float32)
    np.testing.assert_allclose(ops.einsum("ij,jk->ik", a, b).numpy(),
                               torch.einsum("ij,jk->ik", torch.tensor(a), torch.tensor(b)).numpy(), rtol=1e-6)


@pytest.mark.parametrize("a_shape,b_shape,axes", [
    ((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 4), 1), ((2, 3), (4, 5), 0), ((2, 3, 4), (4, 2, 3), ([0, 2], [1, 0])),
    ((3, 4), (4, 3), ([1], [0])), ((2, 3), (3,), (1, 0)),
])
def test_tensordot_against_numpy(a_shape, b_shape, axes):
    a, b = RNG.standard_normal(a_shape), RNG.standard_normal(b_shape)
    close(ops.tensordot(a, b, axes), np.tensordot(a, b, axes), rtol=1e-12, atol=1e-12)
    expected = np.tensordot(a, b, axes)
    check_gradient(lambda v: ops.tensordot(v, b, axes) * weights(expected.shape), a)


def test_tensordot_errors():
    with pytest.raises(ValueError, match="tensordot: axis 1 of x1 .* is summed against axis 0 of x2 .* the sizes must match"):
        ops.tensordot(np.ones((2, 3)), np.ones((4, 2)), 1)
    with pytest.raises(ValueError, match=r"tensordot: axes=3 must be in \[0, 2\]"):
        ops.tensordot(np.ones((2, 3)), np.ones((3, 2)), 3)


@pytest.mark.parametrize("shape,ord,axis,keepdims", [
    ((5,), None, None, False), ((3, 4), None, None, True), ((2, 3, 4), None, None, False), ((3, 4), None, 1, False),
    ((3, 4), 1, 0, True), ((3, 4), np.inf, -1, False), ((3, 4), -np.inf, 1, False), ((3, 4), 0, 1, False),
    ((3, 4), 3, 0, False), ((3, 4), 0.5, 1, False), ((3, 4), "fro", None, False), ((3, 4), 1, None, False),
    ((3, 4), -1, None, True), ((3, 4), np.inf, None, False), ((3, 4), -np.inf, None, False),
    ((2, 3, 4), "fro", (0, 2), True), ((2, 3, 4), 1, (2, 0), False), ((2, 3, 4), np.inf, (-1, 1), False),
    ((5,), 1, None, False), ((5,), np.inf, None, False),
])
def test_norm_against_numpy(shape, ord, axis, keepdims):
    x = RNG.standard_normal(shape)
    close(ops.norm(x, ord=ord, axis=axis, keepdims=keepdims),
          np.linalg.norm(x, ord=ord, axis=axis, keepdims=keepdims), rtol=1e-12)
    if ord not in (0,):
        check_gradient(lambda v: ops.norm(v, ord=ord, axis=axis, keepdims=keepdims), x, rtol=1e-5)


def test_norm_errors():
    x = np.ones((3, 4))
    with pytest.raises(NotImplementedError, match="norm: the matrix norm ord='nuc' needs singular values"):
        ops.norm(x, "nuc")
    with pytest.raises(ValueError, match="norm: ord='fro' is a matrix norm"):
        ops.norm(x, "fro", axis=0)
    with pytest.raises(ValueError, match="norm: ord=1 with axis=None needs a 1-D or 2-D tensor"):
        ops.norm(np.ones((2, 2, 2)), 1)
    with pytest.raises(ValueError, match="norm: axis 2 is out of range for a tensor of rank 2"):
        ops.norm(x, axis=2)


# ---- core: cond, convert_to_tensor, cast, shape

def test_cond_calls_one_branch_eagerly():
    calls = []

    def branch(name):
        def fn():
            calls.append(name)
            return name
        return fn

    assert ops.cond(True, branch("t"), branch("f")) == "t"
    assert ops.cond(pf.tensor(0.0) > 1.0, branch("t"), branch("f")) == "f"
    assert calls == ["t", "f"]
    v = pf.Variable(2.0)
    with pf.GradientTape() as tape:
        y = ops.cond(v > 0, lambda: v * v, lambda: -v)
    assert tape.gradient(y, v).item() == 4.0
    with pytest.raises(ValueError, match="ambiguous"):
        ops.cond(pf.tensor([True, False]), branch("t"), branch("f"))


def test_convert_cast_shape():
    t = ops.convert_to_tensor([1, 2, 3])
    assert t.dtype == "int32" and ops.shape(t) == (3,)
    assert ops.cast(t, "float16").dtype == "float16"
    assert ops.convert_to_tensor(np.ones(2), dtype="float32").dtype == "float32"


# ---- keras.ops.nn

def test_silu_gelu_against_torch():
    x = RNG.standard_normal((3, 5))
    close(ops.silu(x), torch.nn.functional.silu(torch.tensor(x)).numpy(), rtol=1e-12)
    close(ops.nn.gelu(x), torch.nn.functional.gelu(torch.tensor(x), approximate="tanh").numpy(), rtol=1e-10)
    close(ops.nn.gelu(x, approximate=False), torch.nn.functional.gelu(torch.tensor(x)).numpy(), rtol=1e-10)
    check_gradient(ops.silu, x)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot_axes_against_torch(axis):
    labels = np.array([[0, 2, 1], [3, 3, 0]])
    expected = np.moveaxis(torch.nn.functional.one_hot(torch.tensor(labels), 4).numpy(), -1, axis)
    same(ops.nn.one_hot(labels, 4, axis=axis), expected.astype(np.float32), "float32")
    with pytest.raises(IndexError, match="one_hot: label 4"):
        ops.one_hot(np.array([4]), 4)
    with pytest.raises(ValueError, match="one_hot: axis 3 is out of range for a result of rank 3"):
        ops.one_hot(labels, 4, axis=3)


def test_binary_crossentropy_against_torch():
    target = RNG.integers(0, 2, (4, 3)).astype(np.float64)
    probs = RNG.uniform(0.01, 0.99, (4, 3))
    logits = RNG.standard_normal((4, 3)) * 3
    t = torch.tensor(target)
    close(ops.nn.binary_crossentropy(target, probs),
          torch.nn.functional.binary_cross_entropy(torch.tensor(probs), t, reduction="none").numpy(), rtol=1e-12)
    close(ops.nn.binary_crossentropy(target, logits, from_logits=True),
          torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(logits), t, reduction="none").numpy(),
          rtol=1e-12)
    # Keras clips probabilities to [1e-7, 1 - 1e-7]
    close(ops.nn.binary_crossentropy(np.array([1.0]), np.array([0.0])), [-np.log(1e-7)], rtol=1e-9)
    close(ops.binary_crossentropy(np.array([1, 0], np.int32), np.array([0.5, 0.5])), [np.log(2), np.log(2)])
    check_gradient(lambda v: ops.binary_crossentropy(target, v), probs)
    check_gradient(lambda v: ops.binary_crossentropy(target, v, from_logits=True), logits)
    with pytest.raises(ValueError, match="binary_crossentropy: target .* and output .* must have the same shape"):
        ops.binary_crossentropy(np.ones(3), np.ones(2) * 0.5)


@pytest.mark.parametrize("axis", [-1, 0])
def test_categorical_and_sparse_crossentropy_against_torch(axis):
    logits = RNG.standard_normal((5, 4)) * 2
    labels = RNG.integers(0, logits.shape[axis], logits.shape[1 - (axis % 2)])
    target = np.moveaxis(np.eye(logits.shape[axis])[labels], -1, axis)
    class_dim = axis % 2
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits if class_dim == 1 else logits.T),
                                                 torch.tensor(labels), reduction="none").numpy()
    close(ops.nn.categorical_crossentropy(target, logits, from_logits=True, axis=axis), expected, rtol=1e-12)
    close(ops.nn.sparse_categorical_crossentropy(labels, logits, from_logits=True, axis=axis), expected, rtol=1e-12)
    probs = np.exp(logits) / np.exp(logits).sum(axis=axis, keepdims=True)
    close(ops.nn.categorical_crossentropy(target, probs, axis=axis), expected, rtol=1e-9)
    close(ops.nn.sparse_categorical_crossentropy(labels, probs * 3, axis=axis), expected, rtol=1e-9)  # renormalized
    check_gradient(lambda v: ops.categorical_crossentropy(target, v, from_logits=True, axis=axis), logits)
    # Probabilities away from 0, where central differences of -log p stay accurate.
    mild = np.exp(logits / 4) / np.exp(logits / 4).sum(axis=axis, keepdims=True)
    check_gradient(lambda v: ops.sparse_categorical_crossentropy(labels, v, axis=axis), mild)


def test_sparse_crossentropy_label_shapes_and_errors():
    logits = RNG.standard_normal((3, 4))
    labels = np.array([1, 0, 3])
    a = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    b = ops.sparse_categorical_crossentropy(labels[:, None], logits, from_logits=True)
    same(a, b.numpy())
    with pytest.raises(IndexError, match="label 4"):
        ops.sparse_categorical_crossentropy(np.array([4, 0, 0]), logits, from_logits=True)
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        ops.sparse_categorical_crossentropy(labels.astype(np.float64), logits)
    with pytest.raises(ValueError, match=r"expected one class index per position, shape \(3,\)"):
        ops.sparse_categorical_crossentropy(np.array([0, 1]), logits)


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("strides", [1, 2])
def test_conv_1d_and_2d_against_torch(data_format, padding, strides):
    x2 = RNG.standard_normal((2, 7, 6, 3))
    k2 = RNG.standard_normal((3, 2, 3, 4))
    x1 = RNG.standard_normal((2, 9, 3))
    k1 = RNG.standard_normal((3, 3, 5))
    for x, k in ((x2, k2), (x1, k1)):
        spatial = x.ndim - 2
        tx = torch.tensor(np.moveaxis(x, -1, 1))
        tk = torch.tensor(np.moveaxis(np.moveaxis(k, -1, 0), -1, 1))  # (out, in, *window)
        if padding == "same":
            # TensorFlow's rule: total (ceil(n / s) - 1) * s + k - n, the odd extra after.
            pads = []
            for n, w in reversed(list(zip(x.shape[1:-1], k.shape[:-2]))):
                total = max((math.ceil(n / strides) - 1) * strides + w - n, 0)
                pads += [total // 2, total - total // 2]
            tx = torch.nn.functional.pad(tx, pads)
        conv = torch.nn.functional.conv2d if spatial == 2 else torch.nn.functional.conv1d
        expected = np.moveaxis(conv(tx, tk, stride=strides).numpy(), 1, -1)
        inputs = x if data_format == "channels_last" else np.moveaxis(x, -1, 1)
        got = ops.nn.conv(inputs, k, strides=strides, padding=padding, data_format=data_format).numpy()
        if data_format == "channels_first":
            got = np.moveaxis(got, 1, -1)
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_conv_gradient_and_errors():
    x = RNG.standard_normal((1, 5, 2))
    k = RNG.standard_normal((2, 2, 3))
    check_gradient(lambda v: ops.conv(v, k), x)
    with pytest.raises(NotImplementedError, match=r"conv: dilation_rate=2 is not supported"):
        ops.conv(x, k, dilation_rate=2)
    with pytest.raises(ValueError, match="conv: padding must be 'valid' or 'same', got 'full'"):
        ops.conv(x, k, padding="full")
    with pytest.raises(ValueError, match="grouped convolution is not supported"):
        ops.conv(x, RNG.standard_normal((2, 1, 3)))
    with pytest.raises(ValueError, match="conv: inputs of rank 3 or 4"):
        ops.conv(np.ones((1, 2, 2, 2, 1)), np.ones((1, 1, 1, 1, 1)))


@pytest.mark.parametrize("axes,keepdims", [([0], False), ([0, 2], True), ([1], True), ((0, 1, 2), False)])
def test_moments_against_numpy(axes, keepdims):
    x = RNG.standard_normal((4, 3, 5)) * 3 + 1
    mean_value, variance = ops.nn.moments(x, axes, keepdims=keepdims)
    close(mean_value, np.mean(x, axis=tuple(axes), keepdims=keepdims), rtol=1e-12)
    close(variance, np.var(x, axis=tuple(axes), keepdims=keepdims), rtol=1e-12)
    check_gradient(lambda v: ops.moments(v, axes)[1], x, rtol=1e-5)


def test_moments_half_precision_and_synchronized():
    x = (RNG.standard_normal((64, 3)) * 300).astype(np.float16)
    mean_value, variance = ops.moments(x, [0])
    assert mean_value.dtype == variance.dtype == "float16"
    wide = x.astype(np.float32)
    np.testing.assert_allclose(mean_value.numpy().astype(np.float32), wide.mean(0), rtol=2e-3, atol=1e-2)
    # The variance (about 9e4) exceeds float16's largest value: clipped to 65504, not inf.
    assert np.all(variance.numpy() == np.float16(65504))
    with pytest.raises(NotImplementedError, match="moments: synchronized=True"):
        ops.moments(x, [0], synchronized=True)


# ---- bad arguments name the op, the argument and the value

@pytest.mark.parametrize("call,error,pattern", [
    (lambda: ops.cumsum(np.ones(3), axis=1.5), TypeError, "cumsum: axis must be an integer, got 1.5"),
    (lambda: ops.cumsum(np.ones(3), axis=1), ValueError, "cumsum"),
    (lambda: ops.tile(np.ones(3), -1), ValueError, "tile: repeats must be >= 0, got -1"),
    (lambda: ops.repeat(np.ones(3), [1, 2], axis=0), ValueError, "repeat: 2 repeat counts for axis 0 of size 3"),
    (lambda: ops.round(np.ones(3), 0.5), TypeError, "round: decimals must be an integer, got 0.5"),
    (lambda: ops.sort(np.ones(3), axis=2), ValueError, "sort"),
    (lambda: ops.argsort(np.float64(3.0)), ValueError, "argsort: the scalar"),
    (lambda: ops.one_hot(np.array([1]), 3, sparse=True), NotImplementedError, "one_hot: sparse=True"),
    (lambda: ops.top_k(np.ones(3), 2, sorted="yes"), TypeError, "top_k: sorted must be a bool"),
    (lambda: ops.split(np.ones(3), 1.5), TypeError, "split: indices_or_sections must be an integer"),
    (lambda: ops.einsum(3, np.ones(2)), TypeError, "einsum: subscripts must be a string"),
])
def test_bad_arguments(call, error, pattern):
    with pytest.raises(error, match=pattern):
        call()


# ---- determinism

def test_new_ops_are_bitwise_deterministic_across_thread_counts():
    x = RNG.standard_normal((200, 300)).astype(np.float32)
    index = RNG.integers(0, 300, (200, 400))

    def run():
        v = pf.Variable(x)
        with pf.GradientTape() as tape:
            y = ops.sum(ops.take_along_axis(v, index, 1) * 0.5) + ops.sum(ops.cumsum(v, axis=0)) + \
                ops.sum(ops.einsum("ij,kj->ik", v, v))
        return [tape.gradient(y, v).numpy(), ops.sort(x, 0).numpy(), ops.argsort(x, 1).numpy()]

    saved = pf.config.get_num_threads()
    try:
        pf.config.set_num_threads(1)
        one = run()
        pf.config.set_num_threads(2)
        two = run()
    finally:
        pf.config.set_num_threads(saved)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)
