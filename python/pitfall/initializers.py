"""pitfall.initializers: the Keras initializer table plus the PyTorch defaults.

Every class takes Keras's arguments, including ``seed=``: a seeded initializer draws the same values
on every call (Keras 3), an unseeded one draws from the global generator (pf.utils.set_random_seed).
Custom initializers are functions ``fn(shape, dtype=None)`` returning an array or tensor.
"""
from . import _arguments
from . import _pitfall as _C

Initializer = _C.Initializer


class _InitializerClass(type):
    """Makes ``pf.initializers.HeNormal(seed=1)`` build the engine's initializer (arguments bound
    against its table in layers/initializers.cpp), ``isinstance(init, pf.initializers.HeNormal)``
    check its class and ``from_config`` rebuild one, as with Keras classes."""

    def __call__(cls, *args, **kwargs):
        config, _ = _arguments.bind(_arguments.table("initializers", cls.__name__), args, kwargs)
        return _C.initializer_from_config({"class_name": cls.__name__, "config": config})

    def __instancecheck__(cls, instance):
        return isinstance(instance, Initializer) and instance.class_name == cls.__name__

    def from_config(cls, config):
        return _C.initializer_from_config({"class_name": cls.__name__, "config": config})


def _class(name):
    cls = _InitializerClass(name, (), {"__module__": __name__})
    return _arguments.install(cls, "initializers")


Zeros, Ones, Constant = _class("Zeros"), _class("Ones"), _class("Constant")
RandomNormal, RandomUniform, TruncatedNormal = _class("RandomNormal"), _class("RandomUniform"), _class("TruncatedNormal")
VarianceScaling, Orthogonal = _class("VarianceScaling"), _class("Orthogonal")
GlorotUniform, GlorotNormal = _class("GlorotUniform"), _class("GlorotNormal")
HeUniform, HeNormal = _class("HeUniform"), _class("HeNormal")
LecunUniform, LecunNormal = _class("LecunUniform"), _class("LecunNormal")
# PyTorch's defaults (pitfall's): nn.Linear / Conv weight, and a bias bounded by its kernel's fan_in.
TorchKernel, TorchBias = _class("TorchKernel"), _class("TorchBias")
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
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        return _C.get_initializer(identifier)
    if isinstance(identifier, dict):
        return _C.initializer_from_config(identifier)
    if callable(identifier):
        return _from_callable(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as an initializer; pass a name such as 'glorot_uniform', "
                    "a pf.initializers object or a function(shape, dtype)")


def serialize(initializer):
    return initializer._config_entry()
