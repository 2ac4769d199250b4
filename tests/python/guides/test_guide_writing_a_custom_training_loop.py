"""The behaviours keras-io's guide "Writing a training loop from scratch in TensorFlow"
(guides/writing_a_custom_training_loop_in_tensorflow.py) demonstrates, section by section, with the
calls a reader makes. Only names change: `import keras` -> `import pitfall as keras`;
`tf.GradientTape` -> `keras.GradientTape`; `tf.data.Dataset` -> `keras.data.Dataset`;
`@tf.function` -> `@keras.function` (runs eagerly: the numbers are the undecorated function's);
`tf.reduce_sum` / `tf.concat` / `tf.ones` / `tf.zeros` -> `keras.ops.sum` / `concatenate` / `ones` /
`zeros`; `tf.random.normal` / `tf.random.uniform` -> `keras.random.normal` / `uniform`.
Data: Fashion-MNIST subsets where the guide uses MNIST (a few GAN steps instead of an epoch)."""
import math
import warnings

import numpy as np
import pytest
from PIL import Image

import pitfall as keras
from pitfall import layers, ops

from _training_guides import (DISCRIMINATOR_PARAMS, GENERATOR_PARAMS, binary_crossentropy_from_logits,
                              discriminator, flat_digits, generator, images, summary_text)

BATCH_SIZE = 32


def get_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x1 = layers.Dense(64, activation="relu")(inputs)
    x2 = layers.Dense(64, activation="relu")(x1)
    outputs = layers.Dense(10, name="predictions")(x2)
    return keras.Model(inputs=inputs, outputs=outputs)


def digit_datasets(n_train=4000, n_val=1000, shuffle=True, raw=False):
    """The guide's datasets: (x, y) batches of 32, the training one shuffled. The guide feeds the raw
    uint8 pixels; pitfall casts them at the Input but warns (unscaled pixels slow training), so
    except where raw=True the pixels come scaled to [0, 1] as that warning advises."""
    x_train, y_train, x_val, y_val = flat_digits(n_train, n_val)
    if not raw:
        x_train, x_val = x_train.astype("float32") / 255.0, x_val.astype("float32") / 255.0
    train_dataset = keras.data.Dataset.from_tensor_slices((x_train, y_train))
    if shuffle:
        train_dataset = train_dataset.shuffle(buffer_size=1024)
    train_dataset = train_dataset.batch(BATCH_SIZE)
    val_dataset = keras.data.Dataset.from_tensor_slices((x_val, y_val)).batch(BATCH_SIZE)
    return train_dataset, val_dataset


def sparse_crossentropy_from_logits(labels, logits):
    logits = np.asarray(logits, np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(log_probs[np.arange(len(labels)), np.asarray(labels)]))


# ---------------------------------------------------------------- A first end-to-end example

def test_a_gradient_tape_loop_trains_the_model_batch_by_batch():
    keras.utils.set_random_seed(0)
    model = get_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_dataset, _ = digit_datasets(raw=True)
    assert len(list(train_dataset)) == math.ceil(4000 / BATCH_SIZE)

    losses = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(2):
            for step, (x_batch_train, y_batch_train) in enumerate(train_dataset):
                with keras.GradientTape() as tape:
                    logits = model(x_batch_train, training=True)
                    loss_value = loss_fn(y_batch_train, logits)
                grads = tape.gradient(loss_value, model.trainable_weights)
                if epoch == 0 and step == 0:
                    # The batch is (32, 784) uint8 pixels; the model casts them to its float32 input.
                    assert tuple(x_batch_train.shape) == (BATCH_SIZE, 784) and x_batch_train.dtype == "uint8"
                    assert tuple(logits.shape) == (BATCH_SIZE, 10) and logits.dtype == "float32"
                    assert tuple(loss_value.shape) == ()
                    assert float(loss_value) == pytest.approx(
                        sparse_crossentropy_from_logits(y_batch_train.numpy(), logits.numpy()), rel=1e-5)
                    assert len(grads) == len(model.trainable_weights) == 6
                    assert [tuple(g.shape) for g in grads] == [tuple(w.shape) for w in model.trainable_weights]
                optimizer.apply(grads, model.trainable_weights)
                losses.append(float(loss_value))
    # Keras casts the pixels silently; pitfall casts them too, and says once that they are unscaled.
    assert len([w for w in caught if "uint8 input with values in [0, 255]" in str(w.message)]) == 1
    steps = math.ceil(4000 / BATCH_SIZE)
    assert len(losses) == 2 * steps
    # The raw 0..255 pixels start the loss high; two epochs bring the batch losses well down.
    assert np.mean(losses[-steps:]) < 0.5 * np.mean(losses[:10])


