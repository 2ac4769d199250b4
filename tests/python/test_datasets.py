"""pf.datasets.fashion_mnist: keras.datasets shapes and dtypes; every malformed file gives a clear error."""
import gzip
import os
import shutil

import numpy as np
import pytest

import pitfall as pf
from pitfall.datasets import fashion_mnist
from pitfall.datasets._idx import read_idx

HAVE_DATA = os.path.isdir(fashion_mnist.DEFAULT_DIR)


@pytest.mark.skipif(not HAVE_DATA, reason="dataset-fashion-mnist is not installed")
def test_load_data_matches_keras_layout():
    (x_train, y_train), (x_test, y_test) = pf.datasets.fashion_mnist.load_data()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8  # unscaled, as keras returns them
    assert x_train.max() == 255 and x_train.min() == 0
    assert sorted(np.unique(y_train).tolist()) == list(range(10))
    assert np.bincount(y_test).tolist() == [1000] * 10


def _write_idx(path, array, compress=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    payload = header + array.astype(np.uint8).tobytes()
    with open(path, "wb") as f:
        f.write(gzip.compress(payload) if compress else payload)
    return payload


def test_idx_round_trip_plain_and_gzip(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "a.gz", a)
    _write_idx(tmp_path / "a.idx", a, compress=False)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), a)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), a)


def test_malformed_idx_files_name_the_file_and_offset(tmp_path):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    payload = _write_idx(tmp_path / "ok.idx", a, compress=False)
    (tmp_path / "trunc.idx").write_bytes(payload[:-5])
    with pytest.raises(ValueError, match=r"trunc\.idx: .*byte offset 40, but the file has 35 bytes \(truncated\)"):
        read_idx(tmp_path / "trunc.idx")
    (tmp_path / "magic.idx").write_bytes(b"\x01\x02" + payload[2:])
    with pytest.raises(ValueError, match=r"magic\.idx: bad IDX magic .* offset 0"):
        read_idx(tmp_path / "magic.idx")
    gz = gzip.compress(payload)
    (tmp_path / "cut.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ValueError, match=r"cut\.gz: corrupt or truncated gzip"):
        read_idx(tmp_path / "cut.gz")


def test_missing_files_name_the_debian_package(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist.load_data(path=str(tmp_path))
