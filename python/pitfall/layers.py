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
import numpy as np

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
             SimpleRNN, LSTM, GRU, Conv1D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D, MaxPooling1D,
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
    if batch_size is not None:
        raise NotImplementedError("Input: a fixed batch_size is not supported; leave it None")
    if isinstance(shape, int):
        shape = (shape,)
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
        return _C.layer_from_config(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a layer")


def deserialize(config):
    return _C.layer_from_config(config)


def serialize(layer):
    return {"class_name": layer.class_name, "config": layer.get_config()}
