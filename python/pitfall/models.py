"""pitfall.models: ``Sequential``, functional ``Model(inputs, outputs)`` and subclassed ``Model``.

fit / evaluate / predict take NumPy arrays (or tensors), lists of them for several inputs or
outputs, or dicts keyed by input/output names, with Keras's arguments and defaults. The loop runs
in C++ with the GIL released; Python code runs only in Python layers, losses, metrics and callbacks.
"""
import difflib
import functools
import inspect
import sys

import numpy as np

from . import _pitfall as _C
from . import _hooks
from . import _py_dataset
from . import _trainer
from . import data as _data
from . import losses as _losses
from . import optimizers as _optimizers
from ._convert import Tensor, convert_to_tensor
from .callbacks import Callback, History

Model = _C.Model
Sequential = _C.Sequential


def _is_sequence(value):
    return isinstance(value, (list, tuple))


def _as_list(data, names, what):
    """Arrays for the model's inputs or outputs, in order, as tensors (dtypes kept)."""
    if data is None:
        return []
    if isinstance(data, dict):
        missing = [n for n in names if n not in data]
        if missing or len(data) != len(names):
            raise ValueError(f"{what}: dict keys {sorted(data)} do not match the model's names {names}")
        data = [data[n] for n in names]
    if not _is_sequence(data):
        data = [data]
    return [convert_to_tensor(np.asarray(d) if not isinstance(d, Tensor) else d) for d in data]


def _input_names(model):
    return [t.name for t in model.inputs] if model.is_functional else []


def _verbose(verbose):
    if verbose == "auto":
        return 1
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _flush():
    sys.stdout.flush()


def _compile(self, optimizer="rmsprop", loss=None, loss_weights=None, metrics=None, weighted_metrics=None,
             run_eagerly=False, steps_per_execution=1, jit_compile="auto", auto_scale_loss=True):
    """Configures training: optimizer (name or object), loss per output, metrics, loss_weights."""
    if weighted_metrics:
        raise NotImplementedError("compile: weighted_metrics is not supported; metrics use sample_weight already")
    if steps_per_execution != 1:
        raise NotImplementedError("compile: steps_per_execution must be 1")
    optimizer = _optimizers.get(optimizer)
    names = list(self.output_names) if self.is_functional else []
    # No loss is allowed (Keras): a train_step of its own, or add_loss terms, supply one; the
    # engine's step raises "no loss to compute" otherwise.
    if loss is None:
        loss = []
    if isinstance(loss, dict):
        unknown = [k for k in loss if k not in names]
        if unknown:
            raise ValueError(f"compile: loss keys {unknown} are not output names; outputs are {names}")
        loss = [loss.get(n) for n in names]
    # An output given no loss (None in a list, left out of a dict) is not trained by one and logs no
    # "<output>_loss" (keras/src/trainers/compile_utils.py).
    losses = [None if l is None else _losses.get(l) for l in loss] if _is_sequence(loss) else [_losses.get(loss)]
    outputs = len(self.outputs) if self.is_functional else (1 if isinstance(self, Sequential) else max(1, len(losses)))
    if metrics is None:
        metric_lists = []
    elif isinstance(metrics, dict):
        metric_lists = [list(metrics.get(n, []) if _is_sequence(metrics.get(n, [])) else [metrics[n]]) for n in names]
    elif _is_sequence(metrics) and metrics and all(_is_sequence(m) for m in metrics):
        metric_lists = [list(m) for m in metrics]
    else:
        metric_lists = [list(metrics) if _is_sequence(metrics) else [metrics] for _ in range(outputs)]
    if isinstance(loss_weights, dict):
        loss_weights = [float(loss_weights.get(n, 1.0)) for n in names]
    # The engine holds the metrics by their C++ side; a Python Metric subclass created inline in the
    # compile() call must stay alive for its update_state / result overrides to be found.
    self.__dict__["_compile_metric_objects"] = metric_lists
    self._compile(optimizer, losses, metric_lists, [float(w) for w in (loss_weights or [])])


