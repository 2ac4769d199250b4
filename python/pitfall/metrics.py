"""pitfall.metrics: stateful Keras metrics (update_state / result / reset_state).

In compile(), "accuracy" is resolved like Keras from the loss and the output shape (binary,
categorical or sparse categorical accuracy). A metric function ``fn(y_true, y_pred)`` becomes the
weighted mean of its values. Each class takes Keras's arguments (its argument table,
layers/metrics.cpp: ``inspect.signature`` and ``help`` show them).
"""
from . import _arguments
from . import _pitfall as _C

Metric = _C.Metric


class _MetricClass(type):
    """Makes ``pf.metrics.AUC(...)`` build the engine's metric, ``isinstance(m, pf.metrics.AUC)`` check
    its class and ``from_config`` rebuild one, as with Keras classes."""

    def __call__(cls, *args, **kwargs):
        config, _ = _arguments.bind(_arguments.table("metrics", cls.__name__), args, kwargs)
        return _C.metric_from_config({"class_name": cls.__name__, "config": config})

    def __instancecheck__(cls, instance):
        return isinstance(instance, Metric) and instance.class_name == cls.__name__

    def from_config(cls, config):
        return _C.metric_from_config({"class_name": cls.__name__, "config": config})


class Accuracy(metaclass=_MetricClass):
    pass


class BinaryAccuracy(metaclass=_MetricClass):
    pass


class CategoricalAccuracy(metaclass=_MetricClass):
    pass


class SparseCategoricalAccuracy(metaclass=_MetricClass):
    pass


class TopKCategoricalAccuracy(metaclass=_MetricClass):
    pass


class MeanSquaredError(metaclass=_MetricClass):
    pass


class MeanAbsoluteError(metaclass=_MetricClass):
    pass


class Precision(metaclass=_MetricClass):
    pass


class Recall(metaclass=_MetricClass):
    pass


class AUC(metaclass=_MetricClass):
    pass


class Mean(metaclass=_MetricClass):
    pass


for _cls in (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, TopKCategoricalAccuracy,
             MeanSquaredError, MeanAbsoluteError, Precision, Recall, AUC, Mean):
    _arguments.install(_cls, "metrics")


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
