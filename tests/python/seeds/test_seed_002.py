"""Seed 002 ("debugging custom layers and custom training loops"), ported to pitfall.

Changes made to the seed's code (nothing else was changed):
  - `import tensorflow as tf` / `from tensorflow import keras` / `from keras import layers` ->
    `import pitfall as pf` / `from pitfall import layers`
  - `tf.matmul` -> `pf.ops.matmul`; `tf.reduce_mean` -> `pf.ops.mean`; `tf.square` -> `pf.ops.square`;
    `tf.random.normal` -> `pf.random.normal`; `keras.Sequential` -> `pf.Sequential`;
    `tf.keras.optimizers.Adam` -> `pf.optimizers.Adam`
  - `except tf.errors.InvalidArgumentError` -> `except ValueError` (pitfall raises ValueError for shapes)
  - `tf.data.Dataset` / `tf.data.AUTOTUNE` -> `pf.data.Dataset` / `pf.data.AUTOTUNE` (third snippet)
"""
import numpy as np

import pitfall as pf
from pitfall import layers


class CustomLayer(layers.Layer):
    def __init__(self, units, **kwargs):
        super(CustomLayer, self).__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer='random_normal',
                                 trainable=True)

    def call(self, inputs):
        # Intentionally introduce an error here
        return pf.ops.matmul(inputs, self.w) + inputs[:, :2]  # Incorrect shape in addition


def snippet_1():
    try:
        inputs = pf.random.normal(shape=(32, 10))
        layer = CustomLayer(units=5)
        output = layer(inputs)
    except ValueError as e:
        print(f"Error: {e}")
        return str(e)
    return None


def create_model():
    model = pf.Sequential([
        layers.Dense(10, activation='relu'),
        layers.Dense(1)
    ])
    return model


def loss_fn(y_true, y_pred):
    return pf.ops.mean(pf.ops.square(y_true - y_pred))


def train_step(model, x, y, optimizer):
    with pf.GradientTape() as tape:
        y_pred = model(x)
        loss = loss_fn(y, y_pred)

    gradients = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))
    return loss


def snippet_2():
    model = create_model()
    optimizer = pf.optimizers.Adam(learning_rate=0.001)
    x = pf.random.normal(shape=(100, 10))
    y = pf.random.normal(shape=(100, 1))
    losses = []
    for step in range(10):
        loss = train_step(model, x, y, optimizer)
        print(f'Step: {step}, Loss: {loss.numpy():.4f}')
        losses.append(float(loss.numpy()))
    return losses


def create_dataset(num_samples):
    images = np.random.rand(num_samples, 28, 28, 3).astype(np.float32)
    labels = np.random.randint(0, 10, size=num_samples).astype(np.int32)
    return images, labels


def snippet_3():
    images, labels = create_dataset(1000)

    dataset = pf.data.Dataset.from_tensor_slices((images, labels))
    dataset = dataset.shuffle(100)
    dataset = dataset.batch(32)
    dataset = dataset.prefetch(pf.data.AUTOTUNE)

    for images, labels in dataset:
        print(f"Batch images shape: {images.shape}, labels shape {labels.shape}")
        break
    return images, labels, dataset


def test_shape_error_names_the_layer_its_input_and_the_mismatched_shapes():
    message = snippet_1()
    assert message is not None
    assert "custom_layer" in message and "(CustomLayer)" in message
    assert "(32, 10)" in message and "(32, 5)" in message and "(32, 2)" in message


def test_custom_training_loop_decreases_the_loss():
    pf.utils.set_random_seed(2)
    losses = snippet_2()
    assert losses[-1] < losses[0]


def test_the_tf_data_pipeline_batches_shuffled_pairs():
    np.random.seed(2)
    images, labels, dataset = snippet_3()
    assert tuple(images.shape) == (32, 28, 28, 3) and images.dtype == "float32"
    assert tuple(labels.shape) == (32,) and labels.dtype == "int32"
    # Every (image, label) pair arrives exactly once per epoch, in a shuffled order.
    np.random.seed(2)
    all_images, all_labels = create_dataset(1000)
    seen = np.concatenate([np.asarray(y) for _, y in dataset])
    assert len(seen) == 1000 and sorted(seen.tolist()) == sorted(all_labels.tolist())
    first = np.asarray(next(iter(dataset))[0])[0]
    index = int(np.argmin(np.abs(all_images - first).reshape(1000, -1).sum(1)))
    np.testing.assert_array_equal(all_images[index], first)
