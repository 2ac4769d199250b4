"""The behaviours keras-io's guide "Training & evaluation with the built-in methods"
(guides/training_with_built_in_methods.py) demonstrates, section by section, with the calls a reader
makes. Only the imports change: ``import keras`` -> ``import pitfall as keras``, ``from keras import
layers, ops`` -> ``from pitfall import layers, ops``, ``tf.data.Dataset`` -> ``keras.data.Dataset``;
the PyTorch DataLoader section uses torch itself. Data: Fashion-MNIST subsets (the guide uses MNIST)
and generated arrays of the guide's shapes, small enough for seconds per test."""
import os
import struct

import numpy as np
import pytest

import pitfall as keras
from pitfall import layers, ops


def mnist_like(n_train=2000, n_val=500, n_test=500):
    (x_train, y_train), (x_test, y_test) = keras.datasets.fashion_mnist.load_data()
    x_train = x_train[:n_train + n_val].reshape(-1, 784).astype("float32") / 255
    y_train = y_train[:n_train + n_val].astype("float32")
    x_test = x_test[:n_test].reshape(-1, 784).astype("float32") / 255
    y_test = y_test[:n_test].astype("float32")
    # The guide's holdout: the last samples of the training arrays.
    return x_train[:-n_val], y_train[:-n_val], x_train[-n_val:], y_train[-n_val:], x_test, y_test


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def sparse_crossentropy(probabilities, labels):
    picked = np.take_along_axis(probabilities, labels.astype(np.int64)[:, None], axis=1)[:, 0]
    return float(np.mean(-np.log(np.clip(picked, 1e-7, 1 - 1e-7))))


# ---------------------------------------------------------------- API overview


def test_a_first_end_to_end_example():
    keras.utils.set_random_seed(1)
    x_train, y_train, x_val, y_val, x_test, y_test = mnist_like()
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(), loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_data=(x_val, y_val), verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]
    assert all(len(v) == 2 for v in history.history.values())
    assert history.history["loss"][1] < history.history["loss"][0]
    results = model.evaluate(x_test, y_test, batch_size=128, verbose=0)
    assert len(results) == 2 and results[1] > 0.6  # test loss, test acc
    predictions = model.predict(x_test[:3], verbose=0)
    assert predictions.shape == (3, 10)
    np.testing.assert_allclose(predictions.sum(axis=1), 1.0, rtol=1e-5)  # softmax probabilities
    assert results[0] == pytest.approx(sparse_crossentropy(model.predict(x_test, verbose=0), y_test), rel=1e-4)


def test_compile_takes_objects_or_string_identifiers():
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    assert model.optimizer.learning_rate == pytest.approx(1e-3)
    model = get_compiled_model()
    assert isinstance(model.optimizer, keras.optimizers.RMSprop)
    x_train, y_train, *_ = mnist_like(n_train=256, n_val=64)
    history = model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy"]


def test_the_built_in_optimizers_losses_and_metrics_the_guide_lists():
    assert [o.class_name for o in (keras.optimizers.SGD(momentum=0.9), keras.optimizers.RMSprop(),
                                   keras.optimizers.Adam())] == ["SGD", "RMSprop", "Adam"]
    y_true = np.array([[0.0, 1.0], [0.5, 0.5]], np.float32)
    y_pred = np.array([[0.2, 0.8], [0.6, 0.4]], np.float32)
    mse = float(keras.losses.MeanSquaredError()(y_true, y_pred))
    assert mse == pytest.approx(np.mean((y_true - y_pred) ** 2), rel=1e-6)
    t, p = np.clip(y_true, 1e-7, 1), np.clip(y_pred, 1e-7, 1)
    kld = float(keras.losses.KLDivergence()(y_true, y_pred))
    assert kld == pytest.approx(np.mean(np.sum(t * np.log(t / p), axis=-1)), rel=1e-5)
    cosine = float(keras.losses.CosineSimilarity()(y_true, y_pred))
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True)  # noqa: E731
    assert cosine == pytest.approx(-np.mean(np.sum(unit(y_true) * unit(y_pred), axis=-1)), rel=1e-5)
    labels, scores = np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.4, 0.6], np.float32)
    precision, recall, auc = keras.metrics.Precision(), keras.metrics.Recall(), keras.metrics.AUC()
    for metric in (precision, recall, auc):
        metric.update_state(labels, scores)
    assert float(precision.result()) == pytest.approx(0.5)  # threshold 0.5: TP 1, FP 1
    assert float(recall.result()) == pytest.approx(0.5)  # TP 1, FN 1
    assert float(auc.result()) == pytest.approx(0.75, abs=0.01)


