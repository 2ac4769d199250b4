"""Keras 3's loss and metric shape rules (keras/src/losses/loss.py squeeze_or_expand_to_same_rank):
(N,) targets against an (N, 1) output, sample weights (N,) or (N, 1), and compile() wrapping a loss
function as LossFunctionWrapper does. Pitfall P29's (N, N) broadcast stays where Keras shows it: a
hand-written loss called directly."""
import numpy as np
import pytest

import pitfall as pf

torch = pytest.importorskip("torch")

N, D = 96, 6


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)).astype("float32")
    w = rng.normal(size=D)
    y_binary = (x @ w > 0).astype("float32")
    y_regression = (x @ w + 0.5).astype("float32")
    return x, y_binary, y_regression


def model(activation=None, seed=1):
    pf.utils.set_random_seed(seed)
    return pf.Sequential([pf.Input((D,)), pf.layers.Dense(1, activation=activation)])


def trained(labels, loss, activation=None, sample_weight=None, metrics=None, epochs=3):
    x, _, _ = data()
    m = model(activation)
    m.compile(optimizer=pf.optimizers.SGD(learning_rate=0.1), loss=loss, metrics=metrics)
    history = m.fit(x, labels, batch_size=32, epochs=epochs, shuffle=False, verbose=0, sample_weight=sample_weight)
    return m, history


