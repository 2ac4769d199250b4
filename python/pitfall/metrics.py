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
 MeanAbsoluteError, Precision, Recall, AUC, Mean) = _arguments.family_classes(
    "metrics", Metric, _C.metric_from_config, __name__,
    ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "TopKCategoricalAccuracy",
     "MeanSquaredError", "MeanAbsoluteError", "Precision", "Recall", "AUC", "Mean"])


def get(identifier):
    """A metric from a name ('accuracy' needs compile() to resolve it), a config dict, a metric, or a
    function."""
    return _arguments.family_get(
        identifier, Metric, "a metric", "a name such as 'accuracy', a pf.metrics object or a function(y_true, y_pred)",
        _C.get_metric, _C.metric_from_config,
        lambda fn: _C.function_metric(getattr(fn, "__name__", "custom_metric"), fn))
