"""pitfall.losses: Keras losses as classes (callable objects) and functions (per-sample values).

Keras semantics: probabilities are clipped to [1e-7, 1 - 1e-7]; ``from_logits=True`` uses the stable
logits formulas. y_true and y_pred are brought to the same rank as Keras 3 does
(squeeze_or_expand_to_same_rank: (N,) targets against an (N, 1) output become (N, 1)), then the
regression losses broadcast and the crossentropies need equal shapes; label/loss mismatches name the
loss to use. A custom loss is a function ``fn(y_true, y_pred)`` computed with pf.ops (compile() hands
it y_true and y_pred at the same rank, as Keras's LossFunctionWrapper does; called directly it sees
them as given, so (N,) - (N, 1) broadcasts to (N, N): pitfall P29), or a subclass of
``pf.losses.Loss`` defining ``call(self, y_true, y_pred)``.
"""
from . import _hooks
from . import _pitfall as _C
from . import _arguments

Loss = _C.Loss
_raw_loss_call = Loss.__call__


def _loss_call(self, y_true, y_pred, *args, **kwargs):
    for hook in _hooks.loss_call:
        hook(self, y_true, y_pred)
    return _raw_loss_call(self, y_true, y_pred, *args, **kwargs)


Loss.__call__ = _loss_call


# Keras's loss classes, each from its argument table (layers/losses.cpp).
(MeanSquaredError, MeanAbsoluteError, Huber, BinaryCrossentropy, CategoricalCrossentropy,
 SparseCategoricalCrossentropy) = _arguments.family_classes(
    "losses", Loss, _C.loss_from_config, __name__,
    ["MeanSquaredError", "MeanAbsoluteError", "Huber", "BinaryCrossentropy", "CategoricalCrossentropy",
     "SparseCategoricalCrossentropy"])


def _function(class_name, doc):
    def loss(y_true, y_pred, **kwargs):
        return globals()[class_name](**kwargs).call(y_true, y_pred)
    loss.__doc__ = doc
    return loss


mean_squared_error = _function("MeanSquaredError", "Per-sample mean of squared errors over the last axis.")
mean_absolute_error = _function("MeanAbsoluteError", "Per-sample mean of absolute errors over the last axis.")
huber = _function("Huber", "Per-sample Huber loss (delta=1.0).")
binary_crossentropy = _function("BinaryCrossentropy", "Per-sample binary crossentropy.")
categorical_crossentropy = _function("CategoricalCrossentropy", "Per-sample categorical crossentropy.")
sparse_categorical_crossentropy = _function("SparseCategoricalCrossentropy",
                                            "Per-sample sparse categorical crossentropy.")
mse, mae = mean_squared_error, mean_absolute_error
for _f, _n in ((mean_squared_error, "mean_squared_error"), (mean_absolute_error, "mean_absolute_error"),
               (huber, "huber"), (binary_crossentropy, "binary_crossentropy"),
               (categorical_crossentropy, "categorical_crossentropy"),
               (sparse_categorical_crossentropy, "sparse_categorical_crossentropy")):
    _f.__name__ = _n
_BUILTIN_FUNCTIONS = {f: f.__name__ for f in (mean_squared_error, mean_absolute_error, huber, binary_crossentropy,
                                               categorical_crossentropy, sparse_categorical_crossentropy)}


def get(identifier):
    """A loss object from a name ('mse', 'sparse_categorical_crossentropy', ...), a loss, or a function."""
    return _arguments.family_get(identifier, Loss, "a loss",
                                 "a name such as 'mse', a pf.losses object or a function(y_true, y_pred)",
                                 _C.get_loss, _C.loss_from_config, _from_function)


def _from_function(fn):
    if fn in _BUILTIN_FUNCTIONS:
        return _C.get_loss(_BUILTIN_FUNCTIONS[fn])
    return _C.function_loss(getattr(fn, "__name__", "custom_loss"), fn)


class _PythonLoss(Loss):
    """A Keras loss written with pf.ops: per-sample values from `_values`, reduced by the base class."""

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        if reduction != "sum_over_batch_size" or dtype is not None:
            raise NotImplementedError(f"{type(self).__name__}: only reduction='sum_over_batch_size' and dtype=None "
                                      f"are supported, got reduction={reduction!r}, dtype={dtype!r}")
        super().__init__(name=name)

    def call(self, y_true, y_pred):
        from . import ops
        y_pred = ops.convert_to_tensor(y_pred)
        return self._values(ops.cast(ops.convert_to_tensor(y_true), y_pred.dtype), y_pred)

    def get_config(self):
        return {"name": self.name, "reduction": "sum_over_batch_size"}


class KLDivergence(_PythonLoss):
    """sum(y_true * log(y_true / y_pred)) over the last axis, both clipped to [1e-7, 1]
    (keras.losses.KLDivergence)."""

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence", dtype=None):
        super().__init__(reduction, name, dtype)

    def _values(self, y_true, y_pred):
        from . import ops
        y_true, y_pred = ops.clip(y_true, 1e-7, 1.0), ops.clip(y_pred, 1e-7, 1.0)
        return ops.sum(y_true * ops.log(y_true / y_pred), axis=-1)


class CosineSimilarity(_PythonLoss):
    """-sum(l2_normalize(y_true) * l2_normalize(y_pred)) over `axis` (keras.losses.CosineSimilarity):
    -1 for parallel vectors, 0 for orthogonal ones."""

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(reduction, name, dtype)
        self.axis = axis

    def _values(self, y_true, y_pred):
        from . import ops

        def normalize(x):
            return x / ops.sqrt(ops.maximum(ops.sum(ops.square(x), axis=self.axis, keepdims=True), 1e-12))
        return -ops.sum(normalize(y_true) * normalize(y_pred), axis=self.axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
