"""The Keras surface from Python: layers, the three model kinds, compile/fit/evaluate/predict,
custom Python layers, losses, metrics and callbacks, and the error messages for bad input."""
import threading

import numpy as np
import pytest

import pitfall as pf


def data(n=96, features=8, classes=3, seed=0):
    rng = np.random.RandomState(seed)
    x = rng.randn(n, features).astype("float32")
    y = (np.abs(x[:, :classes]).argmax(1)).astype("int64")
    return x, y


def weights_of(model):
    return [np.asarray(w).copy() for w in model.get_weights()]


def assert_bitwise(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        assert u.tobytes() == v.tobytes()


# ------------------------------------------------------------------ the three model kinds


def build_sequential():
    return pf.Sequential([pf.layers.Dense(16, activation="relu", input_shape=(8,)), pf.layers.Dense(3)])


def build_functional():
    inputs = pf.Input(shape=(8,))
    hidden = pf.layers.Dense(16, activation="relu")(inputs)
    return pf.Model(inputs, pf.layers.Dense(3)(hidden))


class Subclassed(pf.Model):
    def __init__(self):
        super().__init__()
        self.hidden = pf.layers.Dense(16, activation="relu")
        self.out = pf.layers.Dense(3)

    def call(self, inputs, training=None):
        return self.out(self.hidden(inputs, training=training))


def trained_weights(build, epochs=2):
    pf.utils.set_random_seed(7)
    model = build()
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.05, momentum=0.9),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    x, y = data()
    history = model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return model, history, weights_of(model)


def test_sequential_functional_and_subclassed_train_to_bitwise_identical_weights():
    _, h1, seq = trained_weights(build_sequential)
    _, h2, fun = trained_weights(build_functional)
    _, h3, sub = trained_weights(Subclassed)
    assert_bitwise(seq, fun)
    assert_bitwise(seq, sub)
    assert h1.history == h2.history == h3.history
    assert set(h1.history) == {"loss", "accuracy"} and h1.epoch == [0, 1]
    assert h1.history["loss"][1] < h1.history["loss"][0]


