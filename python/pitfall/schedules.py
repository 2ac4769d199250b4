"""pitfall.optimizers.schedules: Keras learning-rate schedules (keras.optimizers.schedules).

    schedule = pf.optimizers.schedules.CosineDecay(0.0, decay_steps=1000, warmup_target=0.1, warmup_steps=100)
    optimizer = pf.optimizers.SGD(learning_rate=schedule)

A schedule maps the optimizer step (the number of updates made so far) to a learning rate; the
optimizer evaluates it at every update. Write your own by subclassing ``LearningRateSchedule``:

    class InverseSqrt(pf.optimizers.schedules.LearningRateSchedule):
        def __init__(self, peak):
            super().__init__()
            self.peak = peak
        def __call__(self, step):
            return self.peak / (step + 1) ** 0.5
        def get_config(self):
            return {"peak": self.peak}

The built-in schedules compute in C++ (double precision), so an optimizer steps them without the
GIL; a Python ``__call__`` runs with the GIL taken for its duration.
"""
from . import _pitfall as _C
from . import _arguments

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay",
           "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize", "get"]

LearningRateSchedule = _C.LearningRateSchedule


def _describe(value):
    return f"{value!r} ({type(value).__name__})"


def _config_property(key, doc):
    # Read-only: the C++ schedule is built once from the arguments, so changing an attribute later
    # could not change the rates it gives; build a new schedule instead.
    return property(lambda self: _C.LearningRateSchedule.get_config(self)[key], doc=doc)


class _Builtin(LearningRateSchedule):
    """A built-in schedule: its arguments bound against its argument table (optim/schedules.cpp:
    Keras's names, order and defaults), its rates computed in C++. Each argument reads back as a
    property."""
    _CLASS = None

    def __init__(self, *args, **kwargs):
        config, _ = _arguments.bind(_arguments.table("schedules", self._CLASS), args, kwargs)
        super().__init__(_C.make_schedule(self._CLASS, config))

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "_CLASS" in cls.__dict__:
            for a in _arguments.table("schedules", cls._CLASS)["arguments"]:
                setattr(cls, a["name"], _config_property(a["name"], a["doc"]))
            _arguments.install(cls, "schedules", cls._CLASS)


def _builtin(name):
    return type(name, (_Builtin,), {"_CLASS": name, "__module__": __name__})


ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay = (
    _builtin("ExponentialDecay"), _builtin("PiecewiseConstantDecay"), _builtin("PolynomialDecay"))
InverseTimeDecay, CosineDecay, CosineDecayRestarts = (
    _builtin("InverseTimeDecay"), _builtin("CosineDecay"), _builtin("CosineDecayRestarts"))


_BUILTIN = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
                                          CosineDecay, CosineDecayRestarts)}


def serialize(learning_rate_schedule):
    """{'module', 'class_name', 'config', 'registered_name'}, as keras.optimizers.schedules.serialize writes it."""
    if not isinstance(learning_rate_schedule, LearningRateSchedule):
        raise TypeError(f"serialize: expected a LearningRateSchedule, got {_describe(learning_rate_schedule)}")
    cls = type(learning_rate_schedule)
    builtin = _BUILTIN.get(cls.__name__) is cls or cls is LearningRateSchedule
    return {"module": "keras.optimizers.schedules" if builtin else cls.__module__,
            "class_name": learning_rate_schedule.class_name,
            "config": learning_rate_schedule.get_config(),
            "registered_name": None if builtin else cls.__name__}


def deserialize(config, custom_objects=None):
    """A schedule from serialize()'s output ({'class_name': ..., 'config': {...}}); ``custom_objects``
    maps the class names of your own LearningRateSchedule subclasses to the classes."""
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise ValueError("deserialize: expected {'class_name': 'ExponentialDecay', 'config': {...}} as serialize() "
                         f"writes it, got {config!r}")
    class_name = config["class_name"]
    classes = dict(_BUILTIN)
    classes.update(custom_objects or {})
    if class_name not in classes and config.get("registered_name") in classes:
        class_name = config["registered_name"]
    if class_name not in classes:
        raise ValueError(f"deserialize: unknown learning-rate schedule '{class_name}'; "
                         + _arguments.did_you_mean(class_name, list(classes))
                         + ". Pass your own classes as custom_objects={'MySchedule': MySchedule}")
    arguments = config.get("config") or {}
    if not isinstance(arguments, dict):
        raise ValueError(f"deserialize: the config of {class_name} must be a dict of its arguments, got {arguments!r}")
    return classes[class_name].from_config(arguments)


def get(identifier):
    """A schedule from a schedule (returned as is) or a serialize() dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise TypeError(f"cannot interpret {_describe(identifier)} as a learning-rate schedule; pass a schedule such as "
                    "pf.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1000, decay_rate=0.96) or its "
                    "serialize() dict")
