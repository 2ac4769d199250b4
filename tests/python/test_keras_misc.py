"""keras.utils / keras.preprocessing helpers, the confusion-count metrics, metric names, Metric,
Loss and Initializer subclasses written in Python, and inputs of any NumPy dtype."""
import numpy as np
import pytest

import pitfall as pf
from pitfall import layers

rng = np.random.default_rng(5)


# ---------------------------------------------------------------- utils

@pytest.mark.parametrize("stride,rate,start,end", [(1, 1, None, None), (3, 2, None, None), (2, 1, 5, 40)])
def test_timeseries_windows_and_targets_follow_the_keras_rule(stride, rate, start, end):
    data = np.arange(50 * 2, dtype=np.float32).reshape(50, 2)
    targets = np.arange(50) * 10
    length = 4
    dataset = pf.utils.timeseries_dataset_from_array(data, targets, sequence_length=length, sequence_stride=stride,
                                                     sampling_rate=rate, batch_size=6, start_index=start,
                                                     end_index=end)
    windows = [w for w, _ in dataset.as_numpy_iterator()]
    labels = [t for _, t in dataset.as_numpy_iterator()]
    windows, labels = np.concatenate(windows), np.concatenate(labels)
    first, last = start or 0, end or 50
    starts = list(range(first, last - (length - 1) * rate, stride))
    assert len(windows) == len(starts)
    for window, label, s in zip(windows, labels, starts):
        np.testing.assert_array_equal(window, data[s:s + length * rate:rate])
        assert label == targets[s]
    assert pf.preprocessing.timeseries_dataset_from_array is pf.utils.timeseries_dataset_from_array


def test_timeseries_shuffle_keeps_every_window_and_its_target():
    data = np.arange(30, dtype=np.float32)
    dataset = pf.utils.timeseries_dataset_from_array(data, data * 2, sequence_length=3, batch_size=4, shuffle=True,
                                                     seed=1)
    pairs = sorted((tuple(w), t) for x, y in dataset.as_numpy_iterator() for w, t in zip(x, y))
    assert pairs == [((s, s + 1, s + 2), 2 * s) for s in range(28)]
    only_x = pf.utils.timeseries_dataset_from_array(data, None, sequence_length=5, batch_size=None)
    assert len(list(only_x.as_numpy_iterator())) == 26
    with pytest.raises(ValueError, match="sampling_rate"):
        pf.utils.timeseries_dataset_from_array(data, None, sequence_length=3, sampling_rate=0)


def test_pad_sequences_pads_and_truncates_like_keras():
    sequences = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
    np.testing.assert_array_equal(pf.utils.pad_sequences(sequences),
                                  [[0, 0, 1, 2, 3], [0, 0, 0, 0, 4], [5, 6, 7, 8, 9]])
    np.testing.assert_array_equal(pf.utils.pad_sequences(sequences, maxlen=3, padding="post", truncating="post"),
                                  [[1, 2, 3], [4, 0, 0], [5, 6, 7]])
    np.testing.assert_array_equal(pf.utils.pad_sequences(sequences, maxlen=2, value=-1), [[2, 3], [-1, 4], [8, 9]])
    assert pf.utils.pad_sequences(sequences).dtype == np.int32
    with pytest.raises(ValueError, match="padding"):
        pf.utils.pad_sequences(sequences, padding="middle")


# ---------------------------------------------------------------- metrics

def test_confusion_counts_match_numpy_with_weights_and_thresholds():
    y = (rng.random(200) > 0.4).astype("float32")
    p = rng.random(200).astype("float32")
    w = rng.random(200).astype("float32")
    for threshold in (None, 0.3):
        t = 0.5 if threshold is None else threshold
        positive = p > t
        expected = {"TruePositives": np.sum(w * (positive & (y == 1))),
                    "FalsePositives": np.sum(w * (positive & (y == 0))),
                    "TrueNegatives": np.sum(w * (~positive & (y == 0))),
                    "FalseNegatives": np.sum(w * (~positive & (y == 1)))}
        for name, value in expected.items():
            metric = getattr(pf.metrics, name)(thresholds=threshold)
            metric.update_state(y[:120], p[:120], sample_weight=w[:120])
            metric.update_state(y[120:], p[120:], sample_weight=w[120:])
            assert float(metric.result()) == pytest.approx(value, rel=1e-6)
            metric.reset_state()
            assert float(metric.result()) == 0.0
    assert pf.metrics.TruePositives().name == "true_positives"


METRIC_CLASSES = ["Accuracy", "BinaryAccuracy", "MeanSquaredError", "MeanAbsoluteError", "Precision", "Recall", "AUC",
                  "TruePositives", "FalsePositives", "TrueNegatives", "FalseNegatives"]