# ---------------------------------------------------------------- custom losses and metrics


def one_hot_data(n=512):
    x_train, y_train, *_ = mnist_like(n_train=n, n_val=64)
    return x_train, y_train, ops.one_hot(y_train, num_classes=10)


def test_a_custom_loss_function():
    def custom_mean_squared_error(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    keras.utils.set_random_seed(2)
    x_train, y_train, y_train_one_hot = one_hot_data()
    np.testing.assert_array_equal(np.asarray(y_train_one_hot), np.eye(10, dtype=np.float32)[y_train.astype(int)])
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=custom_mean_squared_error)
    history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    expected = np.mean((np.asarray(y_train_one_hot) - model.predict(x_train, verbose=0)) ** 2)
    assert model.evaluate(x_train, y_train_one_hot, verbose=0) == pytest.approx(expected, rel=1e-4)


class CustomMSE(keras.losses.Loss):
    def __init__(self, regularization_factor=0.1, name="custom_mse"):
        super().__init__(name=name)
        self.regularization_factor = regularization_factor

    def call(self, y_true, y_pred):
        mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
        reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
        return mse + reg * self.regularization_factor


def test_a_loss_subclass_with_a_parameter():
    keras.utils.set_random_seed(3)
    x_train, _, y_train_one_hot = one_hot_data()
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.Adam(), loss=CustomMSE())
    history = model.fit(x_train, y_train_one_hot, batch_size=64, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    p, t = model.predict(x_train, verbose=0), np.asarray(y_train_one_hot)
    expected = np.mean(np.mean((t - p) ** 2, -1) + 0.1 * np.mean((0.5 - p) ** 2, -1))
    assert model.evaluate(x_train, y_train_one_hot, verbose=0) == pytest.approx(expected, rel=1e-4)


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0)


def test_a_custom_metric_counts_correct_predictions_and_resets_each_epoch():
    keras.utils.set_random_seed(4)
    x_train, y_train, _, _, x_test, y_test = mnist_like(n_train=1000)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=[CategoricalTruePositives()])
    history = model.fit(x_train, y_train, batch_size=64, epochs=3, verbose=0)
    counts = history.history["categorical_true_positives"]
    # The guide's update_state compares labels of shape (batch,) with predictions reshaped to
    # (batch, 1): the comparison broadcasts to (batch, batch), as it does in Keras, so the metric
    # counts matching (prediction, label) pairs within each batch, at most 64 * 64 per batch.
    # Reset at each epoch start: no epoch's count includes the previous one's.
    assert len(counts) == 3 and all(0 < c <= 16 * 64 * 64 for c in counts) and counts[2] < 1.5 * counts[0]
    loss, true_positives = model.evaluate(x_test, y_test, verbose=0)
    predicted = model.predict(x_test, verbose=0).argmax(1)
    expected = sum(np.sum(y_test[i:i + 32][None, :].astype(int) == predicted[i:i + 32][:, None])
                   for i in range(0, len(y_test), 32))
    assert true_positives == expected
    # With labels shaped like the reshaped predictions it counts correct predictions.
    metric = CategoricalTruePositives()
    metric.update_state(y_test.reshape(-1, 1), model.predict(x_test, verbose=0))
    assert float(metric.result()) == np.sum(predicted == y_test)
    metric.reset_state()
    assert float(metric.result()) == 0.0


# ---------------------------------------------------------------- add_loss


class ActivityRegularizationLayer(layers.Layer):
    def call(self, inputs):
        self.add_loss(ops.sum(inputs) * 0.1)
        return inputs  # Pass-through layer.


def log_softmax_crossentropy(logits, labels):
    shifted = logits - logits.max(1, keepdims=True)
    log_p = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return float(-np.mean(log_p[np.arange(len(labels)), labels.astype(int)]))


