"""Keras 3's Trainer as seen from Python: train_step / test_step / predict_step, compute_loss,
compute_metrics, metrics, and the fit / evaluate / predict loops that call them.

A model that overrides none of these trains in the engine's C++ loop (model_training.cpp). One that
overrides any of them (a custom train_step, a GAN, a compute_loss) trains here, batch by batch in
Python, with the same data order, callbacks, validation and History as the C++ loop. The default
steps call the engine's own step, so ``super().train_step(data)`` computes exactly what fit would.
Reference: keras/src/trainers/trainer.py, keras/src/backend/tensorflow/trainer.py,
keras/src/trainers/compile_utils.py.
"""
import warnings

import numpy as np

from . import _pitfall as _C
from . import _py_dataset
from ._convert import Tensor, convert_to_tensor

# Methods whose override sends fit / evaluate / predict through the Python loop.
STEP_METHODS = {
    "fit": ("train_step", "test_step", "compute_loss", "compute_metrics", "metrics"),
    "evaluate": ("test_step", "compute_loss", "compute_metrics", "metrics"),
    "predict": ("predict_step",),
}


def validation_split_index(rows, validation_split):
    """Where fit(validation_split=) cuts: the last rows are the validation data
    (keras/src/trainers/data_adapters/data_adapter_utils.py train_validation_split)."""
    return int(np.floor(rows * (1.0 - validation_split)))


def overrides(model, names):
    """Whether the model's class overrides any of `names` (methods or properties of Model)."""
    cls = type(model)
    return any(getattr(cls, name, None) is not _BASE_ATTRIBUTES[name] for name in names)


def unpack_x_y_sample_weight(data):
    """keras.utils.unpack_x_y_sample_weight: (x,), (x, y) or (x, y, sample_weight) -> (x, y, sw)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`, "
                     f"found a tuple of {len(data)} elements")


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """keras.utils.pack_x_y_sample_weight: the inverse of unpack_x_y_sample_weight."""
    if y is None:
        return (x,)
    if sample_weight is None:
        return (x, y)
    return (x, y, sample_weight)


def _names(model, which):
    if not model.is_functional:
        return []
    return [t.name for t in model.inputs] if which == "input" else list(model.output_names)


def as_list(model, value, which):
    """A structure of tensors (one, a list/tuple, or a dict keyed by input/output names) as a list
    in the model's order."""
    if value is None:
        return []
    if isinstance(value, dict):
        names = _names(model, which)
        missing = [n for n in names if n not in value]
        if missing:
            raise KeyError(f"model '{model.name}': {which}s {missing} missing from the dict (it has {sorted(value)})")
        value = [value[n] for n in names]
    if not isinstance(value, (list, tuple)):
        value = [value]
    return [v if isinstance(v, Tensor) else convert_to_tensor(np.asarray(v) if not hasattr(v, "shape") else v)
            for v in value]


def _float(value):
    if isinstance(value, Tensor):
        return float(value.numpy())
    return float(value)


def pythonify_logs(logs):
    """Flat {name: float} (keras/src/utils/python_utils.py pythonify_logs: nested dicts, such as
    compile_metrics' result, are merged into the top level)."""
    result = {}
    for key, value in (logs or {}).items():
        if isinstance(value, dict):
            result.update(pythonify_logs(value))
        else:
            try:
                result[key] = _float(value)
            except (TypeError, ValueError):
                result[key] = value
    return result


