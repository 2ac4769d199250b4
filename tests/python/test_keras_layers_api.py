"""Layers, variables, freezing, serialization and callbacks as Keras 3 defines them
(keras/src/layers/layer.py, keras/src/saving/object_registration.py, keras/src/callbacks/)."""
import math

import numpy as np
import pytest

import pitfall as pf
from pitfall import layers

rng = np.random.default_rng(11)
X = rng.normal(size=(64, 5)).astype("float32")
Y = rng.normal(size=(64, 1)).astype("float32")


# ---------------------------------------------------------------- variables and add_loss

class Linear(layers.Layer):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        return pf.ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units)
        return config


def test_add_weight_returns_the_layers_own_variable():
    layer = Linear(3)
    layer(X)
    assert layer.weights == [layer.w, layer.b]
    assert layer.trainable_weights[0] is layer.w and layer.variables[1] is layer.b
    assert isinstance(layer.w, pf.Variable) and layer.w.trainable
    layer.w.assign(np.ones((5, 3), "float32"))
    layer.b.assign_add(np.full(3, 2.0, "float32"))
    layer.b.assign_sub(np.full(3, 0.5, "float32"))
    np.testing.assert_allclose(layer(X).numpy(), np.repeat(X.sum(1, keepdims=True) + 1.5, 3, axis=1), rtol=1e-5)
    np.testing.assert_array_equal(layer.get_weights()[1], np.full(3, 1.5, "float32"))
    np.testing.assert_array_equal(layer.w.numpy(), np.ones((5, 3)))
    frozen = layer.add_weight(shape=(2,), initializer="ones", trainable=False, name="count")
    assert any(v is frozen for v in layer.non_trainable_weights)
    assert not any(v is frozen for v in layer.trainable_weights)
    with pytest.raises(NotImplementedError, match="constraint"):
        layer.add_weight(shape=(2,), constraint=lambda w: w)
    # The legacy positional form (shape, initializer, dtype).
    legacy = layer.add_weight((4,), "zeros", "float64", name="legacy")
    assert legacy.dtype == "float64" and tuple(legacy.shape) == (4,)


def test_built_in_layer_weights_keep_their_identity_and_are_written_by_assign():
    dense = layers.Dense(2)
    dense(X)
    kernel = dense.kernel
    assert dense.weights[0] is kernel and dense.trainable_weights[0] is kernel
    kernel.assign(np.zeros((5, 2), "float32"))
    np.testing.assert_array_equal(dense(X).numpy(), np.zeros((64, 2)))


class ActivityPenalty(layers.Layer):
    def __init__(self, rate=0.1, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * pf.ops.mean(pf.ops.square(inputs)))
        return inputs


def test_add_loss_is_reset_at_each_call_and_added_to_the_compiled_loss():
    penalty = ActivityPenalty(0.5)
    penalty(X)
    penalty(X)
    assert len(penalty.losses) == 1  # the second call replaced the first call's term
    inputs = pf.Input((5,))
    hidden = penalty(layers.Dense(4)(inputs))
    model = pf.Model(inputs, layers.Dense(1)(hidden))
    model.compile(optimizer="sgd", loss="mse")
    total = model.evaluate(X, Y, batch_size=64, verbose=0)
    hidden_values = model.layers[1](X).numpy()
    expected = np.mean((model.predict(X, verbose=0) - Y) ** 2) + 0.5 * np.mean(hidden_values ** 2)
    assert total == pytest.approx(expected, rel=1e-5)
    # add_loss alone (compile without a loss) is what training minimizes.
    alone = pf.Model(inputs, layers.Dense(1)(hidden))
    alone.compile(optimizer=pf.optimizers.SGD(learning_rate=0.5))
    history = alone.fit(X, Y, epochs=5, verbose=0)
    assert history.history["loss"][-1] < 0.5 * history.history["loss"][0]


# ---------------------------------------------------------------- freezing and modes

