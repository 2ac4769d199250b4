"""Engine errors reach Python as the matching built-in exception, message intact."""
import numpy as np
import pytest

import pitfall as pf
from pitfall import _pitfall


@pytest.mark.parametrize("kind,exc", [
    ("value", ValueError), ("shape", ValueError), ("axis", ValueError), ("dtype", TypeError),
    ("index", IndexError), ("numeric", FloatingPointError), ("not_implemented", NotImplementedError),
    ("runtime", RuntimeError)])
def test_each_error_kind_maps_to_its_python_exception(kind, exc):
    with pytest.raises(exc, match="the message text"):
        _pitfall._raise_for_test(kind, "the message text")


def test_float32_plus_float64_is_a_type_error_naming_both_and_cast():
    a = pf.tensor(np.ones(3, np.float32))
    with pytest.raises(TypeError) as info:
        a + np.ones(3)  # a NumPy float64 array is never silently downcast
    message = str(info.value)
    assert "float32" in message and "float64" in message and "cast" in message
    with pytest.raises(TypeError):
        pf.ops.add(np.ones(3), a)


def test_shape_mismatch_is_a_value_error_naming_both_shapes():
    with pytest.raises(ValueError) as info:
        pf.tensor(np.ones((2, 3))) + pf.tensor(np.ones((4, 5)))
    message = str(info.value)
    assert "(2, 3)" in message and "(4, 5)" in message


def test_integer_input_to_float_op_and_bad_axis():
    with pytest.raises(TypeError, match="cast"):
        pf.ops.exp(pf.tensor([1, 2]))
    with pytest.raises(ValueError):
        pf.ops.sum(pf.tensor([1.0, 2.0]), axis=3)
    with pytest.raises(TypeError):
        pf.tensor([1.0]).numpy("not_a_dtype")


def test_check_numerics_raises_floating_point_error():
    pf.config.enable_check_numerics()
    try:
        assert pf.config.check_numerics_enabled()
        with pytest.raises(FloatingPointError, match="log"):
            pf.ops.log(pf.tensor([0.0, 1.0]) - 1.0)
    finally:
        pf.config.disable_check_numerics()
    assert np.isnan(pf.ops.log(pf.tensor([-1.0])).numpy()[0])