def test_a_layer_adds_a_regularization_loss_to_the_main_loss():
    keras.utils.set_random_seed(5)
    x_train, y_train, *_ = mnist_like(n_train=512, n_val=64)
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = ActivityRegularizationLayer()(x)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    batch = x_train[:256]
    activations = keras.Model(inputs, model.get_layer("dense_1").output).predict(batch, verbose=0)
    crossentropy = log_softmax_crossentropy(model.predict(batch, verbose=0), y_train[:256])
    # One batch: the displayed loss is the crossentropy plus the layer's term.
    loss = model.evaluate(batch, y_train[:256], batch_size=256, verbose=0)
    assert loss == pytest.approx(crossentropy + 0.1 * activations.sum(), rel=1e-4)
    assert loss > 10 * crossentropy  # "much higher than before"
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]  # the penalty is minimised too


class LogisticEndpoint(keras.layers.Layer):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

    def call(self, targets, logits, sample_weights=None):
        loss = self.loss_fn(targets, logits, sample_weights)
        self.add_loss(loss)
        return ops.softmax(logits)


def test_a_model_trained_only_by_add_loss_compiles_without_a_loss():
    keras.utils.set_random_seed(6)
    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = keras.layers.Dense(10)(inputs)
    predictions = LogisticEndpoint(name="predictions")(targets, logits)
    model = keras.Model(inputs=[inputs, targets], outputs=predictions)
    model.compile(optimizer="adam")  # No loss argument!
    rng = np.random.default_rng(0)
    data = {"inputs": rng.random((3, 3)).astype("float32"), "targets": rng.random((3, 10)).astype("float32")}
    dense = next(l for l in model.layers if isinstance(l, layers.Dense))
    kernel, bias = (np.asarray(w) for w in dense.weights)
    z = data["inputs"] @ kernel + bias
    t = data["targets"]
    expected = np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))
    assert model.evaluate(data, verbose=0) == pytest.approx(expected, rel=1e-5)
    history = model.fit(data, epochs=5, verbose=0)
    assert list(history.history) == ["loss"]
    assert history.history["loss"][0] == pytest.approx(expected, rel=1e-5)
    assert history.history["loss"][-1] < history.history["loss"][0]
    out = model.predict(data, verbose=0)
    np.testing.assert_allclose(out.sum(1), 1.0, rtol=1e-5)  # the inference output: softmax(logits)


# ---------------------------------------------------------------- validation holdout


