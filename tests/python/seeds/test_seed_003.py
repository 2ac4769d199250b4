"""Seed 003 ("Keras vs tf.keras models that should agree"), ported to pitfall.

Changes made to the seed's code (nothing else was changed):
  - `import tensorflow as tf` / `from tensorflow import keras` -> `import pitfall as pf`; `keras.` and
    `tf.keras.` -> `pf.`; `tf.random.set_seed(42)` -> `pf.utils.set_random_seed(42)`
  - `tf.math.multiply` -> `pf.ops.multiply`
  - the "..." placeholders of the seed are filled with the first snippet's architecture and
    loss='categorical_crossentropy'; data loading uses random one-hot data
"""
import numpy as np

import pitfall as pf


def snippet_1():
    # Set seed for both NumPy and TensorFlow
    np.random.seed(42)
    pf.utils.set_random_seed(42)

    # Keras model
    model_keras = pf.Sequential([
        pf.layers.Dense(10, activation='relu', input_shape=(784,)),
        pf.layers.Dense(10, activation='softmax')
    ])
    model_keras.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])

    # TensorFlow model (equivalent architecture)
    model_tf = pf.Sequential([
        pf.layers.Dense(10, activation='relu', input_shape=(784,)),
        pf.layers.Dense(10, activation='softmax')
    ])
    model_tf.compile(optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy'])

    # Ensure both models are using the same optimizer parameters
    print(model_keras.optimizer.get_config())
    print(model_tf.optimizer.get_config())
    return model_keras, model_tf


def snippet_2():
    model_keras = pf.Sequential([pf.layers.Dense(10, activation='relu', input_shape=(784,)),
                                 pf.layers.Dense(10, activation='softmax')])
    model_tf = pf.Sequential([pf.layers.Dense(10, activation='relu', input_shape=(784,)),
                              pf.layers.Dense(10, activation='softmax')])

    # Explicitly set optimizer parameters for both models.
    optimizer = pf.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07)
    model_keras.compile(optimizer=optimizer, loss='categorical_crossentropy', metrics=['accuracy'])
    model_tf.compile(optimizer=pf.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-07),
                     loss='categorical_crossentropy', metrics=['accuracy'])
    return model_keras, model_tf


# Custom layer definition (ensure consistency in TensorFlow and Keras)
class MyCustomLayer(pf.layers.Layer):
    def __init__(self, units):
        super(MyCustomLayer, self).__init__()
        self.units = units
        self.w = self.add_weight(shape=(units,), initializer='random_normal', trainable=True)

    def call(self, inputs):
        return pf.ops.multiply(inputs, self.w)


def test_optimizer_configs_agree_and_the_two_models_start_differently():
    model_keras, model_tf = snippet_1()
    assert model_keras.optimizer.get_config() == model_tf.optimizer.get_config()
    # Same seed set once, two models built in a row: the second draws the next keys, so their
    # weights differ - the seed's "identical models" are only identical if the seed is reset.
    assert not np.array_equal(model_keras.get_weights()[0], model_tf.get_weights()[0])


def test_reseeding_makes_the_pair_identical_and_they_train_identically():
    x = np.random.RandomState(0).rand(64, 784).astype("float32")
    y = np.eye(10, dtype="float32")[np.random.RandomState(1).randint(0, 10, 64)]
    histories = []
    for _ in range(2):
        pf.utils.set_random_seed(42)
        model_keras, _ = snippet_2()
        histories.append(model_keras.fit(x, y, epochs=2, verbose=0).history)
    assert histories[0] == histories[1]


def test_custom_layer_creating_its_weight_in_init():
    layer = MyCustomLayer(4)
    out = layer(np.ones((2, 4), "float32"))
    assert np.array_equal(np.asarray(out), np.tile(np.asarray(layer.w), (2, 1)))
    assert len(layer.trainable_weights) == 1
