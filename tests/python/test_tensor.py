"""Tensor creation, NumPy round trips, operators, broadcasting and indexing against NumPy."""
import numpy as np
import pytest

import pitfall as pf

ALL_NUMPY_DTYPES = ["float16", "float32", "float64", "int32", "int64", "uint8", "bool"]


@pytest.mark.parametrize("dtype", ALL_NUMPY_DTYPES)
def test_numpy_round_trip_keeps_dtype_and_values(dtype):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((3, 4)) * 10).astype(dtype)
    t = pf.tensor(a)
    assert t.dtype == dtype
    assert t.shape == (3, 4) and t.ndim == 2 and t.size == 12 and len(t) == 3
    back = t.numpy()
    assert back.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back, a)
    np.testing.assert_array_equal(np.asarray(t), a)


def test_float64_numpy_is_not_downcast():
    t = pf.tensor(np.array([1.0, 1e-300]))
    assert t.dtype == "float64"
    assert t.numpy()[1] == 1e-300


def test_python_values_follow_the_documented_rules():
    assert pf.tensor(1.5).dtype == "float32"
    assert pf.tensor([1, 2]).dtype == "int32"
    assert pf.tensor([1, 2.5]).dtype == "float32"
    assert pf.tensor([True, False]).dtype == "bool"
    assert pf.tensor([2**40]).dtype == "int64"
    assert pf.tensor([1, 2], dtype="float64").dtype == "float64"
    assert pf.tensor(np.float64(2.0)).dtype == "float64"
    assert pf.backend.floatx() == "float32"


def test_strided_numpy_input_and_scalars():
    a = np.arange(24, dtype=np.float32).reshape(4, 6)[::2, ::-3]
    np.testing.assert_array_equal(pf.tensor(a).numpy(), a)
    s = pf.tensor(np.float32(3.5))
    assert s.shape == () and s.item() == 3.5 and float(s) == 3.5
    assert isinstance(pf.tensor(7).item(), int)
    assert pf.tensor(True).item() is True


def test_float16_round_trip_and_overflow():
    a = np.array([65504.0, 1e-4, 0.1], dtype=np.float16)
    t = pf.tensor(a)
    assert t.numpy().dtype == np.float16
    np.testing.assert_array_equal(t.numpy(), a)
    # float16 arithmetic overflows like the real format
    assert np.isinf((t * 2.0).numpy()[0])


def test_bfloat16_numpy_requires_an_explicit_dtype():
    t = pf.tensor([1.0, 2.5, 3.0], dtype="bfloat16")
    assert t.dtype == "bfloat16"
    with pytest.raises(TypeError, match="bfloat16") as info:
        t.numpy()
    assert "numpy('float32')" in str(info.value) and "cast" in str(info.value)
    with pytest.raises(TypeError, match="bfloat16"):
        np.asarray(t)
    np.testing.assert_array_equal(t.numpy("float32"), np.array([1.0, 2.5, 3.0], np.float32))
    np.testing.assert_array_equal(pf.ops.cast(t, "float32").numpy(), [1.0, 2.5, 3.0])
    # bfloat16 keeps 8 significant bits: 1 + 2**-9 rounds to 1
    assert pf.tensor([1 + 2**-9], dtype="bfloat16").numpy("float64")[0] == 1.0


def test_numpy_dtype_argument_converts():
    t = pf.tensor([1.5, 2.5])
    assert t.numpy("float64").dtype == np.float64
    assert np.asarray(t, dtype=np.float64).dtype == np.float64


BINARY = [
    (lambda a, b: a + b, np.add),
    (lambda a, b: a - b, np.subtract),
    (lambda a, b: a * b, np.multiply),
    (lambda a, b: a / b, np.divide),
    (lambda a, b: a ** b, np.power),
    (pf.ops.maximum, np.maximum),
    (pf.ops.minimum, np.minimum),
]


@pytest.mark.parametrize("fn,ref", BINARY)
@pytest.mark.parametrize("shapes", [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((3, 1), (1, 5)), ((), (2, 2))])
def test_binary_broadcasting_matches_numpy(fn, ref, shapes):
    rng = np.random.default_rng(1)
    a = rng.uniform(0.5, 2.0, shapes[0])
    b = rng.uniform(0.5, 2.0, shapes[1])
    out = fn(pf.tensor(a), pf.tensor(b))
    assert out.shape == np.broadcast_shapes(a.shape, b.shape)
    np.testing.assert_allclose(out.numpy(), ref(a, b), rtol=1e-12)


def test_scalars_on_either_side_adopt_the_tensor_dtype():
    for dtype in ["float16", "float32", "float64"]:
        x = pf.tensor(np.array([1.0, 2.0, 4.0], dtype=dtype))
        for out, expected in [(x + 1, [2, 3, 5]), (1 + x, [2, 3, 5]), (x - 1, [0, 1, 3]), (1 - x, [0, -1, -3]),
                              (x * 2, [2, 4, 8]), (2 * x, [2, 4, 8]), (x / 2, [0.5, 1, 2]), (4 / x, [4, 2, 1]),
                              (x ** 2, [1, 4, 16]), (2 ** x, [2, 4, 16]), (-x, [-1, -2, -4]),
                              (x * np.float64(2.0), [2, 4, 8])]:
            assert out.dtype == dtype
            np.testing.assert_array_equal(out.numpy(), np.array(expected, dtype))
    i = pf.tensor([1, 2, 3])
    assert (i + 1).dtype == "int32" and (i * 2).numpy().tolist() == [2, 4, 6]
    with pytest.raises(TypeError):
        i + 2.5


