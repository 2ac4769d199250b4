"""The behaviours keras-io's guide "Customizing what happens in fit() with TensorFlow"
(guides/custom_train_step_in_tensorflow.py) demonstrates, section by section, with the calls a
reader makes. Only names change: `import keras` -> `import pitfall as keras`; `from keras import
layers` -> `from pitfall import layers`; `tf.GradientTape` -> `keras.GradientTape`;
`tf.data.Dataset` -> `keras.data.Dataset`; `tf.shape` / `tf.concat` / `tf.ones` / `tf.zeros` ->
`keras.ops.shape` / `concatenate` / `ones` / `zeros`. What fit() and evaluate() log is checked
against a NumPy recomputation from what each step saw. Data: the guide's random arrays (1000 x 32)
and, for the GAN, Fashion-MNIST images where the guide uses MNIST (a few steps instead of 100; the
repeatability check trains a narrower GAN)."""
import numpy as np
import pytest

import pitfall as keras
from pitfall import layers, ops

from _training_guides import (DISCRIMINATOR_PARAMS, GENERATOR_PARAMS, binary_crossentropy_from_logits,
                              discriminator, generator, images)


def random_data(seed=0, with_weights=False):
    rng = np.random.default_rng(seed)
    x = rng.random((1000, 32)).astype("float32")
    y = rng.random((1000, 1)).astype("float32")
    return (x, y, rng.random((1000, 1)).astype("float32")) if with_weights else (x, y)


