"""Conv1D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, the 1D and global poolings, GRU,
Bidirectional, TimeDistributed, Masking and masks through the recurrent layers and the losses.

Values are checked against PyTorch (torch.nn.functional, torch.nn.GRU / LSTM with the weights copied
over in their layouts) or against NumPy written from Keras 3's documented rules; masking against
Keras's semantics (a masked step keeps the state and repeats the previous output; the loss and the
metrics average over the kept steps)."""
import numpy as np
import pytest

import pitfall as pf

torch = pytest.importorskip("torch")
F = torch.nn.functional
L = pf.layers

RNG = np.random.default_rng(7)


def normal(*shape):
    return RNG.standard_normal(shape)


def tf_same_padding(length, window, stride):
    """TensorFlow's "same" split along one axis: (before, after), the odd one after."""
    out = -(-length // stride)
    total = max((out - 1) * stride + window - length, 0)
    return total // 2, total - total // 2


def t(x):
    return torch.tensor(np.asarray(x, dtype=np.float64))


def run(layer, x):
    return np.asarray(layer(x))


# ---------------------------------------------------------------- Conv1D


@pytest.mark.parametrize("padding,strides,dilation,groups", [
    ("valid", 1, 1, 1), ("same", 2, 1, 1), ("causal", 1, 2, 1), ("same", 1, 3, 2), ("valid", 3, 1, 2),
])
def test_conv1d_matches_torch(padding, strides, dilation, groups):
    x = normal(2, 11, 4)
    layer = L.Conv1D(6, 3, strides=strides, padding=padding, dilation_rate=dilation, groups=groups,
                     dtype="float64")
    y = run(layer, x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 4 // groups, 6) and bias.shape == (6,)
    extent = (3 - 1) * dilation + 1
    xt = t(x).permute(0, 2, 1)  # (N, C, L)
    if padding == "same":
        xt = F.pad(xt, tf_same_padding(11, extent, strides))
    elif padding == "causal":
        xt = F.pad(xt, (extent - 1, 0))
    ref = F.conv1d(xt, t(kernel).permute(2, 1, 0), t(bias), stride=strides, dilation=dilation, groups=groups)
    np.testing.assert_allclose(y, ref.permute(0, 2, 1).numpy(), rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None, 11, 4)) == (None, ref.shape[2], 6)


def test_conv1d_causal_output_never_sees_the_future():
    layer = L.Conv1D(2, 4, padding="causal", dtype="float64")
    x = normal(1, 9, 3)
    changed = x.copy()
    changed[0, 6:] += 10.0
    y, y_changed = run(layer, x), run(layer, changed)
    np.testing.assert_array_equal(y[0, :6], y_changed[0, :6])
    assert not np.allclose(y[0, 6:], y_changed[0, 6:])


@pytest.mark.parametrize("padding,dilation,groups", [("same", (2, 3), 1), ("valid", (1, 1), 3), ("same", (2, 2), 2)])
def test_conv2d_dilation_and_groups_match_torch(padding, dilation, groups):
    x = normal(2, 9, 8, 6)
    layer = L.Conv2D(6, (3, 2), padding=padding, dilation_rate=dilation, groups=groups, dtype="float64")
    y = run(layer, x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 2, 6 // groups, 6)
    xt = t(x).permute(0, 3, 1, 2)
    if padding == "same":
        xt = torch_same(xt, (3, 2), (1, 1), dilation)
    ref = F.conv2d(xt, t(kernel).permute(3, 2, 0, 1), t(bias), dilation=dilation, groups=groups)
    np.testing.assert_allclose(y, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None, 9, 8, 6)) == (None,) + tuple(ref.shape[2:]) + (6,)


# ---------------------------------------------------------------- Conv2DTranspose


def transpose_reference(x, kernel, bias, strides, padding, out_hw):
    """The transposed convolution by its definition: every input position adds kernel * value into
    the full output ((in - 1) * s + k per axis), then TensorFlow's padding crops it (pad_before =
    total // 2 of total = (in - 1) * s + k - out, zero rows added at the end when negative)."""
    full = F.conv_transpose2d(t(x).permute(0, 3, 1, 2), t(kernel).permute(3, 2, 0, 1), stride=strides)
    full = full.permute(0, 2, 3, 1).numpy()
    out = np.zeros((x.shape[0],) + tuple(out_hw) + (kernel.shape[2],))
    for axis in range(2):
        k = kernel.shape[axis]
        total = (x.shape[1 + axis] - 1) * strides[axis] + k - out_hw[axis]
        if padding == "valid":
            assert total <= 0
    top = max((x.shape[1] - 1) * strides[0] + kernel.shape[0] - out_hw[0], 0) // 2 if padding == "same" else 0
    left = max((x.shape[2] - 1) * strides[1] + kernel.shape[1] - out_hw[1], 0) // 2 if padding == "same" else 0
    h = min(out_hw[0], full.shape[1] - top)
    w = min(out_hw[1], full.shape[2] - left)
    out[:, :h, :w] = full[:, top:top + h, left:left + w]
    return out + bias


@pytest.mark.parametrize("kernel_size,strides,padding,output_padding,expect_hw", [
    ((3, 3), (2, 2), "valid", None, (9, 11)),   # (in - 1) * s + k
    ((2, 2), (3, 3), "valid", None, (12, 15)),  # k < s: (in - 1) * s + max(k, s)
    ((3, 3), (2, 2), "same", None, (8, 10)),    # in * s
    ((4, 3), (2, 1), "same", None, (8, 5)),
    ((3, 3), (2, 2), "valid", (1, 0), (10, 11)),
    ((3, 3), (2, 2), "same", (1, 1), (8, 10)),  # (in - 1) * s + k % 2 + output_padding
])
def test_conv2d_transpose_shapes_and_values(kernel_size, strides, padding, output_padding, expect_hw):
    x = normal(2, 4, 5, 3)
    layer = L.Conv2DTranspose(2, kernel_size, strides=strides, padding=padding, output_padding=output_padding,
                              dtype="float64")
    y = run(layer, x)
    assert y.shape == (2,) + expect_hw + (2,)
    assert layer.compute_output_shape((None, 4, 5, 3)) == (None,) + expect_hw + (2,)
    kernel, bias = layer.get_weights()
    assert kernel.shape == kernel_size + (2, 3)  # Keras: (kh, kw, filters, in_channels)
    ref = transpose_reference(x, kernel, bias, strides, padding, expect_hw)
    np.testing.assert_allclose(y, ref, rtol=1e-10, atol=1e-12)


def test_conv2d_transpose_is_the_adjoint_of_conv2d():
    # <conv2d(a, K), b> == <a, conv2d_transpose(b, K)> with the same kernel, strides and padding.
    conv = L.Conv2D(3, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    deconv = L.Conv2DTranspose(2, 3, strides=2, padding="same", use_bias=False, dtype="float64")
    a, b = normal(1, 6, 8, 2), normal(1, 3, 4, 3)
    conv(a)
    deconv(b)
    deconv.set_weights(conv.get_weights())
    lhs = np.sum(run(conv, a) * b)
    rhs = np.sum(a * run(deconv, b))
    assert abs(lhs - rhs) < 1e-10 * max(1.0, abs(lhs))


def test_conv2d_transpose_dilation_matches_torch():
    x = normal(1, 4, 4, 2)
    layer = L.Conv2DTranspose(3, 2, dilation_rate=2, dtype="float64")
    y = run(layer, x)
    kernel, bias = layer.get_weights()
    ref = F.conv_transpose2d(t(x).permute(0, 3, 1, 2), t(kernel).permute(3, 2, 0, 1), t(bias), dilation=2)
    np.testing.assert_allclose(y, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- DepthwiseConv2D, SeparableConv2D


def torch_same(x_nchw, kernel_hw, strides, dilation=(1, 1)):
    pads = []
    for axis in (1, 0):  # F.pad: last axis first
        extent = (kernel_hw[axis] - 1) * dilation[axis] + 1
        pads += list(tf_same_padding(x_nchw.shape[2 + axis], extent, strides[axis]))
    return F.pad(x_nchw, pads)


@pytest.mark.parametrize("padding,strides,multiplier,dilation", [
    ("valid", (1, 1), 1, (1, 1)), ("same", (2, 2), 2, (1, 1)), ("same", (1, 1), 3, (2, 1)),
])
def test_depthwise_conv2d_matches_torch_groups(padding, strides, multiplier, dilation):
    x = normal(2, 7, 6, 3)
    layer = L.DepthwiseConv2D(3, strides=strides, padding=padding, depth_multiplier=multiplier,
                              dilation_rate=dilation, dtype="float64")
    y = run(layer, x)
    kernel, bias = layer.get_weights()
    assert kernel.shape == (3, 3, 3, multiplier) and bias.shape == (3 * multiplier,)
    xt = t(x).permute(0, 3, 1, 2)
    if padding == "same":
        xt = torch_same(xt, (3, 3), strides, dilation)
    # torch: out channel c * M + m uses weight[c * M + m, 0] = kernel[:, :, c, m]
    weight = t(kernel.reshape(3, 3, 3 * multiplier)).permute(2, 0, 1)[:, None]
    ref = F.conv2d(xt, weight, t(bias), stride=strides, dilation=dilation, groups=3)
    np.testing.assert_allclose(y, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-12)
    assert layer.compute_output_shape((None, 7, 6, 3)) == (None,) + tuple(ref.shape[2:]) + (3 * multiplier,)


def test_separable_conv2d_is_depthwise_then_pointwise():
    x = normal(2, 8, 7, 3)
    layer = L.SeparableConv2D(5, (3, 2), strides=2, padding="same", depth_multiplier=2, dtype="float64")
    y = run(layer, x)
    depthwise, pointwise, bias = layer.get_weights()
    assert depthwise.shape == (3, 2, 3, 2) and pointwise.shape == (1, 1, 6, 5) and bias.shape == (5,)
    xt = torch_same(t(x).permute(0, 3, 1, 2), (3, 2), (2, 2))
    mid = F.conv2d(xt, t(depthwise.reshape(3, 2, 6)).permute(2, 0, 1)[:, None], stride=2, groups=3)
    ref = F.conv2d(mid, t(pointwise).permute(3, 2, 0, 1), t(bias))
    np.testing.assert_allclose(y, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- pooling


def test_pooling1d_matches_torch():
    x = normal(2, 9, 3)
    xt = t(x).permute(0, 2, 1)
    np.testing.assert_allclose(run(L.MaxPooling1D(dtype="float64"), x),
                               F.max_pool1d(xt, 2).permute(0, 2, 1).numpy())
    np.testing.assert_allclose(run(L.AveragePooling1D(3, strides=2, dtype="float64"), x),
                               F.avg_pool1d(xt, 3, 2).permute(0, 2, 1).numpy(), rtol=1e-12)
    assert L.MaxPool1D is L.MaxPooling1D and L.AvgPool1D is L.AveragePooling1D


def test_average_pooling1d_same_divides_by_the_in_bounds_count():
    x = normal(1, 5, 2)
    y = run(L.AveragePooling1D(2, padding="same", dtype="float64"), x)
    # steps [0, 1], [2, 3], [4]: TensorFlow pads the odd step at the end and leaves it out of the mean
    ref = np.stack([x[0, 0:2].mean(0), x[0, 2:4].mean(0), x[0, 4]])[None]
    np.testing.assert_allclose(y, ref, rtol=1e-12)
    y = run(L.MaxPooling1D(3, strides=1, padding="same", dtype="float64"), x)
    padded = np.pad(x[0], ((1, 1), (0, 0)), constant_values=-np.inf)
    np.testing.assert_allclose(y[0], np.stack([padded[i:i + 3].max(0) for i in range(5)]))


def test_global_poolings():
    x1, x2 = normal(3, 5, 4), normal(2, 3, 4, 5)
    np.testing.assert_allclose(run(L.GlobalMaxPooling1D(dtype="float64"), x1), x1.max(1))
    np.testing.assert_allclose(run(L.GlobalAveragePooling1D(dtype="float64"), x1), x1.mean(1), rtol=1e-12)
    np.testing.assert_allclose(run(L.GlobalMaxPooling2D(dtype="float64"), x2), x2.max((1, 2)))
    assert run(L.GlobalMaxPooling2D(keepdims=True, dtype="float64"), x2).shape == (2, 1, 1, 5)
    assert run(L.GlobalAveragePooling1D(keepdims=True, dtype="float64"), x1).shape == (3, 1, 4)
    assert L.GlobalMaxPool1D is L.GlobalMaxPooling1D and L.GlobalAvgPool1D is L.GlobalAveragePooling1D
    assert L.GlobalMaxPool2D is L.GlobalMaxPooling2D


def test_global_average_pooling1d_averages_the_kept_steps():
    ids = np.array([[3, 1, 4, 0, 0], [2, 0, 7, 1, 0]], np.int32)
    emb = L.Embedding(10, 3, mask_zero=True, dtype="float64")
    vectors = emb(ids)
    pooled = np.asarray(L.GlobalAveragePooling1D(dtype="float64")(vectors))
    v = np.asarray(vectors)
    keep = ids != 0
    ref = (v * keep[..., None]).sum(1) / keep.sum(1, keepdims=True)
    np.testing.assert_allclose(pooled, ref, rtol=1e-12)


# ---------------------------------------------------------------- GRU


def torch_gru_from(layer, units, features, bidirectional=False, backward=None):
    """torch.nn.GRU with a Keras GRU's weights: Keras blocks (z, r, h), torch (r, z, n); Keras
    reset_after bias (2, 3U) = (input bias, recurrent bias)."""
    gru = torch.nn.GRU(features, units, batch_first=True, bidirectional=bidirectional).double()

    def load(source, suffix):
        kernel, recurrent, bias = source.get_weights()
        reorder = lambda m: np.concatenate([m[..., units:2 * units], m[..., :units], m[..., 2 * units:]], -1)
        with torch.no_grad():
            getattr(gru, "weight_ih_l0" + suffix).copy_(t(reorder(kernel).T))
            getattr(gru, "weight_hh_l0" + suffix).copy_(t(reorder(recurrent).T))
            getattr(gru, "bias_ih_l0" + suffix).copy_(t(reorder(bias[0])))
            getattr(gru, "bias_hh_l0" + suffix).copy_(t(reorder(bias[1])))

    load(layer, "")
    if bidirectional:
        load(backward, "_reverse")
    return gru


def test_gru_matches_torch_with_keras_3_defaults():
    x = normal(3, 6, 4)
    layer = L.GRU(5, return_sequences=True, return_state=True, dtype="float64")
    sequence, state = (np.asarray(v) for v in layer(x))
    assert layer.get_config()["reset_after"] is True
    kernel, recurrent, bias = layer.get_weights()
    assert kernel.shape == (4, 15) and recurrent.shape == (5, 15) and bias.shape == (2, 15)
    layer.set_weights([kernel, recurrent, normal(2, 15)])  # nonzero biases, so both rows are exercised
    sequence, state = (np.asarray(v) for v in layer(x))
    ref_sequence, ref_state = torch_gru_from(layer, 5, 4)(t(x))
    np.testing.assert_allclose(sequence, ref_sequence.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(state, ref_state[0].detach().numpy(), rtol=1e-10, atol=1e-12)


def test_gru_reset_before_matches_the_formula():
    x = normal(2, 4, 3)
    layer = L.GRU(2, reset_after=False, return_sequences=True, dtype="float64")
    layer(x)
    kernel, recurrent, bias = layer.get_weights()
    assert bias.shape == (6,)
    bias = normal(6)
    layer.set_weights([kernel, recurrent, bias])
    sig = lambda v: 1 / (1 + np.exp(-v))
    h = np.zeros((2, 2))
    outputs = []
    for step in range(4):
        xz = x[:, step] @ kernel + bias
        z = sig(xz[:, :2] + h @ recurrent[:, :2])
        r = sig(xz[:, 2:4] + h @ recurrent[:, 2:4])
        hh = np.tanh(xz[:, 4:] + (r * h) @ recurrent[:, 4:])
        h = z * h + (1 - z) * hh
        outputs.append(h)
    np.testing.assert_allclose(run(layer, x), np.stack(outputs, 1), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- Bidirectional


def test_bidirectional_gru_matches_torch_bidirectional():
    x = normal(2, 5, 3)
    layer = L.Bidirectional(L.GRU(4, return_sequences=True, dtype="float64"), dtype="float64")
    y = run(layer, x)
    assert y.shape == (2, 5, 8)
    forward, backward = layer.forward_layer, layer.backward_layer
    assert forward.name.startswith("forward_") and backward.name.startswith("backward_")
    assert backward.get_config()["go_backwards"] is True
    ref, _ = torch_gru_from(forward, 4, 3, bidirectional=True, backward=backward)(t(x))
    np.testing.assert_allclose(y, ref.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_bidirectional_lstm_matches_torch_and_merge_modes():
    x = normal(2, 4, 3)
    outputs = {}
    for mode in ("concat", "sum", "mul", "ave", None):
        pf.utils.set_random_seed(3)
        layer = L.Bidirectional(L.LSTM(3, dtype="float64"), merge_mode=mode, dtype="float64")
        outputs[mode] = layer(x)
    pf.utils.set_random_seed(3)
    lstm = L.Bidirectional(L.LSTM(3, dtype="float64"), merge_mode=None, dtype="float64")
    forward, backward = (np.asarray(v) for v in lstm(x))
    torch_lstm = torch.nn.LSTM(3, 3, batch_first=True, bidirectional=True).double()
    with torch.no_grad():
        for suffix, sub in (("", lstm.forward_layer), ("_reverse", lstm.backward_layer)):
            kernel, recurrent, bias = sub.get_weights()  # Keras and torch: gate blocks i, f, c(g), o
            getattr(torch_lstm, "weight_ih_l0" + suffix).copy_(t(kernel.T))
            getattr(torch_lstm, "weight_hh_l0" + suffix).copy_(t(recurrent.T))
            getattr(torch_lstm, "bias_ih_l0" + suffix).copy_(t(bias))
            getattr(torch_lstm, "bias_hh_l0" + suffix).zero_()
    _, (h, _) = torch_lstm(t(x))
    h = h.detach()
    np.testing.assert_allclose(forward, h[0].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(backward, h[1].numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.asarray(outputs["concat"]), np.concatenate([forward, backward], -1))
    np.testing.assert_allclose(np.asarray(outputs["sum"]), forward + backward)
    np.testing.assert_allclose(np.asarray(outputs["mul"]), forward * backward)
    np.testing.assert_allclose(np.asarray(outputs["ave"]), (forward + backward) / 2)
    assert [np.asarray(v).shape for v in outputs[None]] == [(2, 3), (2, 3)]


def test_bidirectional_return_state_order():
    x = normal(2, 4, 3)
    layer = L.Bidirectional(L.LSTM(2, return_state=True, dtype="float64"), dtype="float64")
    out = layer(x)
    assert len(out) == 5  # output, forward h, c, backward h, c
    output, fh, fc, bh, bc = (np.asarray(v) for v in out)
    np.testing.assert_allclose(output, np.concatenate([fh, bh], -1))
    assert layer.compute_output_shape((None, 4, 3)) == [(None, 4), (None, 2), (None, 2), (None, 2), (None, 2)]


# ---------------------------------------------------------------- TimeDistributed


def test_time_distributed_dense_shares_the_layer_and_matches_einsum():
    dense = L.Dense(4, activation="tanh", dtype="float64")
    layer = L.TimeDistributed(dense, dtype="float64")
    assert layer.layer is dense
    x = normal(2, 5, 3)
    y = run(layer, x)
    kernel, bias = dense.get_weights()
    np.testing.assert_allclose(y, np.tanh(np.einsum("btf,fu->btu", x, kernel) + bias), rtol=1e-12)
    assert layer.compute_output_shape((None, 5, 3)) == (None, 5, 4)


def test_time_distributed_conv2d():
    conv = L.Conv2D(2, 3, padding="same", dtype="float64")
    x = normal(2, 3, 6, 5, 1)
    y = run(L.TimeDistributed(conv, dtype="float64"), x)
    for step in range(3):
        np.testing.assert_array_equal(y[:, step], run(conv, x[:, step]))


# ---------------------------------------------------------------- masking


def padded_batch():
    """Two sequences of ids, post-padded with 0, and their true lengths."""
    return np.array([[4, 2, 7, 0, 0, 0], [5, 1, 3, 8, 6, 0]], np.int32), [3, 5]


@pytest.mark.parametrize("rnn", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("go_backwards", [False, True])
def test_padded_sequence_gives_the_unpadded_final_state(rnn, go_backwards):
    ids, lengths = padded_batch()
    pf.utils.set_random_seed(11)
    emb = L.Embedding(10, 3, mask_zero=True, dtype="float64")
    layer = getattr(L, rnn)(4, return_state=True, go_backwards=go_backwards, dtype="float64")
    padded = [np.asarray(v) for v in layer(emb(ids))]
    for row, length in enumerate(lengths):
        alone = [np.asarray(v) for v in layer(emb(ids[row:row + 1, :length]))]
        for got, want in zip(padded, alone):
            np.testing.assert_allclose(got[row:row + 1], want, rtol=1e-12, atol=1e-14)


def test_masked_steps_repeat_the_previous_output_and_keep_the_mask():
    ids, lengths = padded_batch()
    ids = ids.copy()
    ids[0, 1] = 0  # a hole inside the first sequence too
    emb = L.Embedding(10, 3, mask_zero=True, dtype="float64")
    vectors = emb(ids)
    np.testing.assert_array_equal(np.asarray(vectors._keras_mask), ids != 0)
    layer = L.LSTM(2, return_sequences=True, dtype="float64")
    y = layer(vectors)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), ids != 0)
    y = np.asarray(y)
    np.testing.assert_array_equal(y[0, 1], y[0, 0])   # masked: the previous output
    np.testing.assert_array_equal(y[0, 3:], np.repeat(y[0, 2:3], 3, 0))
    np.testing.assert_array_equal(y[1, 5], y[1, 4])
    # Without return_sequences the output has no mask.
    assert L.LSTM(2, dtype="float64")(vectors)._keras_mask is None


def test_masked_steps_before_the_first_kept_step_output_zeros():
    x = normal(1, 4, 3)
    x[0, :2] = 0.0  # pre-padding
    masked = L.Masking(dtype="float64")(x)
    np.testing.assert_array_equal(np.asarray(masked._keras_mask), [[False, False, True, True]])
    layer = L.GRU(3, return_sequences=True, dtype="float64")
    y = np.asarray(layer(masked))
    np.testing.assert_array_equal(y[0, :2], 0.0)
    np.testing.assert_allclose(y[0, 2:], np.asarray(layer(x[:, 2:]))[0], rtol=1e-12)


def test_masking_layer_zeroes_masked_steps():
    x = normal(2, 4, 3)
    x[0, 1] = 2.5
    x[1, 3] = 2.5
    x[1, 0, 0] = 2.5  # one feature equal to mask_value: the step is kept
    y = L.Masking(mask_value=2.5, dtype="float64")(x)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), [[True, False, True, True], [True, True, True, False]])
    expect = x.copy()
    expect[0, 1] = 0.0
    expect[1, 3] = 0.0
    np.testing.assert_array_equal(np.asarray(y), expect)


def test_bidirectional_with_mask():
    ids, lengths = padded_batch()
    pf.utils.set_random_seed(5)
    emb = L.Embedding(10, 3, mask_zero=True, dtype="float64")
    bi = L.Bidirectional(L.GRU(2, dtype="float64"), dtype="float64")
    padded = np.asarray(bi(emb(ids)))
    for row, length in enumerate(lengths):
        np.testing.assert_allclose(padded[row], np.asarray(bi(emb(ids[row:row + 1, :length])))[0], rtol=1e-12)
    # return_sequences: Keras's Bidirectional makes both layers output zeros at masked steps.
    seq = L.Bidirectional(L.LSTM(2, return_sequences=True, dtype="float64"), dtype="float64")
    y = seq(emb(ids))
    np.testing.assert_array_equal(np.asarray(y._keras_mask), ids != 0)
    y = np.asarray(y)
    np.testing.assert_array_equal(y[0, 3:], 0.0)
    assert np.all(y[0, :3] != 0.0)


def test_time_distributed_keeps_the_mask():
    ids, _ = padded_batch()
    vectors = L.Embedding(10, 3, mask_zero=True)(ids)
    y = L.TimeDistributed(L.Dense(2))(vectors)
    np.testing.assert_array_equal(np.asarray(y._keras_mask), ids != 0)


def sequence_tagger(mask_zero):
    pf.utils.set_random_seed(2)
    model = pf.Sequential([
        pf.Input(shape=(6,), dtype="int32"),
        L.Embedding(10, 4, mask_zero=mask_zero),
        L.LSTM(5, return_sequences=True),
        L.Dense(3, activation="softmax"),
    ])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_loss_and_metrics_leave_out_masked_steps():
    ids, _ = padded_batch()
    labels = np.array([[0, 1, 2, 1, 1, 1], [2, 2, 0, 1, 0, 2]])
    model = sequence_tagger(mask_zero=True)
    probabilities = model.predict(ids, verbose=0)
    loss, accuracy = model.evaluate(ids, labels, verbose=0)
    keep = ids != 0
    picked = np.take_along_axis(probabilities, labels[..., None], -1)[..., 0]
    per_step = -np.log(np.clip(picked, 1e-7, 1 - 1e-7))
    assert loss == pytest.approx(per_step[keep].mean(), rel=1e-5)
    assert accuracy == pytest.approx((probabilities.argmax(-1) == labels)[keep].mean(), rel=1e-6)
    # Without the mask every step counts.
    unmasked = sequence_tagger(mask_zero=False)
    loss_all = unmasked.evaluate(ids, labels, verbose=0)[0]
    p = unmasked.predict(ids, verbose=0)
    per_step = -np.log(np.clip(np.take_along_axis(p, labels[..., None], -1)[..., 0], 1e-7, 1 - 1e-7))
    assert loss_all == pytest.approx(per_step.mean(), rel=1e-5)


def test_sample_weight_and_mask_multiply():
    ids, _ = padded_batch()
    labels = np.array([[0, 1, 2, 1, 1, 1], [2, 2, 0, 1, 0, 2]])
    model = sequence_tagger(mask_zero=True)
    weights = np.array([1.0, 3.0])
    loss = model.evaluate(ids, labels, sample_weight=weights, verbose=0)[0]
    p = model.predict(ids, verbose=0)
    per_step = -np.log(np.clip(np.take_along_axis(p, labels[..., None], -1)[..., 0], 1e-7, 1 - 1e-7))
    keep = (ids != 0).astype(float)
    # keras apply_mask: kept steps weigh total / kept, then sum_over_batch_size
    expect = (per_step * keep * keep.size / keep.sum() * weights[:, None]).sum() / keep.size
    assert loss == pytest.approx(expect, rel=1e-5)


def test_a_layer_without_masking_drops_the_mask_with_keras_warning():
    vectors = L.Embedding(10, 3, mask_zero=True)(np.array([[1, 0]], np.int32))
    with pytest.warns(UserWarning, match="does not support masking and will therefore destroy the mask"):
        out = L.Flatten()(vectors)
    assert out._keras_mask is None


def test_a_python_layer_takes_and_passes_masks_as_keras_does():
    class Scale(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_masking = True
            self.seen = None

        def call(self, inputs, mask=None):
            self.seen = mask
            return inputs * 2.0

    class Unmask(L.Layer):
        def call(self, inputs):
            return inputs + 0.0  # a new tensor: the input itself would keep its mask, in Keras too

        def compute_mask(self, inputs, mask=None):
            return None

    vectors = L.Embedding(10, 3, mask_zero=True)(np.array([[1, 0, 2]], np.int32))
    scale = Scale()
    y = scale(vectors)
    np.testing.assert_array_equal(np.asarray(scale.seen), [[True, False, True]])
    np.testing.assert_array_equal(np.asarray(y._keras_mask), [[True, False, True]])
    assert Unmask().supports_masking and Unmask()(y)._keras_mask is None
    assert L.Dense(2).supports_masking and not L.Flatten().supports_masking
    np.testing.assert_array_equal(np.asarray(L.Dense(2).compute_mask(y, y._keras_mask)), [[True, False, True]])
    with pytest.raises(AttributeError, match="supports_masking of a built-in layer is fixed"):
        L.Dense(2).supports_masking = False


def test_merge_layers_combine_masks():
    a = L.Masking()(np.array([[[1.0], [0.0], [1.0]]], np.float32))
    b = L.Masking()(np.array([[[1.0], [1.0], [0.0]]], np.float32))
    np.testing.assert_array_equal(np.asarray(L.Add()([a, b])._keras_mask), [[True, False, False]])
    np.testing.assert_array_equal(np.asarray(L.Concatenate(axis=1)([a, b])._keras_mask),
                                  [[True, False, True, True, True, False]])


# ---------------------------------------------------------------- configs, saving, errors


def test_config_round_trips():
    layers = [
        L.Conv1D(4, 3, padding="causal", dilation_rate=2, groups=2),
        L.Conv2DTranspose(3, (3, 2), strides=2, output_padding=1),
        L.DepthwiseConv2D(3, depth_multiplier=2),
        L.SeparableConv2D(4, 3, padding="same"),
        L.MaxPooling1D(3, strides=1), L.AveragePooling1D(2), L.GlobalMaxPooling1D(keepdims=True),
        L.GlobalAveragePooling1D(), L.GlobalMaxPooling2D(), L.Masking(mask_value=-1.0),
        L.GRU(3, reset_after=False, go_backwards=True),
        L.Bidirectional(L.LSTM(2, return_sequences=True), merge_mode="sum"),
        L.Bidirectional(L.GRU(2), backward_layer=L.GRU(2, go_backwards=True, name="back")),
        L.TimeDistributed(L.Dense(2)),
    ]
    for layer in layers:
        config = layer.get_config()
        again = type(layer).from_config(config)
        assert again.get_config() == config, type(layer).__name__
    bi = layers[12]
    assert bi.get_config()["backward_layer"]["config"]["name"] == "back"
    assert bi.get_config()["layer"]["config"]["name"].startswith("forward_gru")
    assert layers[1].get_config()["output_padding"] == [1, 1]


def test_save_and_load_a_model_with_the_new_layers(tmp_path):
    pf.utils.set_random_seed(4)
    tokens = pf.Sequential([
        pf.Input(shape=(8,), dtype="int32"),
        L.Embedding(12, 4, mask_zero=True),
        L.Bidirectional(L.GRU(3, return_sequences=True)),
        L.TimeDistributed(L.Dense(2)),
        L.GlobalAveragePooling1D(),
    ])
    signals = pf.Sequential([
        pf.Input(shape=(9, 3)),
        L.Conv1D(6, 3, padding="causal", activation="relu"),
        L.MaxPooling1D(),
        L.AveragePooling1D(2, padding="same"),
        L.GlobalMaxPooling1D(),
    ])
    images = pf.Sequential([
        pf.Input(shape=(8, 8, 2)),
        L.DepthwiseConv2D(3, padding="same", depth_multiplier=2),
        L.SeparableConv2D(4, 3),
        L.Conv2DTranspose(3, 3, strides=2),
        L.GlobalMaxPooling2D(),
    ])
    ids = RNG.integers(0, 12, (3, 8)).astype(np.int32)
    ids[:, 6:] = 0
    cases = ((tokens, ids), (signals, normal(2, 9, 3).astype(np.float32)),
             (images, normal(2, 8, 8, 2).astype(np.float32)))
    for model, x in cases:
        model.compile(optimizer="adam", loss="mse")
        before = model.predict(x, verbose=0)
        path = tmp_path / f"{model.name}.pitfall"
        model.save(str(path))
        loaded = pf.models.load_model(str(path))
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), before)


def test_bad_arguments_name_the_layer_the_argument_the_value_and_what_is_allowed():
    with pytest.raises(ValueError, match=r"Conv1D: argument 'padding' must be \"valid\", \"same\" or \"causal\", "
                                         r"got padding='full'"):
        L.Conv1D(2, 3, padding="full")
    with pytest.raises(ValueError, match=r"Conv2D: argument 'padding' must be \"valid\" or \"same\", got "
                                         r"padding='causal'"):
        L.Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match=r"Conv1D: strides > 1 is not supported together with dilation_rate > 1, "
                                         r"got strides=\[2\] and dilation_rate=\[2\]"):
        L.Conv1D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"Conv1D: filters must be a multiple of groups, got filters=3 and groups=2"):
        L.Conv1D(3, 3, groups=2)
    with pytest.raises(ValueError, match=r"Conv2DTranspose: output_padding must be smaller than strides on each "
                                         r"axis, got output_padding=\[2, 2\] and strides=\[2, 2\]"):
        L.Conv2DTranspose(2, 3, strides=2, output_padding=2)
    with pytest.raises(ValueError, match=r"DepthwiseConv2D: argument 'depth_multiplier' must be a positive integer, "
                                         r"got depth_multiplier=0"):
        L.DepthwiseConv2D(3, depth_multiplier=0)
    with pytest.raises(ValueError, match=r"Bidirectional: argument 'merge_mode' must be one of 'sum', 'mul', 'ave', "
                                         r"'concat', got merge_mode='avg'"):
        L.Bidirectional(L.GRU(2), merge_mode="avg")
    with pytest.raises(ValueError, match=r"Bidirectional: layer must be a recurrent layer \(SimpleRNN, LSTM, GRU\), "
                                         r"got layer 'dense\w*' \(Dense\)"):
        L.Bidirectional(L.Dense(2))
    with pytest.raises(ValueError, match=r"Bidirectional: the forward and backward layers need different "
                                         r"go_backwards values"):
        L.Bidirectional(L.GRU(2), backward_layer=L.GRU(2))
    with pytest.raises(NotImplementedError, match=r"Bidirectional: argument 'weights' is not supported"):
        L.Bidirectional(L.GRU(2), weights=[np.zeros(1)])
    with pytest.raises(TypeError, match=r"TimeDistributed\(\): argument 'layer' must be a layer, got 3"):
        L.TimeDistributed(3)
    with pytest.raises(ValueError, match=r"layer 'conv1d\w*' \(Conv1D\) .*needs a 3-D input \(batch, steps, "
                                         r"channels\)"):
        L.Conv1D(2, 3)(np.zeros((4, 5), np.float32))
    with pytest.raises(ValueError, match=r"layer 'time_distributed\w*' \(TimeDistributed\) .*at least 3 dimensions"):
        L.TimeDistributed(L.Dense(2))(np.zeros((4, 5), np.float32))
