"""pitfall.optimizers: Keras optimizers with Keras argument names and defaults (SGD, Adam so far).

Unknown keywords are errors naming the accepted ones (``lr=`` -> "did you mean 'learning_rate'?").
"""
from . import _pitfall as _C
from ._arguments import UNSUPPORTED, bind_arguments

Optimizer = _C.Optimizer

_COMMON = [("weight_decay", UNSUPPORTED), ("clipnorm", UNSUPPORTED), ("clipvalue", UNSUPPORTED),
           ("global_clipnorm", UNSUPPORTED), ("use_ema", UNSUPPORTED), ("ema_momentum", UNSUPPORTED),
           ("ema_overwrite_frequency", UNSUPPORTED), ("loss_scale_factor", UNSUPPORTED),
           ("gradient_accumulation_steps", UNSUPPORTED), ("name", None)]
_ALIASES = {"lr": "learning_rate", "decay": "learning_rate (with a schedule)"}


def SGD(*args, **kwargs):
    """keras.optimizers.SGD(learning_rate=0.01, momentum=0.0, nesterov=False)."""
    config = bind_arguments("SGD", [("learning_rate", 0.01), ("momentum", 0.0), ("nesterov", False)] + _COMMON,
                            args, kwargs, aliases=_ALIASES)
    return _C.sgd_optimizer(float(config["learning_rate"]), float(config["momentum"]), bool(config["nesterov"]))


def Adam(*args, **kwargs):
    """keras.optimizers.Adam(learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False).

    Keras's update rule: epsilon is added to sqrt(v) without bias correction (the "epsilon hat" form).
    """
    config = bind_arguments("Adam", [("learning_rate", 0.001), ("beta_1", 0.9), ("beta_2", 0.999), ("epsilon", 1e-7),
                                     ("amsgrad", False)] + _COMMON, args, kwargs, aliases=_ALIASES)
    return _C.adam_optimizer(float(config["learning_rate"]), float(config["beta_1"]), float(config["beta_2"]),
                             float(config["epsilon"]), bool(config["amsgrad"]))


def get(identifier):
    """An optimizer from a name ('sgd'; unknown names raise with "did you mean") or an optimizer."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _C.get_optimizer(identifier)
    if isinstance(identifier, dict):
        return globals()[identifier["class_name"]](**identifier.get("config", {}))
    raise TypeError(f"cannot interpret {identifier!r} as an optimizer; pass a name such as 'sgd' or "
                    "pf.optimizers.SGD(learning_rate=0.01)")
