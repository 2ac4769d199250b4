"""IDX files (the MNIST family's format), optionally gzip-compressed, read into NumPy arrays.

Layout: 2 zero bytes, a type byte (0x08 = uint8, ...), a rank byte, one big-endian uint32 per
dimension, then the values big-endian. Every way a file can be wrong gives a ValueError that names
the file and the byte offset.
"""
import gzip
import zlib

import numpy as np

_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
          0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: corrupt or truncated gzip data ({e}); re-download or reinstall the file") from None


def read_idx(path):
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{path}: {len(data)} bytes is too short for an IDX header (4 bytes at offset 0)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _TYPES:
        raise ValueError(f"{path}: bad IDX magic {data[:4].hex()} at offset 0 (expected 0000 then a type byte "
                         f"in {sorted(hex(t) for t in _TYPES)} and the rank); is this an IDX file?")
    rank = data[3]
    header = 4 + 4 * rank
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header: {rank} dimensions need {header} bytes, file has {len(data)}")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    dtype = np.dtype(_TYPES[data[2]])
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) != expected:
        raise ValueError(f"{path}: IDX data of shape {shape} ({dtype}) should end at byte offset {expected}, "
                         f"but the file has {len(data)} bytes ({'truncated' if len(data) < expected else 'trailing data'})")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
