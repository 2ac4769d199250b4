"""pitfall.layers: Keras layers with Keras names, arguments and defaults.

Built-in layers are C++ classes; custom layers subclass ``pf.layers.Layer`` in Python and define
``build(self, input_shape)`` (optional) and ``call(self, inputs, training=None)``::

    class Scale(pf.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
        def call(self, inputs):
            return inputs * self.w

Layers assigned as attributes of a custom layer or model are tracked (their weights become its
weights). ``call`` must compute with ``pf.ops`` on tensors: returning a NumPy array raises, since
gradients cannot flow through NumPy.
"""
import base64
import builtins
import contextlib
import functools
import inspect
import marshal
import types
import weakref

import numpy as np

from . import _hooks
from . import _pitfall as _C
from . import _arguments
from ._convert import Tensor, convert_to_tensor

Layer = _C.Layer
InputLayer = _C.InputLayer
KerasTensor = _C.KerasTensor
Dense = _C.Dense
Activation = _C.Activation
Dropout = _C.Dropout
Flatten = _C.Flatten
Reshape = _C.Reshape
Add = _C.Add
Subtract = _C.Subtract
Multiply = _C.Multiply
Average = _C.Average
Maximum = _C.Maximum
Minimum = _C.Minimum
Concatenate = _C.Concatenate
Dot = _C.Dot
Embedding = _C.Embedding
BatchNormalization = _C.BatchNormalization
LayerNormalization = _C.LayerNormalization
Conv2D = _C.Conv2D
MaxPooling2D = _C.MaxPooling2D
AveragePooling2D = _C.AveragePooling2D
GlobalAveragePooling2D = _C.GlobalAveragePooling2D
MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D
GlobalAvgPool2D = GlobalAveragePooling2D
SimpleRNN = _C.SimpleRNN
LSTM = _C.LSTM
LeakyReLU = _C.LeakyReLU
PReLU = _C.PReLU
ReLU = _C.ReLU
Softmax = _C.Softmax
ELU = _C.ELU
UpSampling1D = _C.UpSampling1D
UpSampling2D = _C.UpSampling2D
ZeroPadding1D = _C.ZeroPadding1D
ZeroPadding2D = _C.ZeroPadding2D
Cropping1D = _C.Cropping1D
Cropping2D = _C.Cropping2D
Permute = _C.Permute
RepeatVector = _C.RepeatVector
SpatialDropout1D = _C.SpatialDropout1D
SpatialDropout2D = _C.SpatialDropout2D
GaussianNoise = _C.GaussianNoise
GaussianDropout = _C.GaussianDropout
ActivityRegularization = _C.ActivityRegularization
UnitNormalization = _C.UnitNormalization
Rescaling = _C.Rescaling
Normalization = _C.Normalization
CategoryEncoding = _C.CategoryEncoding
GRU = _C.GRU
Conv1D = _C.Conv1D
Conv2DTranspose = _C.Conv2DTranspose
DepthwiseConv2D = _C.DepthwiseConv2D
SeparableConv2D = _C.SeparableConv2D
MaxPooling1D = _C.MaxPooling1D
AveragePooling1D = _C.AveragePooling1D
GlobalMaxPooling1D = _C.GlobalMaxPooling1D
GlobalAveragePooling1D = _C.GlobalAveragePooling1D
GlobalMaxPooling2D = _C.GlobalMaxPooling2D
Masking = _C.Masking
Bidirectional = _C.Bidirectional
TimeDistributed = _C.TimeDistributed
# Keras's aliases (keras/src/layers/__init__.py exports).
Convolution1D = Conv1D
Convolution2D = Conv2D
Convolution2DTranspose = Conv2DTranspose
SeparableConvolution2D = SeparableConv2D
MaxPool1D = MaxPooling1D
AvgPool1D = AveragePooling1D
GlobalMaxPool1D = GlobalMaxPooling1D
GlobalAvgPool1D = GlobalAveragePooling1D
GlobalMaxPool2D = GlobalMaxPooling2D

