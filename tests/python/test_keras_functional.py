"""The symbolic graph API and the functional merge helpers, as Keras 3 defines them
(keras/src/ops/operation.py input/output, keras/src/models/functional.py, keras/src/layers/merging/)."""
import numpy as np
import pytest

import pitfall as pf
from pitfall import layers

rng = np.random.default_rng(0)


def arrays(*shapes):
    return [rng.normal(size=s).astype("float32") for s in shapes]


def test_layer_input_output_and_shapes_come_from_the_first_call():
    inputs = pf.Input(shape=(8,), name="features")
    hidden_layer = layers.Dense(4, name="hidden")
    hidden = hidden_layer(inputs)
    outputs = layers.Dense(2, name="head")(hidden)
    model = pf.Model(inputs, outputs)
    assert hidden_layer.input is inputs or hidden_layer.input.name == inputs.name
    assert tuple(hidden_layer.output.shape) == (None, 4)
    assert hidden_layer.input_shape == (None, 8)
    assert hidden_layer.output_shape == (None, 4)
    assert model.get_layer(name="hidden") is hidden_layer
    assert model.input is inputs and model.output is outputs
    assert model.input_shape == (None, 8) and model.output_shape == (None, 2)
    assert model.get_layer("features").output_shape == (None, 8)
    with pytest.raises(AttributeError, match="never been called"):
        layers.Dense(3).output
    with pytest.raises(ValueError, match="hiddden"):
        model.get_layer("hiddden")


def test_a_layer_called_twice_reports_its_first_call():
    shared = layers.Dense(3, name="shared")
    a, b = pf.Input((5,)), pf.Input((5,))
    first, second = shared(a), shared(b)
    assert shared.input.name == a.name
    assert shared.output.name == first.name
    assert len(shared.weights) == 2  # one set of weights for both calls


def test_feature_extractor_from_intermediate_outputs_shares_the_weights():
    inputs = pf.Input((6,))
    x = layers.Dense(5, activation="relu", name="a")(inputs)
    x = layers.Dense(4, activation="tanh", name="b")(x)
    outputs = layers.Dense(1, name="c")(x)
    model = pf.Model(inputs, outputs)
    extractor = pf.Model(inputs=model.inputs, outputs=[layer.output for layer in model.layers])
    data, = arrays((7, 6))
    features = extractor.predict(data, verbose=0)
    assert [f.shape for f in features] == [(7, 6), (7, 5), (7, 4), (7, 1)]
    np.testing.assert_array_equal(features[0], data)
    np.testing.assert_allclose(features[-1], model.predict(data, verbose=0), rtol=1e-6)
    # Same weights: changing the model changes the extractor.
    kernel, bias = model.get_layer("b").get_weights()
    model.get_layer("b").set_weights([kernel * 0, bias])
    assert np.all(extractor.predict(data, verbose=0)[2] == 0)
    single = pf.Model(model.input, model.get_layer("a").output)
    np.testing.assert_array_equal(single.predict(data, verbose=0), features[1])


def test_models_nest_as_layers_and_a_sequential_can_hold_a_built_model():
    encoder = pf.Sequential([pf.Input((8,)), layers.Dense(3, name="code")], name="encoder")
    inputs = pf.Input((8,))
    decoded = layers.Dense(8)(encoder(inputs))
    autoencoder = pf.Model(inputs, decoded)
    assert encoder in autoencoder.layers
    stacked = pf.Sequential([encoder, layers.Dense(2)])
    data, = arrays((4, 8))
    np.testing.assert_allclose(stacked.layers[0](data).numpy(), encoder.predict(data, verbose=0), rtol=1e-6)
    autoencoder.compile(optimizer="adam", loss="mse")
    before = encoder.get_weights()[0].copy()
    autoencoder.fit(data, data, epochs=2, verbose=0)
    assert not np.array_equal(before, encoder.get_weights()[0])  # the nested model trained


MERGES = {
    "add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
    "average": lambda a, b: (a + b) / 2, "maximum": np.maximum, "minimum": np.minimum,
    "concatenate": lambda a, b: np.concatenate([a, b], axis=-1),
}


@pytest.mark.parametrize("name", sorted(MERGES))
def test_merge_functions_build_the_layer_and_compute_keras_values(name):
    a, b = pf.Input((3,)), pf.Input((3,))
    merged = getattr(layers, name)([a, b])
    model = pf.Model([a, b], merged)
    layer = model.layers[-1]
    assert type(layer).__name__ == name.capitalize()
    x, y = arrays((5, 3), (5, 3))
    np.testing.assert_allclose(model.predict([x, y], verbose=0), MERGES[name](x, y), rtol=1e-6)
    with_name = getattr(layers, name)([a, b], name=f"my_{name}")
    assert with_name.name == f"my_{name}"


def test_merges_of_three_inputs_and_their_errors():
    x, y, z = arrays((4, 2), (4, 2), (4, 2))
    np.testing.assert_allclose(layers.Average()([x, y, z]).numpy(), (x + y + z) / 3, rtol=1e-6)
    np.testing.assert_allclose(layers.Multiply()([x, y, z]).numpy(), x * y * z, rtol=1e-6)
    with pytest.raises(ValueError, match="exactly 2 inputs"):
        layers.Subtract()([x, y, z])
    with pytest.raises(ValueError, match="at least 2"):
        layers.Maximum()([x])
    with pytest.raises(ValueError, match="axis 1"):
        layers.Add()([x, arrays((4, 3))[0]])


