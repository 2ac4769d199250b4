"""pitfall.config: engine-wide settings."""
from . import _pitfall as _C


def set_num_threads(n):
    """Intra-op threads. Results are bitwise identical for any count (static partitioning)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads expects a positive int, got {n}")
    _C.set_num_threads(n)


def get_num_threads():
    return _C.num_threads()


def enable_check_numerics():
    """Every op whose output turns non-finite from finite inputs raises FloatingPointError naming it."""
    _C.set_check_numerics(True)


def disable_check_numerics():
    _C.set_check_numerics(False)


def check_numerics_enabled():
    return _C.check_numerics_enabled()


def list_ops():
    """The engine's op table: one dict per op (name, differentiable, composite, summary, cpu_kernel)."""
    return _C.op_table()


# ---- dtype rules (core/dtype_rules.h)
#
#   mode        an op on mixed dtypes (float32 + float64)   a layer/model input of another dtype (uint8 data)
#   "strict"    error naming both dtypes                     error naming the layer, both dtypes and the fix
#   "warn"      error naming both dtypes          (default)  cast, with a warning once per layer
#   "permissive" promoted silently, NumPy/PyTorch style      cast silently (what Keras does)
#
# "permissive" reproduces other frameworks' behaviour (pitfall examples use it to show what goes
# unnoticed there); the default never promotes inside an op and always says when it casts.

def set_strict_dtypes(strict=True):
    """True: implicit casts at layer and model inputs raise DTypeError (uint8 images, float64 data
    into a float32 model). False: back to the default, which casts them with a warning once."""
    _C.set_dtype_mode("strict" if strict else "warn")


def strict_dtypes():
    return _C.dtype_mode() == "strict"


def set_dtype_mode(mode):
    """'strict', 'warn' (the default) or 'permissive'; see the table above."""
    _C.set_dtype_mode(str(mode))


def dtype_mode():
    return _C.dtype_mode()


class dtype_mode_scope:
    """``with pf.config.dtype_mode_scope("permissive"): ...`` sets the mode for a block and restores it."""

    def __init__(self, mode):
        self._mode = str(mode)
        self._previous = None

    def __enter__(self):
        self._previous = _C.dtype_mode()
        _C.set_dtype_mode(self._mode)
        return self

    def __exit__(self, *exc):
        _C.set_dtype_mode(self._previous)
        return False
