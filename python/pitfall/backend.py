"""pitfall.backend: global numeric defaults (set_floatx and dtype policies are not implemented yet)."""
from ._convert import FLOATX, standardize_dtype  # noqa: F401  (re-exported)


def floatx():
    """The default float dtype for Python values, random draws and weights: 'float32'."""
    return FLOATX


def epsilon():
    """The fuzz factor Keras adds in losses and normalizations."""
    return 1e-7