def test_validation_split_holds_out_the_last_samples_before_shuffling():
    keras.utils.set_random_seed(7)
    x_train, y_train, *_ = mnist_like(n_train=1000, n_val=64)
    model = get_compiled_model()
    history = model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1, verbose=0)
    held_out = model.evaluate(x_train[800:], y_train[800:], verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(held_out[0], rel=1e-5)
    assert history.history["val_sparse_categorical_accuracy"][0] == pytest.approx(held_out[1], rel=1e-6)


# ---------------------------------------------------------------- Datasets


def datasets(x_train, y_train, x_val, y_val):
    train_dataset = keras.data.Dataset.from_tensor_slices((x_train, y_train))
    train_dataset = train_dataset.shuffle(buffer_size=1024).batch(64)
    val_dataset = keras.data.Dataset.from_tensor_slices((x_val, y_val)).batch(64)
    return train_dataset, val_dataset


def test_fit_evaluate_and_predict_on_datasets():
    keras.utils.set_random_seed(8)
    x_train, y_train, _, _, x_test, y_test = mnist_like()
    model = get_compiled_model()
    train_dataset, test_dataset = datasets(x_train, y_train, x_test, y_test)
    history = model.fit(train_dataset, epochs=3, verbose=0)
    assert history.history["loss"][2] < history.history["loss"][0]
    result = model.evaluate(test_dataset, verbose=0)
    # Keras 3 names the compiled metrics as one entry.
    assert model.metrics_names == ["loss", "compile_metrics"]
    named = dict(zip(model.metrics_names, result))
    assert named["compile_metrics"] > 0.6
    np.testing.assert_allclose(result, model.evaluate(x_test, y_test, verbose=0), rtol=1e-5)
    assert model.predict(test_dataset, verbose=0).shape == (len(x_test), 10)


def test_steps_per_epoch_limits_each_epoch():
    keras.utils.set_random_seed(9)
    x_train, y_train, *_ = mnist_like()
    model = get_compiled_model()
    train_dataset, _ = datasets(x_train, y_train, x_train[:1], y_train[:1])
    seen = []

    class CountBatches(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(0)

        def on_train_batch_end(self, batch, logs=None):
            seen[-1] += 1

    model.fit(train_dataset.repeat(), epochs=3, steps_per_epoch=10, callbacks=[CountBatches()], verbose=0)
    assert seen == [10, 10, 10]
    assert model.optimizer.iterations == 30


def test_a_validation_dataset_and_validation_steps():
    keras.utils.set_random_seed(10)
    x_train, y_train, x_val, y_val, *_ = mnist_like(n_val=1000)
    train_dataset, val_dataset = datasets(x_train, y_train, x_val, y_val)
    model = get_compiled_model()
    history = model.fit(train_dataset, epochs=1, validation_data=val_dataset, verbose=0)
    full = model.evaluate(val_dataset, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(full[0], rel=1e-5)
    model = get_compiled_model()
    history = model.fit(train_dataset, epochs=1, validation_data=val_dataset, validation_steps=10, verbose=0)
    first_ten = model.evaluate(x_val[:640], y_val[:640], batch_size=64, verbose=0)  # always the same samples
    assert history.history["val_loss"][0] == pytest.approx(first_ten[0], rel=1e-5)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(train_dataset, epochs=1, validation_split=0.2, verbose=0)


# ---------------------------------------------------------------- PyDataset


class ExamplePyDataset(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x = x
        self.y = y
        self.batch_size = batch_size
        self.epochs_ended = 0

    def __len__(self):
        return int(np.ceil(len(self.x) / float(self.batch_size)))

    def __getitem__(self, idx):
        batch_x = self.x[idx * self.batch_size: (idx + 1) * self.batch_size]
        batch_y = self.y[idx * self.batch_size: (idx + 1) * self.batch_size]
        return batch_x, batch_y

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_fit_and_evaluate_on_a_py_dataset():
    keras.utils.set_random_seed(11)
    x_train, y_train, x_val, y_val, *_ = mnist_like()
    train_py_dataset = ExamplePyDataset(x_train, y_train, batch_size=32)
    val_py_dataset = ExamplePyDataset(x_val, y_val, batch_size=32)
    assert len(train_py_dataset) == 63 and train_py_dataset.workers == 1
    model = get_compiled_model()
    with pytest.warns(UserWarning, match="batch_size=64 is not used"):
        history = model.fit(train_py_dataset, batch_size=64, validation_data=val_py_dataset, epochs=2, verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]
    assert history.history["loss"][1] < history.history["loss"][0]
    assert model.optimizer.iterations == 2 * 63
    assert train_py_dataset.epochs_ended == 2 and val_py_dataset.epochs_ended == 2  # after each epoch / pass
    result = model.evaluate(val_py_dataset, verbose=0)
    np.testing.assert_allclose(result, model.evaluate(x_val, y_val, batch_size=32, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(model.predict(val_py_dataset, verbose=0), model.predict(x_val, verbose=0))
    with pytest.raises(ValueError, match="`y` should not be passed"):
        model.fit(train_py_dataset, y_train, verbose=0)


def test_py_dataset_workers_read_ahead_in_threads_with_the_same_result():
    x_train, y_train, x_val, y_val, *_ = mnist_like(n_train=640)
    weights = []
    for workers in (1, 4):
        keras.utils.set_random_seed(12)
        train_py_dataset = ExamplePyDataset(x_train, y_train, batch_size=32, workers=workers)
        val_py_dataset = ExamplePyDataset(x_val, y_val, batch_size=32, workers=workers)
        model = get_compiled_model()
        model.fit(train_py_dataset, validation_data=val_py_dataset, epochs=1, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(NotImplementedError, match="use_multiprocessing=True"):
        ExamplePyDataset(x_train, y_train, batch_size=32, use_multiprocessing=True)


def test_torch_dataloaders_train_and_evaluate():
    torch = pytest.importorskip("torch")

    class ExampleTorchDataset(torch.utils.data.Dataset):
        def __init__(self, x, y):
            self.x = x
            self.y = y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, idx):
            return self.x[idx], self.y[idx]

    keras.utils.set_random_seed(13)
    torch.manual_seed(13)
    x_train, y_train, x_val, y_val, *_ = mnist_like(n_train=1000)
    train_dataloader = torch.utils.data.DataLoader(ExampleTorchDataset(x_train, y_train), batch_size=32,
                                                   shuffle=True)
    val_dataloader = torch.utils.data.DataLoader(ExampleTorchDataset(x_val, y_val), batch_size=32, shuffle=True)
    model = get_compiled_model()
    with pytest.warns(UserWarning, match="batch_size=64 is not used"):
        history = model.fit(train_dataloader, batch_size=64, validation_data=val_dataloader, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert model.optimizer.iterations == 2 * 32
    result = model.evaluate(val_dataloader, verbose=0)
    np.testing.assert_allclose(result, model.evaluate(x_val, y_val, verbose=0), rtol=1e-5)


# ---------------------------------------------------------------- sample and class weights


def test_class_weight_and_sample_weight_weigh_the_same_samples():
    x_train, y_train, *_ = mnist_like(n_train=512, n_val=64)
    class_weight = {i: 1.0 for i in range(10)}
    class_weight[5] = 2.0  # class 5 twice as important
    sample_weight = np.ones(shape=(len(y_train),))
    sample_weight[y_train == 5] = 2.0

    def trained(**weighting):
        keras.utils.set_random_seed(14)
        model = get_compiled_model()
        model.fit(x_train, y_train, batch_size=64, epochs=1, verbose=0, **weighting)
        return model.get_weights()

    with_class_weight = trained(class_weight=class_weight)
    with_sample_weight = trained(sample_weight=sample_weight)
    unweighted = trained()
    for a, b in zip(with_class_weight, with_sample_weight):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    assert not np.allclose(with_class_weight[-1], unweighted[-1])


def test_a_dataset_yields_sample_weights_as_a_third_element():
    keras.utils.set_random_seed(15)
    x_train, y_train, *_ = mnist_like(n_train=512, n_val=64)
    sample_weight = np.ones(shape=(len(y_train),))
    sample_weight[y_train == 5] = 2.0
    model = get_compiled_model()
    initial = model.get_weights()
    train_dataset = keras.data.Dataset.from_tensor_slices((x_train, y_train, sample_weight)).batch(64)
    model.fit(train_dataset, epochs=1, verbose=0)
    from_dataset = model.get_weights()
    model = get_compiled_model()
    model.set_weights(initial)
    model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, shuffle=False, epochs=1, verbose=0)
    for a, b in zip(from_dataset, model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Weights of zero mask samples out of the loss entirely.
    mask = (y_train != 5).astype("float32")
    weighted = model.evaluate(x_train, y_train, sample_weight=mask, batch_size=512, verbose=0)[0]
    keep = y_train != 5
    expected = sparse_crossentropy(model.predict(x_train[keep], verbose=0), y_train[keep]) * keep.mean()
    assert weighted == pytest.approx(expected, rel=1e-4)


# ---------------------------------------------------------------- multi-input, multi-output


def multi_io_model():
    image_input = keras.Input(shape=(32, 32, 3), name="img_input")
    timeseries_input = keras.Input(shape=(None, 10), name="ts_input")
    x1 = layers.Conv2D(3, 3)(image_input)
    x1 = layers.GlobalMaxPooling2D()(x1)
    x2 = layers.Conv1D(3, 3)(timeseries_input)
    x2 = layers.GlobalMaxPooling1D()(x2)
    x = layers.concatenate([x1, x2])
    score_output = layers.Dense(1, name="score_output")(x)
    class_output = layers.Dense(5, name="class_output")(x)
    return keras.Model(inputs=[image_input, timeseries_input], outputs=[score_output, class_output])


def multi_io_data(n=100):
    rng = np.random.default_rng(16)
    img_data = rng.random((n, 32, 32, 3)).astype("float32")
    ts_data = rng.random((n, 20, 10)).astype("float32")
    score_targets = rng.random((n, 1)).astype("float32")
    class_targets = rng.random((n, 5)).astype("float32")
    return img_data, ts_data, score_targets, class_targets


def test_a_multi_input_multi_output_model_takes_per_output_losses_and_metrics():
    keras.utils.set_random_seed(16)
    model = multi_io_model()
    assert [tuple(t.shape) for t in model.inputs] == [(None, 32, 32, 3), (None, None, 10)]
    assert [tuple(t.shape) for t in model.outputs] == [(None, 1), (None, 5)]
    img_data, ts_data, score_targets, class_targets = multi_io_data()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=[keras.losses.MeanSquaredError(), keras.losses.CategoricalCrossentropy()],
                  metrics=[[keras.metrics.MeanAbsolutePercentageError(), keras.metrics.MeanAbsoluteError()],
                           [keras.metrics.CategoricalAccuracy()]])
    history = model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32, epochs=1, verbose=0)
    assert sorted(history.history) == sorted([
        "loss", "score_output_loss", "class_output_loss", "score_output_mean_absolute_percentage_error",
        "score_output_mean_absolute_error", "class_output_categorical_accuracy"])
    logs = model.evaluate([img_data, ts_data], [score_targets, class_targets], batch_size=100, return_dict=True,
                          verbose=0)
    score, classes = model.predict([img_data, ts_data], verbose=0)
    mape = 100 * np.mean(np.abs(score_targets - score) / np.maximum(np.abs(score_targets), 1e-7))
    assert logs["score_output_mean_absolute_percentage_error"] == pytest.approx(mape, rel=1e-4)
    assert logs["score_output_mean_absolute_error"] == pytest.approx(np.mean(np.abs(score_targets - score)), rel=1e-4)
    assert logs["loss"] == pytest.approx(logs["score_output_loss"] + logs["class_output_loss"], rel=1e-5)


def test_losses_metrics_and_loss_weights_by_output_name():
    keras.utils.set_random_seed(17)
    model = multi_io_model()
    img_data, ts_data, score_targets, class_targets = multi_io_data()
    model.compile(
        optimizer=keras.optimizers.RMSprop(1e-3),
        loss={"score_output": keras.losses.MeanSquaredError(),
              "class_output": keras.losses.CategoricalCrossentropy()},
        metrics={"score_output": [keras.metrics.MeanAbsolutePercentageError(), keras.metrics.MeanAbsoluteError()],
                 "class_output": [keras.metrics.CategoricalAccuracy()]},
        loss_weights={"score_output": 2.0, "class_output": 1.0})
    # Dicts of arrays, keyed by the input and output names.
    history = model.fit({"img_input": img_data, "ts_input": ts_data},
                        {"score_output": score_targets, "class_output": class_targets},
                        batch_size=32, epochs=1, verbose=0)
    assert "class_output_categorical_accuracy" in history.history
    logs = model.evaluate({"img_input": img_data, "ts_input": ts_data},
                          {"score_output": score_targets, "class_output": class_targets},
                          batch_size=100, return_dict=True, verbose=0)
    assert logs["loss"] == pytest.approx(2.0 * logs["score_output_loss"] + logs["class_output_loss"], rel=1e-5)
    # A Dataset of (inputs dict, targets dict) tuples.
    train_dataset = keras.data.Dataset.from_tensor_slices((
        {"img_input": img_data, "ts_input": ts_data},
        {"score_output": score_targets, "class_output": class_targets}))
    history = model.fit(train_dataset.shuffle(buffer_size=1024).batch(64), epochs=1, verbose=0)
    assert model.optimizer.iterations == 4 + 2


def test_outputs_without_a_loss_are_not_trained_by_it():
    model = multi_io_model()
    img_data, ts_data, score_targets, class_targets = multi_io_data()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss=[None, keras.losses.CategoricalCrossentropy()])
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"class_output": keras.losses.CategoricalCrossentropy()})
    score_kernel = np.asarray(model.get_layer("score_output").weights[0])
    history = model.fit([img_data, ts_data], [score_targets, class_targets], batch_size=32, epochs=1, verbose=0)
    assert "score_output_loss" not in history.history
    np.testing.assert_array_equal(np.asarray(model.get_layer("score_output").weights[0]), score_kernel)


# ---------------------------------------------------------------- callbacks


def test_early_stopping_stops_when_val_loss_stops_improving():
    keras.utils.set_random_seed(18)
    x_train, y_train, *_ = mnist_like(n_train=1000, n_val=64)
    model = get_compiled_model()
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2, verbose=1)]
    history = model.fit(x_train, y_train, epochs=20, batch_size=64, callbacks=callbacks, validation_split=0.2,
                        verbose=0)
    val_loss = history.history["val_loss"]
    # Keras's rule: an improvement is val_loss < best - min_delta; stop after `patience` epochs without one.
    best, wait, stop = np.inf, 0, 20
    for epoch, value in enumerate(val_loss):
        wait += 1
        if value < best - 1e-2:
            best, wait = value, 0
        if wait >= 2 and epoch > 0:
            stop = epoch + 1
            break
    assert len(val_loss) == stop < 20


