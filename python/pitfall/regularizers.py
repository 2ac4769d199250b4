"""pitfall.regularizers: L1, L2 and L1L2 weight penalties (Keras semantics: no 1/2 factor).

Each class takes Keras's arguments (its table, layers/regularizers.cpp). As in Keras 3, ``l1_l2`` is
the L1L2 class, whose factors default to 0: the name 'l1_l2' alone penalizes nothing.
"""
from . import _arguments
from . import _pitfall as _C

Regularizer = _C.Regularizer


L1, L2, L1L2 = _arguments.family_classes("regularizers", Regularizer, _C.regularizer_from_config, __name__,
                                         ["L1", "L2", "L1L2"])
l1, l2, l1_l2 = L1, L2, L1L2


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return _C.regularizer_from_config(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a regularizer; use 'l1', 'l2', 'l1_l2' or "
                    "pf.regularizers.L2(0.01)")
