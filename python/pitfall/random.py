"""pitfall.random: keras.random-style draws from the engine's counter-based (Philox) generator.

``seed`` is an int (the same numbers on every call with that seed), None (the next draw of the
global generator, seeded by pf.utils.set_random_seed) or a SeedGenerator.
"""
import numbers

from . import _pitfall as _C
from ._convert import floatx, Tensor, convert_to_tensor, standardize_dtype

__all__ = ["SeedGenerator", "uniform", "normal", "truncated_normal", "dropout", "shuffle", "permutation"]


class SeedGenerator:
    """A seed plus a stream counter (keras.random.SeedGenerator): each draw uses a new stream."""

    def __init__(self, seed=None):
        if seed is None:
            global_seed, stream = _C.resolve_random_key(None)
            seed = (global_seed * 0x9E3779B97F4A7C15 + stream) % 2**64
        self.seed = _check_seed(seed)
        self._stream = 0

    def next(self):
        self._stream += 1
        return self.seed, self._stream


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an int in [0, 2**64), None or a SeedGenerator; got {seed!r}")
    return int(seed)


def _key(seed):
    if isinstance(seed, SeedGenerator):
        return seed.next()
    return _C.resolve_random_key(None if seed is None else _check_seed(seed))


def _shape(shape):
    return [int(shape)] if isinstance(shape, numbers.Integral) else [int(d) for d in shape]


def _float_dtype(dtype):
    return standardize_dtype(dtype) or floatx()


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform values in [minval, maxval)."""
    return _C.random_uniform(_shape(shape), float(minval), float(maxval), _float_dtype(dtype), *_key(seed))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    return _C.random_normal(_shape(shape), float(mean), float(stddev), _float_dtype(dtype), *_key(seed))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal values, those beyond two standard deviations redrawn."""
    return _C.truncated_normal(_shape(shape), float(mean), float(stddev), _float_dtype(dtype), *_key(seed))


def permutation(n, seed=None):
    """A random permutation of 0..n-1 (int64)."""
    return _C.random_permutation(int(n), *_key(seed))


def shuffle(x, axis=0, seed=None):
    """x with its entries along `axis` randomly permuted."""
    x = x if isinstance(x, Tensor) else convert_to_tensor(x)
    return _C.ops.take(x, permutation(x.shape[axis], seed), int(axis))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """Zeroes entries with probability `rate` and scales the rest by 1 / (1 - rate)."""
    inputs = inputs if isinstance(inputs, Tensor) else convert_to_tensor(inputs)
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), got {rate}")
    shape = list(inputs.shape) if noise_shape is None else _shape(noise_shape)
    keep = _C.bernoulli(shape, 1.0 - rate, inputs.dtype, *_key(seed))
    scale = _C.ops.scalar_like(1.0 / (1.0 - rate), inputs, "dropout")
    return _C.ops.multiply(_C.ops.multiply(inputs, keep), scale)
