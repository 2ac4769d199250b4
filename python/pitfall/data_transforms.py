"""pf.data.transforms: element transforms that run in C++ without the Python GIL.

Give one (or a list) to Dataset.map; with num_parallel_calls they run on several threads at once:

    ds.map([Cast("float32", component=0), Rescale(1 / 255, component=0), OneHot(10, component=1)],
           num_parallel_calls=pf.data.AUTOTUNE)

``component`` picks the tensor of the element a transform changes: None (the element itself when
it is one tensor, else its first part, the x of (x, y)), a position in a tuple, or a dict key.
Random transforms draw from a Philox key derived from (seed, iteration, element index), so the
result for an element never depends on thread count or timing; seed=None takes the seed from the
global generator when the transform is made (pf.utils.set_random_seed makes it reproducible), and
every iteration (epoch) draws anew.
"""
from . import _pitfall as _C
from ._convert import standardize_dtype

_D = _C.data

__all__ = ["Transform", "Cast", "Rescale", "Normalize", "OneHot", "RandomFlip", "RandomCrop", "Compose"]


class Transform:
    """Base of the built-in transforms (holds the C++ function)."""

    def __init__(self, handle, description):
        self._handle = handle
        self._description = description

    def __repr__(self):
        return self._description


def _component(component):
    if component is None or isinstance(component, (int, str)):
        return component
    raise TypeError(f"component must be None, a position (int) or a dict key (str), got {component!r}")


class Cast(Transform):
    """Converts the tensor to dtype (values rounded like pf.ops.cast)."""

    def __init__(self, dtype, component=None):
        dtype = standardize_dtype(dtype)
        super().__init__(_D.cast(dtype, _component(component)), f"Cast({dtype!r}, component={component!r})")


class Rescale(Transform):
    """x * scale + offset computed in dtype (keras.layers.Rescaling): Rescale(1 / 255) turns uint8
    pixels into float32 values in [0, 1]."""

    def __init__(self, scale, offset=0.0, dtype="float32", component=None):
        dtype = standardize_dtype(dtype)
        super().__init__(_D.rescale(float(scale), float(offset), dtype, _component(component)),
                         f"Rescale({scale!r}, offset={offset!r}, dtype={dtype!r}, component={component!r})")


class Normalize(Transform):
    """(x - mean) / stddev along the last axis (one value per channel, or one for all), in dtype."""

    def __init__(self, mean, stddev, dtype="float32", component=None):
        mean = [float(m) for m in (mean if hasattr(mean, "__len__") else [mean])]
        stddev = [float(s) for s in (stddev if hasattr(stddev, "__len__") else [stddev])]
        dtype = standardize_dtype(dtype)
        super().__init__(_D.normalize(mean, stddev, dtype, _component(component)),
                         f"Normalize(mean={mean}, stddev={stddev}, dtype={dtype!r}, component={component!r})")


class OneHot(Transform):
    """Integer labels -> one-hot vectors of length depth (a label outside [0, depth) is an error)."""

    def __init__(self, depth, dtype="float32", component=1):
        dtype = standardize_dtype(dtype)
        super().__init__(_D.one_hot(int(depth), dtype, _component(component)),
                         f"OneHot({depth}, dtype={dtype!r}, component={component!r})")


class RandomFlip(Transform):
    """Flips images (H, W, C) or batches (N, H, W, C) with probability 1/2 per axis
    (keras.layers.RandomFlip modes: "horizontal", "vertical", "horizontal_and_vertical")."""

    def __init__(self, mode="horizontal_and_vertical", seed=None, component=None):
        super().__init__(_D.random_flip(str(mode), seed, _component(component)),
                         f"RandomFlip({mode!r}, seed={seed!r}, component={component!r})")


class RandomCrop(Transform):
    """Crops a height x width window at a uniformly drawn position (keras.layers.RandomCrop)."""

    def __init__(self, height, width, seed=None, component=None):
        super().__init__(_D.random_crop(int(height), int(width), seed, _component(component)),
                         f"RandomCrop({height}, {width}, seed={seed!r}, component={component!r})")


class Compose(Transform):
    """Several transforms applied in order, as one C++ function."""

    def __init__(self, transforms):
        transforms = list(transforms)
        for t in transforms:
            if not isinstance(t, Transform):
                raise TypeError(f"Compose: expected pf.data.transforms objects, got {t!r}")
        super().__init__(_D.compose([t._handle for t in transforms]), f"Compose({transforms!r})")
