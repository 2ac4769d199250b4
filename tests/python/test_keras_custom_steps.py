"""Custom training steps as Keras 3 runs them (keras/src/trainers/trainer.py,
keras/src/backend/tensorflow/trainer.py): train_step / test_step / predict_step overrides honoured
by fit / evaluate / predict, compute_loss, self.metrics reset each epoch, compile() without a loss,
the tf.keras compiled_loss / compiled_metrics form, and the data each step receives."""
import numpy as np
import pytest

import pitfall as pf
from pitfall import layers

rng = np.random.default_rng(3)
X = rng.normal(size=(96, 6)).astype("float32")
W = rng.normal(size=(6, 1)).astype("float32")
Y = (X @ W + 0.1).astype("float32")


def functional(cls, seed=0, units=1):
    pf.utils.set_random_seed(seed)
    inputs = pf.Input((6,))
    return cls(inputs, layers.Dense(units)(inputs))


class KerasGuideStep(pf.Model):
    """The canonical Keras 3 train_step: compute_loss, optimizer.apply, self.metrics."""

    steps_seen = 0

    def train_step(self, data):
        x, y = data
        type(self).steps_seen += 1
        with pf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(gradients, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_an_overridden_train_step_is_what_fit_runs():
    model = functional(KerasGuideStep)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    KerasGuideStep.steps_seen = 0
    history = model.fit(X, Y, batch_size=32, epochs=3, verbose=0)
    assert KerasGuideStep.steps_seen == 3 * 3  # every batch of every epoch
    assert sorted(history.history) == ["loss", "mae"]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.params == {"verbose": 0, "epochs": 3, "steps": 3}
    names = [m.name for m in model.metrics]
    assert names == ["loss", "compile_metrics"]
    assert model.metrics_names == names


def test_super_train_step_is_the_engines_step_bit_for_bit():
    class Passthrough(pf.Model):
        def train_step(self, data):
            return super().train_step(data)

    plain, custom = functional(pf.Model), functional(Passthrough)
    for m in (plain, custom):
        m.compile(optimizer=pf.optimizers.SGD(learning_rate=0.05), loss="mse", metrics=["mae"])
    pf.utils.set_random_seed(7)
    h_plain = plain.fit(X, Y, batch_size=16, epochs=2, verbose=0)
    pf.utils.set_random_seed(7)
    h_custom = custom.fit(X, Y, batch_size=16, epochs=2, verbose=0)
    assert h_plain.history == h_custom.history
    for a, b in zip(plain.get_weights(), custom.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_metrics_listed_by_the_model_are_reset_at_every_epoch_and_compile_needs_no_loss():
    class OwnMetrics(pf.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = pf.metrics.Mean(name="loss")
            self.mae_metric = pf.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = pf.losses.MeanSquaredError()
            self.batch_losses = []

        def train_step(self, data):
            x, y = data
            with pf.GradientTape() as tape:
                loss = self.loss_fn(y, self(x, training=True))
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            self.batch_losses.append(float(loss))
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, self(x))
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    model = functional(OwnMetrics)
    model.compile(optimizer="adam")  # no loss: the step computes its own
    history = model.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    # Each epoch's loss is the mean of that epoch's 3 batch losses only (the tracker was reset).
    for epoch in range(2):
        expected = np.mean(model.batch_losses[3 * epoch:3 * epoch + 3])
        assert history.history["loss"][epoch] == pytest.approx(expected, rel=1e-6)


def test_sample_weight_reaches_train_step_as_the_third_element():
    seen = []

    class Weighted(pf.Model):
        def train_step(self, data):
            x, y, sample_weight = data
            seen.append(tuple(sample_weight.shape))
            with pf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
            self.optimizer.apply(tape.gradient(loss, self.trainable_variables), self.trainable_variables)
            reference = np.sum(np.asarray(sample_weight).reshape(-1) *
                               (np.asarray(y_pred) - np.asarray(y)).reshape(-1) ** 2) / len(np.asarray(y))
            assert float(loss) == pytest.approx(reference, rel=1e-5)
            return {"loss": loss}

    model = functional(Weighted)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(X, Y, sample_weight=rng.random((96, 1)).astype("float32"), batch_size=48, epochs=1, verbose=0)
    assert seen == [(48, 1), (48, 1)]
    # The same through a Dataset of (x, y, sample_weight) tuples.
    seen.clear()
    data = pf.data.Dataset.from_tensor_slices((X, Y, np.ones(96, "float32"))).batch(32)
    model.fit(data, epochs=1, verbose=0)
    assert seen == [(32,), (32,), (32,)]


def test_test_step_and_predict_step_overrides_drive_evaluate_and_predict():
    class Custom(pf.Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

        def predict_step(self, data):
            x, _, _ = pf.utils.unpack_x_y_sample_weight(data)
            return self(x, training=False) * 2.0

    model = functional(Custom)
    model.compile(loss="mse", metrics=["mae"])
    result = model.evaluate(X, Y, batch_size=96, return_dict=True, verbose=0)
    plain = model(X).numpy()
    assert sorted(result) == ["loss", "mae"]
    assert result["loss"] == pytest.approx(np.mean((plain - Y) ** 2), rel=1e-5)
    assert result["mae"] == pytest.approx(np.mean(np.abs(plain - Y)), rel=1e-5)
    np.testing.assert_allclose(model.predict(X, batch_size=40, verbose=0), 2 * plain, rtol=1e-6)


def test_gan_style_step_with_its_own_compile_and_a_dataset_of_x_only():
    class Pair(pf.Model):
        def __init__(self, generator, critic):
            super().__init__()
            self.generator, self.critic = generator, critic
            self.g_loss_tracker = pf.metrics.Mean(name="g_loss")
            self.d_loss_tracker = pf.metrics.Mean(name="d_loss")
            self.received = []

        @property
        def metrics(self):
            return [self.d_loss_tracker, self.g_loss_tracker]

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, real):
            self.received.append(type(real).__name__)
            batch = real.shape[0]
            noise = pf.random.normal((batch, 3), seed=len(self.received))
            fake = self.generator(noise)
            combined = pf.ops.concatenate([fake, real], axis=0)
            labels = np.concatenate([np.ones((batch, 1)), np.zeros((batch, 1))]).astype("float32")
            with pf.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.critic(combined))
            self.d_optimizer.apply(tape.gradient(d_loss, self.critic.trainable_weights), self.critic.trainable_weights)
            with pf.GradientTape() as tape:
                g_loss = self.loss_fn(np.zeros((batch, 1), "float32"), self.critic(self.generator(noise)))
            self.g_optimizer.apply(tape.gradient(g_loss, self.generator.trainable_weights),
                                   self.generator.trainable_weights)
            self.d_loss_tracker.update_state(d_loss)
            self.g_loss_tracker.update_state(g_loss)
            return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}

    pf.utils.set_random_seed(1)
    generator = pf.Sequential([pf.Input((3,)), layers.Dense(6)], name="generator")
    critic = pf.Sequential([pf.Input((6,)), layers.Dense(1)], name="critic")
    gan = Pair(generator, critic)
    gan.compile(d_optimizer=pf.optimizers.Adam(learning_rate=0.01), g_optimizer=pf.optimizers.Adam(learning_rate=0.01),
                loss_fn=pf.losses.BinaryCrossentropy(from_logits=True))
    critic_before = critic.get_weights()[0].copy()
    generator_before = generator.get_weights()[0].copy()
    history = gan.fit(pf.data.Dataset.from_tensor_slices(X).batch(32), epochs=2, verbose=0)
    assert sorted(history.history) == ["d_loss", "g_loss"]
    assert gan.received == ["Tensor"] * 6  # the batch itself, not a tuple
    assert not np.array_equal(critic_before, critic.get_weights()[0])
    assert not np.array_equal(generator_before, generator.get_weights()[0])


