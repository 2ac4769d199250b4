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