# Every built-in layer class: its signature and help text from its argument table (layers/*.cpp).
for _cls in (InputLayer, Dense, Activation, Dropout, Flatten, Reshape, Add, Subtract, Multiply, Average, Maximum,
             Minimum, Concatenate, Dot, Embedding,
             BatchNormalization, LayerNormalization, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
             SimpleRNN, LSTM, LeakyReLU, PReLU, ReLU, Softmax, ELU, UpSampling1D, UpSampling2D, ZeroPadding1D,
             ZeroPadding2D, Cropping1D, Cropping2D, Permute, RepeatVector, SpatialDropout1D, SpatialDropout2D,
             GaussianNoise, GaussianDropout, ActivityRegularization, UnitNormalization, Rescaling, Normalization,
             CategoryEncoding, GRU, Conv1D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, MaxPooling1D,
             AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D, GlobalMaxPooling2D, Masking, Bidirectional,
             TimeDistributed):
    _arguments.install(_cls, "layers")


def Input(shape=None, batch_size=None, dtype=None, name=None, batch_shape=None):
    """A symbolic input of a functional model: ``pf.layers.Input(shape=(784,))`` (no batch dimension)."""
    if batch_shape is not None:
        if shape is not None:
            raise ValueError("Input: pass shape= or batch_shape=, not both")
        shape = tuple(batch_shape)[1:]
        batch_size = tuple(batch_shape)[0]
    if shape is None:
        raise ValueError("Input: shape= is required, e.g. pf.Input(shape=(784,))")
    if isinstance(shape, int):
        shape = (shape,)
    if batch_size is not None:
        # A fixed batch (Keras's Input(batch_shape=(32, ...))): the symbolic shapes show it; data of
        # another batch size still feeds the model, as in Keras, whose layers do not depend on it.
        return InputLayer(shape=tuple(shape), batch_size=batch_size, dtype=dtype, name=name)._keras_tensor()
    return _C.Input(tuple(shape), dtype, name or "")


def _merge_function(cls, name):
    def merge(inputs, **kwargs):
        return cls(**kwargs)(list(inputs))
    merge.__name__ = merge.__qualname__ = name
    merge.__doc__ = (f"Functional interface to the {cls.__name__} layer: ``layers.{name}([a, b, ...], **kwargs)`` "
                     f"is ``layers.{cls.__name__}(**kwargs)([a, b, ...])`` (keras.layers.{name}).")
    return merge


add = _merge_function(Add, "add")
subtract = _merge_function(Subtract, "subtract")
multiply = _merge_function(Multiply, "multiply")
average = _merge_function(Average, "average")
maximum = _merge_function(Maximum, "maximum")
minimum = _merge_function(Minimum, "minimum")


def concatenate(inputs, axis=-1, **kwargs):
    """Functional interface to Concatenate: ``layers.concatenate([a, b], axis=-1)`` (keras.layers.concatenate)."""
    return Concatenate(axis=axis, **kwargs)(list(inputs))


def dot(inputs, axes=-1, **kwargs):
    """Functional interface to Dot: ``layers.dot([a, b], axes=-1, normalize=False)`` (keras.layers.dot)."""
    return Dot(axes=axes, **kwargs)(list(inputs))


def _layer_setattr(self, name, value):
    """Tracks layers assigned as attributes (Keras auto-tracking)."""
    if isinstance(value, Layer) and value is not self:
        self._track(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, Layer) and item is not self:
                self._track(item)
    object.__setattr__(self, name, value)


def _node_tensors(self, what):
    """Keras's layer.input / layer.output: the tensors of the layer's first symbolic call
    (keras/src/ops/operation.py _get_node_attribute_at_index); one tensor, or a list of several.
    A functional model answers with the structure it was built from (keras/src/models/functional.py)."""
    if isinstance(self, _C.Model) and self.is_functional:
        structure = getattr(self, f"_keras_{what}s_structure", None)
        if structure is not None:
            return structure
        tensors = list(self.inputs if what == "input" else self.outputs)
        return tensors[0] if len(tensors) == 1 else tensors
    if isinstance(self, _C.InputLayer):
        return self._keras_tensor()  # an InputLayer's input and output are the tensor it makes
    if self._inbound_node_count() == 0:
        raise AttributeError(f"The layer {self.name} has never been called and thus has no defined {what}; call it "
                             f"on a symbolic input first (e.g. {type(self).__name__}(...)(pf.Input(shape=...)))")
    inputs, outputs = self._inbound_node(0)
    tensors = inputs if what == "input" and inputs else outputs  # an InputLayer's input is its output
    return tensors[0] if len(tensors) == 1 else list(tensors)


