"""The engine's file readers through Python: NPY/NPZ against np.load on files written by NumPy itself,
CSV against references parsed with the csv module / np.genfromtxt, IDX against a pure-Python reader."""
import csv
import gzip
import os
import re

import numpy as np
import pytest

from pitfall._readers import read_csv, read_idx, read_npy, read_npz, save_npy

# What each stored dtype reads back as: pitfall widens the integer types it lacks.
WIDENED = {"int8": "int32", "int16": "int32", "uint16": "int32", "uint32": "int64"}
NPY_DTYPES = ["<f2", "<f4", "<f8", "<i4", "<i8", "|u1", "|b1", ">f2", ">f4", ">f8", ">i4", ">i8",
              "|i1", "<i2", ">i2", "<u2", ">u2", "<u4", ">u4"]
SHAPES = [(), (0,), (5,), (2, 3), (2, 3, 4), (1, 0, 3), (3, 1, 2, 2)]


def _random_array(dtype, shape, rng):
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dtype)
    if dtype.kind == "f":
        return (rng.standard_normal(size=shape) * 100).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=np.int64 if info.min < 0 else np.uint64
                        ).astype(dtype)


def _expected(array):
    name = array.dtype.newbyteorder("=").name
    return array.astype(WIDENED.get(name, name))


def _assert_same(actual, expected):
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape
    assert actual.flags.c_contiguous
    np.testing.assert_array_equal(actual, expected)


# ------------------------------------------------------------------------------------------------ NPY
@pytest.mark.parametrize("dtype", NPY_DTYPES)
@pytest.mark.parametrize("fortran", [False, True])
def test_read_npy_matches_np_load(tmp_path, dtype, fortran):
    rng = np.random.default_rng(abs(hash((dtype, fortran))) % 2**32)
    for i, shape in enumerate(SHAPES):
        array = _random_array(dtype, shape, rng)
        if fortran:
            array = np.asfortranarray(array)
        path = tmp_path / f"a{i}.npy"
        np.save(path, array)
        reference = np.load(path)
        _assert_same(read_npy(path), _expected(reference))


def test_read_npy_of_views_and_version_2_headers(tmp_path):
    base = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    view = base.transpose(2, 0, 1)[::2]  # neither C nor Fortran contiguous: np.save writes C order
    np.save(tmp_path / "v.npy", view)
    _assert_same(read_npy(tmp_path / "v.npy"), np.load(tmp_path / "v.npy"))
    np.save(tmp_path / "f.npy", base.T)  # a Fortran-contiguous view: saved with fortran_order True
    _assert_same(read_npy(tmp_path / "f.npy"), np.ascontiguousarray(base.T))
    # Format versions 2.0 and 3.0 (4-byte header length).
    fmt = np.lib.format
    with open(tmp_path / "v2.npy", "wb") as f:
        fmt.write_array(f, np.zeros((1,) * 30, dtype=np.float32), version=(2, 0))
    _assert_same(read_npy(tmp_path / "v2.npy"), np.load(tmp_path / "v2.npy"))
    with open(tmp_path / "v3.npy", "wb") as f:
        fmt.write_array(f, np.arange(3, dtype=np.int64), version=(3, 0))
    _assert_same(read_npy(tmp_path / "v3.npy"), np.arange(3, dtype=np.int64))


def test_read_npy_refuses_unsupported_dtypes_with_the_fix(tmp_path):
    cases = {
        "obj": (np.array([1, "a"], dtype=object), "object arrays"),
        "uni": (np.array(["ab", "c"]), "unicode strings are not numbers"),
        "rec": (np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]), "structured (record) dtypes"),
        "cpx": (np.zeros(2, dtype=np.complex64), "complex numbers"),
        "u8": (np.zeros(2, dtype=np.uint64), "astype('int64')"),
    }
    for name, (array, message) in cases.items():
        path = tmp_path / f"{name}.npy"
        np.save(path, array, allow_pickle=True)
        with pytest.raises(ValueError, match=rf"{name}\.npy: .*{re.escape(message)}"):
            read_npy(path)


