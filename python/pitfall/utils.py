"""pitfall.utils."""
import random as _python_random

import numpy as np

from . import _pitfall as _C


def set_random_seed(seed):
    """Seeds the engine's generator, Python's `random` and NumPy (like keras.utils.set_random_seed)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_random_seed expects a non-negative int, got {seed!r}")
    seed = int(seed)
    _C.set_random_seed(seed)
    _python_random.seed(seed)
    np.random.seed(seed % 2**32)  # NumPy's legacy seeding takes 32 bits