def _shapes_of(tensors):
    if isinstance(tensors, dict):
        return {k: tuple(v.shape) for k, v in tensors.items()}
    if isinstance(tensors, (list, tuple)):
        return [tuple(t.shape) for t in tensors]
    return tuple(tensors.shape)


Layer.input = property(lambda self: _node_tensors(self, "input"),
                       doc="The input tensor(s) of the layer's first call on symbolic inputs (Keras's layer.input).")
Layer.output = property(lambda self: _node_tensors(self, "output"),
                        doc="The output tensor(s) of the layer's first call on symbolic inputs (Keras's layer.output).")
Layer.input_shape = property(lambda self: _shapes_of(_node_tensors(self, "input")),
                             doc="The shape(s) of layer.input, batch axis None (tf.keras's layer.input_shape).")
Layer.output_shape = property(lambda self: _shapes_of(_node_tensors(self, "output")),
                              doc="The shape(s) of layer.output, batch axis None (tf.keras's layer.output_shape).")
_NODE_PROPERTIES = {"input": "input", "output": "output", "input_shape": "input", "output_shape": "output"}


def _layer_getattr(self, name):
    """Weights by name (layer.kernel, layer.gamma) and config values (layer.units) for built-in layers."""
    if name.startswith("_"):
        raise AttributeError(name)
    if name in _NODE_PROPERTIES:
        _node_tensors(self, _NODE_PROPERTIES[name])  # the property raised AttributeError: raise its message
    for weight_name, weight in zip(self._weight_names(), self.weights):
        if weight_name == name and not isinstance(self, _C.Model):
            return weight
    config = self.get_config()
    if name in config:
        return config[name]
    raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")


def _get_weights(self):
    """The weights as NumPy arrays (copies), in Keras order."""
    return [np.array(w) for w in self.weights]


def _set_weights(self, weights):
    """Overwrites the weights from arrays of the same shapes (ValueError naming the first mismatch)."""
    own = self.weights
    if len(weights) != len(own):
        raise ValueError(f"layer '{self.name}' ({type(self).__name__}): set_weights got {len(weights)} arrays "
                         f"but the layer has {len(own)} weights ({', '.join(self._weight_paths())})")
    for path, target, value in zip(self._weight_paths(), own, weights):
        value = convert_to_tensor(np.asarray(value), target.dtype)
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError(f"layer '{self.name}': weight '{path}' has shape {tuple(target.shape)}, "
                             f"got an array of shape {tuple(value.shape)}")
        target._assign(value)


@classmethod
def _from_config(cls, config):
    """Keras from_config: built-in classes through the registry, Python subclasses as cls(**config)."""
    if cls.__module__ == "pitfall._pitfall":
        return _C.layer_from_config({"class_name": cls.__name__, "config": config})
    return cls(**config)


_raw_layer_call = Layer.__call__


