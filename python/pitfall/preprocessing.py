"""pitfall.preprocessing: keras.preprocessing's array utilities (aliases of pitfall.utils)."""
from .utils import pad_sequences, timeseries_dataset_from_array  # noqa: F401


class sequence:  # noqa: N801 (keras.preprocessing.sequence)
    pad_sequences = staticmethod(pad_sequences)