def test_a_custom_callback_records_per_batch_losses():
    class LossHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    keras.utils.set_random_seed(19)
    x_train, y_train, *_ = mnist_like(n_train=640, n_val=64)
    model = get_compiled_model()
    history_callback = LossHistory()
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, callbacks=[history_callback], verbose=0)
    assert len(history_callback.per_batch_losses) == 20
    assert history_callback.per_batch_losses[9] == pytest.approx(history.history["loss"][0], rel=1e-6)


def test_model_checkpoint_saves_the_best_model_per_epoch(tmp_path):
    keras.utils.set_random_seed(20)
    x_train, y_train, *_ = mnist_like(n_train=640, n_val=64)
    model = get_compiled_model()
    callbacks = [keras.callbacks.ModelCheckpoint(filepath=str(tmp_path / "mymodel_{epoch}.keras"),
                                                 save_best_only=True, monitor="val_loss", verbose=1)]
    history = model.fit(x_train, y_train, epochs=2, batch_size=64, callbacks=callbacks, validation_split=0.2,
                        verbose=0)
    saved = sorted(os.listdir(tmp_path))
    improved = history.history["val_loss"][1] < history.history["val_loss"][0]
    assert saved == (["mymodel_1.keras", "mymodel_2.keras"] if improved else ["mymodel_1.keras"])
    restored = keras.models.load_model(str(tmp_path / saved[-1]))
    x_val = x_train[512:]
    if improved:
        np.testing.assert_array_equal(restored.predict(x_val, verbose=0), model.predict(x_val, verbose=0))