class CompileMetrics:
    """The metrics given to compile(), as one metric (Keras 3's compile_utils.CompileMetrics): what
    ``model.metrics`` lists after the loss tracker. update_state(y, y_pred, sample_weight) updates
    each output's metrics; result() is a dict keyed as fit logs them ("mae", or "<output>_mae"
    for several outputs)."""

    name = "compile_metrics"

    def __init__(self, model):
        self._model = model

    def _entries(self):
        model = self._model
        lists = model._compiled_metric_lists
        names = _names(model, "output")
        several = len(lists) > 1 or (model.is_functional and len(model.outputs) > 1)
        for index, metrics in enumerate(lists):
            for metric in metrics:
                key = f"{names[index]}_{metric.name}" if several and index < len(names) else metric.name
                yield key, index, metric

    @property
    def metrics(self):
        return [metric for _, _, metric in self._entries()]

    def update_state(self, y_true, y_pred, sample_weight=None):
        ys, ps = as_list(self._model, y_true, "output"), as_list(self._model, y_pred, "output")
        for _, index, metric in self._entries():
            metric.update_state(ys[index], ps[index].detach() if hasattr(ps[index], "detach") else ps[index],
                                sample_weight)

    def result(self):
        return {key: metric.result() for key, _, metric in self._entries()}

    def _value(self):
        return {key: _metric_value(metric) for key, _, metric in self._entries()}

    def reset_state(self):
        for metric in self.metrics:
            metric.reset_state()

    def __repr__(self):
        return f"<CompileMetrics {[key for key, _, _ in self._entries()]}>"


class CompiledLoss:
    """tf.keras's ``model.compiled_loss(y, y_pred, sample_weight, regularization_losses)``: the
    compiled losses plus the given regularization terms (Keras 3 folds this into compute_loss)."""

    def __init__(self, model):
        self._model = model

    def __call__(self, y_true, y_pred, sample_weight=None, regularization_losses=None):
        model = self._model
        weights = None if sample_weight is None else convert_to_tensor(np.asarray(sample_weight)
                                                                       if not isinstance(sample_weight, Tensor)
                                                                       else sample_weight)
        from . import ops
        total = model._compiled_loss(as_list(model, y_true, "output"), as_list(model, y_pred, "output"), weights)
        for extra in regularization_losses or []:
            extra = ops.sum(extra)
            total = extra if total is None else total + extra
        return total


# ---------------------------------------------------------------- the Model methods (Keras 3)

def metrics(self):
    """Keras 3's Model.metrics: the loss tracker, the compiled metrics (one CompileMetrics), each
    output's loss tracker, then the metrics assigned as attributes of the model."""
    out = []
    if self.compiled:
        out.append(self._loss_tracker)
        if any(self._compiled_metric_lists):
            out.append(_compile_metrics(self))
        out.extend(self._output_loss_trackers)
    out.extend(self.__dict__.get("_tracked_metrics", []))
    return out


def _compile_metrics(self):
    wrapper = self.__dict__.get("_compile_metrics_wrapper")
    if wrapper is None:
        wrapper = CompileMetrics(self)
        self._compile_metrics_wrapper = wrapper
    return wrapper


def metrics_names(self):
    return [m.name for m in self.metrics]


def compiled_metrics(self):
    """tf.keras's ``model.compiled_metrics`` (update_state(y, y_pred, sample_weight) / result())."""
    return _compile_metrics(self)


def compiled_loss(self):
    return CompiledLoss(self)


def get_metrics_result(self):
    """The metrics' current values as one flat dict (a CompileMetrics' dict is merged in)."""
    result = {}
    for metric in self.metrics:
        value = metric.result()
        if isinstance(value, dict):
            result.update(value)
        else:
            result[metric.name] = value
    return result


def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
    """The compiled losses (weighted by loss_weights) plus regularization and add_loss terms."""
    weights = None if sample_weight is None else (sample_weight if isinstance(sample_weight, Tensor)
                                                  else convert_to_tensor(np.asarray(sample_weight)))
    return self._compute_loss(as_list(self, y, "output"), as_list(self, y_pred, "output"), weights)


def compute_metrics(self, x, y, y_pred, sample_weight=None):
    """Updates the compiled metrics and returns every metric's result (Keras 3)."""
    if any(self._compiled_metric_lists):
        _compile_metrics(self).update_state(y, y_pred, sample_weight)
    return self.get_metrics_result()


def _uses_python_loss(model):
    return overrides(model, ("compute_loss", "compute_metrics"))


