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
Concatenate = _C.Concatenate
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

# Every built-in layer class: its signature and help text from its argument table (layers/*.cpp).
for _cls in (InputLayer, Dense, Activation, Dropout, Flatten, Reshape, Add, Concatenate, Embedding,
             BatchNormalization, LayerNormalization, Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
             SimpleRNN, LSTM):
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


def _layer_setattr(self, name, value):
    """Tracks layers assigned as attributes (Keras auto-tracking)."""
    if isinstance(value, Layer) and value is not self:
        self._track(value)
    elif isinstance(value, (list, tuple)):
        for item in value:
            if isinstance(item, Layer) and item is not self:
                self._track(item)
    object.__setattr__(self, name, value)


def _layer_getattr(self, name):
    """Weights by name (layer.kernel, layer.gamma) and config values (layer.units) for built-in layers."""
    if name.startswith("_"):
        raise AttributeError(name)
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