def build(cls, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input(shape=(32,))
    outputs = keras.layers.Dense(1)(inputs)
    return cls(inputs, outputs)


class Recording:
    """Keeps what each step saw, per epoch: its y, y_pred, sample weights and loss."""

    def update_metrics(self, y, y_pred, loss, sample_weight=None):
        """The guide's ending of a step: the loss tracker takes the loss, the compiled metrics
        (y, y_pred, sample_weight); the result is every metric's value by name."""
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        self.record(y, y_pred, loss, sample_weight)
        return {m.name: m.result() for m in self.metrics}

    def record(self, y, y_pred, loss, sample_weight=None):
        batches = self.__dict__.setdefault("batches", [])
        batches.append(dict(y=np.asarray(y), y_pred=y_pred.numpy(), loss=float(loss),
                            sample_weight=None if sample_weight is None else np.asarray(sample_weight)))

    def epoch(self, index, steps):
        return self.batches[index * steps:(index + 1) * steps]


def unweighted_mean(batches, key="loss"):
    """A Mean metric given one value per step: the plain mean of the steps' values."""
    return float(np.mean([b[key] for b in batches]))


def mean_absolute_error(batches, weighted=False):
    errors = np.concatenate([np.abs(b["y"] - b["y_pred"]).reshape(-1) for b in batches]).astype(np.float64)
    weights = (np.concatenate([b["sample_weight"].reshape(-1) for b in batches]).astype(np.float64)
               if weighted else np.ones_like(errors))
    return float(np.sum(errors * weights) / np.sum(weights))


STEPS = 32  # ceil(1000 / 32): fit's default batch size of 32, the last batch holding 8


# ---------------------------------------------------------------- A first simple example

class CustomModel(Recording, keras.Model):
    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        return self.update_metrics(y, y_pred, loss)


def test_an_overridden_train_step_is_what_fit_runs_and_logs(capsys):
    model = build(CustomModel)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    x, y = random_data()
    history = model.fit(x, y, epochs=3, verbose=2)
    assert sorted(history.history) == ["loss", "mae"]
    assert history.params["steps"] == STEPS and len(model.batches) == 3 * STEPS
    for epoch in range(3):
        batches = model.epoch(epoch, STEPS)
        # The loss tracker averages the steps' losses; mae is the mean over the epoch's samples.
        assert history.history["loss"][epoch] == pytest.approx(unweighted_mean(batches), rel=1e-5)
        assert history.history["mae"][epoch] == pytest.approx(mean_absolute_error(batches), rel=1e-5)
    assert history.history["loss"][2] < history.history["loss"][0]
    # compute_loss is the compiled mse of the batch.
    first = model.batches[0]
    assert first["loss"] == pytest.approx(float(np.mean((first["y"] - first["y_pred"]) ** 2)), rel=1e-5)
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 3
    for line in printed:
        assert "loss: " in line and "mae: " in line and "val_" not in line


# ---------------------------------------------------------------- Going lower-level

class LowerLevelModel(Recording, keras.Model):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        self.record(y, y_pred, loss)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


def test_metrics_listed_by_the_model_are_reset_at_each_epoch_and_compile_needs_only_the_optimizer():
    model = build(LowerLevelModel)
    model.compile(optimizer="adam")
    assert model.metrics == [model.loss_tracker, model.mae_metric]
    x, y = random_data()
    history = model.fit(x, y, epochs=5, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]
    for epoch in range(5):
        # Reset at every epoch's start: each value covers that epoch's steps only.
        batches = model.epoch(epoch, STEPS)
        assert history.history["loss"][epoch] == pytest.approx(unweighted_mean(batches), rel=1e-5)
        assert history.history["mae"][epoch] == pytest.approx(mean_absolute_error(batches), rel=1e-5)
    assert history.history["loss"][-1] < history.history["loss"][0]


# ---------------------------------------------------------------- Supporting sample_weight & class_weight

class WeightedModel(Recording, keras.Model):
    def train_step(self, data):
        if len(data) == 3:
            x, y, sample_weight = data
        else:
            sample_weight = None
            x, y = data
        with keras.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        trainable_vars = self.trainable_variables
        gradients = tape.gradient(loss, trainable_vars)
        self.optimizer.apply(gradients, trainable_vars)
        return self.update_metrics(y, y_pred, loss, sample_weight=sample_weight)


class UnpackingModel(WeightedModel):
    """The same step, unpacking its data with keras.utils.unpack_x_y_sample_weight."""

    def train_step(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        return super().train_step((x, y) if sample_weight is None else (x, y, sample_weight))


def test_sample_weight_reaches_the_step_and_weights_the_loss_and_the_metrics():
    x, y, sw = random_data(seed=1, with_weights=True)
    histories = []
    for cls in (WeightedModel, UnpackingModel):
        model = build(cls)
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        history = model.fit(x, y, sample_weight=sw, epochs=3, verbose=0)
        assert sorted(history.history) == ["loss", "mae"]
        assert all(b["sample_weight"].shape == (len(b["y"]), 1) for b in model.batches)
        first = model.batches[0]
        # Each row's weight travels with it through fit's shuffling (the y values identify the rows).
        rows = [int(np.flatnonzero(y[:, 0] == value)[0]) for value in first["y"][:, 0]]
        np.testing.assert_array_equal(first["sample_weight"], sw[rows])
        # Keras's sum_over_batch_size: sum(squared error * weight) / batch size.
        squared = ((first["y"] - first["y_pred"]) ** 2).reshape(-1) * first["sample_weight"].reshape(-1)
        assert first["loss"] == pytest.approx(float(squared.sum() / 32), rel=1e-5)
        for epoch in range(3):
            batches = model.epoch(epoch, STEPS)
            assert history.history["loss"][epoch] == pytest.approx(unweighted_mean(batches), rel=1e-5)
            assert history.history["mae"][epoch] == pytest.approx(mean_absolute_error(batches, weighted=True),
                                                                  rel=1e-5)
        histories.append(history.history)
    assert histories[0] == histories[1]


def test_class_weight_arrives_as_the_steps_sample_weight():
    model = build(WeightedModel)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    x, _ = random_data(seed=2)
    labels = (x[:, :1] > 0.5).astype("float32")
    model.fit(x, labels, class_weight={0: 1.0, 1: 3.0}, epochs=1, verbose=0)
    assert len(model.batches) == STEPS
    for batch in model.batches:
        np.testing.assert_array_equal(batch["sample_weight"].reshape(-1), np.where(batch["y"][:, 0] > 0.5, 3.0, 1.0))


# ---------------------------------------------------------------- Providing your own evaluation step

class EvaluatingModel(Recording, keras.Model):
    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        return self.update_metrics(y, y_pred, loss)


def test_an_overridden_test_step_is_what_evaluate_runs_and_returns(capfd):
    model = build(EvaluatingModel)
    model.compile(loss="mse", metrics=["mae"])
    x, y = random_data(seed=3)
    loss, mae = model.evaluate(x, y)
    # verbose="auto": the progress bar over the 32 steps ends with the returned values.
    final = capfd.readouterr().out.replace("\r", "\n").strip().splitlines()[-1]
    assert final.startswith("32/32 [") and f"loss: {loss:.4f} - mae: {mae:.4f}" in final
    assert len(model.batches) == STEPS
    assert loss == pytest.approx(unweighted_mean(model.batches), rel=1e-5)
    assert mae == pytest.approx(mean_absolute_error(model.batches), rel=1e-5)
    # The model did not change: predictions over all rows give the same mae.
    assert mae == pytest.approx(float(np.mean(np.abs(model.predict(x, verbose=0) - y))), rel=1e-5)
    # evaluate() resets the metrics first: a second call returns the same values.
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert sorted(logs) == ["loss", "mae"]
    assert logs["loss"] == pytest.approx(loss, rel=1e-6) and logs["mae"] == pytest.approx(mae, rel=1e-6)
    assert capfd.readouterr().out == ""
    # Callbacks given to evaluate see the overridden test_step's batches (Keras's on_test_* hooks).
    class Seen(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.events = []

        def on_test_begin(self, logs=None):
            self.events.append("begin")

        def on_test_batch_end(self, batch, logs=None):
            self.events.append(batch)

        def on_test_end(self, logs=None):
            self.events.append(("end", sorted(logs)))

    seen = Seen()
    model.evaluate(x, y, verbose=0, callbacks=[seen, keras.callbacks.TerminateOnNaN()])
    assert seen.events == ["begin", *range(STEPS), ("end", ["loss", "mae"])]


# ---------------------------------------------------------------- Wrapping up: an end-to-end GAN example

class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)
        self.steps = []

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        received = type(real_images).__name__
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = ops.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors)
        combined_images = ops.concatenate([generated_images, real_images], axis=0)
        labels = ops.concatenate([ops.ones((batch_size, 1)), ops.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(ops.shape(labels), seed=self.seed_generator)

        with keras.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply(grads, self.discriminator.trainable_weights)

        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim), seed=self.seed_generator)
        misleading_labels = ops.zeros((batch_size, 1))
        with keras.GradientTape() as tape:
            predictions_of_fakes = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions_of_fakes)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply(grads, self.generator.trainable_weights)

        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        self.steps.append(dict(received=received, d_loss=float(d_loss), g_loss=float(g_loss),
                               labels=labels.numpy(), predictions=predictions.numpy()))
        return {
            "d_loss": self.d_loss_tracker.result(),
            "g_loss": self.g_loss_tracker.result(),
        }


