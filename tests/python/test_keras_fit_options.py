"""Keras 3's fit / evaluate / predict options beyond the basics: validation_freq, callbacks given to
evaluate and predict, class_weight's rules, a fixed batch in Input(batch_shape=...), and symbolic
shapes with an unknown sequence length (keras/src/trainers/trainer.py, keras/src/callbacks)."""
import numpy as np
import pytest

import pitfall as keras
from pitfall import layers


def data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    return x, y


def model():
    keras.utils.set_random_seed(0)
    m = keras.Sequential([keras.Input(shape=(6,)), layers.Dense(8, activation="relu"),
                          layers.Dense(2, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return m


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []

    def on_epoch_end(self, epoch, logs=None):
        self.events.append((epoch, "val_loss" in logs))

    def on_test_begin(self, logs=None):
        self.events.append("test_begin")

    def on_test_batch_end(self, batch, logs=None):
        self.events.append(("test_batch", batch, sorted(logs)))

    def on_test_end(self, logs=None):
        self.events.append(("test_end", sorted(logs)))

    def on_predict_begin(self, logs=None):
        self.events.append("predict_begin")

    def on_predict_batch_end(self, batch, logs=None):
        self.events.append(("predict_batch", batch, np.asarray(logs["outputs"]).shape))

    def on_predict_end(self, logs=None):
        self.events.append("predict_end")


@pytest.mark.parametrize("freq, validated", [(1, [1, 2, 3, 4, 5, 6]), (2, [2, 4, 6]), (3, [3, 6]),
                                             ([1, 5], [1, 5])])
def test_validation_freq_validates_after_the_epochs_keras_names(freq, validated):
    x, y = data()
    recorder = Recorder()
    history = model().fit(x, y, epochs=6, batch_size=32, validation_split=0.25, validation_freq=freq, verbose=0,
                          callbacks=[recorder])
    epochs = [e for e in recorder.events if isinstance(e, tuple) and isinstance(e[0], int)]
    assert [e + 1 for e, has_val in epochs if has_val] == validated
    assert recorder.events.count("test_begin") == len(validated)
    assert len(history.history["val_loss"]) == len(validated) and len(history.history["loss"]) == 6


def test_validation_freq_with_datasets_and_a_python_train_step():
    x, y = data()
    train = keras.data.Dataset.from_tensor_slices((x[:64], y[:64])).batch(16)
    val = keras.data.Dataset.from_tensor_slices((x[64:], y[64:])).batch(16)
    history = model().fit(train, validation_data=val, epochs=4, validation_freq=2, verbose=0)
    assert len(history.history["val_loss"]) == 2

    class Custom(keras.Model):
        def train_step(self, data):
            return super().train_step(data)

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(6,))
    custom = Custom(inputs, layers.Dense(2, activation="softmax")(inputs))
    custom.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    history = custom.fit(x, y, epochs=4, validation_split=0.25, validation_freq=[4], verbose=0)
    assert len(history.history["val_loss"]) == 1 and len(history.history["loss"]) == 4


@pytest.mark.parametrize("bad", [0, -1, True, "2", 1.5, [1, "2"]])
def test_validation_freq_refuses_what_keras_refuses(bad):
    x, y = data()
    with pytest.raises(ValueError, match="validation_freq"):
        model().fit(x, y, epochs=1, validation_split=0.25, validation_freq=bad, verbose=0)


def test_evaluate_with_callbacks_calls_the_test_hooks_and_gives_the_same_numbers():
    x, y = data()
    m = model()
    m.fit(x, y, epochs=2, verbose=0)
    plain = m.evaluate(x, y, batch_size=32, verbose=0, return_dict=True)
    recorder = Recorder()
    with_callbacks = m.evaluate(x, y, batch_size=32, verbose=0, return_dict=True,
                                callbacks=[recorder, keras.callbacks.TerminateOnNaN()])
    assert with_callbacks == pytest.approx(plain, rel=1e-6)
    assert recorder.events[0] == "test_begin"
    assert [e[1] for e in recorder.events if e[0] == "test_batch"] == [0, 1, 2]
    assert recorder.events[-1] == ("test_end", ["accuracy", "loss"])
    assert recorder.model is m


def test_predict_with_callbacks_calls_the_predict_hooks_with_the_outputs():
    x, _ = data(n=70)
    m = model()
    plain = m.predict(x, batch_size=32, verbose=0)
    recorder = Recorder()
    out = m.predict(x, batch_size=32, verbose=0, callbacks=[recorder])
    np.testing.assert_array_equal(out, plain)
    assert recorder.events == ["predict_begin", ("predict_batch", 0, (32, 2)), ("predict_batch", 1, (32, 2)),
                               ("predict_batch", 2, (6, 2)), "predict_end"]


def test_callbacks_must_be_callback_objects():
    x, y = data()
    with pytest.raises(TypeError, match="callbacks must be"):
        model().evaluate(x, y, verbose=0, callbacks=[print])


def test_class_weight_rules_follow_keras():
    x, y = data()
    with pytest.raises(ValueError, match="cannot `class_weight` and `sample_weight`"):
        model().fit(x, y, class_weight={0: 1.0, 1: 2.0}, sample_weight=np.ones(len(x)), verbose=0)
    inputs = keras.Input(shape=(6,))
    two = keras.Model(inputs, [layers.Dense(2, activation="softmax", name="a")(inputs),
                               layers.Dense(2, activation="softmax", name="b")(inputs)])
    two.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="only supported for Models with a single output"):
        two.fit(x, [y, y], class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_input_with_a_fixed_batch():
    inputs = keras.Input(batch_shape=(32, 6))
    assert tuple(inputs.shape) == (32, 6)
    outputs = layers.Dense(3)(inputs)
    assert tuple(outputs.shape) == (32, 3)
    m = keras.Model(inputs, outputs)
    assert m.layers[0].get_config()["batch_shape"] == [32, 6]
    assert tuple(keras.Input(shape=(6,), batch_size=8).shape) == (8, 6)
    x, _ = data(n=32)
    np.testing.assert_allclose(m.predict(x, verbose=0)[:5], m.predict(x[:5], verbose=0), rtol=1e-6)
    assert tuple(keras.layers.InputLayer(shape=(4,)).output.shape) == (None, 4)


def test_an_unknown_sequence_length_stays_unknown_through_layers():
    class Relu(keras.layers.Layer):
        def call(self, x):
            return keras.ops.relu(x)

    inputs = keras.Input(shape=(None,), dtype="int32")
    x = layers.Embedding(50, 16)(inputs)
    x = Relu()(x)
    assert tuple(x.shape) == (None, None, 16)
    assert tuple(layers.Dense(3)(x).shape) == (None, None, 3)
    assert tuple(layers.GlobalAveragePooling1D()(x).shape) == (None, 16)


def test_a_python_function_as_a_built_in_layers_activation(tmp_path):
    def cube(x):
        return x * x * x

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, layers.Dense(2, activation=cube)(inputs))
    x = np.random.default_rng(0).normal(size=(4, 3)).astype("float32")
    kernel, bias = (np.asarray(w) for w in model.layers[1].weights)
    np.testing.assert_allclose(model.predict(x, verbose=0), (x @ kernel + bias) ** 3, rtol=1e-5)
    assert model.layers[1].get_config()["activation"] == "cube"
    path = str(tmp_path / "cube.keras")
    model.save(path)
    loaded = keras.models.load_model(path, custom_objects={"cube": cube})
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="lambda cannot be an activation"):
        layers.Dense(2, activation=lambda t: t)
    with pytest.raises(TypeError, match="activation must be a name or a function"):
        layers.Dense(2, activation=3)


@pytest.mark.parametrize("python_loop", [False, True])
def test_fits_validation_pass_calls_the_test_hooks_of_fits_callbacks(python_loop):
    x, y = data()
    if python_loop:
        class Custom(keras.Model):
            def train_step(self, data):
                return super().train_step(data)

        keras.utils.set_random_seed(0)
        inputs = keras.Input(shape=(6,))
        m = Custom(inputs, layers.Dense(2, activation="softmax")(inputs))
        m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    else:
        m = model()
    recorder = Recorder()
    m.fit(x, y, epochs=2, batch_size=32, validation_split=0.25, validation_freq=2, verbose=0, callbacks=[recorder])
    # Epoch 1: no validation. Epoch 2: one pass over the 24 validation rows (one batch), then epoch end.
    assert recorder.events == [(0, False), "test_begin", ("test_batch", 0, ["accuracy", "loss"]),
                               ("test_end", ["accuracy", "loss"]), (1, True)]