def _is_dataset(value):
    return isinstance(value, _data.Dataset)


def _fit_dataset(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
                 class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
                 validation_batch_size, validation_schedule=(1, ())):
    # Keras's rules for dataset input: the dataset supplies targets, batches and order.
    for value, what in ((y, "y"), (sample_weight, "sample_weight"), (batch_size, "batch_size")):
        if value is not None:
            raise ValueError(f"fit: `{what}` must not be given when x is a pf.data.Dataset; the dataset's elements "
                             f"supply it ((x, y) or (x, y, sample_weight) tuples, batched with .batch())")
    if validation_split:
        raise ValueError("fit: validation_split is only supported for arrays; with a Dataset pass "
                         "validation_data=<another Dataset> (e.g. split with take()/skip())")
    val_dataset, val_x, val_y = None, [], []
    if validation_data is not None:
        if _is_dataset(validation_data):
            val_dataset = validation_data._handle
        else:
            if not _is_sequence(validation_data) or len(validation_data) != 2:
                raise ValueError("fit: validation_data must be a Dataset or a tuple (x_val, y_val)")
            val_x = _as_list(validation_data[0], _input_names(self), "validation_data x")
            val_y = _as_list(validation_data[1], list(self.output_names) if self.is_functional else [], "validation_data y")
    callbacks = _checked_callbacks(callbacks)
    verbose = _verbose(verbose)
    epoch, history, timing = self._fit_dataset(
        x._handle, int(epochs), verbose, int(initial_epoch), callbacks,
        {int(k): float(v) for k, v in (class_weight or {}).items()}, int(steps_per_epoch or 0), val_dataset,
        int(validation_steps or 0), val_x, val_y, int(validation_batch_size or 32), validation_schedule[0],
        list(validation_schedule[1]))
    _flush()
    steps = steps_per_epoch or (x.cardinality() if x.cardinality() >= 0 else None)
    result = History(epoch, history, {"verbose": verbose, "epochs": epochs, "steps": steps}, self, timing)
    self.history = result
    return result


def _checked_callbacks(callbacks):
    callbacks = list(callbacks or [])
    for c in callbacks:
        if not isinstance(c, Callback):
            raise TypeError(f"fit: callbacks must be pf.callbacks.Callback objects, got {c!r}")
    return callbacks


