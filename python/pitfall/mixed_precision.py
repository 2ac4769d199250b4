"""pitfall.mixed_precision: dtype policies, as keras.mixed_precision / keras.DTypePolicy.

A policy says which dtype a layer keeps its variables in and which it computes in::

    pf.mixed_precision.set_global_policy("mixed_float16")
    model = pf.Sequential([...])          # layers created now compute in float16, keep float32 weights
    model.compile(optimizer="adam", ...)  # wrapped in a LossScaleOptimizer automatically

Under a mixed policy (as in Keras): layers cast floating inputs to the compute dtype (warning once
per layer), softmax / log_softmax activations and losses run in float32, BatchNormalization and
LayerNormalization compute their statistics in float32, and compile() adds dynamic loss scaling
for mixed_float16 (bfloat16 has float32's exponent range and needs none).

Custom layers written in Python compute with whatever dtypes they are given: under a mixed policy
cast the weights yourself, ``pf.ops.cast(self.w, self.compute_dtype)``.
"""
from . import _pitfall as _C
from ._convert import standardize_dtype
from .optimizers import LossScaleOptimizer  # noqa: F401  (keras.mixed_precision.LossScaleOptimizer)

__all__ = ["DTypePolicy", "Policy", "global_policy", "set_global_policy", "policy_scope", "dtype_policy",
           "set_dtype_policy", "LossScaleOptimizer"]


def policy_name(value):
    """The canonical policy name of a DTypePolicy, a policy name, or a dtype (name, NumPy dtype)."""
    if isinstance(value, DTypePolicy):
        return value.name
    if isinstance(value, str) and value in ("mixed_float16", "mixed_bfloat16"):
        return value
    try:
        return standardize_dtype(value)
    except TypeError as error:
        raise ValueError(f"unknown dtype policy {value!r}; expected 'mixed_float16', 'mixed_bfloat16', a dtype name "
                         "('float32', 'float64', ...) or a DTypePolicy") from error


class DTypePolicy:
    """A dtype policy: ``DTypePolicy("mixed_float16")``; ``DTypePolicy()`` is floatx's plain policy."""

    def __init__(self, name=None):
        if name is None:
            name = _C.floatx()
        self._name, self._variable_dtype, self._compute_dtype = _C.dtype_policy_info(policy_name(name))

    @property
    def name(self):
        return self._name

    @property
    def variable_dtype(self):
        return self._variable_dtype

    @property
    def compute_dtype(self):
        return self._compute_dtype

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self):
        return hash(self.name)

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(config["name"])


Policy = DTypePolicy  # the tf.keras name


def global_policy():
    """The policy layers get when created without dtype=: the one set, else floatx()'s."""
    return DTypePolicy(_C.global_policy()[0])


def set_global_policy(policy):
    """Sets the default policy of layers created from now on; None goes back to following floatx()."""
    if policy is None:
        _C.set_global_policy(None)
        return
    name = policy_name(policy)
    if DTypePolicy(name).compute_dtype not in ("float16", "bfloat16", "float32", "float64"):
        raise ValueError(f"set_global_policy: the global policy must be floating, got {name!r}; give integer "
                         "dtypes to single layers (Input(dtype='int32'))")
    _C.set_global_policy(name)


class policy_scope:
    """``with pf.mixed_precision.policy_scope("mixed_float16"): model = build()``: layers created in the
    block take the policy; afterwards the global policy is exactly what it was (including "follow
    floatx", which set_global_policy(global_policy()) would not restore)."""

    def __init__(self, policy):
        self._name = policy_name(policy)
        self._previous = None

    def __enter__(self):
        self._previous = _C.explicit_global_policy()
        set_global_policy(self._name)
        return DTypePolicy(self._name)

    def __exit__(self, *exc):
        _C.set_global_policy(self._previous)
        return False


# Keras 3's keras.config names.
dtype_policy = global_policy
set_dtype_policy = set_global_policy