def test_optimizer_apply_the_tf_keras_apply_gradients_form_and_fit_make_the_same_update():
    train_dataset, _ = digit_datasets(n_train=640, shuffle=False)
    keras.utils.set_random_seed(1)
    initial = get_model().get_weights()
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train(update):
        model = get_model()
        model.set_weights(initial)
        optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        for x_batch, y_batch in train_dataset:
            with keras.GradientTape() as tape:
                loss_value = loss_fn(y_batch, model(x_batch, training=True))
            update(optimizer, tape.gradient(loss_value, model.trainable_weights), model.trainable_weights)
        return model.get_weights()

    applied = train(lambda opt, grads, weights: opt.apply(grads, weights))
    zipped = train(lambda opt, grads, weights: opt.apply_gradients(zip(grads, weights)))
    for a, b, w0 in zip(applied, zipped, initial):
        np.testing.assert_array_equal(a, b)
        assert not np.array_equal(a, w0)

    fitted = get_model()
    fitted.set_weights(initial)
    fitted.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss=loss_fn)
    x_train, y_train, _, _ = flat_digits(640, 1)
    fitted.fit(x_train.astype("float32") / 255.0, y_train, batch_size=BATCH_SIZE, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(applied, fitted.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_optimizer_apply_checks_its_arguments():
    model = get_model()
    optimizer = keras.optimizers.Adam()
    grads = [ops.zeros_like(w) for w in model.trainable_weights]
    with pytest.raises(ValueError, match="5 gradients for 6 variables"):
        optimizer.apply(grads[:5], model.trainable_weights)


# ---------------------------------------------------------------- Low-level handling of metrics

def accuracy(labels, logits):
    return float(np.mean(np.argmax(np.concatenate(logits), axis=1) == np.concatenate(labels)))


def test_metrics_updated_by_hand_give_the_epoch_accuracy_and_reset_between_epochs():
    keras.utils.set_random_seed(2)
    model = get_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    val_acc_metric = keras.metrics.SparseCategoricalAccuracy()
    train_dataset, val_dataset = digit_datasets()

    val_accuracies = []
    for epoch in range(2):
        seen_labels, seen_logits = [], []
        for x_batch_train, y_batch_train in train_dataset:
            with keras.GradientTape() as tape:
                logits = model(x_batch_train, training=True)
                loss_value = loss_fn(y_batch_train, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply(grads, model.trainable_weights)
            train_acc_metric.update_state(y_batch_train, logits)
            seen_labels.append(y_batch_train.numpy())
            seen_logits.append(logits.numpy())
        train_acc = train_acc_metric.result()
        # The metric's value is the accuracy over every batch of this epoch only.
        assert float(train_acc) == pytest.approx(accuracy(seen_labels, seen_logits), abs=1e-6)
        train_acc_metric.reset_state()
        assert float(train_acc_metric.result()) == 0.0

        val_labels, val_logits = [], []
        for x_batch_val, y_batch_val in val_dataset:
            val_logits_batch = model(x_batch_val, training=False)
            val_acc_metric.update_state(y_batch_val, val_logits_batch)
            val_labels.append(y_batch_val.numpy())
            val_logits.append(val_logits_batch.numpy())
        val_acc = val_acc_metric.result()
        val_acc_metric.reset_state()
        assert float(val_acc) == pytest.approx(accuracy(val_labels, val_logits), abs=1e-6)
        val_accuracies.append(float(val_acc))
    assert val_accuracies[-1] > 0.7


# ---------------------------------------------------------------- Speeding up the step with a function decorator

def test_decorated_train_and_test_steps_compute_what_the_eager_loop_does():
    train_dataset, val_dataset = digit_datasets(n_train=960, n_val=320, shuffle=False)
    keras.utils.set_random_seed(3)
    initial = get_model().get_weights()

    def run(decorate):
        model = get_model()
        model.set_weights(initial)
        optimizer = keras.optimizers.Adam(learning_rate=1e-3)
        loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        train_acc_metric = keras.metrics.SparseCategoricalAccuracy()
        val_acc_metric = keras.metrics.SparseCategoricalAccuracy()

        @decorate
        def train_step(x, y):
            with keras.GradientTape() as tape:
                logits = model(x, training=True)
                loss_value = loss_fn(y, logits)
            grads = tape.gradient(loss_value, model.trainable_weights)
            optimizer.apply(grads, model.trainable_weights)
            train_acc_metric.update_state(y, logits)
            return loss_value

        @decorate
        def test_step(x, y):
            val_logits = model(x, training=False)
            val_acc_metric.update_state(y, val_logits)

        losses = [float(train_step(x_batch, y_batch)) for x_batch, y_batch in train_dataset]
        for x_batch, y_batch in val_dataset:
            assert test_step(x_batch, y_batch) is None
        return losses, float(train_acc_metric.result()), float(val_acc_metric.result()), model.get_weights()

    eager = run(lambda f: f)
    for decorate in (keras.function, keras.function(jit_compile=True), keras.function(reduce_retracing=True)):
        decorated = run(decorate)
        assert decorated[:3] == eager[:3]
        for a, b in zip(decorated[3], eager[3]):
            np.testing.assert_array_equal(a, b)
    assert eager[0][-1] < eager[0][0]


def test_the_function_decorator_keeps_the_function_and_checks_an_input_signature():
    def scaled_sum(x, scale=2.0):
        return ops.sum(x) * scale

    decorated = keras.function(scaled_sum)
    assert decorated.python_function is scaled_sum and decorated.__name__ == "scaled_sum"
    assert float(decorated(np.ones((2, 3), "float32"), scale=3.0)) == 18.0

    signed = keras.function(input_signature=[keras.data.TensorSpec((None, 3), "float32")])(lambda x: x)
    converted = signed(np.ones((4, 3)))  # float64 NumPy data converted to the spec's float32
    assert converted.dtype == "float32" and tuple(converted.shape) == (4, 3)
    with pytest.raises(TypeError, match=r"shape \(4, 2\) is not compatible"):
        signed(np.ones((4, 2), "float32"))
    with pytest.raises(TypeError, match="a float64 tensor where the input_signature expects float32"):
        signed(keras.ops.convert_to_tensor(np.ones((4, 3))))
    with pytest.raises(TypeError, match="input_signature covers"):
        signed(np.ones((4, 3)), np.ones(3))
    with pytest.raises(TypeError, match=r"unsupported arguments \['experimental_implements'\]"):
        keras.function(scaled_sum, experimental_implements="embedding_matmul")
    with pytest.raises(TypeError, match="jit_compile must be None or a bool"):
        keras.function(jit_compile="xla")
    with pytest.raises(TypeError, match="pf.data.TensorSpec"):
        keras.function(input_signature=[(None, 3)])

    class Scaler:
        factor = 4.0

        @keras.function(input_signature=[keras.data.TensorSpec((None,), "float32")])
        def __call__(self, x):
            return x * self.factor

    np.testing.assert_array_equal(Scaler()([1.0, 2.0]).numpy(), [4.0, 8.0])


# ---------------------------------------------------------------- Low-level handling of losses tracked by the model

class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(1e-2 * ops.sum(inputs))
        return inputs


def regularized_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10, name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def test_losses_added_in_the_forward_pass_are_listed_by_the_model_and_join_the_step_loss():
    keras.utils.set_random_seed(4)
    model = regularized_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    x_train, y_train, _, _ = flat_digits(256, 1)
    x = x_train.astype("float32") / 255.0
    kernel, bias = model.get_weights()[:2]

    logits = model(x[:BATCH_SIZE], training=True)
    assert len(model.losses) == 1
    activity = np.maximum(x[:BATCH_SIZE] @ kernel + bias, 0.0)
    assert float(model.losses[0]) == pytest.approx(1e-2 * activity.sum(), rel=1e-5)
    model(x[BATCH_SIZE:2 * BATCH_SIZE], training=True)
    assert len(model.losses) == 1  # each forward pass replaces the previous pass's losses

    @keras.function
    def train_step(x, y):
        with keras.GradientTape() as tape:
            logits = model(x, training=True)
            loss_value = loss_fn(y, logits)
            loss_value += sum(model.losses)
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)
        return loss_value, logits

    loss_value, logits = train_step(x[:BATCH_SIZE], y_train[:BATCH_SIZE])
    expected = sparse_crossentropy_from_logits(y_train[:BATCH_SIZE], logits.numpy()) + 1e-2 * activity.sum()
    assert float(loss_value) == pytest.approx(expected, rel=1e-5)

    def activity_sum():
        k, b = model.get_weights()[:2]
        return float(np.maximum(x @ k + b, 0.0).sum())

    before = activity_sum()
    for _ in range(20):
        for start in range(0, 256, BATCH_SIZE):
            train_step(x[start:start + BATCH_SIZE], y_train[start:start + BATCH_SIZE])
    # The regularization term pushes the first layer's activity down.
    assert activity_sum() < 0.5 * before


# ---------------------------------------------------------------- End-to-end example: a GAN training loop

def test_the_gan_models_have_the_guides_layers_shapes_and_parameter_counts():
    disc = discriminator()
    text = summary_text(disc)
    assert "discriminator" in text
    assert [layer.count_params() for layer in disc.layers if layer.count_params()] == DISCRIMINATOR_PARAMS
    assert disc.count_params() == sum(DISCRIMINATOR_PARAMS) == 74_625
    for count in ("640", "73,856", "129", "74,625"):
        assert count in text
    gen = generator(latent_dim=128)
    assert gen.count_params() == sum(GENERATOR_PARAMS) == 1_339_905
    assert tuple(gen.output_shape) == (None, 28, 28, 1)
    assert [tuple(layer.output_shape) for layer in gen.layers[2:5]] == [
        (None, 7, 7, 128), (None, 14, 14, 128), (None, 14, 14, 128)]
    assert tuple(disc(gen(keras.random.normal((2, 128), seed=0))).shape) == (2, 1)


def test_a_gan_step_trains_the_discriminator_then_the_generator_and_saves_an_image(tmp_path):
    keras.utils.set_random_seed(5)
    latent_dim, batch_size = 128, 64
    disc, gen = discriminator(), generator(latent_dim=latent_dim)
    d_optimizer = keras.optimizers.Adam(learning_rate=0.0003)
    g_optimizer = keras.optimizers.Adam(learning_rate=0.0004)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)
    seen = {}

    @keras.function
    def train_step(real_images):
        random_latent_vectors = keras.random.normal(shape=(batch_size, latent_dim))
        generated_images = gen(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((real_images.shape[0], 1))], axis=0)
        labels += 0.05 * keras.random.uniform(labels.shape)
        with keras.GradientTape() as tape:
            predictions = disc(combined_images)
            d_loss = loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, disc.trainable_weights)
        d_optimizer.apply(grads, disc.trainable_weights)
        seen.update(labels=labels.numpy(), predictions=predictions.numpy(), generator=gen.get_weights(),
                    discriminator=disc.get_weights())

        random_latent_vectors = keras.random.normal(shape=(batch_size, latent_dim))
        misleading_labels = ops.zeros((batch_size, 1))
        with keras.GradientTape() as tape:
            predictions = disc(gen(random_latent_vectors))
            g_loss = loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, gen.trainable_weights)
        g_optimizer.apply(grads, gen.trainable_weights)
        return d_loss, g_loss, generated_images

    dataset = keras.data.Dataset.from_tensor_slices(images(4 * batch_size)).shuffle(buffer_size=1024).batch(batch_size)
    generator_before, discriminator_before = gen.get_weights(), disc.get_weights()
    for step, real_images in enumerate(dataset):
        d_loss, g_loss, generated_images = train_step(real_images)
        assert np.isfinite(float(d_loss)) and np.isfinite(float(g_loss))
        # The guide logs the scalar tensors with a format spec.
        assert f"{d_loss:.2f} {g_loss:.2f}" == f"{float(d_loss):.2f} {float(g_loss):.2f}"
        assert float(d_loss) == pytest.approx(binary_crossentropy_from_logits(seen["labels"], seen["predictions"]),
                                              rel=1e-5)
        labels = seen["labels"]
        assert labels.shape == (2 * batch_size, 1)
        assert np.all((labels[:batch_size] >= 1.0) & (labels[:batch_size] < 1.05))
        assert np.all((labels[batch_size:] >= 0.0) & (labels[batch_size:] < 0.05))
        if step == 0:
            # The discriminator's step leaves the generator alone; the generator's step, the discriminator.
            for a, b in zip(seen["generator"], generator_before):
                np.testing.assert_array_equal(a, b)
            assert not np.array_equal(seen["discriminator"][0], discriminator_before[0])
        for a, b in zip(disc.get_weights(), seen["discriminator"]):
            np.testing.assert_array_equal(a, b)
        assert not np.array_equal(gen.get_weights()[0], seen["generator"][0])
    assert step == 3
    assert tuple(generated_images.shape) == (batch_size, 28, 28, 1)
    pixels = generated_images.numpy()
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0  # the sigmoid output

    img = keras.utils.array_to_img(generated_images[0] * 255.0, scale=False)
    path = tmp_path / f"generated_img_{step}.png"
    img.save(path)
    reloaded = Image.open(path)
    assert reloaded.size == (28, 28) and reloaded.mode == "L"
    np.testing.assert_array_equal(np.asarray(reloaded), (pixels[0, :, :, 0] * 255.0).astype("uint8"))
    array = keras.utils.img_to_array(reloaded)
    assert array.shape == (28, 28, 1) and array.dtype == np.float32


def test_array_to_img_scales_to_the_full_range_and_checks_the_image_rank():
    ramp = np.linspace(-1.0, 1.0, 12, dtype="float32").reshape(3, 4, 1)
    img = keras.utils.array_to_img(ramp)  # scale=True: the minimum maps to 0, the maximum to 255
    values = np.asarray(img)
    assert img.mode == "L" and values.min() == 0 and values.max() == 255
    rgb = keras.utils.array_to_img(np.zeros((3, 2, 2)), data_format="channels_first")
    assert rgb.mode == "RGB" and rgb.size == (2, 2)
    with pytest.raises(ValueError, match="rank 3"):
        keras.utils.array_to_img(np.zeros((28, 28)))
    with pytest.raises(ValueError, match="channels"):
        keras.utils.array_to_img(np.zeros((4, 4, 2)))
