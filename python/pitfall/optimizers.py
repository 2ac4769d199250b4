"""pitfall.optimizers: Keras optimizers with Keras argument names, in two conventions.

Every optimizer reads its defaults AND its update rule from one table (``defaults()`` prints it):
``Adam()`` is Keras's Adam (epsilon 1e-7 outside the root of the uncorrected second moment);
``Adam(convention="torch")`` is torch.optim.Adam (epsilon 1e-8 after bias correction, weight decay as L2).
Explicit arguments override the table's values, never the rule. Arguments keep their Keras names in
both conventions (``rho`` is PyTorch's ``alpha``, ``epsilon`` its ``eps``); PyTorch-only arguments
(``dampening``, ``lr_decay``, ``momentum_decay``) are accepted too. Unknown keywords are errors naming
the accepted ones (``lr=`` -> "did you mean 'learning_rate'?").

``get_config()`` lists every resolved value, the convention, and under ``defaults_from_table`` the
arguments that were not passed.
"""
import sys

from . import _pitfall as _C
from . import schedules
from . import _arguments

Optimizer = _C.Optimizer
_LossScaleOptimizerType = _C.LossScaleOptimizer

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam",
           "LossScaleOptimizer", "defaults", "defaults_table", "get", "serialize", "deserialize", "schedules"]

def _make(class_name, args, kwargs):
    """An optimizer from a Keras-style call: bound against its argument table (optim/defaults.cpp:
    Keras's names, order and defaults; PyTorch's spellings point to the Keras names)."""
    config, _ = _arguments.bind(_arguments.table("optimizers", class_name), args, kwargs)
    convention = config.pop("convention", "keras")
    schedule = None
    if isinstance(config.get("learning_rate"), schedules.LearningRateSchedule):
        schedule = config.pop("learning_rate")
    elif callable(config.get("learning_rate")):
        raise TypeError(f"{class_name}: learning_rate must be a float or a "
                        "pf.optimizers.schedules.LearningRateSchedule, got a plain callable; subclass "
                        "LearningRateSchedule and put the function in __call__(self, step)")
    return _C.make_optimizer(class_name, config, convention, schedule)


class _OptimizerClass(type):
    """Makes ``pf.optimizers.Adam(...)`` build the engine's optimizer, ``isinstance(opt, pf.optimizers.Adam)``
    check its class, and ``pf.optimizers.Adam.from_config(config)`` rebuild one, as with Keras classes."""

    def __call__(cls, *args, **kwargs):
        return _make(cls.__name__, args, kwargs)

    def __instancecheck__(cls, instance):
        return isinstance(instance, Optimizer) and instance.class_name == cls.__name__

    def from_config(cls, config):
        return _C.optimizer_from_config(cls.__name__, config)


class SGD(metaclass=_OptimizerClass):
    pass


class Adam(metaclass=_OptimizerClass):
    pass


class AdamW(metaclass=_OptimizerClass):
    pass


class RMSprop(metaclass=_OptimizerClass):
    pass


class Adagrad(metaclass=_OptimizerClass):
    pass


class Adadelta(metaclass=_OptimizerClass):
    pass


class Adamax(metaclass=_OptimizerClass):
    pass


class Nadam(metaclass=_OptimizerClass):
    pass


def _loss_scale_optimizer(*args, **kwargs):
    config, objects = _arguments.bind(_arguments.table("optimizers", "LossScaleOptimizer"), args, kwargs)
    inner_optimizer = objects.get("inner_optimizer")
    if not isinstance(inner_optimizer, Optimizer):
        raise TypeError(f"LossScaleOptimizer: inner_optimizer must be a pitfall optimizer, got {inner_optimizer!r}")
    convention = config.pop("convention", "keras")
    return _C.loss_scale_optimizer(inner_optimizer, config, convention)


class _LossScaleOptimizerClass(_OptimizerClass):
    def __call__(cls, *args, **kwargs):
        return _loss_scale_optimizer(*args, **kwargs)


class LossScaleOptimizer(metaclass=_LossScaleOptimizerClass):
    pass


# Signatures and help text from the argument tables (optim/defaults.cpp: every default and the update
# rule of both conventions live in the defaults table; `defaults()` prints it).
for _cls in (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, Nadam, LossScaleOptimizer):
    _arguments.install(_cls, "optimizers")


def _exclude_from_weight_decay(self, var_list=None, var_names=None):
    """No weight decay for `var_list` (by their names) or variables whose name contains any of `var_names`."""
    parts = list(var_names or [])
    for variable in var_list or []:
        parts.append(variable.name)
    self._exclude_from_weight_decay(parts)


def _build(self, variables):
    """Keras 3's ``optimizer.build(variables)``: remembers the variables that ``apply(grads)`` updates
    (the slots themselves are made at the first update)."""
    self._built_variables = list(variables)
    for variable in self._built_variables:
        if not isinstance(variable, _C.Tensor):
            raise TypeError(f"{self.class_name}.build: expected variables (tensors), got {type(variable).__name__}")


def _apply(self, grads, trainable_variables=None):
    """Keras 3's ``optimizer.apply(grads, trainable_variables)``: one update step, one gradient per
    variable in the same order (``apply_gradients(zip(grads, variables))`` is the tf.keras form)."""
    if trainable_variables is None:
        trainable_variables = getattr(self, "_built_variables", None)
        if trainable_variables is None:
            raise ValueError(f"{self.class_name}.apply(grads): no variables given and the optimizer was not built; "
                             "pass them, optimizer.apply(grads, model.trainable_weights), or call "
                             "optimizer.build(model.trainable_weights) first")
    grads, trainable_variables = list(grads), list(trainable_variables)
    if len(grads) != len(trainable_variables):
        raise ValueError(f"{self.class_name}.apply: got {len(grads)} gradients for {len(trainable_variables)} "
                         "variables; pass one gradient per variable, in the same order")
    self.apply_gradients(zip(grads, trainable_variables))


Optimizer.exclude_from_weight_decay = _exclude_from_weight_decay
Optimizer.build = _build
Optimizer.apply = _apply


def defaults_table():
    """The optimizer defaults table as a list of dicts (one per optimizer: both rows, rules, formulas)."""
    return _C.optimizer_defaults_table()


def defaults(optimizer=None, file=None):
    """Prints the defaults table, Keras and PyTorch side by side.

    ``defaults()`` prints every optimizer and then the layer conventions (BatchNormalization momentum,
    default initializers, LeakyReLU); ``defaults("Adam")`` prints one optimizer.
    """
    text = _C.format_optimizer_defaults(optimizer) if optimizer else _C.format_defaults()
    print(text, end="", file=file if file is not None else sys.stdout)


def serialize(optimizer):
    return optimizer._config_entry()


def deserialize(config):
    """The optimizer a serialize() / get_config() entry describes ({"class_name", "config"})."""
    return _C.optimizer_from_config(config["class_name"], config.get("config", {}))


def get(identifier):
    """An optimizer from a name ('sgd', 'adam', ...; unknown names raise with "did you mean"), a config
    dict, or an optimizer."""
    return _arguments.family_get(identifier, Optimizer, "an optimizer",
                                 "a name such as 'sgd' or pf.optimizers.SGD(learning_rate=0.01)",
                                 _C.get_optimizer, deserialize)
