"""pitfall.initializers: the Keras initializer table plus the PyTorch defaults.

Every class takes Keras's arguments, including ``seed=``: a seeded initializer draws the same values
on every call (Keras 3), an unseeded one draws from the global generator (pf.utils.set_random_seed).
Custom initializers are functions ``fn(shape, dtype=None)`` returning an array or tensor.
"""
from . import _pitfall as _C

Initializer = _C.Initializer


def _make(class_name, **config):
    return _C.initializer_from_config({"class_name": class_name, "config": config})


def Zeros():
    return _make("Zeros")


def Ones():
    return _make("Ones")


def Constant(value=0.0):
    return _make("Constant", value=float(value))


def RandomNormal(mean=0.0, stddev=0.05, seed=None):
    return _make("RandomNormal", mean=mean, stddev=stddev, seed=seed)


def RandomUniform(minval=-0.05, maxval=0.05, seed=None):
    return _make("RandomUniform", minval=minval, maxval=maxval, seed=seed)


def TruncatedNormal(mean=0.0, stddev=0.05, seed=None):
    return _make("TruncatedNormal", mean=mean, stddev=stddev, seed=seed)


def VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
    return _make("VarianceScaling", scale=scale, mode=mode, distribution=distribution, seed=seed)


def Orthogonal(gain=1.0, seed=None):
    return _make("Orthogonal", gain=gain, seed=seed)


def _preset(class_name):
    def make(seed=None):
        return _make(class_name, seed=seed)
    make.__name__ = class_name
    make.__doc__ = f"keras.initializers.{class_name}(seed=None)"
    return make


GlorotUniform = _preset("GlorotUniform")
GlorotNormal = _preset("GlorotNormal")
HeUniform = _preset("HeUniform")
HeNormal = _preset("HeNormal")
LecunUniform = _preset("LecunUniform")
LecunNormal = _preset("LecunNormal")
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
