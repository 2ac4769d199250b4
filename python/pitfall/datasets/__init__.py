"""Small data sets with the keras.datasets interface (NumPy arrays, Keras dtypes)."""
from . import fashion_mnist

__all__ = ["fashion_mnist"]
