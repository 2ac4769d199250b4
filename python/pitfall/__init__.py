"""pitfall: a small deep-learning engine with a Keras-shaped API, built to reproduce pitfalls.

    import pitfall as pf
    x = pf.tensor([[1.0, 2.0]])             # Python floats -> float32 (floatx)
    w = pf.Variable(pf.random.normal((2, 3), seed=0))
    with pf.GradientTape() as tape:
        loss = pf.ops.mean(pf.ops.square(x @ w))
    (dw,) = tape.gradient(loss, [w])
"""
from . import _pitfall
from . import _tensor
from ._convert import Tensor, convert_to_tensor
from ._pitfall import PitfallWarning

_tensor.install()

from . import backend, config, datasets, ops, random, utils  # noqa: E402
from .ops import convert_to_tensor  # noqa: E402  (places new values on the default device)
from .config import device  # noqa: E402
from .autograd import GradientTape, no_grad  # noqa: E402
from ._function import function  # noqa: E402
from .variables import Variable  # noqa: E402
from . import activations, initializers, regularizers, losses, metrics, optimizers, callbacks  # noqa: E402
from . import data  # noqa: E402
from . import mixed_precision  # noqa: E402
from . import layers, models  # noqa: E402
from . import debug  # noqa: E402
from . import saving  # noqa: E402
from . import preprocessing  # noqa: E402
from .layers import Input  # noqa: E402
from .models import Model, Sequential  # noqa: E402

__version__ = "0.1.0"

__all__ = ["Tensor", "Variable", "device", "convert_to_tensor", "GradientTape", "no_grad", "function", "tensor", "ops", "random", "utils", "config",
           "backend", "data", "datasets", "layers", "models", "Model", "Sequential", "Input", "losses", "metrics",
           "optimizers", "callbacks", "initializers", "regularizers", "activations", "mixed_precision", "debug",
           "PitfallWarning"]


def tensor(data, dtype=None, requires_grad=False):
    """A Tensor copied from `data` (a tensor, NumPy array or Python value).

    dtype rules: a NumPy array keeps its dtype (float64 stays float64); Python floats become
    float32 (backend.floatx()), Python ints int32 (int64 if a value needs it), bools bool. `dtype`
    converts explicitly (bfloat16 included).
    """
    out = convert_to_tensor(data, dtype)
    if requires_grad:
        out = out.detach() if out is data else out
        out.requires_grad = True
    return out