def test_trainable_on_a_model_reaches_its_nested_layers_and_models():
    inner = pf.Sequential([pf.Input((5,)), layers.Dense(3), layers.BatchNormalization()], name="inner")
    inputs = pf.Input((5,))
    outer = pf.Model(inputs, layers.Dense(1)(inner(inputs)))
    outer.trainable = False
    assert not inner.trainable and all(not l.trainable for l in inner.layers)
    assert outer.trainable_weights == []
    outer.trainable = True
    assert len(outer.trainable_weights) == 2 + 2 + 2  # dense, batch-norm gamma/beta, head
    inner.trainable = False
    assert len(outer.trainable_weights) == 2


def test_a_base_model_called_with_training_false_stays_in_inference_in_fit():
    # Keras's transfer-learning recipe: base(x, training=False) keeps BatchNormalization in
    # inference mode even after the base is unfrozen for fine-tuning.
    base = pf.Sequential([pf.Input((5,)), layers.Dense(4), layers.BatchNormalization()], name="base")
    base.trainable = False
    inputs = pf.Input((5,))
    model = pf.Model(inputs, layers.Dense(1)(base(inputs, training=False)))
    moving_mean = base.layers[1].get_weights()[2].copy()
    model.compile(optimizer="adam", loss="mse")
    model.fit(X, Y, epochs=1, verbose=0)
    base.trainable = True
    model.compile(optimizer="adam", loss="mse")
    kernel = base.layers[0].get_weights()[0].copy()
    model.fit(X, Y, epochs=2, verbose=0)
    np.testing.assert_array_equal(base.layers[1].get_weights()[2], moving_mean)  # statistics frozen
    assert not np.array_equal(base.layers[0].get_weights()[0], kernel)  # weights fine-tuned
    # Without training=False the statistics move.
    free_base = pf.Sequential([pf.Input((5,)), layers.Dense(4), layers.BatchNormalization()])
    free = pf.Model(inputs, layers.Dense(1)(free_base(inputs)))
    free.compile(optimizer="adam", loss="mse")
    before = free_base.layers[1].get_weights()[2].copy()
    free.fit(X, Y, epochs=1, verbose=0)
    assert not np.array_equal(free_base.layers[1].get_weights()[2], before)


def test_the_training_flag_of_a_call_survives_get_config_and_save(tmp_path):
    base = pf.Sequential([pf.Input((5,)), layers.BatchNormalization()], name="frozen_base")
    inputs = pf.Input((5,))
    model = pf.Model(inputs, layers.Dense(1)(base(inputs, training=False)))
    call = next(l for l in model.get_config()["layers"] if l["name"] == "frozen_base")["inbound_nodes"][0]
    assert call["kwargs"] == {"training": False}
    model.save(str(tmp_path / "m.pitfall"))
    loaded = pf.models.load_model(str(tmp_path / "m.pitfall"))
    loaded.compile(optimizer="adam", loss="mse")
    statistics = loaded.get_layer("frozen_base").layers[0].get_weights()[2].copy()
    loaded.fit(X, Y, epochs=1, verbose=0)
    np.testing.assert_array_equal(loaded.get_layer("frozen_base").layers[0].get_weights()[2], statistics)


# ---------------------------------------------------------------- serialization

def test_register_keras_serializable_makes_a_custom_layer_loadable_without_custom_objects(tmp_path):
    @pf.saving.register_keras_serializable(package="Tests")
    class Scaled(layers.Layer):
        def __init__(self, factor=2.0, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def call(self, inputs):
            return inputs * self.factor

        def get_config(self):
            config = super().get_config()
            config.update(factor=self.factor)
            return config

    assert pf.saving.get_registered_name(Scaled) == "Tests>Scaled"
    assert pf.saving.get_custom_objects()["Tests>Scaled"] is Scaled
    inputs = pf.Input((5,))
    model = pf.Model(inputs, Scaled(3.0)(layers.Dense(2)(inputs)))
    path = str(tmp_path / "scaled.pitfall")
    model.save(path)
    loaded = pf.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)
    assert [l.factor for l in loaded.layers if type(l).__name__ == "Scaled"] == [3.0]
    with pytest.raises(ValueError, match="get_config"):
        pf.saving.register_keras_serializable()(type("NoConfig", (), {}))


