"""pitfall.preprocessing: keras.preprocessing's array utilities (aliases of pitfall.utils)."""
from .utils import array_to_img, img_to_array, pad_sequences, timeseries_dataset_from_array  # noqa: F401


class sequence:  # noqa: N801 (keras.preprocessing.sequence)
    pad_sequences = staticmethod(pad_sequences)


class image:  # noqa: N801 (keras.preprocessing.image)
    array_to_img = staticmethod(array_to_img)
    img_to_array = staticmethod(img_to_array)