def compiled_gan(latent_dim=128, width=None):
    """The guide's GAN, compiled as the guide does; `width` narrows its convolutions."""
    keras.utils.set_random_seed(7)
    widths = {} if width is None else dict(width=width)
    gan = GAN(discriminator=discriminator(**{k: v // 2 for k, v in widths.items()}),
              generator=generator(latent_dim=latent_dim, **widths), latent_dim=latent_dim)
    gan.compile(
        d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
        loss_fn=keras.losses.BinaryCrossentropy(from_logits=True),
    )
    return gan


def test_a_gan_with_its_own_compile_trains_with_fit_on_a_dataset():
    batch_size = 64
    dataset = keras.data.Dataset.from_tensor_slices(images(5 * batch_size)).shuffle(buffer_size=1024).batch(batch_size)
    gan = compiled_gan()
    assert gan.discriminator.count_params() == sum(DISCRIMINATOR_PARAMS)
    assert gan.generator.count_params() == sum(GENERATOR_PARAMS)
    assert gan.metrics == [gan.d_loss_tracker, gan.g_loss_tracker]
    discriminator_before, generator_before = gan.discriminator.get_weights(), gan.generator.get_weights()
    history = gan.fit(dataset.take(3), epochs=1, verbose=0)
    assert sorted(history.history) == ["d_loss", "g_loss"]
    assert history.params["steps"] == 3 and len(gan.steps) == 3
    assert [s["received"] for s in gan.steps] == ["Tensor"] * 3  # a dataset of images yields the batch itself
    for key in ("d_loss", "g_loss"):
        assert history.history[key][0] == pytest.approx(unweighted_mean(gan.steps, key), rel=1e-5)
    for step in gan.steps:
        assert step["d_loss"] == pytest.approx(binary_crossentropy_from_logits(step["labels"], step["predictions"]),
                                               rel=1e-5)
        labels = step["labels"]
        assert np.all((labels[:batch_size] >= 1.0) & (labels[:batch_size] < 1.05))
        assert np.all((labels[batch_size:] >= 0.0) & (labels[batch_size:] < 0.05))
    assert not np.array_equal(gan.discriminator.get_weights()[0], discriminator_before[0])
    assert not np.array_equal(gan.generator.get_weights()[0], generator_before[0])


def test_the_gans_seed_generator_makes_its_training_repeatable_and_arrays_arrive_as_a_tuple():
    runs = []
    for _ in range(2):
        gan = compiled_gan(latent_dim=16, width=16)
        history = gan.fit(images(48), batch_size=16, epochs=1, verbose=0)
        assert [s["received"] for s in gan.steps] == ["tuple"] * 3  # fit(x) with arrays: (x,) per step
        runs.append((history.history, gan.generator.get_weights()))
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)