def test_read_npy_malformed_files_name_file_and_offset(tmp_path):
    np.save(tmp_path / "ok.npy", np.arange(6, dtype=np.float32).reshape(2, 3))
    raw = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "trunc.npy").write_bytes(raw[:-4])
    with pytest.raises(ValueError, match=r"trunc\.npy: NPY data of shape \(2, 3\) \('<f4'\) needs 24 bytes from "
                                         r"byte offset 128 to 152, but the data has 20 \(truncated\)"):
        read_npy(tmp_path / "trunc.npy")
    (tmp_path / "head.npy").write_bytes(raw[:50])
    with pytest.raises(ValueError, match=r"head\.npy: truncated NPY header"):
        read_npy(tmp_path / "head.npy")
    (tmp_path / "magic.npy").write_bytes(b"PK" + raw[2:])
    with pytest.raises(ValueError, match=r"magic\.npy: not an NPY file: expected the magic .* at byte offset 0"):
        read_npy(tmp_path / "magic.npy")
    with pytest.raises(FileNotFoundError):
        read_npy(tmp_path / "missing.npy")


def test_save_npy_round_trips_through_np_load_atomically(tmp_path):
    rng = np.random.default_rng(1)
    for dtype in ["float16", "float32", "float64", "int32", "int64", "uint8", "bool", ">f8", ">i4"]:
        for shape in [(), (4,), (2, 0), (3, 2, 2)]:
            array = _random_array(dtype, shape, rng)
            path = tmp_path / "a.npy"
            save_npy(path, array)
            loaded = np.load(path)
            assert loaded.dtype == array.dtype.newbyteorder("=")
            np.testing.assert_array_equal(loaded, array)
    save_npy(str(tmp_path / "t.npy"), np.arange(12, dtype=np.float32).reshape(3, 4).T)  # a view
    np.testing.assert_array_equal(np.load(tmp_path / "t.npy"), np.arange(12, dtype=np.float32).reshape(3, 4).T)
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "t.npy"]  # no temporary files left
    with pytest.raises(TypeError, match="save_npy: dtype int16 is not supported"):
        save_npy(tmp_path / "b.npy", np.zeros(2, dtype=np.int16))
    with pytest.raises(RuntimeError, match="save_npy: cannot write .* does not exist; create it first"):
        save_npy(tmp_path / "nope" / "c.npy", np.zeros(2))
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "t.npy"]


# ------------------------------------------------------------------------------------------------ NPZ
@pytest.mark.parametrize("writer", [np.savez, np.savez_compressed])
def test_read_npz_matches_np_load(tmp_path, writer):
    rng = np.random.default_rng(2)
    arrays = {f"arr_{dtype.strip('<>|')}_{i}": _random_array(dtype, shape, rng)
              for i, (dtype, shape) in enumerate(zip(NPY_DTYPES, SHAPES * 3))}
    arrays["fortran"] = np.asfortranarray(rng.standard_normal((3, 4, 5)))
    arrays["big"] = rng.integers(0, 4, size=100000).astype(np.uint8)  # deflate with several blocks
    path = tmp_path / "d.npz"
    writer(path, **arrays)
    result = read_npz(path)
    with np.load(path) as reference:
        assert list(result) == reference.files  # archive order
        for name in reference.files:
            _assert_same(result[name], _expected(reference[name]))


def test_read_npz_positional_names_and_errors(tmp_path):
    np.savez(tmp_path / "p.npz", np.ones(2), np.zeros(3, dtype=np.int64))
    result = read_npz(tmp_path / "p.npz")
    assert list(result) == ["arr_0", "arr_1"]
    # Corrupt one data byte of a deflated entry's NPY: the CRC-32 (or inflate) catches it.
    np.savez(tmp_path / "s.npz", x=np.arange(100, dtype=np.float64))
    raw = bytearray((tmp_path / "s.npz").read_bytes())
    raw[200] ^= 0xFF
    (tmp_path / "crc.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"crc\.npz: bad NPZ \(ZIP\) archive at byte offset \d+: CRC-32 mismatch in "
                                         r"entry 'x\.npy'"):
        read_npz(tmp_path / "crc.npz")
    (tmp_path / "cut.npz").write_bytes(bytes(raw[:300]))
    with pytest.raises(ValueError, match=r"cut\.npz: bad NPZ \(ZIP\) archive at byte offset \d+: no end of central"):
        read_npz(tmp_path / "cut.npz")


