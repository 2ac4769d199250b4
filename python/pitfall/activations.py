"""pitfall.activations: Keras activation functions (``activation='relu'`` or ``activation=pf.activations.relu``)."""
from . import ops as _ops


def relu(x):
    return _ops.relu(x)


def sigmoid(x):
    return _ops.sigmoid(x)


def tanh(x):
    return _ops.tanh(x)


def softmax(x, axis=-1):
    return _ops.softmax(x, axis=axis)


def log_softmax(x, axis=-1):
    return _ops.log_softmax(x, axis=axis)


def elu(x, alpha=1.0):
    return _ops.elu(x, alpha)


def gelu(x, approximate=False):
    """keras.activations.gelu: the exact erf form by default (unlike keras.ops.gelu)."""
    return _ops.gelu(x, approximate=approximate)


def linear(x):
    return x


def get(identifier):
    if identifier is None:
        return linear
    if callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in globals():
        return globals()[identifier]
    raise ValueError(f"unknown activation {identifier!r}")
