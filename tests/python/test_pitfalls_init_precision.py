"""Catalog entries P01, P02, P03, P05, P06 (initialization, precision, dtypes): each signature asserted
from the broken and fixed runs themselves, with reference numbers computed here."""
import math

import numpy as np

from pitfall_outcomes import outcome

LN10 = math.log(10)


# ---------------------------------------------------------------- P01 off-centre initializer
def test_p01_broken_mean_plus_5_saturates_and_mean_minus_5_kills_every_relu():
    run = outcome("P01").broken
    v = run.values
    # +5: logits far past float32 exp's range (ln(3.4e38) = 88.7), a one-hot softmax, a clipped loss.
    assert v["mean +5: max |logit| at step 0"] > 1e6 * math.log(np.finfo(np.float32).max)
    assert v["mean +5: naive softmax entries non-finite"] == 1.0
    assert v["mean +5: weights with a gradient at step 0"] == 0
    assert v["mean +5: weights changed by training"] == "none"
    wrong = 1.0 - v["mean +5: final training accuracy"]
    assert abs(v["mean +5: loss at step 0"] - wrong * -math.log(1e-7)) < 0.01
    curve = run.curves["loss, kernels mean +5"]
    assert max(curve) - min(curve) < 1e-6  # flat: only the batch-averaging order differs between epochs
    # -5: all ReLUs 0, logits = bias = 0, loss ln 10, only the output bias moves.
    assert v["mean -5: ReLUs outputting 0"] == "100% / 100% / 100%"
    assert abs(v["mean -5: loss at step 0"] - LN10) < 1e-5
    assert v["mean -5: weights with a gradient at step 0"] == 1
    assert v["mean -5: weights changed by training"].endswith("/bias")
    assert v["mean -5: weights changed by training"].count(",") == 0
    assert min(run.curves["loss, kernels mean -5"]) > LN10 - 0.01
    for tag in ("+5", "-5"):
        assert v[f"mean {tag}: test accuracy"] < 0.2


def test_p01_fixed_he_normal_trains():
    v = outcome("P01").fixed.values
    assert v["max |logit| at step 0"] < 20
    assert v["weights with a gradient at step 0"] == v["weights changed by training"] == 8
    assert v["test accuracy"] > 0.75
    assert v["lowest training loss"] < LN10 / 2


# ---------------------------------------------------------------- P02 zero / constant init
def test_p02_broken_zeros_learn_only_the_class_frequencies():
    run = outcome("P02").broken
    v = run.values
    # The model that can only move the output bias converges to the label distribution: loss -> H(y).
    from pitfall.pitfalls.p02_zero_init_symmetry import blobs  # the same data the example trained on
    _, y = blobs(0)
    p = np.bincount(y, minlength=10) / len(y)
    entropy = float(-np.sum(p[p > 0] * np.log(p[p > 0])))
    assert abs(v["zeros: final loss"] - entropy) < 0.01
    assert abs(v["zeros: final accuracy"] - p.max()) < 1e-6
    assert v["zeros: max |hidden kernel gradient| at step 0"] == 0.0
    assert v["zeros: hidden kernel max |w| after training"] == 0.0
    assert v["relu + zeros: max |hidden kernel gradient| at step 0"] == 0.0


def test_p02_broken_ones_keep_the_hidden_units_identical():
    v = outcome("P02").broken.values
    assert v["ones: hidden kernel max |w| after training"] != 1.0      # the kernel does move
    assert v["ones: largest difference between two hidden columns"] < 1e-5  # ...but all columns together
    assert v["ones: distinct hidden kernel columns (of 64)"] <= 4
    assert v["ones: final accuracy"] < 0.4


def test_p02_fixed_random_init_breaks_symmetry():
    run = outcome("P02").fixed
    assert run.values["distinct hidden kernel columns (of 64)"] == 64
    assert run.values["max |hidden kernel gradient| at step 0"] > 1e-3
    assert run.values["final accuracy"] > 0.9
    assert run.curves["loss (broken: zeros)"][-1] < outcome("P02").broken.values["label entropy H(y)"] / 4


# ---------------------------------------------------------------- P03 float16 range
def test_p03_broken_float16_overflows_and_flushes_small_gradients():
    v = outcome("P03").broken.values
    with np.errstate(over="ignore"):
        assert np.isinf(np.exp(np.float16(12.0)))  # NumPy agrees: 12 > ln 65504
    assert math.isinf(v["exp(12) in float16"])
    assert math.isnan(v["hand-written softmax([12, 0])[0]"])
    assert v["gradient entries exactly 0"] == v["gradient entries"] == 3
    assert v["gradient of x = 3.0 (want 3e-8)"] == 0.0
    assert np.float16(3e-8 * 0.5) == 0  # below half the smallest subnormal 2^-24