# ------------------------------------------------------------------------------------------------ IDX
def _reference_read_idx(path):
    """The pure-Python reader pitfall used before the engine had one (int8/int16 widened here too)."""
    types = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
             0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    assert data[0] == 0 and data[1] == 0
    rank = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(rank))
    dtype = np.dtype(types[data[2]])
    array = np.frombuffer(data, dtype=dtype, offset=4 + 4 * rank).reshape(shape).astype(dtype.newbyteorder("="))
    return _expected(array)


@pytest.mark.parametrize("code,dtype", [(0x08, "u1"), (0x09, "i1"), (0x0B, ">i2"), (0x0C, ">i4"), (0x0D, ">f4"),
                                        (0x0E, ">f8")])
def test_read_idx_matches_reference_for_every_type(tmp_path, code, dtype):
    rng = np.random.default_rng(code)
    array = _random_array(dtype, (3, 4, 5), rng)
    payload = bytes([0, 0, code, 3]) + b"".join(d.to_bytes(4, "big") for d in array.shape) + array.tobytes()
    (tmp_path / "a.idx").write_bytes(payload)
    (tmp_path / "a.idx.gz").write_bytes(gzip.compress(payload))
    for name in ("a.idx", "a.idx.gz"):
        _assert_same(read_idx(tmp_path / name), _reference_read_idx(tmp_path / name))


FASHION = "/usr/share/datasets/fashion-mnist"


@pytest.mark.skipif(not os.path.isdir(FASHION), reason="dataset-fashion-mnist is not installed")
@pytest.mark.parametrize("name", ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                                  "train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz"])
def test_read_idx_of_fashion_mnist_equals_the_python_reader(name):
    path = os.path.join(FASHION, name)
    actual = read_idx(path)
    assert actual.dtype == np.uint8
    _assert_same(actual, _reference_read_idx(path))


def test_read_idx_corrupt_gzip_is_a_value_error(tmp_path):
    payload = bytes([0, 0, 8, 1, 0, 0, 0, 200]) + bytes(range(200))
    gz = bytearray(gzip.compress(payload))
    gz[-7] ^= 1  # CRC-32 trailer
    (tmp_path / "bad.gz").write_bytes(bytes(gz))
    with pytest.raises(ValueError, match=r"bad\.gz: corrupt or truncated gzip data: incorrect data check at "
                                         r"compressed byte offset"):
        read_idx(tmp_path / "bad.gz")


# ------------------------------------------------------------------------------------------------ CSV
def _write_csv(path, rows, header=None, **kwargs):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, **kwargs)
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def test_read_csv_typed_columns_match_genfromtxt(tmp_path):
    rng = np.random.default_rng(3)
    n = 500
    ints = rng.integers(-2**31, 2**31 - 1, size=n)
    longs = rng.integers(-2**62, 2**62, size=n)
    floats = rng.standard_normal(n) * 10.0 ** rng.integers(-30, 30, size=n)
    small = rng.integers(0, 256, size=n)
    rows = [[ints[i], repr(float(floats[i])), longs[i], repr(float(floats[i])), small[i]] for i in range(n)]
    path = tmp_path / "t.csv"
    _write_csv(path, rows, header=["i", "f32", "i64", "f64", "u8"])
    columns = read_csv(path, [np.int32, "float32", np.int64, np.dtype("float64"), "uint8"])
    reference = np.genfromtxt(path, delimiter=",", skip_header=1,
                              dtype=[("i", "i4"), ("f32", "f4"), ("i64", "i8"), ("f64", "f8"), ("u8", "u1")])
    assert [c.dtype for c in columns] == [np.int32, np.float32, np.int64, np.float64, np.uint8]
    for column, name in zip(columns, reference.dtype.names):
        assert column.shape == (n,)
        np.testing.assert_array_equal(column, reference[name])
    # float32 parsed straight from the text (one rounding), as np.float32(str) does.
    np.testing.assert_array_equal(columns[1], np.array([np.float32(r[1]) for r in rows]))