def test_an_overridden_compute_loss_is_used_by_the_default_step():
    class WithPenalty(pf.Model):
        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            return pf.ops.mean((y_pred - y) ** 2) + 10.0

    model = functional(WithPenalty)
    model.compile(optimizer="sgd", loss="mse")
    history = model.fit(X, Y, batch_size=96, epochs=1, verbose=0)
    before_step = np.mean((functional(pf.Model).predict(X, verbose=0) - Y) ** 2)
    assert history.history["loss"][0] == pytest.approx(before_step + 10.0, rel=1e-5)


def test_tf_keras_compiled_loss_and_compiled_metrics_form():
    class Legacy(pf.Model):
        def train_step(self, data):
            x, y = data
            with pf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
            self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_variables),
                                               self.trainable_variables))
            self.compiled_metrics.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    model = functional(Legacy)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    history = model.fit(X, Y, batch_size=32, epochs=2, verbose=0)
    assert "mae" in history.history


def test_callbacks_and_validation_run_with_a_custom_step():
    model = functional(KerasGuideStep)
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.0), loss="mse", metrics=["mae"])
    stopper = pf.callbacks.EarlyStopping(monitor="val_loss", patience=1)
    seen = []
    logger = pf.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(sorted(logs)))
    history = model.fit(X, Y, validation_split=0.25, batch_size=24, epochs=10, verbose=0, callbacks=[stopper, logger])
    # learning rate 0: val_loss never improves, so training stops after patience + 1 epochs.
    assert len(history.epoch) == 2 and stopper.stopped_epoch == 1 and stopper.best_epoch == 0
    assert seen[0] == ["loss", "mae", "val_loss", "val_mae"]
    prediction = model.predict(X[72:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(np.mean((prediction - Y[72:]) ** 2), rel=1e-5)


def test_fit_without_a_loss_or_trainable_weights_says_so():
    model = functional(pf.Model)
    model.compile(optimizer="adam")
    with pytest.raises(ValueError, match="no loss to compute"):
        model.fit(X, Y, epochs=1, verbose=0)
    frozen = functional(pf.Model)
    frozen.trainable = False
    frozen.compile(optimizer="adam", loss="mse")
    before = frozen.get_weights()
    with pytest.warns(pf.PitfallWarning, match="trainable weights"):
        frozen.fit(X, Y, epochs=1, verbose=0)
    for a, b in zip(before, frozen.get_weights()):
        np.testing.assert_array_equal(a, b)
