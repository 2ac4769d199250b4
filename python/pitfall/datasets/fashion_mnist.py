"""Fashion-MNIST from Debian's dataset-fashion-mnist package, like keras.datasets.fashion_mnist.

    (x_train, y_train), (x_test, y_test) = pf.datasets.fashion_mnist.load_data()

x: uint8 (60000, 28, 28) and (10000, 28, 28), values 0..255 (NOT scaled: scaling is the caller's job,
and forgetting it is pitfall P06); y: uint8 labels 0..9.
"""
import os

from ._idx import read_idx

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
          "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot")


def load_data(path=None):
    """((x_train, y_train), (x_test, y_test)) as uint8 NumPy arrays.

    `path` is the folder with the four IDX .gz files (default: $PITFALL_FASHION_MNIST_DIR, else
    /usr/share/datasets/fashion-mnist from Debian's dataset-fashion-mnist package).
    """
    folder = path or os.environ.get("PITFALL_FASHION_MNIST_DIR") or DEFAULT_DIR
    missing = [name for name in _FILES if not os.path.isfile(os.path.join(folder, name))]
    if missing:
        raise FileNotFoundError(
            f"Fashion-MNIST files missing in {folder}: {', '.join(missing)}. Install them with "
            f"`apt-get install dataset-fashion-mnist` (Debian), or pass load_data(path=...) a folder holding them.")
    arrays = [read_idx(os.path.join(folder, name)) for name in _FILES]
    x_train, y_train, x_test, y_test = arrays
    for x, y, split in ((x_train, y_train, "train"), (x_test, y_test, "test")):
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"Fashion-MNIST {split} files disagree: images {x.shape}, labels {y.shape}")
    return (x_train, y_train), (x_test, y_test)