def test_read_csv_quotes_match_the_csv_module(tmp_path):
    rows = [[1, "2.5", 3], ["4", " 5 ", "6"], [7, "8e1", 9]]
    path = tmp_path / "q.csv"
    _write_csv(path, rows, header=["a,with comma", 'b "quoted"', "c\nnewline"], quoting=csv.QUOTE_ALL)
    a, b, c = read_csv(path, [np.int64, np.float64, np.int32])
    with open(path, newline="") as f:
        reference = list(csv.reader(f))[1:]
    np.testing.assert_array_equal(a, [int(r[0]) for r in reference])
    np.testing.assert_array_equal(b, [float(r[1]) for r in reference])
    np.testing.assert_array_equal(c, [int(r[2]) for r in reference])
    # Quotes off: the quote characters are text and the comma inside the quoted header splits it.
    with pytest.raises(ValueError, match=r"q\.csv: line 1 has 4 fields, expected 3"):
        read_csv(path, [np.int64, np.float64, np.int32], use_quote_delim=False)
    path.write_text('"1",2\n')
    with pytest.raises(ValueError, match=r"q\.csv: line 1, column 'column_0' \(index 0\): '\"1\"' is not a valid "
                                         r"int64"):
        read_csv(path, [np.int64, np.float64], header=False, use_quote_delim=False)


def test_read_csv_missing_values_fill_or_fail(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("a,b,c,d,e\n1,,3,NA,\n,2.5,,4,1\n")
    a, b, c, d, e = read_csv(path, [0, 1.5, np.int64(-7), np.float64(9.25), True], na_value="NA")
    assert [x.dtype for x in (a, b, c, d, e)] == [np.int32, np.float32, np.int64, np.float64, np.bool_]
    np.testing.assert_array_equal(a, [1, 0])
    np.testing.assert_array_equal(b, [1.5, 2.5])
    np.testing.assert_array_equal(c, [3, -7])
    np.testing.assert_array_equal(d, [9.25, 4.0])
    np.testing.assert_array_equal(e, [True, True])
    with pytest.raises(ValueError, match=r"m\.csv: line 2, column 'b' \(index 1\): missing value in a required "
                                         r"float32 column; give a default in record_defaults"):
        read_csv(path, [0, np.float32, 0, 0.0, False], na_value="NA")
    with pytest.raises(ValueError, match=r"line 2, column 'd' \(index 3\): value 'NA' \(the na_value\) in a required"):
        read_csv(path, [0, 0.0, 0, np.float64, False], na_value="NA")


def test_read_csv_select_cols_header_and_delimiters(tmp_path):
    path = tmp_path / "s.tsv"
    path.write_text("1\t2\t3\t4\n5\t6\t7\t8\n")
    first, last = read_csv(path, ["int64", np.float64], header=False, field_delim="\t", select_cols=[0, 3])
    np.testing.assert_array_equal(first, [1, 5])
    np.testing.assert_array_equal(last, [4.0, 8.0])
    (only_header,) = read_csv(path, [np.int32], header=True, field_delim="\t", select_cols=[1])
    np.testing.assert_array_equal(only_header, [6])
    with pytest.raises(ValueError, match="field_delim must be one character"):
        read_csv(path, [np.int32], field_delim="\t\t")
    with pytest.raises(TypeError, match=r"record_defaults\[0\] has dtype float16"):
        read_csv(path, [np.float16])
    with pytest.raises(TypeError, match=r"record_defaults\[1\] .*neither a dtype nor a scalar"):
        read_csv(path, [np.int32, "not-a-dtype"])


def test_read_csv_errors_name_line_and_column(tmp_path):
    path = tmp_path / "e.csv"
    path.write_text("a,b\n1,2\n3,4\n5,6\n7,8\n9,10\n11\n")
    with pytest.raises(ValueError, match=r"e\.csv: line 7 has 1 fields, expected 2"):
        read_csv(path, [np.int32, np.int32])
    path.write_text("a,b\n1,x\n")
    with pytest.raises(ValueError, match=r"line 2, column 'b' \(index 1\): 'x' is not a valid int32"):
        read_csv(path, [np.int32, np.int32])
    path.write_text("a\n3000000000\n")
    with pytest.raises(ValueError, match=r"'3000000000' is out of range for int32"):
        read_csv(path, [0])
    path.write_text('a\n"1\n')
    with pytest.raises(ValueError, match=r"line 2, field 0 \(0-based\): unterminated quote"):
        read_csv(path, [0])
    with pytest.raises(FileNotFoundError):
        read_csv(tmp_path / "missing.csv", [0])


def test_read_csv_gzip(tmp_path):
    (tmp_path / "z.csv.gz").write_bytes(gzip.compress(b"x,y\n1,2\n3,4\n"))
    x, y = read_csv(tmp_path / "z.csv.gz", [0, 0.0])
    np.testing.assert_array_equal(x, [1, 3])
    np.testing.assert_array_equal(y, [2.0, 4.0])