def _fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None, validation_split=0.0,
         validation_data=None, shuffle=True, class_weight=None, sample_weight=None, initial_epoch=0,
         steps_per_epoch=None, validation_steps=None, validation_batch_size=None, validation_freq=1):
    """Trains for `epochs` epochs on arrays or a pf.data.Dataset; returns a History (Keras semantics,
    see the module docstring). ``history.timing`` has the per-epoch input-wait statistics."""
    freq, freq_epochs = _trainer.validation_schedule(validation_freq)
    if class_weight is not None and not _is_dataset(x):
        # keras/src/trainers/data_adapters/array_data_adapter.py
        if sample_weight is not None:
            raise ValueError("You cannot `class_weight` and `sample_weight` at the same time.")
        if isinstance(y, (list, tuple, dict)):
            raise ValueError("`class_weight` is only supported for Models with a single output.")
    python_loop = (_py_dataset.is_batch_source(x) or _py_dataset.is_batch_source(validation_data) or
                   (y is None and x is not None and not _is_dataset(x)))
    if python_loop or _trainer.overrides(self, _trainer.STEP_METHODS["fit"]):
        # The model's own train_step (or test_step, compute_loss, ...), a PyDataset / DataLoader, or
        # arrays without targets (the loss comes from add_loss): the loop runs in Python.
        return _trainer.fit(self, x, y, batch_size, epochs, _verbose(verbose), _checked_callbacks(callbacks),
                            validation_split, validation_data, shuffle, class_weight, sample_weight, initial_epoch,
                            int(steps_per_epoch or 0), validation_steps, validation_batch_size, validation_freq)
    if _is_dataset(x):
        return _fit_dataset(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                            shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
                            validation_batch_size, (freq, freq_epochs))
    if steps_per_epoch is not None or validation_steps is not None:
        raise ValueError("fit: steps_per_epoch / validation_steps apply to Dataset input; with arrays an epoch is "
                         "ceil(samples / batch_size) steps")
    if y is None:
        raise ValueError(f"model '{self.name}': fit() needs targets y (or a pf.data.Dataset of (x, y) batches as x)")
    xs = _as_list(x, _input_names(self), "fit(x)")
    _note_input_shapes(self, xs)
    ys = _as_list(y, list(self.output_names) if self.is_functional else [], "fit(y)")
    val_x, val_y = [], []
    if validation_data is not None:
        if _is_dataset(validation_data):
            raise NotImplementedError("fit: a Dataset as validation_data needs Dataset training input too; pass "
                                      "(x_val, y_val) arrays")
        if not _is_sequence(validation_data) or len(validation_data) not in (2, 3):
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val)")
        if len(validation_data) == 3:
            raise NotImplementedError("fit: validation sample weights are not supported yet")
        val_x = _as_list(validation_data[0], _input_names(self), "validation_data x")
        val_y = _as_list(validation_data[1], list(self.output_names) if self.is_functional else [], "validation_data y")
    callbacks = _checked_callbacks(callbacks)
    weights = convert_to_tensor(np.asarray(sample_weight)) if sample_weight is not None else None
    verbose = _verbose(verbose)
    epoch, history, timing = self._fit(xs, ys, int(batch_size or 32), int(epochs), verbose, bool(shuffle),
                                       float(validation_split), val_x, val_y, int(initial_epoch), callbacks,
                                       {int(k): float(v) for k, v in (class_weight or {}).items()}, weights,
                                       freq, freq_epochs)
    _flush()
    params = {"verbose": verbose, "epochs": epochs, "steps": -(-(xs[0].shape[0] if xs else 0) // (batch_size or 32))}
    result = History(epoch, history, params, self, timing)
    self.history = result
    return result


_FIT_SIGNATURE = inspect.signature(_fit)


@functools.wraps(_fit)
def _observed_fit(self, *args, **kwargs):
    """fit, with what observers attached (pitfall.doctor) add to the callbacks and see of the History."""
    if not (_hooks.fit_callbacks or _hooks.fit_history):
        return _fit(self, *args, **kwargs)
    bound = _FIT_SIGNATURE.bind(self, *args, **kwargs)
    callbacks = list(bound.arguments.get("callbacks") or [])
    arguments = {k: v for k, v in bound.arguments.items() if k not in ("self", "callbacks")}
    for hook in _hooks.fit_callbacks:
        callbacks = hook(self, callbacks, arguments)
    bound.arguments["callbacks"] = callbacks
    history = None
    try:
        history = _fit(*bound.args, **bound.kwargs)
    finally:  # history None: fit raised
        for hook in _hooks.fit_history:
            hook(self, history)
    return history


def _logs_result(logs, return_dict):
    if return_dict:
        return dict(logs)
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None, steps=None,
              callbacks=None, return_dict=False):
    """Loss and metrics on (x, y): a scalar, a list [loss, metrics...], or a dict with return_dict=True."""
    callbacks = _checked_callbacks(callbacks)
    without_targets = y is None and x is not None and not _is_dataset(x)  # add_loss terms give the loss
    if (callbacks or _py_dataset.is_batch_source(x) or without_targets or
            _trainer.overrides(self, _trainer.STEP_METHODS["evaluate"])):
        # Callbacks see each test batch: the loop runs in Python (the steps are the engine's).
        logs = _trainer.evaluate(self, x, y, batch_size, sample_weight, steps, _verbose(verbose), callbacks)
        return _logs_result(logs, return_dict)
    if _is_dataset(x):
        if y is not None or sample_weight is not None or batch_size is not None:
            raise ValueError("evaluate: y / sample_weight / batch_size must not be given when x is a pf.data.Dataset; "
                             "its elements supply them")
        logs = self._evaluate_dataset(x._handle, _verbose(verbose), int(steps or 0))
        _flush()
        return _logs_result(logs, return_dict)
    if steps is not None:
        raise NotImplementedError("evaluate: steps is not supported yet with arrays")
    xs = _as_list(x, _input_names(self), "evaluate(x)")
    _note_input_shapes(self, xs)
    ys = _as_list(y, list(self.output_names) if self.is_functional else [], "evaluate(y)")
    weights = convert_to_tensor(np.asarray(sample_weight)) if sample_weight is not None else None
    logs = self._evaluate(xs, ys, int(batch_size or 32), _verbose(verbose), weights)
    _flush()
    return _logs_result(logs, return_dict)


def _single_output(self):
    outputs = getattr(self, "_keras_outputs_structure", None)
    if outputs is not None:
        return not _is_sequence(outputs)
    return not self.is_functional or len(self.outputs) == 1


def _numpy_outputs(self, outputs):
    """Arrays in the structure the model's outputs were given in: one array, a list, or a dict
    keyed as the outputs dict was (Keras packs predictions as its outputs structure)."""
    arrays = [np.asarray(o) for o in outputs]
    structure = getattr(self, "_keras_outputs_structure", None)
    if isinstance(structure, dict) and len(structure) == len(arrays):
        return dict(zip(structure.keys(), arrays))
    return arrays[0] if len(arrays) == 1 and _single_output(self) else arrays


def _predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None):
    """Outputs for x as NumPy arrays, computed in batches of batch_size (32), or for every batch of
    a pf.data.Dataset (its elements x, (x,) or (x, y); y is ignored)."""
    callbacks = _checked_callbacks(callbacks)
    if callbacks or _py_dataset.is_batch_source(x) or _trainer.overrides(self, _trainer.STEP_METHODS["predict"]):
        # Callbacks see each predict batch: the loop runs in Python (the steps are the engine's).
        return _trainer.predict(self, x, batch_size, steps, 0 if verbose == "auto" else int(verbose), callbacks)
    if _is_dataset(x):
        if batch_size is not None:
            raise ValueError("predict: batch_size must not be given when x is a pf.data.Dataset")
        return _numpy_outputs(self, self._predict_dataset(x._handle, 0 if verbose == "auto" else int(verbose),
                                                          int(steps or 0)))
    xs = _as_list(x, _input_names(self), "predict(x)")
    _note_input_shapes(self, xs)
    return _numpy_outputs(self, self._predict(xs, int(batch_size or 32), 0 if verbose == "auto" else int(verbose)))


