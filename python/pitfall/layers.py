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
from ._arguments import REQUIRED, UNSUPPORTED, bind_arguments
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


# Keras 3 signatures, positional order first. Base keywords (name, trainable, dtype, input_shape,
# input_dim, batch_input_shape) are accepted by every layer.
_BASE = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape")
_DENSE_LIKE = [("kernel_initializer", "glorot_uniform"), ("bias_initializer", "zeros"),
               ("kernel_regularizer", None), ("bias_regularizer", None), ("activity_regularizer", UNSUPPORTED),
               ("kernel_constraint", UNSUPPORTED), ("bias_constraint", UNSUPPORTED)]
# Arguments whose default depends on the layer's convention (Keras 0.99 / 1e-3, torch 0.1 / 1e-5): left
# out of the config so the C++ conventions table decides. An explicit None still reaches it (torch's
# momentum=None, the cumulative average).
_CONVENTION_DEFAULT = object()
_POOL = [("pool_size", (2, 2)), ("strides", None), ("padding", "valid"), ("data_format", None)]
_SIGNATURES = {
    "InputLayer": [("shape", None), ("batch_size", None), ("dtype", None), ("sparse", UNSUPPORTED),
                   ("batch_shape", None), ("input_tensor", UNSUPPORTED), ("name", None)],
    "Dense": [("units", REQUIRED), ("activation", None), ("use_bias", True)] + _DENSE_LIKE
             + [("lora_rank", UNSUPPORTED)],
    "Activation": [("activation", REQUIRED)],
    "Dropout": [("rate", REQUIRED), ("noise_shape", None), ("seed", None)],
    "Flatten": [("data_format", None)],
    "Reshape": [("target_shape", REQUIRED)],
    "Add": [],
    "Concatenate": [("axis", -1)],
    "Embedding": [("input_dim", REQUIRED), ("output_dim", REQUIRED), ("embeddings_initializer", "uniform"),
                  ("embeddings_regularizer", None), ("embeddings_constraint", UNSUPPORTED), ("mask_zero", False),
                  ("weights", UNSUPPORTED), ("lora_rank", UNSUPPORTED), ("input_length", UNSUPPORTED),
                  ("convention", "keras")],
    "BatchNormalization": [("axis", -1), ("momentum", _CONVENTION_DEFAULT), ("epsilon", _CONVENTION_DEFAULT),
                           ("center", True), ("scale", True),
                           ("beta_initializer", "zeros"), ("gamma_initializer", "ones"),
                           ("moving_mean_initializer", "zeros"), ("moving_variance_initializer", "ones"),
                           ("beta_regularizer", None), ("gamma_regularizer", None),
                           ("beta_constraint", UNSUPPORTED), ("gamma_constraint", UNSUPPORTED),
                           ("synchronized", UNSUPPORTED), ("convention", "keras")],
    "LayerNormalization": [("axis", -1), ("epsilon", 1e-3), ("center", True), ("scale", True),
                           ("rms_scaling", UNSUPPORTED), ("beta_initializer", "zeros"), ("gamma_initializer", "ones"),
                           ("beta_regularizer", None), ("gamma_regularizer", None),
                           ("beta_constraint", UNSUPPORTED), ("gamma_constraint", UNSUPPORTED)],
    "Conv2D": [("filters", REQUIRED), ("kernel_size", REQUIRED), ("strides", (1, 1)), ("padding", "valid"),
               ("data_format", None), ("dilation_rate", (1, 1)), ("groups", UNSUPPORTED), ("activation", None),
               ("use_bias", True)] + _DENSE_LIKE + [("lora_rank", UNSUPPORTED)],
    "MaxPooling2D": _POOL,
    "AveragePooling2D": _POOL,
    "GlobalAveragePooling2D": [("data_format", None), ("keepdims", False)],
    "SimpleRNN": [("units", REQUIRED), ("activation", "tanh"), ("use_bias", True),
                  ("kernel_initializer", "glorot_uniform"), ("recurrent_initializer", "orthogonal"),
                  ("bias_initializer", "zeros"), ("kernel_regularizer", None), ("recurrent_regularizer", None),
                  ("bias_regularizer", None), ("activity_regularizer", UNSUPPORTED),
                  ("kernel_constraint", UNSUPPORTED), ("recurrent_constraint", UNSUPPORTED),
                  ("bias_constraint", UNSUPPORTED), ("dropout", 0.0), ("recurrent_dropout", 0.0),
                  ("return_sequences", False), ("return_state", False), ("go_backwards", False),
                  ("stateful", False), ("unroll", False), ("seed", None)],
    "LSTM": [("units", REQUIRED), ("activation", "tanh"), ("recurrent_activation", "sigmoid"), ("use_bias", True),
             ("kernel_initializer", "glorot_uniform"), ("recurrent_initializer", "orthogonal"),
             ("bias_initializer", "zeros"), ("unit_forget_bias", True), ("kernel_regularizer", None),
             ("recurrent_regularizer", None), ("bias_regularizer", None), ("activity_regularizer", UNSUPPORTED),
             ("kernel_constraint", UNSUPPORTED), ("recurrent_constraint", UNSUPPORTED),
             ("bias_constraint", UNSUPPORTED), ("dropout", 0.0), ("recurrent_dropout", 0.0), ("seed", None),
             ("return_sequences", False), ("return_state", False), ("go_backwards", False), ("stateful", False),
             ("unroll", False), ("use_cudnn", UNSUPPORTED)],
}
_INITIALIZER_ARGS = {"kernel_initializer", "bias_initializer", "recurrent_initializer", "embeddings_initializer",
                     "beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer"}
_REGULARIZER_ARGS = {"kernel_regularizer", "bias_regularizer", "recurrent_regularizer", "embeddings_regularizer",
                     "beta_regularizer", "gamma_regularizer"}


def _activation_name(value, where):
    if value is None or isinstance(value, str):
        return value
    name = getattr(value, "__name__", None)
    if name is not None and name in _C.activation_names():
        return name
    raise NotImplementedError(f"{where}: activation={value!r} is not a built-in activation; pass its name "
                              f"(one of {', '.join(_C.activation_names())}), or apply your function in a custom "
                              "layer's call()")


def _config_from_arguments(class_name, args, kwargs):
    """The layer config for a Keras-style constructor call (used by the C++ constructors)."""
    from . import initializers, regularizers

    bound = bind_arguments(class_name, _SIGNATURES[class_name], args, kwargs, extra=_BASE)
    config = {}
    for key, value in bound.items():
        if value is _CONVENTION_DEFAULT:
            continue
        if value is None and key in ("activation", "recurrent_activation"):
            value = "linear"  # Keras: activation=None means no activation, not the layer's default (tanh)
        if value is None and not (class_name == "BatchNormalization" and key == "momentum"):
            continue
        if key in _INITIALIZER_ARGS:
            value = initializers.serialize(initializers.get(value))
        elif key in _REGULARIZER_ARGS:
            value = regularizers.get(value)._config_entry()
        elif key in ("activation", "recurrent_activation"):
            value = _activation_name(value, class_name)
        elif key == "input_dim" and class_name != "Embedding":
            config["input_shape"] = [int(value)]
            continue
        elif key == "dtype":
            from .mixed_precision import policy_name
            value = policy_name(value)
        elif isinstance(value, np.generic):
            value = value.item()
        config[key] = value
    if class_name == "InputLayer":
        if "shape" in config:
            config["batch_shape"] = [config.pop("batch_size", None)] + list(config.pop("shape"))
        config.setdefault("dtype", "float32")
    return config


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
