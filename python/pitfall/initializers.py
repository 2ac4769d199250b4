"""pitfall.initializers: the Keras initializer table plus the PyTorch defaults.

Every class takes Keras's arguments, including ``seed=``: a seeded initializer draws the same values
on every call (Keras 3), an unseeded one draws from the global generator (pf.utils.set_random_seed).
Custom initializers are functions ``fn(shape, dtype=None)`` returning an array or tensor, or
subclasses of ``Initializer`` defining ``__call__(self, shape, dtype=None)`` (and ``get_config``).
"""
from . import _arguments
from . import _pitfall as _C

_Engine = _C.Initializer


class _InitializerType(type):
    """isinstance(pf.initializers.HeNormal(), pf.initializers.Initializer) holds for the engine's
    initializers as for Python subclasses (keras.initializers.Initializer is the base of both)."""

    def __instancecheck__(cls, instance):
        if cls is Initializer and isinstance(instance, _Engine):
            return True
        return super().__instancecheck__(instance)


class Initializer(metaclass=_InitializerType):
    """Keras's initializer base: subclass it and define ``__call__(self, shape, dtype=None)``
    returning an array or tensor of that shape, and ``get_config()`` returning the constructor
    arguments (keras/src/initializers/initializer.py)."""

    def __call__(self, shape, dtype=None):
        raise NotImplementedError(f"{type(self).__name__} defines no __call__(self, shape, dtype=None); an "
                                  "Initializer subclass must implement it")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())


# Keras's initializer classes and PyTorch's defaults (pitfall's: nn.Linear / Conv weight, and a bias
# bounded by its kernel's fan_in), each from its argument table (layers/initializers.cpp).
(Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling, Orthogonal, GlorotUniform,
 GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, TorchKernel, TorchBias) = _arguments.family_classes(
    "initializers", _Engine, _C.initializer_from_config, __name__,
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
        identifier, _Engine, "an initializer",
        "a name such as 'glorot_uniform', a pf.initializers object or a function(shape, dtype)",
        _C.get_initializer, _C.initializer_from_config, _from_callable)


def serialize(initializer):
    return initializer._config_entry()