def train_step(self, data):
    """One training step on a batch (Keras 3's default): forward, compute_loss, gradients, the
    optimizer's update, compute_metrics. Without overrides of compute_loss / compute_metrics this is
    the engine's own step, the one fit runs."""
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    # Without targets only add_loss terms can give a loss: the engine's step needs y, this one does not.
    if not _uses_python_loss(self) and y is not None:
        return self._train_on_batch(as_list(self, x, "input"), as_list(self, y, "output"),
                                    _weights(sample_weight))
    from .autograd import GradientTape
    with GradientTape() as tape:
        y_pred = self(x, training=True)
        loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=True)
    batch = as_list(self, x, "input")[0].shape[0]
    self._loss_tracker.update_state(loss, sample_weight=convert_to_tensor(np.float32(batch)))
    variables = self.trainable_weights
    if variables:
        grads = tape.gradient(self.optimizer.scale_loss(loss), variables)
        self.optimizer.apply_gradients(zip(grads, variables))
    else:
        warnings.warn("The model does not have any trainable weights.", stacklevel=2)
    return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def test_step(self, data):
    """One evaluation step (Keras 3's default): forward in inference mode, compute_loss,
    compute_metrics."""
    x, y, sample_weight = unpack_x_y_sample_weight(data)
    if not _uses_python_loss(self) and y is not None:
        return self._test_on_batch(as_list(self, x, "input"), as_list(self, y, "output"), _weights(sample_weight))
    y_pred = self(x, training=False)
    loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight, training=False)
    batch = as_list(self, x, "input")[0].shape[0]
    self._loss_tracker.update_state(loss, sample_weight=convert_to_tensor(np.float32(batch)))
    return self.compute_metrics(x, y, y_pred, sample_weight=sample_weight)


def predict_step(self, data):
    """One prediction step (Keras 3's default): the model in inference mode on the batch's x."""
    x, _, _ = unpack_x_y_sample_weight(data)
    return self(x, training=False)


def _weights(sample_weight):
    if sample_weight is None:
        return None
    return sample_weight if isinstance(sample_weight, Tensor) else convert_to_tensor(np.asarray(sample_weight))


def _metric_value(metric):
    """A metric's value as the engine logs it (a double), or its result() for a Python metric."""
    value = getattr(metric, "_value", None)
    return value() if value is not None else metric.result()


def _get_metrics_result_or_logs(model, logs):
    """keras Trainer._get_metrics_result_or_logs: the metrics' values when the step returned the same
    keys, else the step's own logs."""
    metric_logs = {}
    for metric in model.metrics:
        value = _metric_value(metric)
        if isinstance(value, dict):
            metric_logs.update(value)
        else:
            metric_logs[metric.name] = value
    if isinstance(logs, dict) and set(pythonify_logs(logs)) == set(metric_logs):
        return metric_logs
    return logs


def _reset(model):
    for metric in model.metrics:
        metric.reset_state()


# ---------------------------------------------------------------- data

def _structure(values, like, names):
    """Tensors back in the structure the user gave (one, a list, or a dict keyed by names)."""
    if isinstance(like, dict):
        return dict(zip(names, values))
    if isinstance(like, (list, tuple)):
        return list(values)
    return values[0]


