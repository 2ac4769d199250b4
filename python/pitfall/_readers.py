"""File readers returning NumPy arrays: IDX (MNIST), NPY/NPZ (NumPy) and CSV (tf.data's CsvDataset).

The parsing is the engine's (data/idx_reader.h, data/npy_reader.h, data/csv_reader.h): every malformed
file gives a ValueError naming the file and the byte offset (or line and column for CSV). A missing
file is a FileNotFoundError.

    x = read_idx("train-images-idx3-ubyte.gz")          # uint8 (60000, 28, 28)
    a = read_npy("a.npy"); save_npy("b.npy", a)
    arrays = read_npz("data.npz")                       # {"x": ..., "y": ...}
    price, qty = read_csv("sales.csv", [np.float32, 0], select_cols=[2, 3])
"""
import errno
import numbers
import os

import numpy as np

from . import _pitfall as _C
from ._convert import standardize_dtype

__all__ = ["read_idx", "read_npy", "save_npy", "read_npz", "read_csv"]

_CSV_DTYPES = ("float32", "float64", "int32", "int64", "uint8", "bool")
_SAVE_DTYPES = ("float16", "float32", "float64", "int32", "int64", "uint8", "bool")


def _existing_file(path, function):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, f"{function}: no such file", path)
    return path


def read_idx(path):
    """An IDX file (plain or gzip-compressed, detected by its magic) as a NumPy array.

    Types: uint8 stays uint8; int8 and int16 are widened to int32 (pitfall has no 8/16-bit signed
    dtypes); int32, float32, float64 are kept. Values are converted to native byte order.
    """
    return _C._read_idx(_existing_file(path, "read_idx"))


def read_npy(path):
    """A .npy file as a NumPy array in C order, like ``np.load``.

    int8/int16/uint16 are widened to int32 and uint32 to int64 (pitfall has no such dtypes);
    object, string, structured, complex and uint64 arrays are refused with a ValueError.
    """
    return _C._read_npy(_existing_file(path, "read_npy"))


def save_npy(path, array):
    """Writes `array` as a .npy file that ``np.load`` reads back exactly.

    The file appears atomically (written to a temporary file in the same folder, then renamed), so
    readers never see half of it. Supported dtypes: float16, float32, float64, int32, int64, uint8,
    bool; other dtypes raise TypeError (convert explicitly with ``astype``).
    """
    array = np.asarray(array)
    if array.dtype.byteorder not in ("=", "|") and array.dtype.newbyteorder("=").name in _SAVE_DTYPES:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype.name not in _SAVE_DTYPES:
        raise TypeError(f"save_npy: dtype {array.dtype} is not supported; convert with astype() to one of "
                        f"{', '.join(_SAVE_DTYPES)}")
    _C._save_npy(os.fspath(path), np.ascontiguousarray(array))


def read_npz(path):
    """The arrays of a .npz archive (``np.savez`` / ``np.savez_compressed``) as a dict name -> array,
    in archive order. Each entry is read like :func:`read_npy`; CRC-32 checksums are verified."""
    return dict(_C._read_npz(_existing_file(path, "read_npz")))


def _column_spec(entry, index):
    """(dtype name, fill value or None) for one record_defaults entry."""
    if isinstance(entry, (bool, np.bool_)):
        return "bool", float(bool(entry))
    if isinstance(entry, np.generic):
        name = standardize_dtype(entry.dtype)
        return _check_csv_dtype(name, index), float(entry)
    if isinstance(entry, numbers.Integral):
        return "int32", float(entry)  # as tf.data: a Python int default makes an int32 column
    if isinstance(entry, numbers.Real):
        return "float32", float(entry)  # a Python float default makes a float32 column
    if isinstance(entry, (list, tuple, np.ndarray)):
        raise TypeError(f"read_csv: record_defaults[{index}] is {entry!r}; each entry must be a dtype "
                        f"(required column) or one scalar default")
    try:
        name = standardize_dtype(entry)
    except TypeError as e:
        raise TypeError(f"read_csv: record_defaults[{index}] = {entry!r} is neither a dtype nor a scalar "
                        f"default ({e})") from None
    return _check_csv_dtype(name, index), None


def _check_csv_dtype(name, index):
    if name not in _CSV_DTYPES:
        raise TypeError(f"read_csv: record_defaults[{index}] has dtype {name}; CSV columns can be "
                        f"{', '.join(_CSV_DTYPES)}")
    return name


def read_csv(path, record_defaults, header=True, field_delim=",", use_quote_delim=True, na_value="",
             select_cols=None):
    """Typed columns of a CSV file as a list of 1-D NumPy arrays, one per record_defaults entry.

    Semantics of ``tf.data.experimental.CsvDataset``: each ``record_defaults`` entry is either a dtype
    (``np.float32``, ``"int64"``) for a required column, or a scalar whose value fills missing fields
    and whose type gives the column's dtype (Python int -> int32, float -> float32, bool -> bool, a
    NumPy scalar -> its own dtype). ``header`` skips the first line; ``field_delim`` separates
    fields; ``use_quote_delim`` turns on RFC 4180 quotes; a field equal to ``na_value`` (or empty)
    is missing; ``select_cols`` (sorted 0-based indices) picks columns.
    """
    if not isinstance(record_defaults, (list, tuple)):
        raise TypeError(f"read_csv: record_defaults must be a list of dtypes or scalars, got {record_defaults!r}")
    if not isinstance(field_delim, str) or len(field_delim) != 1:
        raise ValueError(f"read_csv: field_delim must be one character, got {field_delim!r}")
    specs = [_column_spec(entry, i) for i, entry in enumerate(record_defaults)]
    select = [] if select_cols is None else [int(c) for c in select_cols]
    _, columns = _C._read_csv(_existing_file(path, "read_csv"), [s[0] for s in specs], [s[1] for s in specs],
                              bool(header), field_delim, bool(use_quote_delim), str(na_value), select)
    return list(columns)