def test_gradient_tape_loop_gives_the_weights_fit_gives():
    x, y = data()
    pf.utils.set_random_seed(3)
    fitted = build_sequential()
    fitted.compile(optimizer=pf.optimizers.SGD(0.1), loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
    fitted.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)

    pf.utils.set_random_seed(3)
    model = build_sequential()
    loss_fn = pf.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = pf.optimizers.SGD(0.1)
    for _ in range(2):
        for start in range(0, len(x), 32):
            xb, yb = x[start:start + 32], y[start:start + 32]
            with pf.GradientTape() as tape:
                loss = loss_fn(yb, model(xb, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
    assert_bitwise(weights_of(model), weights_of(fitted))


def test_functional_model_with_two_inputs_and_two_outputs():
    a, b = pf.Input(shape=(4,), name="a"), pf.Input(shape=(3,), name="b")
    merged = pf.layers.Concatenate()([pf.layers.Dense(5)(a), pf.layers.Dense(5)(b)])
    out1 = pf.layers.Dense(2, name="cls")(merged)
    out2 = pf.layers.Dense(1, name="reg")(merged)
    model = pf.Model(inputs=[a, b], outputs=[out1, out2])
    model.compile(optimizer="sgd", loss={"cls": pf.losses.SparseCategoricalCrossentropy(from_logits=True),
                                         "reg": "mse"}, loss_weights={"cls": 1.0, "reg": 0.5})
    rng = np.random.RandomState(1)
    xa, xb = rng.randn(40, 4).astype("float32"), rng.randn(40, 3).astype("float32")
    y1, y2 = rng.randint(0, 2, 40), rng.randn(40, 1).astype("float32")
    history = model.fit({"a": xa, "b": xb}, [y1, y2], epochs=2, verbose=0)
    assert {"loss", "cls_loss", "reg_loss"} <= set(history.history)
    p1, p2 = model.predict([xa, xb])
    assert p1.shape == (40, 2) and p2.shape == (40, 1)
    assert [l.name for l in model.layers][:2] == ["a", "b"]
    assert model.get_layer("reg").units == 1


def test_evaluate_predict_and_on_batch_methods():
    x, y = data()
    model = build_sequential()
    model.compile(optimizer="sgd", loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    loss, accuracy = model.evaluate(x, y, verbose=0)
    logits = model.predict(x, batch_size=10)
    assert isinstance(logits, np.ndarray) and logits.shape == (96, 3)
    expected_accuracy = np.mean(logits.argmax(1) == y)
    assert accuracy == pytest.approx(expected_accuracy, abs=1e-12)
    shifted = logits - logits.max(1, keepdims=True)
    reference = np.mean(np.log(np.exp(shifted).sum(1)) - shifted[np.arange(96), y])
    assert loss == pytest.approx(reference, rel=1e-5)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}
    assert np.array_equal(model.predict_on_batch(x[:10]), logits[:10])  # the same rows in one batch
    before = weights_of(model)
    model.train_on_batch(x[:16], y[:16])
    assert any(not np.array_equal(a, b) for a, b in zip(before, weights_of(model)))


def test_get_set_weights_and_configs_round_trip():
    model = build_functional()
    weights = weights_of(model)
    assert [w.shape for w in weights] == [(8, 16), (16,), (16, 3), (3,)]
    model.set_weights([w * 0 + 1 for w in weights])
    assert all(np.all(w == 1) for w in weights_of(model))
    with pytest.raises(ValueError, match="shape"):
        model.set_weights([np.zeros((2, 2))] + weights[1:])
    dense = pf.layers.Dense(4, activation="relu", kernel_regularizer=pf.regularizers.L2(0.1), name="d")
    clone = pf.layers.Dense.from_config(dense.get_config())
    assert clone.get_config() == dense.get_config()
    assert dense.get_config()["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.1}}


# ------------------------------------------------------------------ custom Python layers


class Scale(pf.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, inputs, training=None):
        self.last_training = training
        return inputs * self.w * self.factor

    def get_config(self):
        config = super().get_config()
        config.update({"factor": self.factor})
        return config


def test_python_layer_trains_inside_sequential_and_functional_models():
    x, y = data()
    for kind in ("sequential", "functional"):
        scale = Scale(2.0)
        if kind == "sequential":
            model = pf.Sequential([pf.Input(shape=(8,)), scale, pf.layers.Dense(3)])
        else:
            inputs = pf.Input(shape=(8,))
            model = pf.Model(inputs, pf.layers.Dense(3)(scale(inputs)))
        assert scale.name.startswith("scale") and scale.built
        model.compile(optimizer="sgd", loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
        before = np.asarray(scale.w).copy()
        model.fit(x, y, epochs=1, verbose=0)
        assert scale.last_training is True
        assert not np.array_equal(before, np.asarray(scale.w)), kind
        assert len(model.trainable_weights) == 3
        model.predict(x[:2])
        assert scale.last_training is False


def test_python_layer_config_round_trip_and_frozen_weights():
    layer = Scale(3.0, name="s", trainable=False)
    clone = Scale.from_config(layer.get_config())
    assert clone.factor == 3.0 and clone.name == "s" and not clone.trainable
    out = layer(np.ones((2, 4), "float32"))
    assert np.allclose(np.asarray(out), 3.0)
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1


def test_custom_layer_returning_numpy_names_the_layer_and_numpy():
    class NumpySin(pf.layers.Layer):  # seed 000's broken layer
        def call(self, inputs):
            return np.sin(inputs)

    model = pf.Sequential([NumpySin(name="numpy_sin"), pf.layers.Dense(2)])
    with pytest.raises(TypeError) as info:
        model(np.ones((2, 3), "float32"))
    message = str(info.value)
    assert "numpy_sin" in message and "NumpySin" in message and "NumPy" in message and "pf.ops" in message


def test_shape_error_inside_a_custom_layer_names_layer_and_shapes():
    class CustomLayer(pf.layers.Layer):  # seed 002's custom layer
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", trainable=True)

        def call(self, inputs):
            return pf.ops.matmul(inputs, self.w) + inputs[:, :2]

    with pytest.raises(ValueError) as info:
        CustomLayer(units=5)(pf.random.normal(shape=(32, 10)))
    message = str(info.value)
    assert "custom_layer" in message and "CustomLayer" in message
    assert "(32, 10)" in message and "(32, 5)" in message and "(32, 2)" in message


def test_custom_initializer_function_is_used_and_recorded():
    def bad_init(shape, dtype=None):  # seed 001's initializer
        return pf.random.normal(shape, mean=5, stddev=1, dtype=dtype, seed=1)

    layer = pf.layers.Dense(64, kernel_initializer=bad_init, input_shape=(10,))
    model = pf.Sequential([layer])
    kernel = np.asarray(model.layers[0].kernel)
    assert abs(kernel.mean() - 5) < 0.2 and abs(kernel.std() - 1) < 0.2
    assert layer.get_config()["kernel_initializer"]["class_name"] == "bad_init"


def test_seeded_initializer_draws_the_same_values_each_call():
    init = pf.initializers.GlorotUniform(seed=11)
    a, b = np.asarray(init((5, 4))), np.asarray(init((5, 4)))
    assert np.array_equal(a, b)
    limit = np.sqrt(6 / 9)
    assert np.all(np.abs(a) <= limit) and a.std() > limit / 4
    unseeded = pf.initializers.GlorotUniform()
    assert not np.array_equal(np.asarray(unseeded((5, 4))), np.asarray(unseeded((5, 4))))


# ------------------------------------------------------------------ losses, metrics, callbacks


def test_custom_loss_and_metric_functions():
    x, y = data()
    onehot = pf.utils.to_categorical(y, 3)
    seen = []

    def my_mse(y_true, y_pred):
        return pf.ops.mean(pf.ops.square(y_true - y_pred), axis=-1)

    def mean_pred(y_true, y_pred):
        seen.append(1)
        return pf.ops.mean(y_pred, axis=-1)

    model = build_sequential()
    model.compile(optimizer="sgd", loss=my_mse, metrics=[mean_pred])
    logs = model.evaluate(x, onehot, verbose=0, return_dict=True)
    prediction = model.predict(x)
    assert logs["loss"] == pytest.approx(np.mean((onehot - prediction) ** 2), rel=1e-5)
    assert logs["mean_pred"] == pytest.approx(prediction.mean(), rel=1e-5)
    assert seen


def test_python_callback_sees_every_epoch_and_can_stop_training():
    class Recorder(pf.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.events = []

        def on_epoch_end(self, epoch, logs=None):
            self.events.append((epoch, sorted(logs)))
            if epoch == 1:
                self.model.stop_training = True

    x, y = data()
    model = build_sequential()
    model.compile(optimizer="sgd", loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
    recorder = Recorder()
    history = model.fit(x, y, epochs=5, verbose=0, validation_split=0.25, callbacks=[recorder])
    assert recorder.events == [(0, ["loss", "val_loss"]), (1, ["loss", "val_loss"])]
    assert history.epoch == [0, 1]


def test_fit_releases_the_gil():
    x, y = data(n=4096, features=64)
    model = pf.Sequential([pf.layers.Dense(256, activation="relu", input_shape=(64,)), pf.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
    ticks, done = [0], threading.Event()

    def count():
        while not done.is_set():
            ticks[0] += 1

    thread = threading.Thread(target=count)
    thread.start()
    try:
        model.fit(x, y, epochs=2, batch_size=32, verbose=0)
    finally:
        done.set()
        thread.join()
    assert ticks[0] > 1000  # a thread holding the GIL for the whole fit would leave this near zero


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("make, match", [
    (lambda: pf.layers.Dense(3, unitz=4), "did you mean 'units'"),
    (lambda: pf.layers.Conv2D(8, 3, padding="same", stride=2), "did you mean 'strides'"),
    (lambda: pf.optimizers.SGD(lr=0.1), "did you mean 'learning_rate'"),
    (lambda: pf.layers.Dense(3, activation="rleu"), "relu"),
    (lambda: pf.layers.Dense(3, kernel_initializer="glorot_unifrom"), "glorot_uniform"),
    (lambda: pf.losses.get("sparse_categorical_crossentropi"), "sparse_categorical_crossentropy"),
    (lambda: pf.metrics.get("acuracy"), "accuracy"),
    (lambda: pf.layers.Dense(), "missing required argument 'units'"),
])
def test_unknown_identifiers_and_keywords_are_named(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_unknown_optimizer_string_suggests_adam():
    model = build_sequential()
    with pytest.raises(ValueError, match="did you mean 'adam'"):
        model.compile(optimizer="adamm", loss="mse")


def test_wrong_input_shape_for_a_built_model_names_both_shapes():
    model = build_sequential()
    with pytest.raises(ValueError) as info:
        model.predict(np.zeros((4, 9), "float32"))
    assert "(None, 8)" in str(info.value) and "(4, 9)" in str(info.value)


def test_label_and_loss_mismatches_name_the_loss_to_use():
    x, y = data()
    model = build_sequential()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.fit(x, y, epochs=1, verbose=0)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"y_true shape \(32,\) does not match y_pred shape \(32, 3\)"):
        model.fit(x, y.astype("float32"), epochs=1, verbose=0)


def test_model_constructor_rejects_unknown_keywords():
    with pytest.raises(TypeError, match="did you mean 'outputs'"):
        inputs = pf.Input(shape=(2,))
        pf.Model(inputs=inputs, output=pf.layers.Dense(1)(inputs))


def test_builtin_callbacks_from_python(tmp_path):
    x, y = data()
    model = build_sequential()
    model.compile(optimizer="sgd", loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
    epochs_seen, rates = [], []
    schedule = pf.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    lam = pf.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: epochs_seen.append(epoch))
    csv_path = tmp_path / "log.csv"
    logger = pf.callbacks.CSVLogger(str(csv_path))
    stopper = pf.callbacks.EarlyStopping(monitor="loss", patience=0, min_delta=10.0)

    class RateRecorder(pf.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rates.append(self.model.optimizer.learning_rate)

    history = model.fit(x, y, epochs=5, verbose=0, callbacks=[schedule, lam, logger, stopper, RateRecorder()])
    # min_delta=10 means no epoch ever improves: EarlyStopping stops after epoch 1 (patience 0).
    assert epochs_seen == [0, 1] and history.epoch == [0, 1]
    assert rates == pytest.approx([0.1, 0.05])
    rows = csv_path.read_text().strip().splitlines()
    assert rows[0].split(",")[0] == "epoch" and len(rows) == 3
    assert float(rows[1].split(",")[rows[0].split(",").index("loss")]) == pytest.approx(history.history["loss"][0])


# ------------------------------------------------------------------ saving


def test_save_and_load_model_round_trip_with_a_custom_layer(tmp_path):
    x, y = data()
    inputs = pf.Input(shape=(8,))
    outputs = pf.layers.Dense(3)(Scale(2.0)(pf.layers.Dense(8, activation="relu")(inputs)))
    model = pf.Model(inputs, outputs)
    model.compile(optimizer=pf.optimizers.SGD(0.05), loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "model.pitfall"
    model.save(str(path))
    with pytest.raises(TypeError, match="Could not locate class .Scale."):
        pf.models.load_model(path)
    loaded = pf.models.load_model(path, custom_objects={"Scale": Scale})
    assert np.array_equal(loaded.predict(x), model.predict(x))
    assert loaded.compiled and loaded.layers[2].factor == 2.0
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_save_weights_and_corrupted_files(tmp_path):
    model = build_sequential()
    path = tmp_path / "w.pitfall"
    model.save_weights(str(path))
    other = build_sequential()
    other.load_weights(str(path))
    assert_bitwise(weights_of(other), weights_of(model))
    data_bytes = bytearray(path.read_bytes())
    data_bytes[len(data_bytes) // 2] ^= 0x40
    path.write_bytes(bytes(data_bytes))
    with pytest.raises(Exception, match="checksum|corrupt"):
        other.load_weights(str(path))
    path.write_bytes(bytes(data_bytes[:40]))
    with pytest.raises(Exception, match="truncated"):
        other.load_weights(str(path))


def test_model_checkpoint_keeps_only_improvements(tmp_path):
    x, y = data()
    model = build_sequential()
    model.compile(optimizer=pf.optimizers.SGD(0.05), loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
    pattern = str(tmp_path / "ckpt-{epoch:02d}.pitfall")
    history = model.fit(x, y, epochs=3, verbose=0, validation_split=0.25,
                        callbacks=[pf.callbacks.ModelCheckpoint(pattern, save_best_only=True)])
    losses = history.history["val_loss"]
    improved = [i for i, v in enumerate(losses) if v < min(losses[:i], default=np.inf)]
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved == [f"ckpt-{i + 1:02d}.pitfall" for i in improved]


def test_unknown_keywords_of_model_methods_are_named_with_a_suggestion():
    model = pf.Sequential([pf.Input((3,)), pf.layers.Dense(1)])
    with pytest.raises(TypeError, match=r"Model\.compile\(\) got an unexpected keyword argument 'metric'; "
                                        r"did you mean metrics=\?"):
        model.compile(optimizer="sgd", loss="mse", metric=["mae"])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.zeros((4, 3), np.float32), np.zeros((4, 1), np.float32)
    with pytest.raises(TypeError, match=r"Model\.fit\(\) got an unexpected keyword argument 'epoch'; did you mean epochs="):
        model.fit(x, y, epoch=2, verbose=0)
    with pytest.raises(TypeError, match=r"Model\.predict\(\).*'batchsize'.*batch_size="):
        model.predict(x, batchsize=2)
    assert model.fit(x, y, epochs=1, verbose=0).history["loss"]  # the right keywords still work
    assert model.fit.__name__ == "fit"


def test_metrics_compiled_by_name_are_logged_under_that_name_as_keras_does():
    # keras/src/trainers/compile_utils.py get_metric: metric_obj.name = the string given to compile.
    rng = np.random.default_rng(0)
    x = rng.random((64, 4), dtype=np.float32)
    y = x.sum(axis=1, keepdims=True)
    model = pf.Sequential([pf.Input((4,)), pf.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse",
                  metrics=["mae", "mean_squared_error", "MeanAbsoluteError", pf.metrics.MeanSquaredError(name="m2")])
    history = model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y))
    assert set(history.history) == {"loss", "mae", "mean_squared_error", "MeanAbsoluteError", "m2", "val_loss",
                                    "val_mae", "val_mean_squared_error", "val_MeanAbsoluteError", "val_m2"}
    # The renamed metric is the same metric: mae here equals the mean absolute error of the predictions.
    evaluated = model.evaluate(x, y, verbose=0, return_dict=True)
    expected_mae = float(np.mean(np.abs(model.predict(x, verbose=0) - y)))
    assert evaluated["mae"] == pytest.approx(expected_mae, rel=1e-5)
    assert evaluated["MeanAbsoluteError"] == evaluated["mae"]
    # pf.metrics.get keeps Keras's metrics.get naming: the class's default name.
    assert pf.metrics.get("mae").name == "mean_absolute_error"
