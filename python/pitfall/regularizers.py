"""pitfall.regularizers: L1, L2 and L1L2 weight penalties (Keras semantics: no 1/2 factor).

Each class takes Keras's arguments (its table, layers/regularizers.cpp). As in Keras 3, ``l1_l2`` is
the L1L2 class, whose factors default to 0: the name 'l1_l2' alone penalizes nothing.
"""
from . import _arguments
from . import _pitfall as _C

Regularizer = _C.Regularizer


class _RegularizerClass(type):
    def __call__(cls, *args, **kwargs):
        config, _ = _arguments.bind(_arguments.table("regularizers", cls.__name__), args, kwargs)
        return _C.regularizer_from_config({"class_name": cls.__name__, "config": config})

    def __instancecheck__(cls, instance):
        return isinstance(instance, Regularizer) and instance.class_name == cls.__name__

    def from_config(cls, config):
        return _C.regularizer_from_config({"class_name": cls.__name__, "config": config})


def _class(name):
    cls = _RegularizerClass(name, (), {"__module__": __name__})
    return _arguments.install(cls, "regularizers")


L1, L2, L1L2 = _class("L1"), _class("L2"), _class("L1L2")
l1, l2, l1_l2 = L1, L2, L1L2


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return _C.regularizer_from_config(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a regularizer; use 'l1', 'l2', 'l1_l2' or "
                    "pf.regularizers.L2(0.01)")
