"""pitfall.metrics: stateful Keras metrics (update_state / result / reset_state).

In compile(), "accuracy" is resolved like Keras from the loss and the output shape (binary,
categorical or sparse categorical accuracy). A metric function ``fn(y_true, y_pred)`` becomes the
weighted mean of its values. Each class takes Keras's arguments (its argument table,
layers/metrics.cpp: ``inspect.signature`` and ``help`` show them).
"""
from . import _arguments
from . import _pitfall as _C

Metric = _C.Metric


# Keras's metric classes, each from its argument table (layers/metrics.cpp).
(Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy, MeanSquaredError,
 MeanAbsoluteError, Precision, Recall, AUC, Mean, TruePositives, FalsePositives, TrueNegatives,
 FalseNegatives) = _arguments.family_classes(
    "metrics", Metric, _C.metric_from_config, __name__,
    ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
     "MeanSquaredError", "MeanAbsoluteError", "Precision", "Recall", "AUC", "Mean", "TruePositives",
     "FalsePositives", "TrueNegatives", "FalseNegatives"])


def _add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
    """A state variable of a Metric subclass (Keras 3's Metric.add_variable): reset_state() sets every
    one back to zeros unless the subclass overrides it."""
    from .variables import Variable
    from . import initializers
    shape = tuple(shape) if isinstance(shape, (list, tuple)) else (() if shape is None else (int(shape),))
    init = initializers.get(initializer)
    variable = Variable(lambda s, d: init(s, d), trainable=False, name=name or "variable",
                        dtype=dtype or self.__dict__.get("_dtype", "float32"), shape=shape)
    self.__dict__.setdefault("_metric_variables", []).append(variable)
    return variable


def _add_weight(self, name=None, shape=(), initializer="zeros", dtype=None, aggregation="sum", **kwargs):
    """tf.keras's Metric.add_weight(name, shape, ...): the same as add_variable."""
    if kwargs:
        raise TypeError(f"{type(self).__name__}.add_weight got unexpected arguments {sorted(kwargs)}")
    return _add_variable(self, shape=shape, initializer=initializer, dtype=dtype, aggregation=aggregation, name=name)


def _reset_variables(self):
    import numpy as np
    for variable in self.__dict__.get("_metric_variables", []):
        variable.assign(np.zeros(tuple(variable.shape), dtype=variable.dtype))


def _call(self, *args, **kwargs):
    """metric(...) updates the state and returns the result, as Keras's Metric.__call__ does
    (keras/src/metrics/metric.py)."""
    self.update_state(*args, **kwargs)
    return self.result()


Metric.__call__ = _call
Metric.add_variable = _add_variable
Metric.add_weight = _add_weight
Metric._reset_variables = _reset_variables
Metric.variables = property(lambda self: list(self.__dict__.get("_metric_variables", [])),
                            doc="The state variables made with add_variable (none for a built-in metric).")
Metric.dtype = property(lambda self: self.__dict__.get("_dtype", "float32"))


def get(identifier):
    """A metric from a name ('accuracy' needs compile() to resolve it), a config dict, a metric, or a
    function."""
    return _arguments.family_get(
        identifier, Metric, "a metric", "a name such as 'accuracy', a pf.metrics object or a function(y_true, y_pred)",
        _C.get_metric, _C.metric_from_config,
        lambda fn: _C.function_metric(getattr(fn, "__name__", "custom_metric"), fn))


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean(|y_true - y_pred| / max(|y_true|, epsilon)) over the last axis, per sample
    (keras/src/losses/losses.py mean_absolute_percentage_error, epsilon 1e-7)."""
    from . import ops
    y_pred = ops.convert_to_tensor(y_pred)
    y_true = ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype)
    if len(y_true.shape) == len(y_pred.shape) - 1 and y_pred.shape[-1] == 1:
        y_true = ops.expand_dims(y_true, -1)  # squeeze_or_expand_to_same_rank
    diff = ops.abs((y_true - y_pred) / ops.maximum(ops.abs(y_true), 1e-7))
    return 100.0 * ops.mean(diff, axis=-1)


class MeanAbsolutePercentageError(Metric):
    """The weighted mean of mean_absolute_percentage_error over every sample seen
    (keras.metrics.MeanAbsolutePercentageError)."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self._mean = _C.function_metric(name, mean_absolute_percentage_error)

    def update_state(self, y_true, y_pred, sample_weight=None):
        self._mean.update_state(y_true, y_pred, sample_weight)

    def result(self):
        return self._mean.result()

    def reset_state(self):
        self._mean.reset_state()

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