def test_p03_fixed_builtin_softmax_and_loss_scaling():
    v = outcome("P03").fixed.values
    exact = np.exp(np.array([12.0, 0.0]) - 12.0)
    exact /= exact.sum()
    assert v["built-in softmax([12, 0])[0]"] == float(np.float16(exact[0]))
    assert v["built-in softmax([12, 0])[1]"] == float(np.float16(exact[1]))
    x = np.array([0.5, -1.25, 3.0])
    assert abs(v["gradient of x = 0.5 (want 5e-9)"] / (1e-8 * x[0]) - 1) < 2 ** -10
    assert abs(v["gradient of x = 3.0 (want 3e-8)"] / (1e-8 * x[2]) - 1) < 2 ** -10
    assert v["gradient entries exactly 0"] == 0
    assert v["LossScaleOptimizer initial scale"] == 2.0 ** 15
    assert v["largest relative error via LossScaleOptimizer.scale_loss"] < 2 ** -10


# ---------------------------------------------------------------- P05 float64 vs float32
def test_p05_broken_float32_data_into_float64_model_warns_once_and_strict_raises():
    run = outcome("P05").broken
    assert run.values["model weight dtype"] == "float64" and run.values["data dtype"] == "float32"
    cast = [w for w in run.warnings if "float32" in w and "float64" in w]
    assert len(cast) == 1 and len(run.warnings) == 1
    strict = run.texts["under pf.config.set_strict_dtypes(True)"]
    assert strict.startswith("TypeError") and "float32 input where float64 is expected" in strict
    assert "sequential" in strict


def test_p05_fixed_one_dtype_and_float32_float64_agree_to_float32_precision():
    run = outcome("P05").fixed
    assert not run.warnings and run.values["strict dtypes: raises"] == "nothing"
    relative = run.values["max |w32 - w64| / max |w64|"]
    eps32 = float(np.finfo(np.float32).eps)
    assert eps32 / 100 < relative < 100 * eps32
    assert run.values["weights bitwise equal"] is False
    assert abs(run.values["final loss"] - run.values["float64 run: final loss"]) < 1e-5
    broken_loss = outcome("P05").broken.curves["loss"]
    np.testing.assert_allclose(run.curves["loss"], broken_loss, rtol=1e-5)


# ---------------------------------------------------------------- P06 uint8 inputs
def test_p06_broken_raw_pixels_collapse_to_one_class():
    run = outcome("P06").broken
    v = run.values
    assert v["input dtype"] == "uint8" and v["input range"] == "0..255"
    assert len([w for w in run.warnings if "uint8 input with values in [0, 255]" in w]) == 1
    assert v["distinct classes predicted on the test set"] == 1
    assert v["ReLUs outputting 0 on test images"] == 1.0
    assert abs(v["final loss"] - LN10) < 0.01
    assert abs(v["final training accuracy"] - v["most common training class rate"]) < 0.01
    assert v["test accuracy"] < 0.15
    assert v["first epoch loss"] > 1000


def test_p06_broken_in_place_division_of_an_integer_array():
    run = outcome("P06").broken
    pixels = np.array([0, 128, 254, 255], dtype=np.uint8)
    assert run.values["uint8 [0, 128, 254, 255] //= 255"] == str((pixels // 255).tolist()) == "[0, 0, 0, 1]"
    assert run.values["x[:] = x / 255 on uint8"] == str((pixels / 255).astype(np.uint8).tolist())
    assert "Cannot cast ufunc 'divide' output" in run.texts["x /= 255 on a uint8 array"]


def test_p06_fixed_scaled_pixels_reach_80_percent():
    run = outcome("P06").fixed
    assert run.values["test accuracy"] > 0.8
    assert run.values["distinct classes predicted on the test set"] == 10
    assert not run.warnings
    assert run.values["uint8 [0, 128, 254, 255].astype('float32') / 255"] == \
        " ".join(f"{v:.4f}" for v in np.array([0, 128, 254, 255]) / 255.0)


def test_init_precision_entries_are_deterministic_and_reproduced():
    from pitfall import catalog
    from pitfall_outcomes import catalog_entries
    for ident in ("P01", "P02", "P03", "P05", "P06"):
        first = outcome(ident)
        assert first.reproduced and first.fix_works, catalog.format_outcome(first)
    again = catalog.run_pitfall(catalog_entries()["P02"], 0)
    assert [c.measured for c in again.checks] == [c.measured for c in outcome("P02").checks]
