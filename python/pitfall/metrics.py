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
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        return _C.get_metric(identifier)
    if isinstance(identifier, dict):
        return _C.metric_from_config(identifier)
    if callable(identifier):
        return _C.function_metric(getattr(identifier, "__name__", "custom_metric"), identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a metric; pass a name such as 'accuracy', a "
                    "pf.metrics object or a function(y_true, y_pred)")