def _train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
    if class_weight is not None:
        raise NotImplementedError("train_on_batch: class_weight is not supported; pass sample_weight")
    xs = _as_list(x, _input_names(self), "train_on_batch(x)")
    _note_input_shapes(self, xs)
    ys = _as_list(y, list(self.output_names) if self.is_functional else [], "train_on_batch(y)")
    w = convert_to_tensor(np.asarray(sample_weight)) if sample_weight is not None else None
    for hook in _hooks.train_on_batch:
        hook(self, "before", None)
    logs = self._train_on_batch(xs, ys, w)
    for hook in _hooks.train_on_batch:
        hook(self, "after", logs)
    return _logs_result(logs, return_dict)


def _test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
    xs = _as_list(x, _input_names(self), "test_on_batch(x)")
    ys = _as_list(y, list(self.output_names) if self.is_functional else [], "test_on_batch(y)")
    w = convert_to_tensor(np.asarray(sample_weight)) if sample_weight is not None else None
    return _logs_result(self._test_on_batch(xs, ys, w), return_dict)


def _predict_on_batch(self, x):
    return _numpy_outputs(self, self._predict_on_batch(_as_list(x, _input_names(self), "predict_on_batch(x)")))


def _summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False, show_trainable=False,
             layer_range=None):
    """Prints the Keras-style table (layer, output shape, params); print_fn receives it instead."""
    text = self.summary_text(line_length or 80)
    (print_fn or print)(text.rstrip("\n"))


