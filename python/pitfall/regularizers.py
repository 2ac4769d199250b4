"""pitfall.regularizers: L1, L2 and L1L2 weight penalties (Keras semantics: no 1/2 factor)."""
from . import _pitfall as _C

Regularizer = _C.Regularizer


def L1(l1=0.01):
    return _C.regularizer_from_config({"class_name": "L1", "config": {"l1": float(l1)}})


def L2(l2=0.01):
    return _C.regularizer_from_config({"class_name": "L2", "config": {"l2": float(l2)}})


def L1L2(l1=0.0, l2=0.0):
    return _C.regularizer_from_config({"class_name": "L1L2", "config": {"l1": float(l1), "l2": float(l2)}})


def l1_l2(l1=0.01, l2=0.01):
    return L1L2(l1, l2)


l1, l2 = L1, L2


def get(identifier):
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, (str, dict)):
        return _C.regularizer_from_config(identifier)
    raise TypeError(f"cannot interpret {identifier!r} as a regularizer; use 'l1', 'l2', 'l1_l2' or "
                    "pf.regularizers.L2(0.01)")
