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


def to_categorical(x, num_classes=None):
    """One-hot float32 rows for integer class labels (keras.utils.to_categorical)."""
    labels = np.asarray(x)
    if labels.ndim > 1 and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.size and (labels.dtype.kind not in "iu" or labels.min() < 0):
        raise ValueError(f"to_categorical: labels must be non-negative integers, got dtype {labels.dtype} "
                         f"with minimum {labels.min()}")
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and labels.max() >= num_classes:
        raise ValueError(f"to_categorical: label {int(labels.max())} is out of range for num_classes={num_classes}")
    out = np.zeros(labels.shape + (num_classes,), dtype=np.float32)
    np.put_along_axis(out, labels[..., None].astype(np.int64), 1.0, axis=-1)
    return out