def _note_input_shapes(self, tensors):
    """The input shapes (batch axis None) of a subclassed model's first call, which its saved
    build_config records (Keras's Layer._build_shapes_dict)."""
    if self.is_functional or "_build_input_shapes" in self.__dict__ or not tensors:
        return
    shapes = [(None,) + tuple(int(d) for d in t.shape[1:]) for t in tensors if hasattr(t, "shape")]
    if len(shapes) == len(tensors):
        self.__dict__["_build_input_shapes"] = shapes


def _get_build_config(self):
    """Keras's get_build_config: {"input_shape": ...} of a subclassed model that has been called (a
    functional or Sequential model rebuilds from its config instead: None)."""
    shapes = self.__dict__.get("_build_input_shapes")
    if self.is_functional or isinstance(self, Sequential) or not shapes:
        return None
    return {"input_shape": shapes[0] if len(shapes) == 1 else shapes}


def _build_from_config(self, config):
    """Keras's build_from_config: builds a subclassed model for config["input_shape"] by running its
    build() and call() once on zeros of that shape (no gradients, no losses kept), as Keras 3 runs it
    on symbolic inputs (keras/src/models/model.py build_from_config)."""
    input_shape = (config or {}).get("input_shape")
    if input_shape is None or self.is_functional:
        return
    several = isinstance(input_shape, (list, tuple)) and input_shape and isinstance(input_shape[0], (list, tuple))
    shapes = [tuple(s) for s in input_shape] if several else [tuple(input_shape)]
    _C.Layer.compute_output_shape(self, [list(s) for s in shapes] if several else list(shapes[0]))
    self.__dict__["_build_input_shapes"] = shapes


def _python_layer_classes(layer, seen=None):
    """The Python classes of `layer` and of every layer inside it."""
    seen = set() if seen is None else seen
    if id(layer) in seen:
        return []
    seen.add(id(layer))
    found = [] if type(layer).__module__ == "pitfall._pitfall" else [type(layer)]
    children = list(layer.layers) if isinstance(layer, Model) else []
    for child in children + list(layer._tracked_layers):
        found += _python_layer_classes(child, seen)
    return found


def _save(self, filepath, overwrite=True, zipped=None, **kwargs):
    """Saves the architecture (config), weights, compile settings and optimizer state in one file,
    written atomically (docs/file-format.md); Keras's `.keras` name is the convention, any name works.

    A model with layers written in Python, or a subclass of Model, is saved by class name and config,
    as Keras saves it: load_model finds those classes again through custom_objects, a
    custom_object_scope or @register_keras_serializable. A subclassed model (its own __init__ and
    call) needs a get_config() returning its constructor arguments; the file records the input shape
    of its first call (build_config) so that loading builds it before setting its weights."""
    from . import saving
    if kwargs:
        raise TypeError(f"Model.save() got unexpected keyword arguments {sorted(kwargs)}; it takes filepath, "
                        "overwrite and zipped")
    if zipped not in (None, True):
        raise NotImplementedError("Model.save(zipped=False) is not supported: pitfall writes one file (its own "
                                  "container format, docs/file-format.md)")
    import os
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"Model.save: {filepath} exists and overwrite=False")
    for cls in _python_layer_classes(self):
        saving._register_layer(cls.__name__, cls)
    if self.is_functional or type(self) in (Model, Sequential) or isinstance(self, Sequential):
        return _raw_save(self, str(filepath))
    if type(self).get_config is _base_get_config:
        raise NotImplementedError(
            f"Model.save: the subclassed model '{self.name}' ({type(self).__name__}) has no get_config(); its "
            "architecture is code, so saving it needs get_config() returning the arguments of its __init__ "
            "(from_config calls cls(**config)). Or save only its weights with save_weights()")
    build_config = _get_build_config(self)
    if build_config is None:
        raise ValueError(f"Model.save: the subclassed model '{self.name}' ({type(self).__name__}) has not been "
                         "called yet, so its weights do not exist; call it on a batch (model(x)) or fit it first")
    own_get_config = self.get_config
    # The engine reads the config through the instance's get_config; while saving it also carries
    # the build_config (serialization_lib.get_build_and_compile_config).
    self.__dict__["get_config"] = lambda: {**own_get_config(), "build_config": build_config}
    try:
        return _raw_save(self, str(filepath))
    finally:
        del self.__dict__["get_config"]


