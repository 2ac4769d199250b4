"""pitfall.config: engine-wide settings."""
import collections

from . import _hooks
from . import _pitfall as _C


_UNSAFE_DESERIALIZATION = [False]


def enable_unsafe_deserialization():
    """Lets from_config and load_model rebuild Python lambdas saved in Lambda layers (their bytecode
    runs), as keras.config.enable_unsafe_deserialization(). Only for files you trust."""
    _UNSAFE_DESERIALIZATION[0] = True


def unsafe_deserialization_enabled():
    return _UNSAFE_DESERIALIZATION[0]


def set_num_threads(n):
    """Intra-op threads. Results are bitwise identical for any count (static partitioning)."""
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads expects a positive int, got {n}")
    _C.set_num_threads(n)


def get_num_threads():
    return _C.num_threads()


def _cpu_only(device):
    if str(device).upper() not in ("CPU", "CPU:0"):
        raise ValueError(f"memory statistics: device {device!r} is not available; this build tracks 'CPU'")


def get_memory_info(device="CPU"):
    """Tensor memory on `device` (tf.config.experimental.get_memory_info): {'current': bytes held by
    live tensors, 'peak': their high-water mark since the last reset_memory_stats(), 'cached': freed
    blocks kept for reuse, 'allocations', 'cacheable' (those of 1 MiB to 32 MiB), 'cache_hits' (of
    those, served from freed blocks)}. Sizes are rounded to the allocator's classes."""
    _cpu_only(device)
    return _C.memory_stats()


def reset_memory_stats(device="CPU"):
    """Starts the 'peak' of get_memory_info() again from the current value."""
    _cpu_only(device)
    _C.reset_peak_memory()


def empty_cache(device="CPU"):
    """Returns the freed blocks the allocator keeps for reuse to the system."""
    _cpu_only(device)
    _C.empty_cache()


def set_memory_cache_limit(megabytes, device="CPU"):
    """A limit on the freed memory the CPU allocator keeps for reuse (PITFALL_CPU_CACHE_MB); 0 turns
    the cache off, None (the default) sets no limit: the cache then keeps blocks only while the live
    tensors plus the cache stay under the live tensors' own high-water mark (core/caching_allocator.h)."""
    _cpu_only(device)
    if megabytes is None or megabytes == float("inf"):
        _C.set_cache_limit(_NO_LIMIT)
        return
    megabytes = float(megabytes)
    if not megabytes >= 0:
        raise ValueError(f"set_memory_cache_limit: expected a size in MiB >= 0 or None, got {megabytes}")
    _C.set_cache_limit(min(int(megabytes * (1 << 20)), _NO_LIMIT))


def get_memory_cache_limit(device="CPU"):
    """The limit set_memory_cache_limit() set, in MiB; None when there is none."""
    _cpu_only(device)
    limit = _C.cache_limit()
    return None if limit == _NO_LIMIT else limit / (1 << 20)


_NO_LIMIT = 2**64 - 1  # SIZE_MAX


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


# ---- devices and placement

PhysicalDevice = collections.namedtuple("PhysicalDevice", ["name", "device_type"])
PhysicalDevice.__doc__ = "A device this process can use (tf.config.PhysicalDevice): name, device_type."


def list_physical_devices(device_type=None):
    """The devices pitfall can use (tf.config.list_physical_devices): the CPU, and each GPU when the
    CUDA module is installed and the driver reports a device. device_type: None, 'CPU' or 'GPU'.
    Asking about GPUs loads the CUDA module, only when an NVIDIA driver is present."""
    kinds = ("CPU", "GPU") if device_type is None else (str(device_type).upper(),)
    out = []
    for kind in kinds:
        if kind not in ("CPU", "GPU"):
            raise ValueError(f"list_physical_devices: unknown device type {device_type!r}; expected 'CPU' or 'GPU'")
        out += [PhysicalDevice(f"/physical_device:{kind}:{i}", kind) for i in range(_C.device_count(kind))]
    return out


def list_logical_devices(device_type=None):
    """The devices ops can be placed on, under their logical names ('/device:GPU:0'): the CPU and the
    first GPU. pitfall uses one GPU per process (CUDA_VISIBLE_DEVICES picks which), so further GPUs
    are listed by list_physical_devices only."""
    return [PhysicalDevice(d.name.replace("/physical_device:", "/device:"), d.device_type)
            for d in list_physical_devices(device_type) if d.name.endswith(":0")]


def device(name):
    """Context manager (tf.device / torch.device as a scope): layers built inside create their weights
    on `name` ('cpu', 'gpu', 'cuda:0', '/GPU:0'; one GPU per process: CUDA_VISIBLE_DEVICES picks it), pf.tensor / pf.convert_to_tensor / pf.ops
    place new values there, and fit/evaluate/predict move each batch to where the model's weights
    are. Ops run where their inputs are; inputs on different devices are an error naming both.
    Entering raises RuntimeError when the device is not available (no GPU, or a build without CUDA).

        with pf.device("gpu"):
            model = pf.Sequential([...])     # weights on the GPU
        model.fit(x, y)                      # batches copied to the GPU each step
    """
    return _C.DeviceScope(str(name))


def enable_op_determinism():
    """GPU ops pick bitwise-reproducible algorithms from now on (no atomics-based reductions,
    deterministic cuDNN algorithms): tf.config.experimental.enable_op_determinism. CPU results are
    deterministic either way."""
    _C.set_op_determinism(True)


def disable_op_determinism():
    """GPU ops may use the fastest algorithms again, including non-deterministic ones (the default)."""
    _C.set_op_determinism(False)


def is_op_determinism_enabled():
    return _C.op_determinism_enabled()


def enable_tensor_float_32_execution(enabled=True):
    """TensorFloat-32 for float32 matmuls and convolutions on the GPU (10-bit mantissa products):
    tf.config.experimental.enable_tensor_float_32_execution. Off by default in pitfall; TensorFlow
    turns it on by default on Ampere and later GPUs (the TF32 precision pitfall)."""
    _C.set_tensor_float_32(bool(enabled))
    for hook in _hooks.config_change:
        hook("tensor_float_32", bool(enabled))


def tensor_float_32_execution_enabled():
    return _C.tensor_float_32_enabled()


class experimental:  # noqa: N801  (tf.config.experimental's spellings)
    enable_op_determinism = staticmethod(enable_op_determinism)
    enable_tensor_float_32_execution = staticmethod(enable_tensor_float_32_execution)
    tensor_float_32_execution_enabled = staticmethod(tensor_float_32_execution_enabled)
    get_memory_info = staticmethod(get_memory_info)
    reset_memory_stats = staticmethod(reset_memory_stats)
