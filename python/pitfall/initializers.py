"""pitfall.initializers: the Keras initializer table plus the PyTorch defaults.

Every class takes Keras's arguments, including ``seed=``: a seeded initializer draws the same values
on every call (Keras 3), an unseeded one draws from the global generator (pf.utils.set_random_seed).
Custom initializers are functions ``fn(shape, dtype=None)`` returning an array or tensor.
"""
from . import _arguments
from . import _pitfall as _C

Initializer = _C.Initializer


# Keras's initializer classes and PyTorch's defaults (pitfall's: nn.Linear / Conv weight, and a bias
# bounded by its kernel's fan_in), each from its argument table (layers/initializers.cpp).
(Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, Orthogonal, GlorotUniform,
 GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, TorchKernel, TorchBias) = _arguments.family_classes(
    "initializers", Initializer, _C.initializer_from_config, __name__,
    ["Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal", "VarianceScaling", "Orthogonal",
     "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "LecunUniform", "LecunNormal", "TorchKernel",
     "TorchBias"])
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
glorot_uniform, glorot_normal, he_uniform, he_normal = GlorotUniform, GlorotNormal, HeUniform, HeNormal
lecun_uniform, lecun_normal, orthogonal, variance_scaling = LecunUniform, LecunNormal, Orthogonal, VarianceScaling


def _from_callable(fn):
    """A C++ initializer calling `fn(shape, dtype)`, registered under fn's name so configs resolve."""
    name = getattr(fn, "__name__", None) or type(fn).__name__
    init = _C.function_initializer(name, fn)
    _C.register_initializer(name, init)
    return init


def get(identifier):
    """An initializer from a name, a config dict, an initializer, or a function."""
    return _arguments.family_get(
        identifier, Initializer, "an initializer",
        "a name such as 'glorot_uniform', a pf.initializers object or a function(shape, dtype)",
        _C.get_initializer, _C.initializer_from_config, _from_callable)


def serialize(initializer):
    return initializer._config_entry()