def test_checkpoints_every_n_batches_restore_training(tmp_path):
    checkpoint_dir = str(tmp_path / "ckpt")
    os.makedirs(checkpoint_dir)

    def make_or_restore_model():
        checkpoints = [os.path.join(checkpoint_dir, name) for name in os.listdir(checkpoint_dir)]
        if checkpoints:
            latest_checkpoint = max(checkpoints, key=os.path.getctime)
            return keras.models.load_model(latest_checkpoint)
        return get_compiled_model()

    keras.utils.set_random_seed(21)
    x_train, y_train, *_ = mnist_like(n_train=640, n_val=64)
    model = make_or_restore_model()
    callbacks = [keras.callbacks.ModelCheckpoint(
        filepath=os.path.join(checkpoint_dir, "model-loss={loss:.2f}.keras"), save_freq=10)]
    model.fit(x_train, y_train, epochs=1, callbacks=callbacks, verbose=0)  # 20 batches of 32
    saved = os.listdir(checkpoint_dir)
    assert len(saved) in (1, 2) and all(n.startswith("model-loss=") and n.endswith(".keras") for n in saved)
    restored = make_or_restore_model()
    np.testing.assert_array_equal(restored.predict(x_train[:8], verbose=0), model.predict(x_train[:8], verbose=0))
    assert restored.optimizer.iterations == 20  # the compiled state comes back too