def array_batches(model, x, y, sample_weight, batch_size, shuffle):
    """(x, y[, sample_weight]) batches of arrays, as Keras's array adapter yields them, in the order
    the engine's fit draws (one permutation of the global generator per epoch)."""
    from .data import Dataset
    xs = as_list(model, x, "input")
    ys = as_list(model, y, "output")
    arrays = xs + ys + ([sample_weight] if sample_weight is not None else [])
    dataset = Dataset._from_array_batches(arrays, batch_size, shuffle)
    input_names, output_names = _names(model, "input"), _names(model, "output")

    def batches():
        for element in dataset:
            element = list(element) if isinstance(element, (list, tuple)) else [element]
            bx = _structure(element[:len(xs)], x, input_names)
            if not ys:
                yield (bx,)
                continue
            by = _structure(element[len(xs):len(xs) + len(ys)], y, output_names)
            yield (bx, by) if sample_weight is None else (bx, by, element[-1])
    return batches, -(-xs[0].shape[0] // batch_size) if xs else 0


def class_sample_weights(y, class_weight):
    """Per-sample weights from class_weight: the class of a row is its label, or its argmax for one-hot
    targets."""
    labels = np.asarray(y)
    if labels.ndim > 1 and labels.shape[-1] > 1:
        labels = labels.argmax(-1)
    labels = labels.reshape(len(labels), -1)[:, 0].astype(np.int64)
    missing = sorted(set(np.unique(labels).tolist()) - set(class_weight))
    if missing:
        raise ValueError(f"fit: class_weight has no entry for classes {missing}; give a weight to every class")
    return np.array([class_weight[int(c)] for c in labels], dtype=np.float32)


def _rows(value, start, stop):
    if isinstance(value, dict):
        return {k: np.asarray(v)[start:stop] for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [np.asarray(v)[start:stop] for v in value]
    return np.asarray(value)[start:stop]


# ---------------------------------------------------------------- the loops

def _callbacks_begin(model, callbacks):
    for c in callbacks:
        c._set_model(model)
    for c in callbacks:
        c._train_begin()


def validation_schedule(validation_freq):
    """Keras's validation_freq as (every n epochs, [the 1-based epochs]): an int validates after each
    n-th epoch, a list after the epochs it names (keras/src/trainers/trainer.py _should_eval)."""
    if isinstance(validation_freq, (int, np.integer)) and not isinstance(validation_freq, bool):
        if validation_freq < 1:
            raise ValueError(f"fit: validation_freq must be a positive int (validate every n epochs) or a list of "
                             f"epochs, got {validation_freq}")
        return int(validation_freq), []
    if isinstance(validation_freq, (list, tuple)) and all(
            isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in validation_freq):
        return 1, [int(e) for e in validation_freq]
    raise ValueError("Expected `validation_freq` to be a list or int. "
                     f"Received: validation_freq={validation_freq!r} of the type {type(validation_freq)}.")


def _should_validate(epoch, validation_freq):
    freq, epochs = validation_schedule(validation_freq)
    return (epoch + 1) in epochs if epochs else (epoch + 1) % freq == 0


def fit(model, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
        class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps, validation_batch_size,
        validation_freq=1):
    """fit() for a model with its own steps: the loop of the engine's fit, calling train_step."""
    from .callbacks import History
    from .data import Dataset
    if not model.compiled:
        raise RuntimeError(f"model '{model.name}': call compile() before fit(); a model with its own train_step "
                           "still needs compile(optimizer=...)")
    val = None
    source = None
    if isinstance(x, Dataset):
        batches, steps = (lambda: iter(x)), (x.cardinality() if x.cardinality() >= 0 else None)
        if steps_per_epoch:
            steps = steps_per_epoch
    elif _py_dataset.is_batch_source(x):
        if validation_split:
            raise ValueError("fit: validation_split is only supported for arrays; with a PyDataset or DataLoader "
                             "pass validation_data=<another one>")
        source = _py_dataset.BatchSource(x, "fit", y, sample_weight, batch_size, class_weight, shuffle)
        batches, steps = (lambda: iter(source)), steps_per_epoch or source.num_batches
    else:
        rows = as_list(model, x, "input")[0].shape[0]
        if validation_split:
            split = validation_split_index(rows, validation_split)
            val = (_rows(x, split, rows), None if y is None else _rows(y, split, rows))
            x, y = _rows(x, 0, split), None if y is None else _rows(y, 0, split)
            if sample_weight is not None:
                sample_weight = np.asarray(sample_weight)[:split]
        if class_weight:
            weights = class_sample_weights(y, class_weight)
            sample_weight = weights if sample_weight is None else np.asarray(sample_weight) * weights.reshape(
                (-1,) + (1,) * (np.ndim(sample_weight) - 1))
        sw = None if sample_weight is None else convert_to_tensor(np.asarray(sample_weight))
        batches, steps = array_batches(model, x, y, sw, batch_size or 32, shuffle)
    if validation_data is not None:
        val = (_py_dataset.BatchSource(validation_data, "fit (validation_data)")
               if _py_dataset.is_batch_source(validation_data) else validation_data)
    callbacks = list(callbacks)
    _callbacks_begin(model, callbacks)
    history, epochs_run = {}, []
    model.stop_training = False
    logs = {}
    continuing = iter(batches()) if steps_per_epoch else None
    for epoch in range(initial_epoch, epochs):
        _reset(model)
        if source is not None:
            source.on_epoch_begin()
        for c in callbacks:
            c._epoch_begin(epoch)
        bar = _C._ProgressBar(steps or 0) if verbose == 1 else None
        if verbose == 1:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        step_logs = {}
        iterator = continuing if continuing is not None else iter(batches())
        step = 0
        while steps_per_epoch == 0 or steps_per_epoch is None or step < steps_per_epoch:
            try:
                data = next(iterator)
            except StopIteration:
                if steps_per_epoch:
                    warnings.warn("fit: the data ran out before steps_per_epoch * epochs steps; training stops. "
                                  "Use .repeat() on the dataset", stacklevel=3)
                    model.stop_training = True
                break
            for c in callbacks:
                c._batch_begin(step)
            step_logs = model.train_step(data)
            flat = pythonify_logs(step_logs)
            for c in callbacks:
                c._batch_end(step, {k: v for k, v in flat.items() if isinstance(v, float)})
            if bar is not None:
                bar.update(step + 1, _numeric_items(flat))
            step += 1
            if model.stop_training:
                break
        epoch_logs = pythonify_logs(_get_metrics_result_or_logs(model, step_logs))
        if source is not None:
            source.on_epoch_end()
        if val is not None and _should_validate(epoch, validation_freq):
            val_logs = _validate(model, val, validation_batch_size or batch_size or 32, validation_steps, callbacks)
            epoch_logs.update({f"val_{k}": v for k, v in val_logs.items()})
        numeric = {k: v for k, v in epoch_logs.items() if isinstance(v, float)}
        for c in callbacks:
            numeric = c._epoch_end(epoch, numeric)
        if bar is not None:
            bar.finish([(k, v) for k, v in numeric.items()])
        elif verbose == 2:
            print(f"Epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4f}" for k, v in numeric.items()),
                  flush=True)
        epochs_run.append(epoch)
        for k, v in numeric.items():
            history.setdefault(k, []).append(v)
        logs = numeric
        if model.stop_training:
            break
    for c in callbacks:
        c._train_end(logs)
    params = {"verbose": verbose, "epochs": epochs, "steps": steps}
    result = History(epochs_run, history, params, model)
    model.history = result
    return result


def _validate(model, val, batch_size, steps, callbacks):
    """fit's validation pass: evaluate with fit's callbacks (their on_test_* hooks), as Keras's fit."""
    from .data import Dataset
    if isinstance(val, (Dataset, _py_dataset.BatchSource)):
        return evaluate(model, val, None, None, None, steps, callbacks=callbacks)
    if not isinstance(val, (list, tuple)) or len(val) not in (2, 3):
        raise ValueError("fit: validation_data must be a Dataset or a tuple (x_val, y_val[, sample_weight_val])")
    return evaluate(model, val[0], val[1], batch_size, val[2] if len(val) == 3 else None, None, callbacks=callbacks)


def _hooks_of(callbacks, model):
    """The callbacks given to evaluate / predict, each told the model (Keras's CallbackList)."""
    callbacks = list(callbacks or [])
    for c in callbacks:
        c._set_model(model)
    return callbacks


def evaluate(model, x, y, batch_size, sample_weight, steps, verbose=0, callbacks=None):
    """evaluate() for a model with its own test_step (or with callbacks, which see on_test_begin,
    on_test_batch_begin / _end and on_test_end): returns the flat logs dict. verbose=1 shows a
    progress bar updated every step, verbose=2 its final line only (as the engine's evaluate)."""
    callbacks = _hooks_of(callbacks, model)
    from .data import Dataset
    source = x if isinstance(x, _py_dataset.BatchSource) else None
    if source is None and _py_dataset.is_batch_source(x):
        source = _py_dataset.BatchSource(x, "evaluate", y, sample_weight, batch_size)
    if source is not None:
        batches, count = (lambda: iter(source)), (source.num_batches or -1)
        source.on_epoch_begin()
    elif isinstance(x, Dataset):
        batches, count = (lambda: iter(x)), x.cardinality()
    else:
        sw = None if sample_weight is None else convert_to_tensor(np.asarray(sample_weight))
        batches, count = array_batches(model, x, y, sw, batch_size or 32, False)
    _reset(model)
    bar = _C._ProgressBar(steps or count) if verbose else None
    logs = {}
    for c in callbacks:
        c.on_test_begin(None)
    for step, data in enumerate(batches()):
        if steps and step >= steps:
            break
        for c in callbacks:
            c.on_test_batch_begin(step, None)
        logs = model.test_step(data)
        for c in callbacks:
            c.on_test_batch_end(step, pythonify_logs(logs))
        if verbose == 1:
            bar.update(step + 1, _numeric_items(pythonify_logs(logs)))
    if source is not None:
        source.on_epoch_end()
    result = pythonify_logs(_get_metrics_result_or_logs(model, logs))
    for c in callbacks:
        c.on_test_end(result)
    if bar is not None:
        bar.finish(_numeric_items(result))
    return result


def _numeric_items(logs):
    return [(k, v) for k, v in logs.items() if isinstance(v, float)]


def predict(model, x, batch_size, steps, verbose=0, callbacks=None):
    """predict() for a model with its own predict_step (or with callbacks, which see
    on_predict_begin, on_predict_batch_begin / _end with {"outputs": ...} and on_predict_end): the
    outputs of every batch, concatenated. verbose=1 shows a progress bar."""
    from .data import Dataset
    callbacks = _hooks_of(callbacks, model)
    if _py_dataset.is_batch_source(x):
        source = _py_dataset.BatchSource(x, "predict", batch_size=batch_size)
        batches, count = (lambda: iter(source)), (source.num_batches or -1)
    elif isinstance(x, Dataset):
        batches, count = (lambda: iter(x)), x.cardinality()
    else:
        batches, count = array_batches(model, x, None, None, batch_size or 32, False)
    bar = _C._ProgressBar(steps or count) if verbose == 1 else None
    outputs = []
    for c in callbacks:
        c.on_predict_begin(None)
    for step, data in enumerate(batches()):
        if steps and step >= steps:
            break
        for c in callbacks:
            c.on_predict_batch_begin(step, None)
        outputs.append(model.predict_step(data))
        for c in callbacks:
            c.on_predict_batch_end(step, {"outputs": outputs[-1]})
        if bar is not None:
            bar.update(step + 1, [])
    for c in callbacks:
        c.on_predict_end(None)
    if bar is not None:
        bar.finish([])
    if not outputs:
        raise ValueError(f"model '{model.name}': predict got no data")
    first = outputs[0]
    if isinstance(first, dict):
        return {k: np.concatenate([np.asarray(o[k]) for o in outputs]) for k in first}
    if isinstance(first, (list, tuple)):
        return [np.concatenate([np.asarray(o[i]) for o in outputs]) for i in range(len(first))]
    return np.concatenate([np.asarray(o) for o in outputs])


# The methods and properties installed on Model, and their identities for override checks.
METHODS = {"train_step": train_step, "test_step": test_step, "predict_step": predict_step,
           "compute_loss": compute_loss, "compute_metrics": compute_metrics, "get_metrics_result": get_metrics_result}
PROPERTIES = {"metrics": metrics, "metrics_names": metrics_names, "compiled_metrics": compiled_metrics,
              "compiled_loss": compiled_loss}
_BASE_ATTRIBUTES = {}


def install(model_class):
    for name, function in METHODS.items():
        setattr(model_class, name, function)
        _BASE_ATTRIBUTES[name] = function
    for name, function in PROPERTIES.items():
        prop = property(function, doc=function.__doc__)
        setattr(model_class, name, prop)
        _BASE_ATTRIBUTES[name] = prop
