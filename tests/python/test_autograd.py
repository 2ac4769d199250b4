"""GradientTape (TF semantics), backward(), no_grad, against analytic gradients."""
import numpy as np
import pytest

import pitfall as pf
from pitfall import ops


def test_tape_linear_regression_gradients_match_formula():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 1))
    w = pf.Variable(rng.standard_normal((3, 1)))
    b = pf.Variable(np.zeros(1))
    with pf.GradientTape() as tape:
        residual = x @ w + b - y
        loss = ops.mean(ops.square(residual))
    dw, db = tape.gradient(loss, [w, b])
    r = x @ w.numpy() + b.numpy() - y
    np.testing.assert_allclose(dw.numpy(), 2 * x.T @ r / 8, rtol=1e-12)
    np.testing.assert_allclose(db.numpy(), [2 * r.mean()], rtol=1e-12)
    # gradients are returned, never accumulated into .grad
    assert w.grad is None and b.grad is None


def test_tape_elementwise_formulas():
    a = np.array([0.3, 1.2, 2.5])
    x = pf.Variable(a)
    with pf.GradientTape(persistent=True) as tape:
        s = ops.sum(ops.tanh(x))
        p = ops.sum(ops.exp(x) * ops.log(x))
        q = ops.sum(x ** 3.0)
    np.testing.assert_allclose(tape.gradient(s, x).numpy(), 1 - np.tanh(a) ** 2, rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(p, x).numpy(), np.exp(a) * np.log(a) + np.exp(a) / a, rtol=1e-12)
    np.testing.assert_allclose(tape.gradient(q, x).numpy(), 3 * a ** 2, rtol=1e-12)


def test_structures_and_unconnected_sources():
    v1, v2, v3 = pf.Variable([1.0, 2.0]), pf.Variable(3.0), pf.Variable([5.0])
    with pf.GradientTape() as tape:
        loss = ops.sum(v1 * v2)
    grads = tape.gradient(loss, {"a": v1, "b": [v2, (v3,)]})
    assert grads["a"].numpy().tolist() == [3.0, 3.0]
    assert grads["b"][0].numpy() == 3.0
    assert grads["b"][1] == (None,)


def test_unconnected_zero_and_single_tensor_source():
    v, u = pf.Variable([1.0, 2.0]), pf.Variable([4.0])
    with pf.GradientTape() as tape:
        loss = ops.sum(v * v)
    g_u, g_v = tape.gradient(loss, [u, v], unconnected_gradients="zero")
    assert g_u.numpy().tolist() == [0.0] and g_v.numpy().tolist() == [2.0, 4.0]


def test_non_persistent_tape_refuses_a_second_gradient():
    v = pf.Variable(2.0)
    with pf.GradientTape() as tape:
        y = v * v
    assert tape.gradient(y, v).item() == 4.0
    with pytest.raises(RuntimeError, match="non-persistent"):
        tape.gradient(y, v)


def test_watch_constant_and_output_gradients():
    x = pf.tensor(np.array([1.0, -2.0, 3.0]))
    with pf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
    g = tape.gradient(y, x, output_gradients=np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(g.numpy(), [2.0, -40.0, 600.0])
    assert not x.requires_grad  # the tape's watch ends with the tape
    # non-scalar target without output_gradients: gradient of the sum (TF)
    with pf.GradientTape() as tape:
        tape.watch(x)
        y = x * 3.0
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [3.0, 3.0, 3.0])


def test_unwatched_constant_gives_none_and_integer_watch_fails():
    x = pf.tensor([1.0, 2.0])
    with pf.GradientTape() as tape:
        y = ops.sum(x * 2.0)
    assert tape.gradient(y, x) is None
    with pf.GradientTape() as tape:
        with pytest.raises(TypeError):
            tape.watch(pf.tensor([1, 2]))


def test_watch_accessed_variables_false_and_non_trainable():
    v = pf.Variable(3.0)
    frozen = pf.Variable(2.0, trainable=False)
    with pf.GradientTape(watch_accessed_variables=False) as tape:
        y = v * v
    assert tape.gradient(y, v) is None
    with pf.GradientTape() as tape:
        tape.watch(frozen)
        y = v * frozen
    gv, gf = tape.gradient(y, [v, frozen])
    assert gv.item() == 2.0 and gf.item() == 3.0
    assert not frozen.requires_grad


def test_gradient_wrt_intermediate_tensor():
    v = pf.Variable([1.0, 2.0])
    with pf.GradientTape() as tape:
        h = v * 2.0
        y = ops.sum(h * h)
    np.testing.assert_array_equal(tape.gradient(y, h).numpy(), [4.0, 8.0])


def test_backward_accumulates_into_grad():
    v = pf.Variable(np.array([1.0, 2.0]))
    ops.sum(v * v).backward()
    ops.sum(v * 3.0).backward()
    np.testing.assert_array_equal(v.grad.numpy(), [5.0, 7.0])
    v.grad = None
    assert v.grad is None


def test_no_grad_context_and_decorator():
    v = pf.Variable(1.0)
    with pf.no_grad():
        assert not (v * 2.0).requires_grad
    assert (v * 2.0).requires_grad

    @pf.no_grad()
    def f():
        return v * 2.0

    assert not f().requires_grad
    with pf.no_grad():
        with pf.GradientTape() as tape:  # a tape records even inside no_grad, like TF
            y = v * v
        assert tape.gradient(y, v).item() == 2.0


def test_getitem_is_differentiable():
    a = np.arange(12.0).reshape(3, 4)
    v = pf.Variable(a)
    with pf.GradientTape() as tape:
        y = ops.sum(v[1:, ::-2]) + ops.sum(v[0, [1, 1]])
    expected = np.zeros_like(a)
    expected[1:, ::-2] = 1
    expected[0, 1] += 2
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), expected)