# ---------------------------------------------------------------- learning rate schedules


def test_a_schedule_as_the_optimizer_learning_rate():
    initial_learning_rate = 0.1
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(
        initial_learning_rate, decay_steps=100000, decay_rate=0.96, staircase=True)
    optimizer = keras.optimizers.RMSprop(learning_rate=lr_schedule)
    assert float(lr_schedule(0)) == pytest.approx(0.1)
    assert float(lr_schedule(99999)) == pytest.approx(0.1)  # staircase: whole periods only
    assert float(lr_schedule(250000)) == pytest.approx(0.1 * 0.96 ** 2)
    assert optimizer.learning_rate == pytest.approx(0.1)
    for name in ("ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay"):
        assert hasattr(keras.optimizers.schedules, name)


def test_reduce_lr_on_plateau_changes_the_learning_rate_from_validation_loss():
    keras.utils.set_random_seed(22)
    x_train, y_train, *_ = mnist_like(n_train=320, n_val=64)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3), loss="sparse_categorical_crossentropy")
    # min_delta so large that no epoch counts as an improvement: the rate drops after each `patience` epochs.
    reduce = keras.callbacks.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=1, min_delta=100.0)
    history = model.fit(x_train, y_train, epochs=3, validation_split=0.2, callbacks=[reduce], verbose=0)
    assert model.optimizer.learning_rate < 1e-3
    assert history.history["learning_rate"][0] == pytest.approx(1e-3)


# ---------------------------------------------------------------- TensorBoard