def test_model_from_config_with_custom_objects_rebuilds_the_graph():
    inputs = pf.Input((5,))
    model = pf.Model(inputs, Linear(4, name="linear")(inputs))
    config = model.get_config()
    rebuilt = pf.Model.from_config(config, custom_objects={"Linear": Linear})
    assert [type(l).__name__ for l in rebuilt.layers] == ["InputLayer", "Linear"]
    assert rebuilt.get_layer("linear").units == 4
    assert rebuilt.get_config() == config
    with pf.saving.custom_object_scope({"Linear": Linear}):
        again = pf.Model.from_config(config)
    assert again.get_layer("linear").get_config() == model.get_layer("linear").get_config()
    layer_config = Linear(7, name="seven").get_config()
    assert Linear.from_config(layer_config).get_config() == layer_config
    entry = pf.saving.serialize_keras_object(pf.losses.Huber(delta=2.0))
    assert pf.saving.deserialize_keras_object(entry).get_config()["delta"] == 2.0


def test_load_model_with_custom_objects(tmp_path):
    inputs = pf.Input((5,))
    model = pf.Model(inputs, Linear(2, name="lin")(inputs))
    path = str(tmp_path / "lin.pitfall")
    model.save(path)
    loaded = pf.models.load_model(path, custom_objects={"Linear": Linear})
    np.testing.assert_allclose(loaded.predict(X, verbose=0), model.predict(X, verbose=0), rtol=1e-6)


# ---------------------------------------------------------------- callbacks

def linear_model(lr):
    pf.utils.set_random_seed(0)
    model = pf.Sequential([pf.Input((5,)), layers.Dense(1)])
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def test_early_stopping_reports_stopped_and_best_epoch_and_restores_the_best_weights():
    model = linear_model(0.0)
    stopper = pf.callbacks.EarlyStopping(monitor="loss", patience=2)
    history = model.fit(X, Y, epochs=20, verbose=0, shuffle=False, callbacks=[stopper])
    assert len(history.epoch) == 3 and stopper.stopped_epoch == 2 and stopper.best_epoch == 0
    assert stopper.wait == 2 and stopper.best == pytest.approx(history.history["loss"][0])
    model = linear_model(0.05)
    restore = pf.callbacks.EarlyStopping(monitor="loss", patience=50, restore_best_weights=True)
    model.fit(X, Y, epochs=4, verbose=0, callbacks=[restore])
    assert restore.stopped_epoch == 0 and restore.best_epoch == 3
    assert len(restore.best_weights) == 2


def test_lambda_callback_terminate_on_nan_learning_rate_scheduler_and_history_params():
    events = []
    hooks = pf.callbacks.LambdaCallback(
        on_train_begin=lambda logs: events.append("train_begin"),
        on_epoch_begin=lambda epoch, logs: events.append(f"epoch_begin {epoch}"),
        on_epoch_end=lambda epoch, logs: events.append(f"epoch_end {epoch} {sorted(logs)}"),
        on_train_end=lambda logs: events.append("train_end"))
    scheduler = pf.callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * (epoch + 1))
    model = linear_model(0.1)
    history = model.fit(X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[scheduler, hooks])
    assert events == ["train_begin", "epoch_begin 0", "epoch_end 0 ['learning_rate', 'loss']", "epoch_begin 1",
                      "epoch_end 1 ['learning_rate', 'loss']", "train_end"]
    assert history.history["learning_rate"] == pytest.approx([0.01, 0.02])
    assert history.params == {"verbose": 0, "epochs": 2, "steps": 4}
    diverging = linear_model(1e6)
    nan_history = diverging.fit(X * 1e3, Y, epochs=50, verbose=0, callbacks=[pf.callbacks.TerminateOnNaN()])
    assert len(nan_history.epoch) < 50
    assert not math.isfinite(nan_history.history["loss"][-1])