def _to_json(self, **kwargs):
    """keras Model.to_json: the model's serialize_keras_object config as a JSON string (json.dumps
    keyword arguments pass through)."""
    import json
    from . import saving
    return json.dumps(saving.serialize_keras_object(self), **kwargs)


def save_model(model, filepath, overwrite=True, **kwargs):
    """keras.models.save_model: the same as model.save(filepath, overwrite=...)."""
    model.save(filepath, overwrite=overwrite, **kwargs)


def model_from_json(json_string, custom_objects=None):
    """keras.models.model_from_json: a new (uncompiled) model from Model.to_json()'s string."""
    import json
    from . import saving
    return saving.deserialize_keras_object(json.loads(json_string), custom_objects=custom_objects)


def clone_model(model, input_tensors=None, clone_function=None, call_function=None, recursive=False, **kwargs):
    """keras.models.clone_model: a new model of the same architecture with freshly initialized
    weights (its config rebuilt; no compile settings, no weight values), as Keras 3 clones a
    Sequential, functional or subclassed model (keras/src/models/cloning.py)."""
    for value, what in ((input_tensors, "input_tensors"), (clone_function, "clone_function"),
                        (call_function, "call_function")):
        if value is not None:
            raise NotImplementedError(f"clone_model: {what}= is not supported; clone the model, then change it")
    if kwargs:
        raise TypeError(f"clone_model: unexpected arguments {sorted(kwargs)}")
    from . import saving
    config = saving.serialize_keras_object(model)
    custom_objects = {cls.__name__: cls for cls in _python_layer_classes(model)}
    return saving.deserialize_keras_object(config, custom_objects=custom_objects)


def _get_weights(self):
    return [np.asarray(w) for w in self._get_weight_tensors()]


def _set_weights(self, weights):
    tensors = []
    for value, current in zip(weights, self._get_weight_tensors()):
        tensors.append(convert_to_tensor(np.asarray(value), current.dtype))
    if len(weights) != len(tensors):
        tensors = [convert_to_tensor(np.asarray(v)) for v in weights]
    self._set_weight_tensors(tensors)


_METHODS = {
    "compile": _compile, "fit": _observed_fit, "evaluate": _evaluate, "predict": _predict,
    "train_on_batch": _train_on_batch, "test_on_batch": _test_on_batch, "predict_on_batch": _predict_on_batch,
    "summary": _summary,
}
def _keyword_checked(name, function):
    """Model.<name> that names itself and suggests the right keyword when given an unknown one
    (Python's own message would say '_compile() got an unexpected keyword argument ...')."""
    accepted = [p for p in inspect.signature(function).parameters if p != "self"]

    @functools.wraps(function)
    def method(self, *args, **kwargs):
        for keyword in kwargs:
            if keyword not in accepted:
                close = difflib.get_close_matches(keyword, accepted, n=1)
                hint = f"did you mean {close[0]}=? " if close else ""
                raise TypeError(f"Model.{name}() got an unexpected keyword argument '{keyword}'; {hint}"
                                f"it accepts {', '.join(accepted)} (a misspelled keyword is never ignored)")
        return function(self, *args, **kwargs)
    method.__name__, method.__qualname__ = name, f"Model.{name}"
    return method


for _name, _method in _METHODS.items():
    setattr(Model, _name, _keyword_checked(_name, _method))
Model.get_weights = _get_weights
Model.set_weights = _set_weights
_raw_save = Model.save
_base_get_config = Model.get_config
Model.save = _save
Model.to_json = _to_json
Model.get_build_config = _get_build_config
Model.build_from_config = _build_from_config
_trainer.install(Model)

_layer_setattr = Model.__setattr__
_layer_call = Model.__call__