def test_dot_matches_numpy_for_vectors_matrices_and_normalized_inputs():
    x, y = arrays((4, 5), (4, 5))
    out = layers.dot([pf.tensor(x), pf.tensor(y)], axes=1)
    assert tuple(out.shape) == (4, 1)
    np.testing.assert_allclose(out.numpy()[:, 0], np.sum(x * y, axis=1), rtol=1e-5)
    cosine = layers.Dot(axes=-1, normalize=True)([x, y]).numpy()[:, 0]
    reference = np.sum(x * y, 1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
    np.testing.assert_allclose(cosine, reference, rtol=1e-5)
    a, b = arrays((2, 3, 4), (2, 5, 4))
    np.testing.assert_allclose(layers.Dot(axes=(2, 2))([a, b]).numpy(), np.einsum("bik,bjk->bij", a, b), rtol=1e-5)
    c = arrays((2, 3, 6))[0]
    np.testing.assert_allclose(layers.Dot(axes=(1, 1))([a, c]).numpy(), np.einsum("bki,bkj->bij", a, c), rtol=1e-5)
    symbolic = layers.Dot(axes=(2, 2))([pf.Input((3, 4)), pf.Input((5, 4))])
    assert tuple(symbolic.shape) == (None, 3, 5)
    with pytest.raises(ValueError, match="batch axis"):
        layers.Dot(axes=0)([x, y])
    with pytest.raises(ValueError, match=r"4 \(at axis 2\) != 6"):
        layers.Dot(axes=(2, 2))([a, c])
    assert layers.Dot(axes=(1, 2)).get_config()["axes"] == [1, 2]


def test_dot_gradient_matches_finite_differences():
    x, y = (rng.normal(size=(2, 3, 4)) for _ in range(2))
    tx, ty = pf.tensor(x), pf.tensor(y)
    layer = layers.Dot(axes=(2, 2), normalize=True, dtype="float64")
    with pf.GradientTape() as tape:
        tape.watch(tx)
        loss = pf.ops.sum(pf.ops.square(layer([tx, ty])))
    grad = tape.gradient(loss, tx).numpy()

    def value(xx):
        xn = xx / np.linalg.norm(xx, axis=2, keepdims=True)
        yn = y / np.linalg.norm(y, axis=2, keepdims=True)
        return np.sum(np.einsum("bik,bjk->bij", xn, yn) ** 2)

    numeric = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = 1e-6
        numeric[index] = (value(x + step) - value(x - step)) / 2e-6
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-7)


def test_dict_inputs_and_outputs_with_losses_metrics_and_weights_by_name():
    title, body = pf.Input((4,), name="title"), pf.Input((6,), name="body")
    joined = layers.concatenate([layers.Dense(3)(title), layers.Dense(3)(body)])
    priority = layers.Dense(1, name="priority")(joined)
    department = layers.Dense(3, name="department")(joined)
    model = pf.Model({"title": title, "body": body}, {"priority": priority, "department": department})
    model.compile(optimizer="adam",
                  loss={"priority": "binary_crossentropy", "department": pf.losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"priority": 1.0, "department": 0.2}, metrics={"department": ["accuracy"]})
    t, b = arrays((16, 4), (16, 6))
    p = (rng.random(16) > 0.5).astype("float32")
    d = np.eye(3, dtype="float32")[rng.integers(0, 3, 16)]
    history = model.fit({"title": t, "body": b}, {"priority": p, "department": d}, epochs=2, verbose=0)
    assert sorted(history.history) == ["department_accuracy", "department_loss", "loss", "priority_loss"]
    loss = history.history
    # The total is the weighted sum of the per-output losses (Keras's compile_utils).
    result = model.evaluate({"title": t, "body": b}, {"priority": p, "department": d}, return_dict=True, verbose=0)
    assert result["loss"] == pytest.approx(result["priority_loss"] + 0.2 * result["department_loss"], rel=1e-5)
    predictions = model.predict({"title": t, "body": b}, verbose=0)
    assert sorted(predictions) == ["department", "priority"]
    assert predictions["department"].shape == (16, 3) and predictions["priority"].shape == (16, 1)
    assert len(loss["loss"]) == 2


def test_loss_and_loss_weights_as_lists_follow_the_output_order():
    inputs = pf.Input((5,))
    first = layers.Dense(1, name="first")(inputs)
    second = layers.Dense(2, name="second")(inputs)
    model = pf.Model(inputs, [first, second])
    model.compile(optimizer="sgd", loss=["mse", "mae"], loss_weights=[0.5, 2.0], metrics=[["mae"], []])
    x, = arrays((8, 5))
    y1, y2 = arrays((8, 1), (8, 2))
    result = model.evaluate(x, [y1, y2], return_dict=True, verbose=0)
    p1, p2 = model.predict(x, verbose=0)
    assert result["first_loss"] == pytest.approx(np.mean((p1 - y1) ** 2), rel=1e-5)
    assert result["second_loss"] == pytest.approx(np.mean(np.abs(p2 - y2)), rel=1e-5)
    assert result["loss"] == pytest.approx(0.5 * result["first_loss"] + 2.0 * result["second_loss"], rel=1e-5)
    assert result["first_mae"] == pytest.approx(np.mean(np.abs(p1 - y1)), rel=1e-5)
    single = pf.Model(inputs, [first])
    assert isinstance(single.predict(x, verbose=0), list)  # outputs given as a list: a list back (Keras 3)
