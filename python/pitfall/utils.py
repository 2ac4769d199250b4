"""pitfall.utils."""
import random as _python_random

import numpy as np

from . import _pitfall as _C
# keras.utils re-exports keras.saving's custom-object registration (keras/src/utils/__init__.py).
from .saving import (CustomObjectScope, custom_object_scope, deserialize_keras_object, get_custom_objects,  # noqa: F401
                     get_registered_name, get_registered_object, register_keras_serializable,
                     serialize_keras_object)
from ._py_dataset import PyDataset

Sequence = PyDataset  # keras.utils.Sequence, Keras 3's alias


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


def unpack_x_y_sample_weight(data):
    """(x,), (x, y) or (x, y, sample_weight) -> (x, y, sample_weight), None where absent
    (keras.utils.unpack_x_y_sample_weight)."""
    from ._trainer import unpack_x_y_sample_weight as unpack
    return unpack(data)


def pack_x_y_sample_weight(x, y=None, sample_weight=None):
    """The inverse of unpack_x_y_sample_weight: (x,), (x, y) or (x, y, sample_weight)."""
    from ._trainer import pack_x_y_sample_weight as pack
    return pack(x, y, sample_weight)


def _data_format(data_format, where):
    data_format = data_format or "channels_last"
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"{where}: data_format must be 'channels_last' or 'channels_first', got {data_format!r}")
    return data_format


def _pil_image(where):
    try:
        from PIL import Image
    except ImportError:
        raise ImportError(f"{where} needs Pillow (PIL): pip install pillow") from None
    return Image


def array_to_img(x, data_format=None, scale=True, dtype=None):
    """A PIL Image of one (height, width, channels) image (keras.utils.array_to_img): scale=True maps
    the array's minimum to 0 and its maximum to 255; 1 channel gives mode 'L' ('I' for values above
    255), 3 'RGB', 4 'RGBA' (keras/src/utils/image_utils.py)."""
    from .backend import floatx
    data_format = _data_format(data_format, "array_to_img")
    image = _pil_image("array_to_img")
    x = np.array(x, dtype=dtype or floatx())
    if x.ndim != 3:
        raise ValueError(f"array_to_img: expected an image array of rank 3 (a single image), got shape {x.shape}")
    if data_format == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        x_max = np.max(x)
        if x_max != 0:
            x /= x_max
        x *= 255
    modes = {4: "RGBA", 3: "RGB"}
    if x.shape[2] in modes:
        return image.fromarray(x.astype("uint8"), modes[x.shape[2]])
    if x.shape[2] == 1:
        if np.max(x) > 255:
            return image.fromarray(x[:, :, 0].astype("int32"), "I")
        return image.fromarray(x[:, :, 0].astype("uint8"), "L")
    raise ValueError(f"array_to_img: unsupported number of channels {x.shape[2]}; expected 1, 3 or 4")


def img_to_array(img, data_format=None, dtype=None):
    """A PIL Image as a (height, width, channels) float array (keras.utils.img_to_array)."""
    from .backend import floatx
    data_format = _data_format(data_format, "img_to_array")
    x = np.asarray(img, dtype=dtype or floatx())
    if x.ndim == 2:
        x = x[None] if data_format == "channels_first" else x[..., None]
    elif x.ndim == 3:
        if data_format == "channels_first":
            x = x.transpose(2, 0, 1)
    else:
        raise ValueError(f"img_to_array: unsupported image shape {x.shape}")
    return x


def pad_sequences(sequences, maxlen=None, dtype="int32", padding="pre", truncating="pre", value=0.0):
    """Sequences of different lengths as one (samples, maxlen, ...) array (keras.utils.pad_sequences):
    shorter ones padded with `value`, longer ones cut, both at the start ('pre') or the end ('post')."""
    if not hasattr(sequences, "__len__"):
        raise ValueError("pad_sequences: `sequences` must be a list of sequences")
    for name, given in (("padding", padding), ("truncating", truncating)):
        if given not in ("pre", "post"):
            raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post', got {given!r}")
    lengths, sample_shape = [], None
    for index, s in enumerate(sequences):
        if not hasattr(s, "__len__"):
            raise ValueError(f"pad_sequences: sequence {index} is not a sequence: {s!r}")
        lengths.append(len(s))
        if sample_shape is None and len(s):
            sample_shape = np.asarray(s).shape[1:]
    sample_shape = sample_shape or ()
    if maxlen is None:
        maxlen = max(lengths) if lengths else 0
    if maxlen < 0:
        raise ValueError(f"pad_sequences: maxlen must be >= 0, got {maxlen}")
    out = np.full((len(lengths), maxlen) + tuple(sample_shape), value, dtype=dtype)
    if maxlen == 0:
        return out
    for index, s in enumerate(sequences):
        if not len(s):
            continue
        kept = np.asarray(s[-maxlen:] if truncating == "pre" else s[:maxlen], dtype=dtype)
        if kept.shape[1:] != tuple(sample_shape):
            raise ValueError(f"pad_sequences: sequence {index} has elements of shape {kept.shape[1:]}, the first "
                             f"non-empty one {tuple(sample_shape)}; every element needs the same shape")
        if padding == "post":
            out[index, :len(kept)] = kept
        else:
            out[index, maxlen - len(kept):] = kept
    return out


def timeseries_dataset_from_array(data, targets, sequence_length, sequence_stride=1, sampling_rate=1,
                                  batch_size=128, shuffle=False, seed=None, start_index=None, end_index=None):
    """A pf.data.Dataset of sliding windows over `data` (keras.utils.timeseries_dataset_from_array):
    window i is data[s, s + r, ..., s + (sequence_length - 1) r] with s = start_index + i * stride and
    r = sampling_rate; its target is targets[s] (keras/src/utils/timeseries_dataset_utils.py)."""
    from .data import Dataset
    data = np.asarray(data)
    length = len(data)
    if start_index is not None and not 0 <= start_index < length:
        raise ValueError(f"timeseries_dataset_from_array: start_index must be in [0, {length}) for data of length "
                         f"{length}, got {start_index}")
    if end_index is not None and (end_index >= length or end_index <= 0 or
                                  (start_index and end_index <= start_index)):
        raise ValueError(f"timeseries_dataset_from_array: end_index must be in ({start_index or 0}, {length}), got "
                         f"{end_index}")
    for name, value in (("sampling_rate", sampling_rate), ("sequence_stride", sequence_stride)):
        if value <= 0 or value >= length:
            raise ValueError(f"timeseries_dataset_from_array: {name} must be in [1, {length}) for data of length "
                             f"{length}, got {value}")
    if sequence_length <= 0:
        raise ValueError(f"timeseries_dataset_from_array: sequence_length must be positive, got {sequence_length}")
    start = start_index or 0
    stop = length if end_index is None else end_index
    count = stop - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        count = min(count, len(targets) - start)
    positions = np.arange(0, max(count, 0), sequence_stride, dtype=np.int64)
    if shuffle:
        np.random.RandomState(np.random.randint(1_000_000) if seed is None else seed).shuffle(positions)
    windows = data[start + positions[:, None] + np.arange(sequence_length)[None, :] * sampling_rate]
    elements = windows if targets is None else (windows, targets[start + positions])
    dataset = Dataset.from_tensor_slices(elements)
    if batch_size is None:
        return dataset.shuffle(1024, seed=seed) if shuffle else dataset
    if shuffle:
        dataset = dataset.shuffle(batch_size * 8, seed=seed)
    return dataset.batch(batch_size)
