"""Keras 3's activation, reshaping, regularization and preprocessing layers, and Lambda: values
against independent NumPy formulas and PyTorch where it has the same operation, training vs
inference, argument errors, adapt(), configs and saving. The reference for each rule is the Keras
file named in the test (keras/src/layers/...)."""
import numpy as np
import pytest

import pitfall as pf
from pitfall import layers

torch = pytest.importorskip("torch")
F = torch.nn.functional

rng = np.random.default_rng(7)


def normal(*shape, dtype="float64"):
    return rng.standard_normal(shape).astype(dtype)


def value(layer, x, training=False):
    return np.asarray(layer(x, training=training))


def grads_match_torch(layer, x, torch_fn, extra_pf=(), extra_torch=()):
    """Forward and backward of `layer` (float64) against `torch_fn`, for x and any weights given."""
    xv = pf.Variable(x)
    with pf.GradientTape() as tape:
        out = layer(xv)
    leaves = [torch.tensor(x, requires_grad=True)] + [torch.tensor(np.asarray(w), requires_grad=True)
                                                     for w in extra_torch]
    expected = torch_fn(*leaves)
    np.testing.assert_allclose(np.asarray(out), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    cotangent = rng.standard_normal(tuple(out.shape))
    got = tape.gradient(out, [xv, *extra_pf], output_gradients=cotangent)
    want = torch.autograd.grad(expected, leaves, grad_outputs=torch.tensor(cotangent))
    for g, w in zip(got, want):
        np.testing.assert_allclose(np.asarray(g).reshape(w.shape), w.numpy(), rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- activation layers


def test_leaky_relu_default_slope_is_keras_0_3_and_torch_convention_0_01():
    x = normal(4, 5)
    keras_layer = layers.LeakyReLU(dtype="float64")
    assert keras_layer.get_config()["negative_slope"] == 0.3  # keras/src/layers/activations/leaky_relu.py
    np.testing.assert_allclose(value(keras_layer, x), np.where(x >= 0, x, 0.3 * x))
    torch_layer = layers.LeakyReLU(convention="torch", dtype="float64")
    assert torch_layer.get_config()["negative_slope"] == 0.01
    grads_match_torch(torch_layer, x, lambda t: F.leaky_relu(t, 0.01))
    grads_match_torch(layers.LeakyReLU(0.5, dtype="float64"), x, lambda t: F.leaky_relu(t, 0.5))


def test_leaky_relu_rejects_negative_slopes_and_names_keras_2s_alpha():
    with pytest.raises(ValueError, match=r"LeakyReLU: argument 'negative_slope' must be a number >= 0, "
                                         r"got negative_slope=-0.1"):
        layers.LeakyReLU(negative_slope=-0.1)
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'alpha'.*negative_slope="):
        layers.LeakyReLU(alpha=0.2)


def test_prelu_learns_one_alpha_per_unshared_position_and_matches_torch():
    x = normal(2, 3, 4, 5)
    layer = layers.PReLU(alpha_initializer="random_normal", shared_axes=[1, 2], dtype="float64")
    out = value(layer, x)
    alpha = np.asarray(layer.weights[0])
    assert alpha.shape == (1, 1, 5) and layer._weight_names() == ["alpha"]
    np.testing.assert_allclose(out, np.maximum(x, 0) + alpha * np.minimum(x, 0))
    # torch's prelu takes the channels on axis 1: (b, h, w, c) -> (b, c, h, w), one weight per channel.
    grads_match_torch(layer, x, lambda t, a: F.prelu(t.permute(0, 3, 1, 2), a.reshape(-1)).permute(0, 2, 3, 1),
                      extra_pf=[layer.weights[0]], extra_torch=[alpha])
    # The default: zeros, one alpha per position (the relu at first).
    plain = layers.PReLU(dtype="float64")
    np.testing.assert_array_equal(value(plain, x), np.maximum(x, 0))
    assert tuple(plain.weights[0].shape) == (3, 4, 5)


def test_prelu_shared_axes_may_change_size_but_not_the_others():
    layer = layers.PReLU(shared_axes=1)
    layer(np.ones((2, 3, 4), "float32"))
    assert layer(np.ones((2, 7, 4), "float32")).shape == (2, 7, 4)
    with pytest.raises(ValueError, match=r"layer '.*' \(PReLU\) expected input shape"):
        layer(np.ones((2, 3, 5), "float32"))
    with pytest.raises(ValueError, match=r"\(PReLU\): shared_axes=\[4\] names axis 4"):
        layers.PReLU(shared_axes=[4])(np.ones((2, 3, 4), "float32"))


def relu_reference(x, max_value, slope, threshold):
    """keras/src/activations/activations.py relu: min(x, max_value) above the threshold,
    slope * (x - threshold) at or below it."""
    above = np.minimum(x, max_value) if max_value is not None else x
    return np.where(x > threshold, above, slope * (x - threshold))


@pytest.mark.parametrize("max_value,slope,threshold", [(None, 0.0, 0.0), (6.0, 0.0, 0.0), (None, 0.2, 0.0),
                                                       (1.0, 0.1, 0.5), (None, 0.0, 0.3), (2.0, 0.3, 0.0)])
def test_relu_arguments_follow_keras(max_value, slope, threshold):
    x = 3 * normal(5, 6)
    layer = layers.ReLU(max_value=max_value, negative_slope=slope, threshold=threshold, dtype="float64")
    np.testing.assert_allclose(value(layer, x), relu_reference(x, max_value, slope, threshold), atol=1e-15)


def test_relu_matches_torch_relu6_and_threshold():
    x = 4 * normal(4, 5)
    grads_match_torch(layers.ReLU(max_value=6.0, dtype="float64"), x, F.relu6)
    grads_match_torch(layers.ReLU(threshold=0.5, dtype="float64"), x, lambda t: F.threshold(t, 0.5, 0.0))
    with pytest.raises(ValueError, match=r"ReLU: argument 'max_value' must be a number >= 0 or None, got max_value=-1"):
        layers.ReLU(max_value=-1)
    with pytest.raises(ValueError, match=r"ReLU: argument 'threshold' cannot be None"):
        layers.ReLU(threshold=None)


def test_softmax_one_axis_matches_torch_and_several_axes_normalize_together():
    x = normal(2, 3, 4)
    grads_match_torch(layers.Softmax(dtype="float64"), x, lambda t: torch.softmax(t, -1))
    grads_match_torch(layers.Softmax(axis=1, dtype="float64"), x, lambda t: torch.softmax(t, 1))
    e = np.exp(x - x.max(axis=(1, 2), keepdims=True))
    np.testing.assert_allclose(value(layers.Softmax(axis=[1, 2], dtype="float64"), x),
                               e / e.sum(axis=(1, 2), keepdims=True), rtol=1e-12)
    with pytest.raises(ValueError, match=r"layer '.*' \(Softmax\) called on input \(2, 3, 4\) float64: Softmax: axis=\[3\] is out "
                                        r"of range for an input of shape \(2, 3, 4\)"):
        layers.Softmax(axis=3, dtype="float64")(x)


def test_elu_matches_torch():
    x = normal(3, 4)
    layer = layers.ELU(alpha=0.7, dtype="float64")
    np.testing.assert_allclose(value(layer, x), np.where(x > 0, x, 0.7 * (np.exp(x) - 1)), rtol=1e-12)
    grads_match_torch(layer, x, lambda t: F.elu(t, 0.7))


# ---------------------------------------------------------------- reshaping layers


def test_up_sampling_1d_repeats_steps():
    x = normal(2, 3, 4)
    layer = layers.UpSampling1D(size=3, dtype="float64")
    np.testing.assert_array_equal(value(layer, x), np.repeat(x, 3, axis=1))
    grads_match_torch(layer, x, lambda t: F.interpolate(t.transpose(1, 2), scale_factor=3, mode="nearest").transpose(1, 2))
    with pytest.raises(ValueError, match=r"layer '.*' \(UpSampling1D\) called on input \(2, 3\) float32: UpSampling1D expects a "
                                         r"3D input \(batch, steps, features\), got shape \(2, 3\)"):
        layers.UpSampling1D()(np.ones((2, 3), "float32"))


def test_up_sampling_2d_nearest_both_layouts():
    x = normal(2, 3, 4, 5)
    last = layers.UpSampling2D(size=(2, 3), dtype="float64")
    np.testing.assert_array_equal(value(last, x), np.repeat(np.repeat(x, 2, axis=1), 3, axis=2))
    first = layers.UpSampling2D(size=2, data_format="channels_first", dtype="float64")
    np.testing.assert_array_equal(value(first, x), np.repeat(np.repeat(x, 2, axis=2), 2, axis=3))
    grads_match_torch(first, x, lambda t: F.interpolate(t, scale_factor=2, mode="nearest"))
    assert first.compute_output_shape((None, 3, 4, 5)) == (None, 3, 8, 10)


def test_up_sampling_2d_bilinear_matches_torch_half_pixel_centers():
    x = normal(2, 4, 3, 2)
    layer = layers.UpSampling2D(size=(3, 2), interpolation="bilinear", dtype="float64")
    grads_match_torch(layer, x, lambda t: F.interpolate(t.permute(0, 3, 1, 2), scale_factor=(3, 2), mode="bilinear",
                                                        align_corners=False).permute(0, 2, 3, 1))
    with pytest.raises(NotImplementedError, match=r"interpolation='bicubic' is not supported"):
        layers.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match=r"UpSampling2D: argument 'interpolation'.*got interpolation='cubic'"):
        layers.UpSampling2D(interpolation="cubic")


def test_zero_padding_matches_numpy_pad_and_torch_pad():
    x = normal(2, 3, 4)
    layer = layers.ZeroPadding1D(padding=(1, 2), dtype="float64")
    np.testing.assert_array_equal(value(layer, x), np.pad(x, ((0, 0), (1, 2), (0, 0))))
    grads_match_torch(layer, x, lambda t: F.pad(t, (0, 0, 1, 2)))
    assert layers.ZeroPadding1D().get_config()["padding"] == [1, 1]
    x2 = normal(2, 3, 4, 2)
    layer2 = layers.ZeroPadding2D(padding=((1, 0), (2, 3)), dtype="float64")
    np.testing.assert_array_equal(value(layer2, x2), np.pad(x2, ((0, 0), (1, 0), (2, 3), (0, 0))))
    grads_match_torch(layer2, x2, lambda t: F.pad(t, (0, 0, 2, 3, 1, 0)))
    first = layers.ZeroPadding2D(padding=(1, 2), data_format="channels_first", dtype="float64")
    np.testing.assert_array_equal(value(first, x2), np.pad(x2, ((0, 0), (0, 0), (1, 1), (2, 2))))
    assert layers.ZeroPadding2D(2).get_config()["padding"] == [[2, 2], [2, 2]]
    with pytest.raises(ValueError, match=r"ZeroPadding2D: argument 'padding' must be a non-negative int, a pair of "
                                         r"them.*got padding=\[1, -1\]"):
        layers.ZeroPadding2D(padding=(1, -1))


def test_cropping_matches_slicing_and_refuses_to_crop_everything():
    x = normal(2, 6, 3)
    np.testing.assert_array_equal(value(layers.Cropping1D((1, 2), dtype="float64"), x), x[:, 1:4, :])
    np.testing.assert_array_equal(value(layers.Cropping1D(dtype="float64"), x), x[:, 1:5, :])  # Keras's default (1, 1)
    x2 = normal(2, 5, 6, 3)
    np.testing.assert_array_equal(value(layers.Cropping2D(((1, 0), (2, 1)), dtype="float64"), x2), x2[:, 1:, 2:5, :])
    np.testing.assert_array_equal(value(layers.Cropping2D(1, data_format="channels_first", dtype="float64"), x2), x2[:, :, 1:5, 1:2])
    grads_match_torch(layers.Cropping2D(((1, 0), (2, 1)), dtype="float64"), x2, lambda t: t[:, 1:, 2:5, :])
    with pytest.raises(ValueError, match=r"layer '.*' \(Cropping1D\).*cropping=\(3, 3\) removes 6 positions from axis 1 "
                                         r"of size 6"):
        layers.Cropping1D(3, dtype="float64")(x)
    with pytest.raises(ValueError, match=r"\(Cropping2D\).*removes 6 positions from axis 2 of size 6"):
        layers.Cropping2D((0, 3)).compute_output_shape((None, 5, 6, 3))


def test_permute_and_repeat_vector():
    x = normal(2, 3, 4, 5)
    layer = layers.Permute((3, 1, 2), dtype="float64")
    np.testing.assert_array_equal(value(layer, x), np.transpose(x, (0, 3, 1, 2)))
    grads_match_torch(layer, x, lambda t: t.permute(0, 3, 1, 2))
    assert layer.compute_output_shape((None, 3, 4, 5)) == (None, 5, 3, 4)
    with pytest.raises(ValueError, match=r"Permute: argument 'dims' must be a permutation of the axes 1 to n.*"
                                         r"got dims=\[0, 1\]"):
        layers.Permute((0, 1))
    with pytest.raises(ValueError, match=r"\(Permute\) called on input \(2, 3, 4, 5\) float64: Permute expects a 3D input"):
        layers.Permute((2, 1), dtype="float64")(x)
    v = normal(2, 4)
    repeat = layers.RepeatVector(3, dtype="float64")
    np.testing.assert_array_equal(value(repeat, v), np.repeat(v[:, None, :], 3, axis=1))
    grads_match_torch(repeat, v, lambda t: t.unsqueeze(1).expand(2, 3, 4))
    with pytest.raises(ValueError, match=r"RepeatVector: argument 'n' must be a positive integer, got n=0"):
        layers.RepeatVector(0)


# ---------------------------------------------------------------- regularization layers


def test_spatial_dropout_drops_whole_channels_in_training_only():
    x = normal(8, 5, 16) + 3.0
    layer = layers.SpatialDropout1D(0.5, seed=3, dtype="float64")
    np.testing.assert_array_equal(value(layer, x), x)
    out = value(layer, x, training=True)
    kept = out != 0
    # Each (sample, channel) column is kept or dropped as a whole, the kept ones scaled by 1/(1 - rate).
    assert np.all(kept.all(axis=1) | (~kept).all(axis=1))
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(out[kept], x[kept] / 0.5)
    again = layers.SpatialDropout1D(0.5, seed=3, dtype="float64")
    np.testing.assert_array_equal(value(again, x, training=True), out)  # the seed fixes the masks
    assert not np.array_equal(value(layer, x, training=True), out)  # a new mask each call

    x2 = normal(6, 4, 3, 5) + 3.0
    for data_format, reduced in (("channels_last", (1, 2)), ("channels_first", (2, 3))):
        out2 = value(layers.SpatialDropout2D(0.5, data_format=data_format, seed=1, dtype="float64"), x2, training=True)
        kept2 = out2 != 0
        assert np.all(kept2.all(axis=reduced) | (~kept2).all(axis=reduced)) and 0 < kept2.mean() < 1
    with pytest.raises(ValueError, match=r"\(SpatialDropout2D\) called on input \(2, 3\) float32: SpatialDropout2D expects a 4D "
                                         r"input \(batch, rows, cols, channels\)"):
        layers.SpatialDropout2D(0.5)(np.ones((2, 3), "float32"))


def test_gaussian_noise_and_dropout_in_training_only_with_keras_statistics():
    x = np.full((400, 500), 2.0)
    noise = layers.GaussianNoise(0.3, seed=5, dtype="float64")
    np.testing.assert_array_equal(value(noise, x), x)
    delta = value(noise, x, training=True) - x
    assert abs(delta.mean()) < 0.01 and abs(delta.std() - 0.3) < 0.01
    np.testing.assert_array_equal(value(layers.GaussianNoise(0.3, seed=5, dtype="float64"), x, training=True), x + delta)

    dropout = layers.GaussianDropout(0.2, seed=5, dtype="float64")
    np.testing.assert_array_equal(value(dropout, x), x)
    factor = value(dropout, x, training=True) / x
    # keras/src/layers/regularization/gaussian_dropout.py: N(1, rate / (1 - rate)).
    assert abs(factor.mean() - 1) < 0.01 and abs(factor.std() - np.sqrt(0.2 / 0.8)) < 0.01
    with pytest.raises(ValueError, match=r"GaussianNoise: argument 'stddev' must be a number in \[0, 1\], got stddev=1.5"):
        layers.GaussianNoise(1.5)
    with pytest.raises(ValueError, match=r"GaussianDropout: argument 'rate' must be a number in \[0.0, 1.0\), got rate=1"):
        layers.GaussianDropout(1)


def test_noise_layers_are_off_in_predict_and_on_in_fit():
    model = pf.Sequential([pf.Input(shape=(4,)), layers.GaussianNoise(0.5, seed=1), layers.Dense(1, use_bias=False)])
    x = normal(16, 4, dtype="float32")
    dense = model.layers[-1]
    np.testing.assert_allclose(model.predict(x, verbose=0), x @ np.asarray(dense.weights[0]), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(model(x, training=False)), model.predict(x, verbose=0), rtol=1e-6)
    assert not np.allclose(np.asarray(model(x, training=True)), model.predict(x, verbose=0))


def test_activity_regularization_adds_the_penalty_divided_by_the_batch_size():
    x = normal(4, 3, dtype="float32")
    layer = layers.ActivityRegularization(l1=0.01, l2=0.1)
    np.testing.assert_array_equal(value(layer, x), x)
    (loss,) = layer.losses
    expected = (0.01 * np.abs(x).sum() + 0.1 * (x ** 2).sum()) / 4
    assert float(np.asarray(loss)) == pytest.approx(expected, rel=1e-5)
    zero = layers.ActivityRegularization()  # Keras's defaults: l1 = l2 = 0, no penalty
    zero(x)
    assert zero.losses == []
    # The penalty reaches the training loss, as an activity regularizer's does in Keras.
    model = pf.Sequential([pf.Input(shape=(3,)), layers.ActivityRegularization(l2=0.5)])
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((4, 3), "float32")
    assert model.evaluate(x, y, verbose=0) == pytest.approx((x ** 2).mean() + 0.5 * (x ** 2).sum() / 4, rel=1e-5)


def test_unit_normalization_matches_numpy_and_torch():
    x = normal(3, 4, 5)
    layer = layers.UnitNormalization(dtype="float64")
    np.testing.assert_allclose(value(layer, x), x / np.linalg.norm(x, axis=-1, keepdims=True), rtol=1e-12)
    grads_match_torch(layer, x, lambda t: F.normalize(t, p=2, dim=-1))
    both = value(layers.UnitNormalization(axis=[1, 2], dtype="float64"), x)
    np.testing.assert_allclose(both, x / np.sqrt((x ** 2).sum(axis=(1, 2), keepdims=True)), rtol=1e-12)
    np.testing.assert_array_equal(value(layers.UnitNormalization(dtype="float64"), np.zeros((2, 3))), np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"layer '.*' \(UnitNormalization\) called on input.*: UnitNormalization: axis 3 is "
                                        r"out of range for an input of rank 3"):
        layers.UnitNormalization(axis=3, dtype="float64")(x)


# ---------------------------------------------------------------- preprocessing layers


def test_rescaling_casts_integer_images_and_takes_per_channel_factors():
    images = rng.integers(0, 256, (2, 4, 4, 3)).astype("uint8")
    out = layers.Rescaling(1 / 127.5, offset=-1)(images)
    assert out.dtype == "float32"
    np.testing.assert_allclose(np.asarray(out), images.astype("float32") / 127.5 - 1, rtol=1e-6, atol=1e-6)
    per_channel = layers.Rescaling([1.0, 0.5, 2.0], offset=[0.0, 1.0, -1.0], dtype="float64")
    np.testing.assert_allclose(value(per_channel, images), images * np.array([1.0, 0.5, 2.0]) + np.array([0, 1, -1]))
    with pytest.raises(ValueError, match=r"\(Rescaling\) called on input \(2, 4\) float64: Rescaling: scale has 3 values \(one per channel\) but the input of shape "
                                         r"\(2, 4\) has 4 channels"):
        per_channel(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"Rescaling: argument 'scale' must be a finite number or a list of them"):
        layers.Rescaling("1/255")


def test_normalization_adapt_on_arrays_gives_numpys_mean_and_variance():
    x = rng.normal(3.0, 2.0, (200, 4)).astype("float32")
    layer = layers.Normalization()
    layer.adapt(x)
    mean, variance, count = (np.asarray(w) for w in layer.weights)
    assert layer._weight_names() == ["mean", "variance", "count"] and count.dtype == np.int64
    x64 = x.astype("float64")
    np.testing.assert_allclose(mean, x64.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(variance, x64.var(axis=0), rtol=1e-6)
    expected = (x64 - x64.mean(axis=0)) / np.sqrt(x64.var(axis=0))
    np.testing.assert_allclose(value(layer, x), expected, rtol=1e-4, atol=1e-5)
    assert layer.trainable_weights == []


def test_normalization_adapt_on_datasets_merges_batches_into_the_whole_datas_statistics():
    x = rng.normal(-1.0, 3.0, (300, 2, 3))
    whole = x.reshape(-1, 3)  # axis=-1: statistics per feature over the samples and the middle axis
    batched = layers.Normalization(dtype="float64")
    batched.adapt(pf.data.Dataset.from_tensor_slices(x).batch(64))  # uneven batches: 64 * 4 + 44
    np.testing.assert_allclose(np.asarray(batched.weights[0]), whole.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(batched.weights[1]), whole.var(axis=0), rtol=1e-12)
    # (x, y) elements: the features are adapted; a dataset of rank-1 elements is batched first.
    labelled = layers.Normalization(axis=None, dtype="float64")
    labelled.adapt(pf.data.Dataset.from_tensor_slices((x, np.zeros(300))).batch(50))
    assert float(np.asarray(labelled.weights[0])) == pytest.approx(x.mean(), rel=1e-12)
    assert float(np.asarray(labelled.weights[1])) == pytest.approx(x.var(), rel=1e-12)
    vectors = rng.normal(5.0, 0.5, (1000, 3))
    unbatched = layers.Normalization(dtype="float64")
    unbatched.adapt(pf.data.Dataset.from_tensor_slices(vectors))
    np.testing.assert_allclose(np.asarray(unbatched.weights[0]), vectors.mean(axis=0), rtol=1e-12)
    # A list of batches, and steps= stopping early.
    listed = layers.Normalization(dtype="float64")
    listed.adapt([vectors[:10], vectors[10:30]], steps=1)
    np.testing.assert_allclose(np.asarray(listed.weights[0]), vectors[:10].mean(axis=0), rtol=1e-12)


def test_normalization_given_statistics_axes_and_invert():
    x = normal(5, 3, 4)
    layer = layers.Normalization(axis=(1, 2), mean=np.arange(4.0), variance=np.full(4, 4.0), dtype="float64")
    np.testing.assert_allclose(value(layer, x), (x - np.arange(4.0)) / 2.0)
    assert layer.weights == []  # given statistics are constants, not weights
    inverse = layers.Normalization(axis=(1, 2), mean=np.arange(4.0), variance=np.full(4, 4.0), invert=True,
                                   dtype="float64")
    np.testing.assert_allclose(value(inverse, value(layer, x)), x, rtol=1e-12)
    scalar = layers.Normalization(axis=None, mean=1.0, variance=0.0, dtype="float64")
    np.testing.assert_allclose(value(scalar, x), (x - 1.0) / 1e-7)  # the standard deviation's floor
    with pytest.raises(ValueError, match=r"Normalization: pass both mean and variance, or neither"):
        layers.Normalization(mean=1.0)
    with pytest.raises(ValueError, match=r"mean and variance must have the same shape"):
        layers.Normalization(mean=[1.0, 2.0], variance=[1.0])
    with pytest.raises(ValueError, match=r"\(Normalization\) was given mean and variance; adapt\(\) cannot replace"):
        layer.adapt(x)
    with pytest.raises(ValueError, match=r"\(Normalization\): mean of shape \(3,\) does not broadcast over the kept axes"):
        layers.Normalization(mean=[1.0, 2.0, 3.0], variance=[1.0, 1.0, 1.0])(np.ones((2, 4)))
    adapted = layers.Normalization()
    adapted.adapt(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"\(Normalization\): adapt\(\) data of shape \(4, 5\) does not fit the layer"):
        adapted.adapt(np.ones((4, 5)))


def test_category_encoding_modes_against_numpy():
    ids = np.array([[0, 2, 2], [3, 1, 0]])
    eye = np.eye(5)
    one_hot = layers.CategoryEncoding(5, output_mode="one_hot")
    np.testing.assert_array_equal(value(one_hot, ids), eye[ids])
    np.testing.assert_array_equal(value(one_hot, ids[:, :1]), eye[ids[:, 0]])  # a trailing 1 is the id axis
    counts = np.stack([np.bincount(row, minlength=5) for row in ids])
    np.testing.assert_array_equal(value(layers.CategoryEncoding(5, output_mode="count"), ids), counts)
    np.testing.assert_array_equal(value(layers.CategoryEncoding(5), ids), counts > 0)  # multi_hot, Keras's default
    np.testing.assert_array_equal(value(layers.CategoryEncoding(5, output_mode="binary"), ids[0]), counts[0] > 0)
    assert value(layers.CategoryEncoding(4), np.array([1.0, 3.0], "float32")).tolist() == [0, 1, 0, 1]
    with pytest.raises(IndexError, match=r"\(CategoryEncoding\) called on input.*CategoryEncoding: index 5 at position \[1, 1\].*num_tokens=5"):
        layers.CategoryEncoding(5)(np.array([[0, 1], [2, 5]]))
    with pytest.raises(ValueError, match=r"CategoryEncoding: argument 'num_tokens' must be set"):
        layers.CategoryEncoding()
    with pytest.raises(ValueError, match=r"CategoryEncoding: argument 'output_mode' must be one of .*got "
                                         r"output_mode='tf_idf'"):
        layers.CategoryEncoding(3, output_mode="tf_idf")
    with pytest.raises(NotImplementedError, match=r"CategoryEncoding: argument 'sparse' is not supported"):
        layers.CategoryEncoding(3, sparse=True)


# ---------------------------------------------------------------- Lambda


def double(x):
    return pf.ops.multiply(x, 2.0)


def test_lambda_calls_its_function_with_arguments_and_training():
    x = normal(3, 4, dtype="float32")
    square = layers.Lambda(lambda t: pf.ops.square(t))
    np.testing.assert_allclose(value(square, x), x ** 2, rtol=1e-6)
    scaled = layers.Lambda(lambda t, factor: t * factor, arguments={"factor": 3.0})
    np.testing.assert_allclose(value(scaled, x), 3 * x, rtol=1e-6)
    seen = []
    recorder = layers.Lambda(lambda t, training=None: seen.append(training) or t)
    recorder(x, training=True)
    recorder(x)
    assert seen[-2:] == [True, False]
    inputs = pf.Input(shape=(4,))
    assert tuple(layers.Lambda(lambda t: pf.ops.sum(t, axis=-1, keepdims=True))(inputs).shape) == (None, 1)
    assert tuple(layers.Lambda(double, output_shape=(4,))(inputs).shape) == (None, 4)
    with pytest.raises(TypeError, match=r"Lambda: argument 'function' must be callable, got function=3"):
        layers.Lambda(3)
    with pytest.raises(NotImplementedError, match=r"Lambda: argument 'mask' is not supported"):
        layers.Lambda(double, mask=lambda inputs, mask: mask)


def test_lambda_config_and_saving_follow_keras_safe_mode(tmp_path):
    x = normal(5, 4, dtype="float32")
    inputs = pf.Input(shape=(4,))
    hidden = layers.Lambda(double, name="double")(inputs)
    outputs = layers.Lambda(lambda t: t + 1.0, name="plus_one")(hidden)
    model = pf.Model(inputs, outputs)
    expected = model.predict(x, verbose=0)
    np.testing.assert_allclose(expected, 2 * x + 1, rtol=1e-6)
    path = tmp_path / "lambda.pitfall"
    model.save(str(path))
    with pytest.raises(ValueError, match=r"Python lambda.*safe_mode=False"):
        pf.models.load_model(path, custom_objects={"double": double})
    with pytest.raises(TypeError, match=r"could not locate function 'double'.*custom_objects"):
        pf.models.load_model(path, safe_mode=False)
    loaded = pf.models.load_model(path, custom_objects={"double": double}, safe_mode=False)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)

    named = layers.Lambda(double, arguments={})
    config = named.get_config()
    assert config["function"] == {"module": __name__, "class_name": "function", "config": "double",
                                  "registered_name": "double"}
    again = layers.Lambda.from_config(config, custom_objects={"double": double})
    np.testing.assert_array_equal(value(again, x), value(named, x))
    with pytest.raises(ValueError, match="safe_mode"):
        layers.Lambda.from_config(layers.Lambda(lambda t: t).get_config())
    handle = object()
    with pytest.raises(ValueError, match=r"the lambda's closure holds object"):
        layers.Lambda(lambda t: t if handle else t).get_config()


# ---------------------------------------------------------------- configs and saving


BUILT_IN = {
    "LeakyReLU": dict(negative_slope=0.1), "PReLU": dict(shared_axes=[1]), "ReLU": dict(max_value=2.0),
    "Softmax": dict(axis=[1, 2]), "ELU": dict(alpha=0.4), "UpSampling1D": dict(size=2),
    "UpSampling2D": dict(size=(1, 2), interpolation="bilinear"), "ZeroPadding1D": dict(padding=(0, 1)),
    "ZeroPadding2D": dict(padding=1), "Cropping1D": dict(cropping=(1, 0)), "Cropping2D": dict(cropping=((0, 1), (1, 0))),
    "Permute": dict(dims=(2, 1)), "RepeatVector": dict(n=2), "SpatialDropout1D": dict(rate=0.5, seed=1),
    "SpatialDropout2D": dict(rate=0.1, data_format="channels_first"), "GaussianNoise": dict(stddev=0.1),
    "GaussianDropout": dict(rate=0.1, seed=4), "ActivityRegularization": dict(l1=0.1),
    "UnitNormalization": dict(axis=[1, 2]), "Rescaling": dict(scale=0.5, offset=[1.0, 2.0]),
    "Normalization": dict(axis=(1, 2), mean=[1.0, 2.0], variance=[4.0, 9.0]),
    "CategoryEncoding": dict(num_tokens=4, output_mode="one_hot"),
}


@pytest.mark.parametrize("class_name", sorted(BUILT_IN))
def test_get_config_from_config_round_trip(class_name):
    cls = getattr(layers, class_name)
    layer = cls(**BUILT_IN[class_name])
    config = layer.get_config()
    again = cls.from_config(config)
    assert type(again) is cls and again.get_config() == config
    assert layers.deserialize(layers.serialize(layer)).get_config() == config


def test_a_model_of_these_layers_saves_and_loads_with_its_adapted_statistics(tmp_path):
    x = rng.integers(0, 256, (32, 6, 4)).astype("float32")
    normalization = layers.Normalization()
    normalization.adapt(x / 255.0)
    inputs = pf.Input(shape=(6, 4))
    h = layers.Rescaling(1 / 255.0)(inputs)
    h = normalization(h)
    h = layers.ZeroPadding1D(1)(h)
    h = layers.Cropping1D((0, 1))(h)
    h = layers.UpSampling1D(2)(h)
    h = layers.SpatialDropout1D(0.3, seed=2)(h)
    h = layers.PReLU(alpha_initializer="random_uniform")(h)
    h = layers.Permute((2, 1))(h)
    h = layers.Softmax(axis=1)(h)
    h = layers.UnitNormalization()(h)
    h = layers.GaussianNoise(0.1)(h)
    h = layers.LeakyReLU()(layers.Dense(3)(layers.Flatten()(h)))
    h = layers.RepeatVector(2)(h)
    outputs = layers.ActivityRegularization(l2=0.01)(layers.ELU()(layers.ReLU(max_value=6.0)(h)))
    model = pf.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, np.zeros((32, 2, 3), "float32"), epochs=1, batch_size=8, verbose=0)
    expected = model.predict(x, verbose=0)
    path = tmp_path / "model.pitfall"
    model.save(str(path))
    loaded = pf.models.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    restored = next(layer for layer in loaded.layers if isinstance(layer, layers.Normalization))
    np.testing.assert_array_equal(np.asarray(restored.weights[0]), np.asarray(normalization.weights[0]))