def test_numpy_array_on_the_left_defers_to_the_tensor():
    x = pf.tensor(np.array([1.0, 2.0]))
    out = np.array([10.0, 20.0]) + x
    assert isinstance(out, pf.Tensor) and out.numpy().tolist() == [11.0, 22.0]


def test_matmul_operator():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((4, 5))
    np.testing.assert_allclose((pf.tensor(a) @ pf.tensor(b)).numpy(), a @ b, rtol=1e-12)
    v = rng.standard_normal(4)
    np.testing.assert_allclose((pf.tensor(a) @ pf.tensor(v)).numpy(), a @ v, rtol=1e-12)
    np.testing.assert_allclose((b.T @ pf.tensor(a[0]).T).numpy(), b.T @ a[0].T, rtol=1e-12)


def test_comparisons_are_elementwise_bool_tensors():
    a = pf.tensor([1.0, 2.0, 3.0])
    b = pf.tensor([3.0, 2.0, 1.0])
    for out, ref in [(a == b, [False, True, False]), (a != b, [True, False, True]), (a < b, [True, False, False]),
                     (a <= b, [True, True, False]), (a > b, [False, False, True]), (a >= 2, [False, True, True]),
                     (2.0 < a, [False, False, True])]:
        assert out.dtype == "bool"
        assert out.numpy().tolist() == ref
    assert (a == None) is False  # noqa: E711  (not convertible -> identity comparison)
    assert hash(a) == hash(a)
    with pytest.raises(ValueError, match="ambiguous"):
        bool(a == b)
    assert bool(pf.tensor(1.0) == 1.0)


INDEX_CASES = [
    (1,), (-1,), (slice(None),), (slice(1, 3),), (slice(None, None, -1),), (slice(3, 0, -2),),
    (slice(None, None, 2), 1), (Ellipsis, 0), (0, Ellipsis), (None,), (slice(None), None, 2),
    (Ellipsis, None), (1, slice(None, None, -1), slice(1, None)), (-2, 3, 1), (slice(-100, 100),),
    (slice(5, 1),), (np.int64(2),), ([0, 2, 2],), (slice(None), [3, -1]), (np.array([[0, 1], [2, 3]]), 0),
]


@pytest.mark.parametrize("key", INDEX_CASES, ids=[str(k) for k in INDEX_CASES])
def test_getitem_matches_numpy(key):
    a = np.arange(4 * 5 * 6, dtype=np.float64).reshape(4, 5, 6)
    key = key if len(key) != 1 else key[0]
    expected = a[key]
    out = pf.tensor(a)[key]
    assert out.shape == expected.shape
    np.testing.assert_array_equal(out.numpy(), expected)


def test_getitem_errors():
    t = pf.tensor(np.zeros((2, 3)))
    with pytest.raises(IndexError):
        t[2]
    with pytest.raises(IndexError):
        t[0, 0, 0]
    with pytest.raises(IndexError):
        t[..., ...]
    with pytest.raises(TypeError):
        t[0] = 1.0


def test_iteration_len_T_item_repr_reshape():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    t = pf.tensor(a)
    rows = list(t)
    assert len(rows) == 2 and rows[1].numpy().tolist() == [3, 4, 5]
    np.testing.assert_array_equal(t.T.numpy(), a.T)
    np.testing.assert_array_equal(t.reshape(3, 2).numpy(), a.reshape(3, 2))
    np.testing.assert_array_equal(t.reshape((-1,)).numpy(), a.reshape(-1))
    assert t[1, 2].item() == 5.0
    assert "dtype=float32" in repr(t) and "[3., 4., 5.]" in repr(t)
    assert f"{pf.tensor(0.25):.3f}" == "0.250"
    assert t.astype("float64").dtype == "float64"
    np.testing.assert_array_equal(t.sum(axis=0).numpy(), a.sum(axis=0))


def test_detach_shares_storage_and_cuts_the_graph():
    v = pf.Variable([1.0, 2.0])
    d = (v * 2).detach()
    assert not d.requires_grad
    assert (v * 2).requires_grad


def test_variable_assign_in_place():
    v = pf.Variable(np.array([1.0, 2.0], np.float32), name="w")
    assert isinstance(v, pf.Tensor) and v.trainable and v.requires_grad and v.name == "w"
    view = v.value
    v.assign([5.0, 6.0])
    assert view.numpy().tolist() == [5.0, 6.0]
    v.assign_add(1.0)
    v.assign_sub(pf.tensor([0.5, 0.5]))
    assert v.numpy().tolist() == [5.5, 6.5]
    assert v.is_leaf and v.grad is None
    assert not pf.Variable(1.0, trainable=False).requires_grad
    assert pf.Variable([1, 2]).dtype == "int32"
    with pytest.raises(ValueError, match="shape"):
        v.assign([1.0, 2.0, 3.0])
    assert "Variable" in repr(v)


def test_pickle_and_deepcopy():
    import copy
    import pickle
    t = pf.tensor([1.0, 2.0], dtype="bfloat16")
    u = pickle.loads(pickle.dumps(t))
    assert u.dtype == "bfloat16" and u.numpy("float32").tolist() == [1.0, 2.0]
    v = pf.Variable(np.array([3.0, 4.0]), name="w", trainable=False)
    w = copy.deepcopy(v)
    assert isinstance(w, pf.Variable) and w.name == "w" and not w.trainable and w.dtype == "float64"
    w.assign([0.0, 0.0])
    assert v.numpy().tolist() == [3.0, 4.0]
    assert repr(pf.Tensor).startswith("<class 'pitfall.Tensor")
