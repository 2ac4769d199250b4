"""Forward and backward of pf.ops against PyTorch in float64 (skipped when torch is missing)."""
import numpy as np
import pytest

import pitfall as pf
from pitfall import ops

torch = pytest.importorskip("torch")
F = torch.nn.functional

RNG = np.random.default_rng(42)


def normal(*shape):
    return RNG.standard_normal(shape)


def positive(*shape):
    return RNG.uniform(0.2, 2.5, shape)


# name: (pitfall fn, torch fn, inputs) - every input is differentiated.
CASES = {
    "add": (ops.add, torch.add, [normal(3, 4), normal(4)]),
    "subtract": (ops.subtract, torch.sub, [normal(2, 1, 4), normal(3, 1)]),
    "multiply": (ops.multiply, torch.mul, [normal(3, 4), normal(3, 1)]),
    "divide": (ops.divide, torch.div, [normal(3, 4), positive(4)]),
    "power": (ops.power, torch.pow, [positive(3, 4), normal(3, 4)]),
    "maximum": (ops.maximum, torch.maximum, [normal(3, 4), normal(3, 4)]),
    "minimum": (ops.minimum, torch.minimum, [normal(3, 4), normal(4)]),
    "exp": (ops.exp, torch.exp, [normal(3, 4)]),
    "log": (ops.log, torch.log, [positive(3, 4)]),
    "sqrt": (ops.sqrt, torch.sqrt, [positive(3, 4)]),
    "square": (ops.square, torch.square, [normal(3, 4)]),
    "abs": (ops.abs, torch.abs, [normal(3, 4)]),
    "tanh": (ops.tanh, torch.tanh, [normal(3, 4)]),
    "sigmoid": (ops.sigmoid, torch.sigmoid, [normal(3, 4)]),
    "relu": (ops.relu, torch.relu, [normal(3, 4)]),
    "leaky_relu": (lambda x: ops.leaky_relu(x, 0.1), lambda x: F.leaky_relu(x, 0.1), [normal(3, 4)]),
    "elu": (lambda x: ops.elu(x, 0.7), lambda x: F.elu(x, 0.7), [normal(3, 4)]),
    "gelu_exact": (lambda x: ops.gelu(x, approximate=False), F.gelu, [normal(3, 4)]),
    "gelu_tanh": (lambda x: ops.gelu(x, approximate=True), lambda x: F.gelu(x, approximate="tanh"),
                  [normal(3, 4)]),
    "clip": (lambda x: ops.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), [normal(4, 5)]),
    "softmax_last": (ops.softmax, lambda x: torch.softmax(x, -1), [normal(3, 4, 5)]),
    "softmax_axis0": (lambda x: ops.softmax(x, axis=0), lambda x: torch.softmax(x, 0), [normal(3, 4, 5)]),
    "log_softmax": (lambda x: ops.log_softmax(x, axis=1), lambda x: torch.log_softmax(x, 1), [normal(3, 4, 5)]),
    "sparse_softmax_cross_entropy": (
        lambda x: ops.sparse_softmax_cross_entropy(x, np.array([3, 0, 6, 2, 6])),
        lambda x: F.cross_entropy(x, torch.tensor([3, 0, 6, 2, 6]), reduction="none"), [3 * normal(5, 7)]),
    "matmul": (ops.matmul, torch.matmul, [normal(4, 3), normal(3, 5)]),
    "matmul_batched": (ops.matmul, torch.matmul, [normal(2, 1, 3, 4), normal(5, 4, 2)]),
    "matmul_vector": (ops.matmul, torch.matmul, [normal(2, 3, 4), normal(4)]),
    "sum_axes": (lambda x: ops.sum(x, axis=(0, 2), keepdims=True), lambda x: x.sum(dim=(0, 2), keepdim=True),
                 [normal(3, 4, 5)]),
    "sum_all": (ops.sum, torch.sum, [normal(3, 4)]),
    "mean_axis": (lambda x: ops.mean(x, axis=1), lambda x: x.mean(dim=1), [normal(3, 4, 5)]),
    "max_axis": (lambda x: ops.max(x, axis=-1), lambda x: torch.amax(x, dim=-1), [normal(3, 4, 5)]),
    "min_axes": (lambda x: ops.min(x, axis=(0, 1)), lambda x: torch.amin(x, dim=(0, 1)), [normal(3, 4, 5)]),
    "var_axes": (lambda x: ops.var(x, axis=(0, 2)), lambda x: torch.var(x, dim=(0, 2), unbiased=False),
                 [normal(3, 4, 5)]),
    "take": (lambda x: ops.take(x, [2, 0, 2, 3], axis=1),
             lambda x: torch.index_select(x, 1, torch.tensor([2, 0, 2, 3])), [normal(3, 4, 5)]),
    "take_flat": (lambda x: ops.take(x, [[0, 11], [5, 5]]),
                  lambda x: torch.take(x, torch.tensor([[0, 11], [5, 5]])), [normal(3, 4)]),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=1), lambda a, b: torch.cat([a, b], 1),
                    [normal(3, 2, 4), normal(3, 5, 4)]),
    "stack": (lambda a, b: ops.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], -1),
              [normal(3, 4), normal(3, 4)]),
    "transpose": (lambda x: ops.transpose(x, (2, 0, 1)), lambda x: x.permute(2, 0, 1), [normal(3, 4, 5)]),
    "reshape": (lambda x: ops.reshape(x, (4, -1)), lambda x: x.reshape(4, -1), [normal(3, 4, 2)]),
    "expand_squeeze": (lambda x: ops.squeeze(ops.expand_dims(x, 1), axis=2),
                       lambda x: x.unsqueeze(1).squeeze(2), [normal(3, 1, 4)]),
    "broadcast_to": (lambda x: ops.broadcast_to(x, (2, 3, 4)), lambda x: x.expand(2, 3, 4), [normal(3, 1)]),
    "slice": (lambda x: ops.slice(x, (1, 0, 2), (2, -1, 2)), lambda x: x[1:3, :, 2:4], [normal(3, 4, 5)]),
    "getitem_reversed": (lambda x: x[::-1, 1, ::2], lambda x: torch.flip(x, [0])[:, 1, ::2], [normal(3, 4, 5)]),
    "where": (lambda a, b: ops.where(ops.greater(a, b), a * 2.0, b), lambda a, b: torch.where(a > b, a * 2.0, b),
              [normal(3, 4), normal(4)]),
    "composite_mlp": (lambda x, w, b: ops.mean(ops.log_softmax(ops.tanh(x @ w + b), axis=-1)),
                      lambda x, w, b: torch.log_softmax(torch.tanh(x @ w + b), -1).mean(),
                      [normal(5, 3), normal(3, 4), normal(4)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_and_backward_match_torch(name):
    pf_fn, torch_fn, arrays = CASES[name]
    variables = [pf.Variable(a) for a in arrays]
    with pf.GradientTape() as tape:
        out = pf_fn(*variables)
    leaves = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    expected = torch_fn(*leaves)
    assert out.dtype == "float64"
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-6, atol=1e-12)

    cotangent = RNG.standard_normal(out.shape)
    grads = tape.gradient(out, variables, output_gradients=cotangent)
    expected_grads = torch.autograd.grad(expected, leaves, grad_outputs=torch.tensor(cotangent))
    for i, (g, e) in enumerate(zip(grads, expected_grads)):
        assert g is not None, f"input {i} got no gradient"
        assert g.shape == tuple(e.shape) and g.dtype == "float64"
        np.testing.assert_allclose(g.numpy(), e.numpy(), rtol=1e-6, atol=1e-12, err_msg=f"gradient of input {i}")