def mixed_policy_input(class_name):
    if class_name == "CategoryEncoding":
        return rng.integers(0, 4, (2, 3)).astype("int32")
    shape = {"UpSampling2D": (2, 3, 4, 2), "ZeroPadding2D": (2, 3, 4, 2), "Cropping2D": (2, 3, 4, 2),
             "SpatialDropout2D": (2, 3, 4, 2), "Rescaling": (2, 3, 4, 2), "RepeatVector": (2, 4),
             "Normalization": (2, 3, 2)}.get(class_name, (2, 3, 4))
    return normal(*shape, dtype="float32")


@pytest.mark.filterwarnings("ignore:.*autocast to float16 by its dtype policy")
@pytest.mark.parametrize("class_name", sorted(BUILT_IN))
def test_mixed_float16_policy_computes_in_float16_with_float32_weights(class_name):
    cls = getattr(layers, class_name)
    x = mixed_policy_input(class_name)
    reference = cls(**BUILT_IN[class_name])
    mixed = cls(**BUILT_IN[class_name], dtype="mixed_float16")
    expected, out = reference(x), mixed(x)
    assert all(w.dtype in ("float32", "int64") for w in mixed.weights)
    # CategoryEncoding writes its encodings in the variable dtype, as Keras's (dtype=self.dtype).
    assert out.dtype == ("float32" if class_name == "CategoryEncoding" else "float16")
    np.testing.assert_allclose(np.asarray(out).astype("float32"), np.asarray(expected), rtol=1e-2, atol=1e-2)
