"""IDX files (the MNIST family's format), optionally gzip-compressed, read into NumPy arrays by the
engine's reader (data/idx_reader.h).

Layout: 2 zero bytes, a type byte (0x08 = uint8, ...), a rank byte, one big-endian uint32 per
dimension, then the values big-endian. Every way a file can be wrong gives a ValueError that names
the file and the byte offset.
"""
from .._readers import read_idx

__all__ = ["read_idx"]
