"""Seed 000 ("why does Keras training fail but TensorFlow training succeed?"), ported to pitfall.

Changes made to the seed's code (nothing else was changed):
  - `import tensorflow as tf` / `from tensorflow import keras` -> `import pitfall as pf` (and
    `tf.keras.` / `keras.` -> `pf.`); `tf.data` -> `pf.data`; `tf.math.sin` -> `pf.ops.sin`
  - the seed leaves the data, the model and the compile/fit arguments as `...`: they are filled with
    a small Fashion-MNIST classifier (the same in both halves of each example) and 2 epochs
  - the second example's layers are given an input shape so the models can be built
"""
import numpy as np
import pytest

import pitfall as pf

LAYERS = lambda: [pf.layers.Flatten(), pf.layers.Dense(32, activation="relu"),  # noqa: E731
                  pf.layers.Dense(10, activation="softmax")]
COMPILE = dict(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])


def fashion_mnist(n=2048):
    (x, y), _ = pf.datasets.fashion_mnist.load_data()
    return x[:n].astype("float32") / 255, y[:n].astype("int64")


def example_1():
    x_train, y_train = fashion_mnist()
    # TensorFlow approach (successful)
    pf.utils.set_random_seed(0)
    dataset = pf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(32).prefetch(pf.data.AUTOTUNE)
    model = pf.models.Sequential([pf.Input((28, 28))] + LAYERS())  # Model definition
    model.compile(**COMPILE)
    with_dataset = model.fit(dataset, epochs=2, verbose=0)

    # Keras approach (failure due to data handling)
    pf.utils.set_random_seed(0)
    model = pf.models.Sequential([pf.Input((28, 28))] + LAYERS())  # Model definition
    model.compile(**COMPILE)
    with_arrays = model.fit(x_train, y_train, batch_size=32, epochs=2, shuffle=False, verbose=0)
    return with_dataset, with_arrays


def test_example_1_dataset_and_arrays_train_the_same_model_identically():
    with_dataset, with_arrays = example_1()
    # Same data, same order, same batches: prefetch changes when batches are made, not what they hold.
    assert with_dataset.history == with_arrays.history
    assert with_dataset.history["accuracy"][-1] > 0.6


def example_2():
    class MyCustomLayer(pf.layers.Layer):
        def call(self, inputs):
            return pf.ops.sin(inputs)

    model = pf.models.Sequential([pf.Input((4,)), MyCustomLayer(), pf.layers.Dense(1)])

    class MyNumpyLayer(pf.layers.Layer):
        def call(self, inputs):
            return np.sin(inputs)  # Using numpy instead of tf operations

    return model, MyNumpyLayer


def test_example_2_the_numpy_layer_is_refused_with_the_fix():
    model, numpy_layer = example_2()
    x = np.linspace(-1, 1, 8, dtype="float32").reshape(2, 4)
    np.testing.assert_allclose(model.layers[0](x).numpy(), np.sin(x), rtol=1e-6)
    with pytest.raises(TypeError) as error:
        pf.models.Sequential([pf.Input((4,)), numpy_layer(), pf.layers.Dense(1)])
    message = str(error.value)
    assert "my_numpy_layer" in message and "NumPy" in message and "pf.ops" in message


def example_3():
    x_train, y_train = fashion_mnist(512)
    pf.backend.clear_session()  # Potentially conflicting session
    pf.backend.set_floatx("float64")  # Different precision than TF default
    try:
        model = pf.models.Sequential([pf.Input((28, 28))] + LAYERS())
        model.compile(**COMPILE)
        history = model.fit(x_train, y_train, epochs=2, verbose=0)
        return model, history
    finally:
        pf.backend.set_floatx("float32")


def test_example_3_float64_floatx_builds_float64_weights_and_trains():
    with pytest.warns(pf.PitfallWarning, match="float32 input cast to float64"):
        model, history = example_3()
    assert {w.dtype for w in model.weights} == {"float64"}
    assert model.layers[0].name == "flatten"  # clear_session restarted the automatic names
    assert history.history["loss"][-1] < history.history["loss"][0]