def test_sigmoid_binary_crossentropy_with_vector_labels_trains_as_with_column_labels():
    _, y, _ = data()
    vector, h_vector = trained(y, "binary_crossentropy", "sigmoid", metrics=["accuracy"], epochs=20)
    column, h_column = trained(y.reshape(-1, 1), "binary_crossentropy", "sigmoid", metrics=["accuracy"], epochs=20)
    assert h_vector.history == h_column.history  # bit for bit
    for a, b in zip(vector.get_weights(), column.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert h_vector.history["loss"][-1] < h_vector.history["loss"][0]
    assert h_vector.history["accuracy"][-1] > 0.85


def test_binary_crossentropy_value_and_gradient_match_torch_for_vector_labels():
    x, y, _ = data()
    m = model("sigmoid")
    p = m(x)
    assert tuple(p.shape) == (N, 1)
    with pf.GradientTape() as tape:
        loss = pf.losses.BinaryCrossentropy()(y, m(x))
    kernel_grad = tape.gradient(loss, m.trainable_weights)[0].numpy()
    kernel, bias = (torch.tensor(w, requires_grad=True) for w in m.get_weights())
    probabilities = torch.sigmoid(torch.from_numpy(x) @ kernel + bias)
    reference = torch.nn.functional.binary_cross_entropy(probabilities, torch.from_numpy(y).reshape(-1, 1))
    reference.backward()
    assert float(loss) == pytest.approx(float(reference), rel=1e-5)
    np.testing.assert_allclose(kernel_grad, kernel.grad.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber"])
def test_regression_with_vector_targets_gives_the_elementwise_loss(loss):
    x, _, y = data()
    m = model()
    m.compile(optimizer="sgd", loss=loss)
    prediction = m.predict(x, verbose=0).reshape(-1).astype(np.float64)
    error = prediction - y
    reference = {"mse": np.mean(error ** 2), "mae": np.mean(np.abs(error)),
                 "huber": np.mean(np.where(np.abs(error) <= 1, 0.5 * error ** 2, np.abs(error) - 0.5))}[loss]
    assert m.evaluate(x, y, batch_size=N, verbose=0) == pytest.approx(reference, rel=1e-5)
    assert m.evaluate(x, y.reshape(-1, 1), batch_size=N, verbose=0) == m.evaluate(x, y, batch_size=N, verbose=0)
    _, h_vector = trained(y, loss, epochs=10)
    _, h_column = trained(y.reshape(-1, 1), loss, epochs=10)
    assert h_vector.history == h_column.history
    assert h_vector.history["loss"][-1] < 0.5 * h_vector.history["loss"][0]


def test_sample_weights_of_shape_n_and_n_by_1_are_the_same():
    x, _, y = data()
    weights = np.linspace(0.0, 2.0, N).astype("float32")
    _, h_vector = trained(y, "mse", sample_weight=weights, metrics=["mae"])
    _, h_column = trained(y, "mse", sample_weight=weights.reshape(-1, 1), metrics=["mae"])
    _, h_both = trained(y.reshape(-1, 1), "mse", sample_weight=weights.reshape(-1, 1), metrics=["mae"])
    assert h_vector.history == h_column.history == h_both.history
    m = model()
    m.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    error = m.predict(x, verbose=0).reshape(-1).astype(np.float64) - y
    loss, mae = m.evaluate(x, y, sample_weight=weights.reshape(-1, 1), batch_size=N, verbose=0)
    # Keras: sum(w * loss) / N for the loss; sum(w * |e|) / sum(w) for the weighted mean metric.
    assert loss == pytest.approx(np.sum(weights * error ** 2) / N, rel=1e-5)
    assert mae == pytest.approx(np.sum(weights * np.abs(error)) / np.sum(weights), rel=1e-5)


def hand_written_mse(y_true, y_pred):
    return pf.ops.mean(pf.ops.square(y_true - y_pred))


def test_compile_wraps_a_loss_function_so_it_gets_same_rank_inputs():
    x, _, y = data()
    m = model()
    m.compile(optimizer="sgd", loss=hand_written_mse)
    prediction = m.predict(x, verbose=0).reshape(-1).astype(np.float64)
    assert m.evaluate(x, y, batch_size=N, verbose=0) == pytest.approx(np.mean((prediction - y) ** 2), rel=1e-5)
    seen = []

    def recording(y_true, y_pred):
        seen.append((tuple(y_true.shape), tuple(y_pred.shape)))
        return hand_written_mse(y_true, y_pred)

    m.compile(optimizer="sgd", loss=recording)
    m.evaluate(x, y, batch_size=N, verbose=0)
    assert seen == [((N, 1), (N, 1))]


def test_a_loss_subclass_call_sees_the_shapes_as_given():
    # Keras's Loss.__call__ aligns nothing: only LossFunctionWrapper (and the built-ins) do.
    seen = []

    class Recording(pf.losses.Loss):
        def call(self, y_true, y_pred):
            seen.append((tuple(y_true.shape), tuple(y_pred.shape)))
            return pf.ops.square(y_true - y_pred)

    Recording()(np.zeros(4, "float32"), np.zeros((4, 1), "float32"))
    assert seen == [((4,), (4, 1))]


def test_p29_a_hand_written_loss_called_directly_still_broadcasts_to_n_by_n():
    x, _, y = data()
    m = model()
    difference = y - m(x)
    assert tuple(difference.shape) == (N, N)
    prediction = np.asarray(m(x), dtype=np.float64)
    assert float(hand_written_mse(y, m(x))) == pytest.approx(np.mean((y[None, :] - prediction) ** 2), rel=1e-5)
    # The built-in loss on the same pair is the elementwise one.
    assert float(pf.losses.MeanSquaredError()(y, m(x))) == pytest.approx(
        np.mean((prediction.reshape(-1) - y) ** 2), rel=1e-5)


def test_shapes_that_cannot_be_aligned_raise_naming_both():
    with pytest.raises(ValueError) as error:
        pf.losses.MeanSquaredError()(np.zeros(3, "float32"), np.zeros(4, "float32"))
    assert "(3,)" in str(error.value) and "(4,)" in str(error.value)
    with pytest.raises(ValueError):
        pf.losses.BinaryCrossentropy()(np.zeros((2, 3), "float32"), np.full((2, 1), 0.5, "float32"))
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        pf.losses.CategoricalCrossentropy()(np.zeros(4, "int64"), np.full((4, 3), 1 / 3, "float32"))


def test_metrics_align_vector_targets_like_the_loss():
    x, y, _ = data()
    m = model("sigmoid")
    m.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy", "mae", pf.metrics.AUC()])
    vector = m.evaluate(x, y, batch_size=N, verbose=0, return_dict=True)
    column = m.evaluate(x, y.reshape(-1, 1), batch_size=N, verbose=0, return_dict=True)
    assert vector == column
    probabilities = m.predict(x, verbose=0).reshape(-1)
    assert vector["accuracy"] == pytest.approx(np.mean((probabilities > 0.5) == y), abs=1e-6)
    assert vector["mae"] == pytest.approx(np.mean(np.abs(probabilities - y)), rel=1e-5)
