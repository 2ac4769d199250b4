"""Seed 001 ("custom initializer and custom training loop"), ported to pitfall.

Changes made to the seed's code (nothing else was changed):
  - `import tensorflow as tf` / `from tensorflow import keras` -> `import pitfall as pf` (and `keras.` /
    `tf.keras.` -> `pf.`)
  - `tf.random.normal(shape, mean=5, stddev=1, dtype=dtype)` -> `pf.random.normal(shape, mean=5, stddev=1,
    dtype=dtype)`; the default `dtype=tf.float32` -> `dtype="float32"`
  - `print(...)` of the epoch loss kept; the loops are wrapped in functions so the test can check them
  - `tf.data.Dataset` / `tf.data.AUTOTUNE` -> `pf.data.Dataset` / `pf.data.AUTOTUNE` in the third
    snippet's custom loop, which trains the model its model.fit part trained
"""
import numpy as np

import pitfall as pf


def snippet_1():
    # Incorrect custom initializer - can lead to issues
    def bad_init(shape, dtype="float32"):
        return pf.random.normal(shape, mean=5, stddev=1, dtype=dtype)

    model = pf.Sequential([
        pf.layers.Dense(64, activation='relu', kernel_initializer=bad_init, input_shape=(10,)),
        pf.layers.Dense(10, activation='softmax')
    ])

    optimizer = pf.optimizers.Adam(learning_rate=0.001)
    loss_fn = pf.losses.CategoricalCrossentropy()

    x_train = np.random.rand(100, 10)
    y_train = np.eye(10)[np.random.randint(0, 10, 100)]

    model.compile(optimizer=optimizer, loss=loss_fn, metrics=['accuracy'])
    return model, model.fit(x_train, y_train, epochs=10)


def snippet_2():
    # Create a simple model
    model = pf.Sequential([
        pf.layers.Dense(64, activation='relu', input_shape=(10,)),
        pf.layers.Dense(10, activation='softmax')
    ])

    optimizer = pf.optimizers.Adam(learning_rate=0.001)
    loss_fn = pf.losses.CategoricalCrossentropy()

    x_train = np.random.rand(100, 10).astype(np.float32)
    y_train = np.eye(10)[np.random.randint(0, 10, 100)].astype(np.float32)

    batch_size = 32
    losses = []

    # Custom training loop
    for epoch in range(10):
        for batch in range(x_train.shape[0] // batch_size):
            x_batch = x_train[batch * batch_size: (batch + 1) * batch_size]
            y_batch = y_train[batch * batch_size: (batch + 1) * batch_size]
            with pf.GradientTape() as tape:
                logits = model(x_batch)
                loss = loss_fn(y_batch, logits)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
        print(f"Epoch: {epoch}, Loss: {loss.numpy()}")
        losses.append(float(loss.numpy()))
    return losses


def snippet_3():
    x_train = np.random.rand(1000, 10).astype(np.float32)
    y_train = np.eye(10)[np.random.randint(0, 10, 1000)].astype(np.float32)

    # Using Keras, training data is passed directly to the fit method
    model = pf.Sequential([
        pf.layers.Dense(64, activation='relu', input_shape=(10,)),
        pf.layers.Dense(10, activation='softmax')
    ])

    optimizer = pf.optimizers.Adam(learning_rate=0.001)
    loss_fn = pf.losses.CategoricalCrossentropy()
    model.compile(optimizer=optimizer, loss=loss_fn, metrics=['accuracy'])
    history = model.fit(x_train, y_train, epochs=10, verbose=0)

    # Using TensorFlow's tf.data, large datasets can be handled efficiently
    dataset = pf.data.Dataset.from_tensor_slices((x_train, y_train)).batch(32).prefetch(pf.data.AUTOTUNE)

    losses, batches = [], 0
    for epoch in range(10):
        for batch_x, batch_y in dataset:
            with pf.GradientTape() as tape:
                logits = model(batch_x)
                loss = loss_fn(batch_y, logits)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            batches += 1
        print(f"Epoch: {epoch}, Loss: {loss.numpy()}")
        losses.append(float(loss.numpy()))
    return history, losses, batches


def test_bad_initializer_saturates_the_softmax():
    pf.utils.set_random_seed(1)
    model, history = snippet_1()
    kernel = np.asarray(model.layers[0].kernel)
    assert abs(kernel.mean() - 5.0) < 0.1  # the custom initializer was used
    # mean-5 weights on inputs in [0, 1): hidden units around 25, softmax saturated, huge losses
    assert history.history["loss"][0] > 5.0
    assert all(np.isfinite(history.history["loss"]))


def test_custom_loop_runs_and_learns():
    pf.utils.set_random_seed(1)
    losses = snippet_2()
    assert len(losses) == 10 and all(np.isfinite(losses))


def test_fit_then_the_tf_data_loop_run():
    pf.utils.set_random_seed(1)
    history, losses, batches = snippet_3()
    assert len(history.history["loss"]) == 10 and history.history["loss"][-1] < history.history["loss"][0]
    # The loop saw every batch of 32 (the last one 8 rows) of the 1000 rows, ten times.
    assert batches == 10 * 32
    assert len(losses) == 10 and all(np.isfinite(losses))