def test_every_metrics_name_is_the_logged_key():
    x = rng.normal(size=(32, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = pf.Sequential([pf.Input((3,)), layers.Dense(1, activation="sigmoid")])
    metrics = [getattr(pf.metrics, c)(name=f"my_{c.lower()}") for c in METRIC_CLASSES]
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=metrics)
    history = model.fit(x, y, epochs=1, verbose=0, validation_split=0.25)
    for c in METRIC_CLASSES:
        assert f"my_{c.lower()}" in history.history and f"val_my_{c.lower()}" in history.history


class BinaryTruePositives(pf.metrics.Metric):
    """A stateful metric written in Python, as keras.metrics.Metric subclasses are."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), initializer="zeros", name="true_positives")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = np.logical_and(np.asarray(y_true).reshape(-1) > 0.5, np.asarray(y_pred).reshape(-1) > 0.5)
        weights = np.ones(hits.shape) if sample_weight is None else np.asarray(sample_weight).reshape(-1)
        self.true_positives.assign_add(np.float32(np.sum(hits * weights)))

    def result(self):
        return self.true_positives


def test_a_python_metric_subclass_is_updated_by_fit_and_reset_each_epoch():
    x = rng.normal(size=(40, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = pf.Sequential([pf.Input((3,)), layers.Dense(1, activation="sigmoid")])
    metric = BinaryTruePositives()
    assert isinstance(metric, pf.metrics.Metric) and metric.name == "binary_true_positives"
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.0), loss="binary_crossentropy",
                  metrics=[metric, pf.metrics.TruePositives()])
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    # The same count as the built-in TruePositives, per epoch (reset in between).
    assert history.history["binary_true_positives"] == history.history["true_positives"]
    predictions = model.predict(x, verbose=0).reshape(-1)
    assert history.history["binary_true_positives"][0] == np.sum((predictions > 0.5) & (y > 0.5))
    metric.reset_state()
    assert float(metric.result()) == 0.0


class HalfSquared(pf.losses.Loss):
    def __init__(self, scale=0.5, name="half_squared"):
        super().__init__(name=name)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * pf.ops.mean(pf.ops.square(y_pred - y_true), axis=-1)

    def get_config(self):
        return {"scale": self.scale, "name": self.name}


def test_a_python_loss_subclass_trains_and_reduces_like_keras():
    x = rng.normal(size=(32, 3)).astype("float32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = pf.Sequential([pf.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss=HalfSquared())
    prediction = model.predict(x, verbose=0)
    assert model.evaluate(x, y, batch_size=32, verbose=0) == pytest.approx(0.5 * np.mean((prediction - y) ** 2),
                                                                           rel=1e-5)
    weights = np.linspace(0, 1, 32).astype("float32")
    value = float(HalfSquared()(y, prediction, sample_weight=weights))
    assert value == pytest.approx(np.sum(weights * 0.5 * (prediction - y)[:, 0] ** 2) / 32, rel=1e-5)


# ---------------------------------------------------------------- initializers and input dtypes

def test_initializers_are_classes_that_can_be_subclassed():
    he = pf.initializers.HeNormal(seed=3)
    assert isinstance(he, pf.initializers.Initializer) and isinstance(he, pf.initializers.HeNormal)
    np.testing.assert_array_equal(np.asarray(he((40, 30))), np.asarray(pf.initializers.HeNormal(seed=3)((40, 30))))
    assert np.std(np.asarray(he((400, 300)))) == pytest.approx(np.sqrt(2 / 400), rel=0.1)

    class Filled(pf.initializers.Initializer):
        def __init__(self, value=0.25):
            self.value = value

        def __call__(self, shape, dtype=None):
            return np.full(shape, self.value, dtype="float32")

        def get_config(self):
            return {"value": self.value}

    filled = Filled(0.75)
    assert isinstance(filled, pf.initializers.Initializer)
    dense = layers.Dense(3, kernel_initializer=filled)
    dense(np.zeros((1, 2), "float32"))
    np.testing.assert_array_equal(dense.kernel.numpy(), np.full((2, 3), 0.75))
    assert Filled.from_config(filled.get_config()).value == 0.75


@pytest.mark.parametrize("dtype", ["bool", "uint8", "int32", "float64"])
def test_inputs_of_any_numpy_dtype_are_cast_to_the_inputs_dtype(dtype):
    x = (rng.random((16, 3)) > 0.5).astype(dtype)
    model = pf.Sequential([pf.Input((3,)), layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(pf.PitfallWarning):
        history = model.fit(x, np.ones(16, "float32"), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    np.testing.assert_allclose(model.predict(x, verbose=0), model.predict(x.astype("float32"), verbose=0), rtol=1e-6)
