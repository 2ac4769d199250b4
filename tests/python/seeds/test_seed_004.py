"""Seed 004 ("version incompatibilities: pooling, input dtypes, custom layers"), ported to pitfall.

Changes made to the seed's code (nothing else was changed):
  - `import tensorflow as tf` / `from tensorflow import keras` / `from keras import layers` ->
    `import pitfall as pf` / `from pitfall import layers`; `keras.Sequential` -> `pf.Sequential`
  - `tf.keras.utils.to_categorical` -> `pf.utils.to_categorical`
  - `from keras import backend as K` ... `K.dot` -> `pf.ops.matmul` (Keras 3 has no backend.dot)
  - the `try/except` blocks return what they print so the test can check it
"""
import warnings

import numpy as np

import pitfall as pf
from pitfall import layers


# Example 1: Incompatible Pooling Layer
def create_model_incompatible_pool():
    model = pf.Sequential([
        layers.Conv2D(32, (3, 3), activation='relu', input_shape=(28, 28, 1)),
        layers.MaxPooling2D(pool_size=(2, 2), strides=2, padding='same'),
        layers.Flatten(),
        layers.Dense(10, activation='softmax')
    ])
    return model


def example_1():
    try:
        model = create_model_incompatible_pool()
        model.compile(optimizer='adam', loss='categorical_crossentropy')
        print("Model compiled successfully")
        return model
    except Exception as e:
        print(f"Error during model definition or compilation: {e}")
        return None


# Example 2: Mismatched Input Data Type
def create_model_float32():
    model = pf.Sequential([
        layers.Dense(64, activation='relu', input_shape=(10,)),
        layers.Dense(10, activation='softmax')
    ])
    return model


def example_2():
    model_float32 = create_model_float32()
    model_float32.compile(optimizer='adam', loss='categorical_crossentropy')

    # Simulate Input of Integers, not floats
    data_integer = np.random.randint(0, 255, size=(100, 10))
    labels = np.random.randint(0, 10, size=(100, 1))
    labels = pf.utils.to_categorical(labels, num_classes=10)

    try:
        # Expecting a type error here
        return model_float32.fit(data_integer, labels, epochs=2)
    except Exception as e:
        print(f"Error During Model Execution: {e}")
        return e


# Example 3: Incompatible Custom Layer
class MyIncompatibleLayer(layers.Layer):
    def __init__(self, units=32, **kwargs):
        super(MyIncompatibleLayer, self).__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer='random_normal',
                                 trainable=True)
        super(MyIncompatibleLayer, self).build(input_shape)

    def call(self, inputs):
        # Assume the way tensors are used here is not compatible with current tf
        return pf.ops.matmul(inputs, self.w)

    def get_config(self):
        config = super(MyIncompatibleLayer, self).get_config()
        config.update({
            "units": self.units
        })
        return config


def create_model_custom_layer():
    model = pf.Sequential([
        layers.Dense(10, activation='relu', input_shape=(10,)),
        MyIncompatibleLayer(32),
        layers.Dense(10, activation='softmax')
    ])
    return model


def example_3():
    try:
        model_custom_layer = create_model_custom_layer()
        model_custom_layer.compile(optimizer='adam', loss='categorical_crossentropy')
        print("Model using custom layer compiled successfully")
        return model_custom_layer
    except Exception as e:
        print(f"Error During Model Definition: {e}")
        return None


def test_same_padding_pooling_builds_with_keras_shapes():
    model = example_1()
    assert model is not None
    assert [l.compute_output_shape((None, 28, 28, 1)) for l in model.layers[:1]] == [(None, 26, 26, 32)]
    assert model.count_params() == 32 * 9 + 32 + 13 * 13 * 32 * 10 + 10


def test_integer_inputs_are_cast_with_a_warning_naming_the_range():
    pf.utils.set_random_seed(4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = example_2()
    assert isinstance(history, pf.callbacks.History), history
    assert len(history.history["loss"]) == 2
    messages = [str(w.message) for w in caught if issubclass(w.category, pf.PitfallWarning)]
    assert len(messages) == 1, messages  # once, at the model's input; the one-hot labels are float already
    assert "int64 input with values in [" in messages[0] and "cast to float32" in messages[0]
    assert "did you mean to scale it" in messages[0]
    # Under strict dtypes the same script stops at fit with the type error the seed expected, saying what to do.
    pf.config.set_strict_dtypes(True)
    try:
        error = example_2()
    finally:
        pf.config.set_strict_dtypes(False)
    assert isinstance(error, TypeError), error
    assert "where float32 is expected" in str(error) and "x.astype('float32')" in str(error)


def test_custom_layer_with_get_config_compiles_and_round_trips():
    model = example_3()
    assert model is not None
    layer = model.layers[1]
    config = layer.get_config()
    assert config["units"] == 32
    clone = MyIncompatibleLayer.from_config(config)
    assert clone.units == 32 and clone.name == layer.name
    out = model.predict(np.ones((3, 10), "float32"))
    assert out.shape == (3, 10) and np.allclose(out.sum(1), 1.0, atol=1e-5)