def _model_setattr(self, name, value):
    """Metrics assigned as attributes are tracked: model.metrics lists them and fit/evaluate reset
    them (Keras's auto-tracking)."""
    if isinstance(value, _C.Metric) and not name.startswith("_"):
        tracked = self.__dict__.setdefault("_tracked_metrics", [])
        if not any(m is value for m in tracked):
            tracked.append(value)
    _layer_setattr(self, name, value)


def _model_call(self, inputs, training=None, **kwargs):
    """model(x): x as one tensor, a list in input order, or a dict keyed by input names; a dict of
    outputs comes back for a model built with one."""
    if kwargs:
        unknown = ", ".join(kwargs)
        raise TypeError(f"model '{self.name}': __call__ got unexpected keyword argument(s) {unknown}; "
                        "it takes inputs and training")
    if isinstance(inputs, dict):
        inputs = [inputs[n] for n in _input_names(self)] if self.is_functional else list(inputs.values())
    for hook in _hooks.model_call:
        hook(self, inputs, training, "before", None)
    outputs = _layer_call(self, inputs, training)
    for hook in _hooks.model_call:
        hook(self, inputs, training, "after", outputs)
    if not self.is_functional:
        _note_input_shapes(self, inputs if isinstance(inputs, (list, tuple)) else [inputs])
    structure = self.__dict__.get("_keras_outputs_structure")
    if isinstance(structure, dict) and isinstance(outputs, (list, tuple)) and len(outputs) == len(structure):
        return dict(zip(structure.keys(), outputs))
    if isinstance(structure, (list, tuple)) and not isinstance(outputs, (list, tuple)):
        return [outputs]
    return outputs


Model.__setattr__ = _model_setattr
Model.__call__ = _model_call


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model saved by model.save(): architecture, weights and (with compile=True) compile settings.

    Custom Python layers are found through ``custom_objects={"MyLayer": MyLayer}``, an open
    ``pf.saving.custom_object_scope`` or ``@pf.saving.register_keras_serializable()``; their
    ``from_config(config)`` (by default ``cls(**config)``) rebuilds them. Functions a Lambda layer
    was given by name are found there too (``custom_objects={"scale": scale}``); a Lambda holding a
    Python lambda loads only with ``safe_mode=False`` (its bytecode runs), as in Keras 3.
    """
    from . import layers, saving
    saving.register_custom_objects(custom_objects, "load_model")
    with layers._deserialization_scope(safe_mode, custom_objects):
        return _C.load_model(str(filepath), compile)


def _single_or_list(tensors):
    tensors = list(tensors)
    return tensors[0] if len(tensors) == 1 else tensors


@classmethod
def _model_from_config(cls, config, custom_objects=None):
    """Keras's Model.from_config: a Sequential or functional model from get_config(), custom layers
    found through custom_objects, scopes or registration. A Model subclass built as a functional
    model (``CustomModel(inputs, outputs)``) is rebuilt as that subclass over the same graph."""
    from . import saving
    saving.register_custom_objects(custom_objects, f"{cls.__name__}.from_config")
    sequential = issubclass(cls, Sequential)
    if not sequential and not ("layers" in config and "input_layers" in config):
        raise ValueError(f"{cls.__name__}.from_config: the config has no 'layers' / 'input_layers', so it does not "
                         "describe a functional model; a subclassed model rebuilds itself with its own from_config "
                         "(override it, e.g. return cls(**config))")
    with saving.custom_object_scope(custom_objects or {}):
        model = _C.layer_from_config({"class_name": "Sequential" if sequential else "Functional", "config": config})
    if cls in (Model, Sequential) or sequential:
        return model
    # One input / output stands alone, as Keras's config records it (a single [layer, node, index]).
    structure_in = model.__dict__.get("_keras_inputs_structure", _single_or_list(model.inputs))
    structure_out = model.__dict__.get("_keras_outputs_structure", _single_or_list(model.outputs))
    return cls(inputs=structure_in, outputs=structure_out, name=model.name)


Model.from_config = _model_from_config
