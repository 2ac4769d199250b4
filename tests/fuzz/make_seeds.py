"""Writes the fuzzers' seed corpus: tiny valid files of each format (and a few near-misses).

    python3 tests/fuzz/make_seeds.py OUT_DIR     # OUT_DIR/{idx,npy,npz,csv}/...

Uses NumPy's own writers (np.save, np.savez, np.savez_compressed) so the seeds are real-world files.
"""
import gzip
import io
import os
import sys

import numpy as np


def write(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def idx_bytes(code, array):
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.tobytes()


def npy_bytes(array, **kwargs):
    buffer = io.BytesIO()
    np.save(buffer, array, **kwargs)
    return buffer.getvalue()


def main(out):
    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, size=(2, 3, 4)).astype(np.uint8)
    idx = os.path.join(out, "idx")
    write(idx, "u8", idx_bytes(0x08, small))
    write(idx, "u8.gz", gzip.compress(idx_bytes(0x08, small)))
    write(idx, "i8", idx_bytes(0x09, np.array([-1, 2, -3], dtype=np.int8)))
    write(idx, "i16", idx_bytes(0x0B, np.array([[-300, 2]], dtype=">i2")))
    write(idx, "i32", idx_bytes(0x0C, np.array([7, -7], dtype=">i4")))
    write(idx, "f32", idx_bytes(0x0D, np.array([1.5, -2.0], dtype=">f4")))
    write(idx, "f64.gz", gzip.compress(idx_bytes(0x0E, np.array([[1.5], [3.0]], dtype=">f8"))))
    write(idx, "scalar", idx_bytes(0x08, np.array(5, dtype=np.uint8)))

    npy = os.path.join(out, "npy")
    arrays = {
        "f4": np.arange(6, dtype="<f4").reshape(2, 3),
        "f8be": np.array([1.5, -2.0], dtype=">f8"),
        "f2": np.array([1, 65504], dtype=np.float16),
        "i1": np.array([-128, 127], dtype=np.int8),
        "i2": np.array([[1, -2]], dtype="<i2"),
        "u2": np.array([65535], dtype="<u2"),
        "u4": np.array([4294967295], dtype="<u4"),
        "i4": np.array([1, 2, 3], dtype="<i4"),
        "i8": np.array([[1], [2]], dtype=">i8"),
        "u1": np.array([0, 255], dtype=np.uint8),
        "b1": np.array([True, False]),
        "scalar": np.array(3.0),
        "empty": np.zeros((0, 2), dtype=np.float32),
        "fortran": np.asfortranarray(np.arange(24, dtype=np.int32).reshape(2, 3, 4)),
    }
    for name, array in arrays.items():
        write(npy, name, npy_bytes(array))
    v2 = bytearray(npy_bytes(arrays["f4"]))  # the same header as a version 2.0 file
    header_len = int.from_bytes(v2[8:10], "little")
    write(npy, "v2", bytes(v2[:6]) + b"\x02\x00" + (header_len + 2).to_bytes(4, "little")
          + bytes(v2[10:10 + header_len]) + b"  " + bytes(v2[10 + header_len:]))

    npz = os.path.join(out, "npz")
    for name, writer in (("stored", np.savez), ("deflated", np.savez_compressed)):
        buffer = io.BytesIO()
        writer(buffer, a=arrays["f4"], b=arrays["i8"], c=arrays["fortran"])
        write(npz, name, buffer.getvalue())
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=np.zeros(100, dtype=np.uint8))
    write(npz, "zeros", buffer.getvalue())

    csv = os.path.join(out, "csv")
    # First byte: options (header, quotes, delimiter, na_value, column count, select_cols); second: dtypes.
    write(csv, "header_quotes", bytes([0b0100011, 0b00011011]) + b'a,b,c\n1,"2.5",3\n4,,"x""y"\n')
    write(csv, "semicolon_na", bytes([0b0110101, 0b11100100]) + b"a;b;c\r\n1;NA;0\r\n\r\n2;3;true\n")
    write(csv, "select", bytes([0b11000011, 0b00000000]) + b"1,2,3,4\n5,6,7,8\n")
    write(csv, "floats", bytes([0b0000000, 0b00000000]) + b"1e39\n-inf\nnan\n0x10\n+1.5\n")
    write(csv, "gzip", bytes([0b0100011, 0b00000101]) + gzip.compress(b"a,b\n1,2\n3,4\n"))
    write(csv, "multiline", bytes([0b0000010, 0b00000001]) + b'"1\n2"\n"unterminated')


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "build-fuzz/seeds")
