"""pf.ops forward values against NumPy, with Keras argument conventions."""
import math

import numpy as np
import pytest

import pitfall as pf
from pitfall import ops

RNG = np.random.default_rng(3)
X = RNG.standard_normal((3, 4, 5))
POS = RNG.uniform(0.1, 3.0, (3, 4))


def close(t, expected, rtol=1e-12, atol=1e-12):
    assert isinstance(t, pf.Tensor)
    np.testing.assert_allclose(t.numpy(), expected, rtol=rtol, atol=atol)


def test_unary():
    erf = np.vectorize(math.erf)
    close(ops.negative(X), -X)
    close(ops.exp(X), np.exp(X))
    close(ops.log(POS), np.log(POS))
    close(ops.sqrt(POS), np.sqrt(POS))
    close(ops.square(X), X * X)
    close(ops.abs(X), np.abs(X))
    close(ops.tanh(X), np.tanh(X))
    close(ops.sigmoid(X), 1 / (1 + np.exp(-X)))
    close(ops.relu(X), np.maximum(X, 0))
    close(ops.leaky_relu(X), np.where(X > 0, X, 0.2 * X))
    close(ops.leaky_relu(X, negative_slope=0.1), np.where(X > 0, X, 0.1 * X))
    close(ops.elu(X, alpha=0.5), np.where(X > 0, X, 0.5 * (np.exp(X) - 1)))
    close(ops.gelu(X, approximate=False), 0.5 * X * (1 + erf(X / np.sqrt(2))), rtol=1e-10)
    # keras.ops.gelu default: the tanh approximation
    close(ops.gelu(X), 0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X ** 3))), rtol=1e-10)
    close(ops.gelu(X, approximate=True),
          0.5 * X * (1 + np.tanh(np.sqrt(2 / np.pi) * (X + 0.044715 * X ** 3))), rtol=1e-10)
    close(ops.clip(X, -0.5, 0.5), np.clip(X, -0.5, 0.5))


def test_softmax_and_log_softmax():
    for axis in (-1, 0, 1):
        e = np.exp(X - X.max(axis=axis, keepdims=True))
        sm = e / e.sum(axis=axis, keepdims=True)
        close(ops.softmax(X, axis=axis), sm)
        close(ops.log_softmax(X, axis=axis), np.log(sm), rtol=1e-10)


def test_comparisons_and_where():
    a, b = RNG.integers(0, 3, (4, 5)), RNG.integers(0, 3, (5,))
    for fn, ref in [(ops.equal, np.equal), (ops.not_equal, np.not_equal), (ops.less, np.less),
                    (ops.less_equal, np.less_equal), (ops.greater, np.greater),
                    (ops.greater_equal, np.greater_equal)]:
        np.testing.assert_array_equal(fn(a, b).numpy(), ref(a, b))
    cond = X > 0
    close(ops.where(cond, X, 0.0), np.where(cond, X, 0.0))
    close(ops.where(pf.tensor(X) > 0, pf.tensor(X), -1.0), np.where(cond, X, -1.0))


def test_reductions_with_keras_axes():
    for fn, ref in [(ops.sum, np.sum), (ops.mean, np.mean), (ops.max, np.max), (ops.min, np.min), (ops.var, np.var)]:
        for axis in (None, 0, -1, (0, 2), [1]):
            for keepdims in (False, True):
                expected = ref(X, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)
                close(fn(X, axis=axis, keepdims=keepdims), expected, rtol=1e-10)
    assert ops.argmax(X).dtype == "int64"
    assert ops.argmax(X).numpy() == np.argmax(X)
    np.testing.assert_array_equal(ops.argmax(X, axis=1).numpy(), np.argmax(X, axis=1))
    np.testing.assert_array_equal(ops.argmax(X, axis=-1, keepdims=True).numpy(), np.argmax(X, -1)[..., None])


def test_shape_ops():
    close(ops.reshape(X, (12, 5)), X.reshape(12, 5))
    close(ops.reshape(X, (-1,)), X.reshape(-1))
    close(ops.transpose(X), X.transpose())
    close(ops.transpose(X, axes=(1, 0, 2)), X.transpose(1, 0, 2))
    close(ops.expand_dims(X, 1), np.expand_dims(X, 1))
    close(ops.expand_dims(X, -1), np.expand_dims(X, -1))
    y = X[:, :1, None]
    close(ops.squeeze(y), np.squeeze(y))
    close(ops.squeeze(y, axis=1), np.squeeze(y, axis=1))
    close(ops.broadcast_to(POS[:, :1], (3, 4)), np.broadcast_to(POS[:, :1], (3, 4)))
    close(ops.concatenate([X, X[:1]], axis=0), np.concatenate([X, X[:1]], axis=0))
    close(ops.stack([POS, POS * 2], axis=1), np.stack([POS, POS * 2], axis=1))
    close(ops.slice(X, (1, 0, 2), (2, -1, 3)), X[1:3, :, 2:5])
    close(ops.take(X, [2, 0], axis=1), np.take(X, [2, 0], axis=1))
    close(ops.take(X, np.array([[1, 5], [7, 59]])), np.take(X, [[1, 5], [7, 59]]))
    close(ops.take(X, [-1], axis=0), X[-1:])
    assert ops.shape(X) == (3, 4, 5) and ops.dtype(X) == "float64"


def test_one_hot_cast_and_conversion():
    labels = np.array([0, 2, 1])
    oh = ops.one_hot(labels, 3)
    assert oh.dtype == "float32"
    np.testing.assert_array_equal(oh.numpy(), np.eye(3)[labels])
    np.testing.assert_array_equal(ops.one_hot(labels, 4, axis=0).numpy(), np.eye(4)[labels].T)
    assert ops.one_hot(labels, 3, dtype="int32").dtype == "int32"
    c = ops.cast(pf.tensor([1.7, -1.2]), "int32")
    assert c.dtype == "int32"
    t = ops.convert_to_tensor(np.ones((2, 2)), dtype="float32")
    assert t.dtype == "float32"
    np.testing.assert_array_equal(ops.convert_to_numpy(t), np.ones((2, 2)))
    assert ops.cast(t, np.float16).dtype == "float16"


def test_matmul_batched_and_vector():
    a, b = RNG.standard_normal((2, 1, 3, 4)), RNG.standard_normal((5, 4, 2))
    close(ops.matmul(a, b), np.matmul(a, b), rtol=1e-10)
    v = RNG.standard_normal(4)
    close(ops.matmul(v, v), v @ v, rtol=1e-10)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16", "float32"])
def test_low_precision_ops_run(dtype):
    x = pf.tensor(X, dtype=dtype)
    out = ops.sum(ops.softmax(x), axis=-1)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.numpy("float32"), np.ones((3, 4)), rtol=2e-2)