def _spread_call(layer, count):
    """The layer's call() taking `count` inputs as that many positional arguments, for the engine,
    which hands a layer called on several tensors one list of them."""
    call = type(layer).call

    @functools.wraps(call)
    def spread(inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and len(inputs) == count:
            return call(layer, *inputs, *args, **kwargs)
        return call(layer, inputs, *args, **kwargs)
    return spread


def _with_masks(self, inputs, mask):
    """The inputs carrying the given mask(s) as their _keras_mask, on new tensors (the caller's keep
    theirs): Keras 3's explicit ``layer(x, mask=mask)`` (keras/src/layers/layer.py __call__)."""
    several = isinstance(inputs, (list, tuple))
    xs, masks = (list(inputs), list(mask)) if several else ([inputs], [mask])
    if len(masks) != len(xs):
        raise ValueError(f"layer '{self.name}': got {len(masks)} masks for {len(xs)} inputs")
    out = []
    for x, m in zip(xs, masks):
        if isinstance(x, KerasTensor) or isinstance(m, KerasTensor):
            raise NotImplementedError(f"layer '{self.name}': mask= on symbolic inputs is not supported; in a "
                                      "functional model masks propagate from Embedding(mask_zero=True) / Masking")
        x = convert_to_tensor(x)
        x = x.reshape(tuple(x.shape)) if hasattr(x, "reshape") else x
        if m is not None:
            x._keras_mask = convert_to_tensor(m, "bool")
        out.append(x)
    return out if several else out[0]


def _layer_call_args(self, *args, mask=None, **kwargs):
    """Keras 3's Layer.__call__(*args, **kwargs): tensors given as further positional arguments
    are more inputs of a Python layer's call(), e.g. ``LogisticEndpoint()(targets, logits)`` runs
    ``call(targets, logits)`` (keras/src/layers/layer.py, CallSpec: every tensor argument is an input);
    ``mask=`` gives the inputs' masks explicitly (``lstm(x, mask=embedding.compute_mask(ids))``)."""
    if _hooks.layer_call and not isinstance(self, _C.Model):
        for hook in _hooks.layer_call:
            hook(self, kwargs.get("training"))
    if mask is not None:
        if len(args) != 1:
            raise TypeError(f"layer '{self.name}': mask= goes with one inputs argument (a tensor or a list)")
        args = (_with_masks(self, args[0], mask),)
    several_tensors = len(args) > 1 and all(isinstance(a, (KerasTensor, Tensor, np.ndarray)) for a in args)
    if several_tensors and type(self).__module__ != _C.__name__ and not isinstance(self, _C.Model):
        if "call" not in self.__dict__:
            self.__dict__["call"] = _spread_call(self, len(args))
        return _raw_layer_call(self, list(args), **kwargs)
    return _raw_layer_call(self, *args, **kwargs)


Layer.__call__ = _layer_call_args
Layer.__setattr__ = _layer_setattr
Layer.__getattr__ = _layer_getattr
Layer.get_weights = _get_weights
Layer.set_weights = _set_weights
Layer.from_config = _from_config


def get(identifier):
    """A layer from a config dict {"class_name", "config"}, or the layer itself."""
    if isinstance(identifier, Layer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a layer")


def deserialize(config, custom_objects=None):
    """keras.layers.deserialize: the layer a serialize() dict describes; custom classes through
    custom_objects, an open custom_object_scope or registration."""
    from . import saving
    return saving.deserialize_keras_object(config, custom_objects=custom_objects)


def serialize(layer):
    """keras.layers.serialize: {"module", "class_name", "config", "registered_name"} (nested layers,
    regularizers and initializers in the config serialized too)."""
    from . import saving
    return saving.serialize_keras_object(layer)


def _layer_config_entry(self):
    # A layer held in another layer's config (a custom layer's sublayer argument) is stored as
    # keras.saving.serialize_keras_object stores it, so that deserialize() finds its class again.
    from . import saving
    return saving.serialize_keras_object(self)


Layer._config_entry = _layer_config_entry
_raw_add_loss = Layer.add_loss


def _add_loss(self, loss):
    """Keras 3's add_loss, called inside call() (or build()): adds a scalar tensor (or a list of them)
    to layer.losses until the next top-level call (keras/src/layers/layer.py). Symbolic tensors are
    refused as Keras refuses them: a functional model's extra loss belongs in a layer's call()."""
    values = list(loss) if isinstance(loss, (list, tuple)) else [loss]
    for value in values:
        if not isinstance(value, Tensor):
            raise ValueError("`add_loss()` can only be called from inside `build()` or `call()`, on a tensor input. "
                             f"Received invalid value: {value!r}" +
                             ("; to add a loss computed from a functional model's tensors, compute it in a "
                              "custom layer's call() with self.add_loss(...)" if isinstance(value, KerasTensor) else ""))
    for value in values:
        _raw_add_loss(self, value)


Layer.add_loss = _add_loss


# ---------------------------------------------------------------- weights as variables
# A layer's weights come back as pf.Variable objects with a stable identity: the object add_weight
# returned is the one layer.weights lists (Keras's `layer.weights == [w, b]`), with assign,
# assign_add, assign_sub and numpy() writing and reading the layer's own storage.

# weight storage id -> its Variable, while anything holds the Variable: the same object from every
# layer and model that lists the weight (a nested model's weights are its parent's). Kept outside
# the layers' __dict__, which autocasting under a mixed policy rewrites during call().
_VARIABLES = weakref.WeakValueDictionary()


def _variable_for(self, tensor, name=None, path=None, trainable=None):
    from .variables import Variable
    key = tensor._impl_id()
    variable = _VARIABLES.get(key)
    if variable is None:
        variable = Variable._sharing(tensor, name=name, trainable=trainable)
        _VARIABLES[key] = variable
    if path is not None and variable.name != path:
        variable.path = path
    return variable


def _weights_as_variables(getter):
    def weights(self):
        tensors = getter(self)
        if not tensors:
            return []
        labels = {t._impl_id(): (n, p) for t, n, p in zip(_raw_weights(self), self._weight_names(), self._weight_paths())}
        out = []
        for t in tensors:
            name, path = labels.get(t._impl_id(), (None, None))
            out.append(_variable_for(self, t, name, path, getter is not _raw_non_trainable))
        return out
    return weights


_raw_weights = Layer.weights.fget
_raw_trainable = Layer.trainable_weights.fget
_raw_non_trainable = Layer.non_trainable_weights.fget
Layer.weights = property(_weights_as_variables(_raw_weights), doc="Every weight, as variables (Keras order).")
Layer.variables = Layer.weights
Layer.trainable_weights = property(_weights_as_variables(_raw_trainable), doc="The weights gradients update.")
Layer.trainable_variables = Layer.trainable_weights
Layer.non_trainable_weights = property(_weights_as_variables(_raw_non_trainable),
                                       doc="The weights no gradient updates (BatchNormalization's moving statistics).")
Layer.non_trainable_variables = Layer.non_trainable_weights
_raw_add_weight = Layer.add_weight


def _add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                regularizer=None, constraint=None, aggregation="none", overwrite_with_gradient=False, name=None):
    """Keras 3's add_weight: a new weight of this layer, returned as a variable (keras/src/layers/layer.py;
    the legacy positional form add_weight(shape, initializer, dtype) is accepted too)."""
    if len(args) > 3:
        raise TypeError(f"{type(self).__name__}.add_weight takes at most 3 positional arguments (shape, initializer, "
                        f"dtype), got {len(args)}; pass the rest by keyword")
    for index, (given, keyword) in enumerate(zip(args, ("shape", "initializer", "dtype"))):
        if {"shape": shape, "initializer": initializer, "dtype": dtype}[keyword] is not None:
            raise ValueError(f"{type(self).__name__}.add_weight: {keyword} given both by position and by keyword")
    shape, initializer, dtype = (list(args) + [shape, initializer, dtype][len(args):])[:3] if args else (
        shape, initializer, dtype)
    if not autocast:
        raise NotImplementedError(f"{type(self).__name__}.add_weight(autocast=False) is not supported: weights are "
                                  "cast to the layer's compute dtype when read in call()")
    if constraint is not None:
        raise NotImplementedError(f"{type(self).__name__}.add_weight: constraint= is not supported; apply the "
                                  "constraint yourself after each optimizer step (variable.assign(...))")
    if overwrite_with_gradient:
        raise NotImplementedError(f"{type(self).__name__}.add_weight(overwrite_with_gradient=True) is not supported")
    if aggregation not in ("none", "mean", "sum", "only_first_replica"):
        raise ValueError(f"{type(self).__name__}.add_weight: aggregation must be 'none', 'mean', 'sum' or "
                         f"'only_first_replica', got {aggregation!r}")
    tensor = _raw_add_weight(self, shape, initializer, dtype, trainable, regularizer, name)
    return _variable_for(self, tensor, name or "variable", None, bool(trainable))


Layer.add_weight = _add_weight
# ---------------------------------------------------------------- Normalization.adapt

def _adapt_batches(layer, data):
    """The batches adapt() reads from `data`, as Keras's Normalization.adapt takes it: a NumPy array
    or tensor (one batch: all of it), a pf.data.Dataset of batches (its first element if elements
    are (x, y) tuples; a dataset of rank-1 elements is batched by 128 first), or an iterable of
    batches."""
    from . import data as _data

    def features(element):
        return element[0] if isinstance(element, tuple) else element

    if isinstance(data, (np.ndarray, Tensor)) or np.isscalar(data):
        return [data]
    if isinstance(data, _data.Dataset):
        spec = data.element_spec
        spec = spec[0] if isinstance(spec, tuple) else spec
        if spec.shape is not None and len(spec.shape) == 1:
            data = data.batch(128)
        return (features(element) for element in data)
    if isinstance(data, (list, tuple)) and data and all(np.isscalar(v) for v in data):
        return [np.asarray(data)]  # a plain list of numbers is one batch, as np.asarray would read it
    if hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
        return (features(element) for element in data)
    raise TypeError(f"layer '{layer.name}' (Normalization).adapt: unsupported data of type {type(data).__name__}; "
                    "pass a NumPy array, a tensor, a pf.data.Dataset of batches or an iterable of batches")


def _normalization_adapt(self, data, batch_size=None, steps=None):
    """Computes the mean and variance of `data` over every axis that is not kept (Keras's
    Normalization.adapt), merged batch by batch, and stores them in the layer's weights.

    ``data``: a NumPy array or tensor, a ``pf.data.Dataset`` yielding batches (or (x, y) pairs), or
    an iterable of batches. ``batch_size`` batches an array or a dataset first; ``steps`` stops after
    that many batches (both as Keras 2's adapt took them).
    """
    from . import data as _data
    if batch_size is not None:
        if isinstance(data, (np.ndarray, Tensor)):
            data = _data.Dataset.from_tensor_slices(np.asarray(data)).batch(batch_size)
        elif isinstance(data, _data.Dataset):
            data = data.batch(batch_size)
        else:
            raise TypeError(f"layer '{self.name}' (Normalization).adapt: batch_size= applies to an array or a "
                            f"pf.data.Dataset, got {type(data).__name__} (an iterable already yields batches)")
    started = False
    for step, batch in enumerate(_adapt_batches(self, data)):
        if steps is not None and step >= steps:
            break
        batch = convert_to_tensor(batch) if not isinstance(batch, Tensor) else batch
        if not started:
            self._begin_adapt(tuple(batch.shape))
            started = True
        self._adapt_batch(batch)
    if not started:
        raise ValueError(f"layer '{self.name}' (Normalization).adapt: the data has no batches; pass at least one")
    self._finish_adapt()


Normalization.adapt = _normalization_adapt


# ---------------------------------------------------------------- Lambda

# Settings of the load in progress (load_model's safe_mode and custom_objects), read by from_config.
_DESERIALIZATION = {"safe_mode": None, "custom_objects": {}}


@contextlib.contextmanager
def _deserialization_scope(safe_mode, custom_objects):
    saved = dict(_DESERIALIZATION)
    _DESERIALIZATION.update(safe_mode=safe_mode, custom_objects=dict(custom_objects or {}))
    try:
        yield
    finally:
        _DESERIALIZATION.update(saved)


def _serialize_function(fn, where):
    """A function as Keras's Lambda config holds it: a Python lambda as its bytecode
    ({"class_name": "__lambda__", ...}, keras/src/utils/python_utils.py func_dump), a named function
    by module and name (found again through custom_objects, or in pitfall's own modules)."""
    if isinstance(fn, types.LambdaType) and fn.__name__ == "<lambda>":
        closure = tuple(c.cell_contents for c in fn.__closure__) if fn.__closure__ else None
        for what, values in (("default", fn.__defaults__ or ()), ("closure", closure or ())):
            for value in values:
                if not isinstance(value, (int, float, str, bool, type(None), list, tuple, dict)):
                    raise ValueError(f"{where}: the lambda's {what} holds {type(value).__name__} {value!r}, which a "
                                     "config cannot store; use a named function (load it with custom_objects) "
                                     "or subclass pf.layers.Layer")
        code = base64.b64encode(marshal.dumps(fn.__code__)).decode("ascii")
        return {"class_name": "__lambda__", "config": {"code": code, "defaults": fn.__defaults__, "closure": closure}}
    name = getattr(fn, "__name__", None)
    if name is None:
        raise ValueError(f"{where}: cannot serialize {fn!r}: pass a function (def or lambda)")
    from . import saving
    return {"module": fn.__module__, "class_name": "function", "config": name,
            "registered_name": saving.get_registered_name(fn)}


def _deserialize_function(config, where, safe_mode, custom_objects):
    if not isinstance(config, dict):
        return config
    if config.get("class_name") == "__lambda__":
        if safe_mode is not False:
            raise ValueError(
                f"{where}: the config holds a Python lambda (bytecode). Loading it runs code from the file, so it "
                "is refused by default, as Keras 3 does. If you trust the file, pass safe_mode=False to "
                "pf.models.load_model (or from_config), or call pf.config.enable_unsafe_deserialization()")
        inner = config["config"]
        code = marshal.loads(base64.b64decode(inner["code"]))
        closure = inner.get("closure")
        cells = tuple(types.CellType(value) for value in closure) if closure else None
        defaults = tuple(inner["defaults"]) if inner.get("defaults") else None
        import pitfall
        globals_ = {"pf": pitfall, "pitfall": pitfall, "np": np, "__builtins__": builtins}
        return types.FunctionType(code, globals_, code.co_name, defaults, cells)
    if config.get("class_name") == "function":
        from . import saving
        name, module = config.get("config"), config.get("module", "")
        found = custom_objects.get(name) or custom_objects.get(config.get("registered_name")) or \
            saving.get_registered_object(config.get("registered_name") or name)
        if found is not None:
            return found
        if module == "pitfall" or module.startswith("pitfall."):
            import importlib
            found = getattr(importlib.import_module(module), name, None)
            if found is not None:
                return found
        raise TypeError(f"{where}: could not locate function '{name}' (module {module!r}); pass it when loading: "
                        f"pf.models.load_model(path, custom_objects={{'{name}': {name}}})")
    return config


def _checked_output_shape(output_shape):
    if output_shape is None or callable(output_shape):
        return output_shape
    if isinstance(output_shape, (list, tuple)) and all(d is None or isinstance(d, (int, np.integer))
                                                       for d in output_shape):
        return tuple(None if d is None else int(d) for d in output_shape)
    raise TypeError("Lambda: argument 'output_shape' must be None, a shape tuple without the batch axis such as "
                    f"(10,), or a function of the input shape, got output_shape={output_shape!r}")


class Lambda(Layer):
    """Wraps a function of tensors as a layer (keras.layers.Lambda): ``Lambda(lambda x: x ** 2)``.

    Keras reference: keras/src/layers/core/lambda_layer.py

    Arguments:
        function: called as ``function(inputs, **arguments)`` (also with ``training=`` when it takes
            that argument); compute with ``pf.ops``, as in a layer's call().
        output_shape: None (inferred by calling the function), a shape without the batch axis, or a
            function of the input shape giving the whole output shape.
        mask: accepted at its default (None) only: pitfall layers do not carry masks.
        arguments: a dict of keyword arguments for the function.

    A Lambda holding a Python lambda saves its bytecode; loading it is refused unless
    ``safe_mode=False`` (as Keras 3). A named function is saved by name and found again through
    ``custom_objects``. Functions that hold state belong in a ``pf.layers.Layer`` subclass instead.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: argument 'function' must be callable, got function={function!r}")
        if mask is not None:
            raise NotImplementedError(f"Lambda: argument 'mask' is not supported by pitfall (got mask={mask!r}); "
                                      "leave it at its default, None")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"Lambda: argument 'arguments' must be a dict of keyword arguments or None, "
                            f"got arguments={arguments!r}")
        self.function = function
        self._output_shape = _checked_output_shape(output_shape)
        self.arguments = dict(arguments or {})
        self.mask = None
        try:
            parameters = inspect.signature(function).parameters
        except (TypeError, ValueError):
            parameters = {}
        self._function_takes_training = "training" in parameters
        self._function_takes_mask = "mask" in parameters

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if self._function_takes_mask:
            kwargs["mask"] = None
        if self._function_takes_training:
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return super().compute_output_shape(input_shape)  # calls the function on zeros
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        first = input_shape[0] if isinstance(input_shape, list) else input_shape
        return (first[0] if len(first) else None,) + self._output_shape

    def get_config(self):
        where = f"layer '{self.name}' (Lambda).get_config"
        config = super().get_config()
        config["function"] = _serialize_function(self.function, where)
        if self._output_shape is not None:
            config["output_shape"] = (_serialize_function(self._output_shape, where) if callable(self._output_shape)
                                      else list(self._output_shape))
        config["arguments"] = dict(self.arguments)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None, safe_mode=None):
        config = dict(config)
        if safe_mode is None:
            safe_mode = _DESERIALIZATION["safe_mode"]
            if safe_mode is None:
                from . import config as _config
                safe_mode = not _config.unsafe_deserialization_enabled()
        objects = dict(_DESERIALIZATION["custom_objects"])
        objects.update(custom_objects or {})
        where = f"Lambda.from_config (layer '{config.get('name')}')"
        config["function"] = _deserialize_function(config["function"], where, safe_mode, objects)
        if "output_shape" in config:
            config["output_shape"] = _deserialize_function(config["output_shape"], where, safe_mode, objects)
        return cls(**config)


_C.register_python_layer_class("Lambda", Lambda)
