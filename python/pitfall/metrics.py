"""pitfall.metrics: stateful Keras metrics (update_state / result / reset_state).

In compile(), "accuracy" is resolved like Keras from the loss and the output shape (binary,
categorical or sparse categorical accuracy). A metric function ``fn(y_true, y_pred)`` becomes the
weighted mean of its values.
"""
from . import _pitfall as _C

Metric = _C.Metric


def Accuracy(name="accuracy", dtype=None):
    raise NotImplementedError("pf.metrics.Accuracy (exact equality) is not available; use the string 'accuracy' "
                              "in compile(), or BinaryAccuracy / CategoricalAccuracy / SparseCategoricalAccuracy")


def BinaryAccuracy(name="binary_accuracy", dtype=None, threshold=0.5):
    return _C.binary_accuracy_metric(threshold)


def CategoricalAccuracy(name="categorical_accuracy", dtype=None):
    return _C.get_metric("categorical_accuracy")


def SparseCategoricalAccuracy(name="sparse_categorical_accuracy", dtype=None):
    return _C.get_metric("sparse_categorical_accuracy")


def TopKCategoricalAccuracy(k=5, name="top_k_categorical_accuracy", dtype=None):
    return _C.top_k_categorical_accuracy_metric(k)


def MeanSquaredError(name="mean_squared_error", dtype=None):
    return _C.get_metric("mean_squared_error")


def MeanAbsoluteError(name="mean_absolute_error", dtype=None):
    return _C.get_metric("mean_absolute_error")


def Precision(thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
    if top_k is not None or class_id is not None or isinstance(thresholds, (list, tuple)):
        raise NotImplementedError("Precision: only a single threshold is supported (no top_k / class_id)")
    return _C.precision_metric(0.5 if thresholds is None else float(thresholds))


def Recall(thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
    if top_k is not None or class_id is not None or isinstance(thresholds, (list, tuple)):
        raise NotImplementedError("Recall: only a single threshold is supported (no top_k / class_id)")
    return _C.recall_metric(0.5 if thresholds is None else float(thresholds))


def AUC(num_thresholds=200, curve="ROC", summation_method="interpolation", name=None, dtype=None, **kwargs):
    if curve != "ROC" or summation_method != "interpolation" or kwargs:
        raise NotImplementedError("AUC: only curve='ROC' with summation_method='interpolation' is supported")
    return _C.auc_metric(num_thresholds)


def Mean(name="mean", dtype=None):
    return _C.mean_metric(name)


def get(identifier):
    """A metric from a name ('accuracy' needs compile() to resolve it), a metric, or a function."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        return _C.get_metric(identifier)
    if callable(identifier):
        return _C.function_metric(getattr(identifier, "__name__", "custom_metric"), identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a metric; pass a name such as 'accuracy', a "
                    "pf.metrics object or a function(y_true, y_pred)")