def read_events(path):
    """(step, {tag: value}) of each scalar event in a TFRecord event file, checking the framing."""
    from pitfall._tensorboard import masked_crc32c

    def varint(data, pos):
        shift = value = 0
        while True:
            byte = data[pos]
            value |= (byte & 0x7F) << shift
            pos += 1
            shift += 7
            if not byte & 0x80:
                return value, pos

    def fields(data):
        pos = 0
        while pos < len(data):
            key, pos = varint(data, pos)
            number, wire = key >> 3, key & 7
            if wire == 0:
                value, pos = varint(data, pos)
            elif wire == 1:
                value, pos = data[pos:pos + 8], pos + 8
            elif wire == 5:
                value, pos = data[pos:pos + 4], pos + 4
            else:
                size, pos = varint(data, pos)
                value, pos = data[pos:pos + size], pos + size
            yield number, value

    blob = open(path, "rb").read()
    pos, events = 0, []
    while pos < len(blob):
        header = blob[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        assert struct.unpack("<I", blob[pos + 8:pos + 12])[0] == masked_crc32c(header)
        record = blob[pos + 12:pos + 12 + length]
        assert struct.unpack("<I", blob[pos + 12 + length:pos + 16 + length])[0] == masked_crc32c(record)
        pos += 16 + length
        event = dict(fields(record))
        values = {}
        for number, value in fields(event.get(5, b"")):
            entry = dict(fields(value))
            if 2 in entry:
                values[entry[1].decode()] = struct.unpack("<f", entry[2])[0]
        events.append((event.get(2, 0), event.get(3), values))
    return events


def test_tensorboard_writes_epoch_scalars_for_training_and_validation(tmp_path):
    from pitfall._tensorboard import crc32c
    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    keras.utils.set_random_seed(23)
    x_train, y_train, *_ = mnist_like(n_train=640, n_val=64)
    model = get_compiled_model()
    tensorboard = keras.callbacks.TensorBoard(log_dir=str(tmp_path), histogram_freq=0, embeddings_freq=0,
                                              update_freq="epoch")
    history = model.fit(x_train, y_train, epochs=2, batch_size=64, validation_split=0.2, callbacks=[tensorboard],
                        verbose=0)
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train_file, = os.listdir(tmp_path / "train")
    assert train_file.startswith("events.out.tfevents.") and train_file.endswith(".v2")
    train = read_events(str(tmp_path / "train" / train_file))
    assert train[0][1] == b"brain.Event:2"
    epochs = [(step, values) for step, _, values in train if values]
    assert [step for step, _ in epochs] == [0, 1]
    for epoch, values in epochs:
        assert values["epoch_loss"] == pytest.approx(history.history["loss"][epoch], rel=1e-6)
        assert values["epoch_sparse_categorical_accuracy"] == pytest.approx(
            history.history["sparse_categorical_accuracy"][epoch], rel=1e-6)
        assert values["epoch_learning_rate"] == pytest.approx(1e-3)
    validation_file, = os.listdir(tmp_path / "validation")
    validation = [(s, v) for s, _, v in read_events(str(tmp_path / "validation" / validation_file)) if v]
    assert validation[0] == (0, pytest.approx({"epoch_loss": history.history["val_loss"][0],
                                               "epoch_sparse_categorical_accuracy":
                                                   history.history["val_sparse_categorical_accuracy"][0]}, rel=1e-6))
    # Then the evaluation at the optimizer's step (8 batches per epoch).
    assert validation[1][0] == 8 and "evaluation_loss_vs_iterations" in validation[1][1]


def test_tensorboard_batch_level_scalars_and_unsupported_summaries(tmp_path):
    keras.utils.set_random_seed(24)
    x_train, y_train, *_ = mnist_like(n_train=320, n_val=64)
    model = get_compiled_model()
    model.fit(x_train, y_train, epochs=1, batch_size=32,
              callbacks=[keras.callbacks.TensorBoard(log_dir=str(tmp_path), update_freq=4)], verbose=0)
    train_file, = os.listdir(tmp_path / "train")
    steps = [step for step, _, values in read_events(str(tmp_path / "train" / train_file)) if "batch_loss" in values]
    assert steps == [4, 8]  # every 4th of 10 batches
    with pytest.raises(NotImplementedError, match="histogram_freq=1"):
        keras.callbacks.TensorBoard(log_dir=str(tmp_path), histogram_freq=1)
    with pytest.raises(ValueError, match="profile_batch"):
        keras.callbacks.TensorBoard(log_dir=str(tmp_path), profile_batch=2)
