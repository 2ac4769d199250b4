"""pitfall.backend: global numeric defaults (keras.backend)."""
from . import _pitfall as _C
from ._convert import standardize_dtype

_FLOAT_NAMES = ("float16", "bfloat16", "float32", "float64")


def floatx():
    """The default float dtype: of new layers' weights (unless a dtype policy is set), of Model Inputs,
    of Python floats converted to tensors and of random draws. 'float32' unless set_floatx changed it."""
    return _C.floatx()


def set_floatx(value):
    """Sets floatx ('float16', 'bfloat16', 'float32' or 'float64'), like keras.backend.set_floatx.

    Layers and Inputs created afterwards use it; existing ones keep their dtype. Data of another
    float dtype reaching a model is cast at its Input with a warning once (an error under
    pf.config.set_strict_dtypes(True)): set_floatx('float64') with float32 NumPy data casts up,
    float64 data into a float32 model casts down and loses precision (pitfall P05).
    """
    name = standardize_dtype(value)
    if name not in _FLOAT_NAMES:
        raise ValueError(f"set_floatx: unknown floatx {value!r}; expected one of {', '.join(_FLOAT_NAMES)}")
    _C.set_floatx(name)


def epsilon():
    """The fuzz factor Keras adds in losses and normalizations."""
    return 1e-7


def clear_session():
    """Resets automatic layer names (and the warnings given once per layer), like keras.backend.clear_session."""
    _C.clear_session()
