"""P08-P14, P16 (loss, activation and optimization pitfalls): each signature asserted from the runs,
with the reference numbers derived here."""
import math

import numpy as np

from pitfall_outcomes import outcome


# P08 ------------------------------------------------------------------------------------------------
def test_p08_broken_errors_name_the_loss_both_shapes_and_the_right_loss():
    texts = outcome("P08").broken.texts
    first = texts["integer labels + categorical_crossentropy (pitfall)"]
    second = texts["one-hot labels + sparse_categorical_crossentropy (pitfall)"]
    assert first.startswith("ValueError") and "'categorical_crossentropy'" in first
    assert "(32,)" in first and "(32, 3)" in first and "sparse_categorical_crossentropy" in first
    assert second.startswith("ValueError") and "'sparse_categorical_crossentropy'" in second
    assert second.count("(32, 3)") >= 2 and "loss='categorical_crossentropy'" in second
    assert "layer" in first or "dense" in first  # says where: the model output that the loss belongs to


def test_p08_fixed_both_label_formats_train_to_the_same_loss():
    run = outcome("P08").fixed
    assert run.values["final loss, integer labels + sparse CE"] < 0.1
    assert abs(run.values["final loss, integer labels + sparse CE"]
               - run.values["final loss, one-hot labels + categorical CE"]) < 1e-5
    assert run.curves["accuracy"][-1] > 0.95


# P09 ------------------------------------------------------------------------------------------------
def test_p09_broken_clipped_probabilities_give_fixed_loss_and_zero_gradient():
    values = outcome("P09").broken.values
    assert values["float32 sigmoid(+20)"] == 1.0
    assert abs(values["loss, logit -20 label 1"] - (-math.log(float(np.float32(1e-7))))) < 1e-4   # 16.118
    assert abs(values["loss, logit +20 label 0"] - 23 * math.log(2)) < 1e-4                      # 15.942
    assert values["dloss/dlogit, logit -20 label 1"] == 0.0 and values["dloss/dlogit, logit +20 label 0"] == 0.0
    assert values["kernel after training"] == -20.0
    curve = outcome("P09").broken.curves["loss"]
    assert max(curve) - min(curve) == 0.0 and 15.9 < curve[0] < 16.2


def test_p09_fixed_logits_give_loss_equal_to_the_logit_and_unit_gradient():
    values = outcome("P09").fixed.values
    assert abs(values["loss, logit -20 label 1"] - 20.0) < 1e-5 and abs(values["loss, logit +20 label 0"] - 20.0) < 1e-5
    assert values["dloss/dlogit, logit -20 label 1"] == -1.0 and values["dloss/dlogit, logit +20 label 0"] == 1.0
    assert values["final accuracy"] == 1.0 and values["kernel after training"] > 0


# P10 ------------------------------------------------------------------------------------------------
def test_p10_broken_naive_log_softmax_is_nan():
    run = outcome("P10").broken
    assert run.values["softmax probability of the absent class"] == 0.0
    assert all(math.isnan(v) for v in run.curves["loss"])
    assert math.isnan(run.values["loss of logits [2, 0, -200], label 0"])
    assert run.values["weights finite after training"] is False


def test_p10_fixed_log_softmax_is_finite_and_exact():
    run = outcome("P10").fixed
    z = np.array([2.0, 0.0, -200.0])
    log_p = z - (z.max() + np.log(np.exp(z - z.max()).sum()))
    p = np.exp(log_p)
    assert abs(run.values["loss of logits [2, 0, -200], label 0"] - (-log_p[0])) < 1e-6
    gradient = [float(v) for v in run.values["its gradient dloss/dz"].split()]
    np.testing.assert_allclose(gradient, p - np.array([1.0, 0.0, 0.0]), atol=1e-7)
    assert all(math.isfinite(v) for v in run.curves["loss"]) and run.curves["loss"][-1] < 0.1


# P11 ------------------------------------------------------------------------------------------------
def test_p11_broken_single_unit_softmax_is_constant():
    values = outcome("P11").broken.values
    rate = values["positive rate"]
    assert values["smallest prediction"] == 1.0 and values["distinct predictions"] == 1
    assert values["weights bitwise unchanged by training"] is True
    assert all(abs(a - rate) < 1e-6 for a in outcome("P11").broken.curves["accuracy"])
    expected = (1 - rate) * 23 * math.log(2) + rate * (-math.log(float(np.float32(1 - 1e-7))))
    assert all(abs(v - expected) < 1e-3 for v in outcome("P11").broken.curves["loss"])


def test_p11_fixed_sigmoid_learns():
    run = outcome("P11").fixed
    assert run.values["final accuracy"] > 0.9
    assert run.values["weights bitwise unchanged by training"] is False
    assert run.curves["loss"][-1] < 0.5 * math.log(2)


# P12 ------------------------------------------------------------------------------------------------
def test_p12_broken_high_rate_diverges_low_rate_stalls():
    run = outcome("P12").broken
    high = run.curves["log10 loss, lr 10 vs 1e-2"]
    first_bad = next(i + 1 for i, v in enumerate(high) if not math.isfinite(v))
    assert first_bad <= 10
    assert max(v for v in high if math.isfinite(v)) > 30  # grows past 1e30 before it overflows
    assert run.values["lr 1e-7: largest loss change in one epoch"] < 1e-4
    assert abs(run.values["lr 1e-7: loss after 5 epochs"] - run.values["lr 1e-7: loss before training"]) < 1e-3


def test_p12_fixed_moderate_rate_decreases():
    values = outcome("P12").fixed.values
    assert values["lr 1e-2: every epoch lowers the loss"] is True
    assert values["lr 1e-2: loss after 5 epochs"] < 0.5 * values["lr 1e-2: loss before training"]
    assert all(math.isfinite(v) for v in outcome("P12").fixed.curves["loss, lr 1e-7 vs 1e-2"])


# P13 ------------------------------------------------------------------------------------------------
def _keras_first_step(g, t):
    s = math.sqrt(1 - 0.999 ** t)
    return s * g / (s * g + 1e-7)


def test_p13_broken_tiny_gradient_keras_step_is_0_0063_of_torch():
    values = outcome("P13").broken.values
    keras = math.sqrt(0.001) * 1e-8 / (math.sqrt(0.001) * 1e-8 + 1e-7)   # 0.0031523
    torch = 1e-8 / (1e-8 + 1e-8)                                          # 0.5
    assert abs(values["Keras step / lr at step 1"] - keras) < 1e-9
    assert abs(values["torch step / lr at step 1"] - torch) < 1e-12
    assert abs(values["Keras / torch at step 1"] - 0.0063046) < 1e-6
    curve = outcome("P13").broken.curves["step / lr, Keras Adam()"]
    assert abs(curve[-1] / _keras_first_step(1e-8, len(curve)) - 1) < 1e-6
    assert curve[-1] < 1 / 11 and all(b > a for a, b in zip(curve, curve[1:]))  # rises towards lr/11


def test_p13_fixed_large_gradient_rules_agree():
    values = outcome("P13").fixed.values
    assert abs(values["Keras / torch at step 1"] - 1) < 4e-3
    assert abs(values["Keras / torch at step 3000"] - 1) < 1e-4


# P14 ------------------------------------------------------------------------------------------------
def test_p14_broken_misported_momentum_keeps_the_last_batch():
    run = outcome("P14").broken
    assert abs(run.values["one step, torch rule, momentum 0.99 (mis-port)"] - 0.99 * 5) < 1e-5
    assert abs(run.values["one step, Keras rule, momentum 0.1 (mis-port)"] - 0.9 * 5) < 1e-5
    curve = np.array(run.curves["moving mean (feature 0)"])
    assert abs(curve[0] - 5) < 1.5  # one step is already ~ the first batch's mean
    assert 0.35 < np.std(curve[len(curve) // 2:]) < 0.7  # ~ sigma / sqrt(16) = 0.5: batch noise


def test_p14_fixed_conventions_and_the_correct_port():
    run = outcome("P14").fixed
    assert abs(run.values["one step, Keras default (0.99)"] - 0.05) < 1e-6
    assert abs(run.values["one step, torch default (0.1)"] - 0.5) < 1e-6
    assert abs(run.values["one step, torch rule, momentum 0.01"] - 0.05) < 1e-6
    assert run.values["largest difference to a Keras momentum=0.99 layer"] < 1e-5
    curve = np.array(run.curves["moving mean (feature 0)"])
    expected = 5 * (1 - 0.99 ** np.arange(1, len(curve) + 1))
    assert np.max(np.abs(curve - expected)) < 0.3
    assert np.std(curve[len(curve) // 2:] - expected[len(curve) // 2:]) < 0.1


# P16 ------------------------------------------------------------------------------------------------
def test_p16_broken_gradient_overflows_and_clipping_cannot_save_it():
    run = outcome("P16").broken
    assert 249 * math.log(1.5) > math.log(np.finfo(np.float32).max)
    assert math.isfinite(run.values["loss at step 1"]) and run.values["non-finite gradient entries at step 1"] > 0
    for name in ("loss", "loss with clipnorm=1"):
        curve = run.curves[name]
        assert math.isfinite(curve[0]) and all(math.isnan(v) for v in curve[1:])
    assert run.values["weights finite after training"] is False


def test_p16_fixed_orthogonal_recurrence_trains_and_clipping_helps_only_when_finite():
    run = outcome("P16").fixed
    assert run.values["non-finite gradient entries at step 1"] == 0
    assert run.values["final loss"] < run.values["loss at step 1"] / 5
    assert all(math.isfinite(v) for v in run.curves["loss"])
    short = outcome("P16").broken
    assert 1e6 < short.values["1.5 I, length 60: gradient norm at step 1"] < float(np.finfo(np.float32).max)
    assert "nan" in short.values["1.5 I, length 60, no clipping: losses"]
    assert short.values["1.5 I, length 60, clipnorm=1: all finite"] is True


def test_p11_engine_warns_that_single_unit_softmax_is_constant():
    broken, fixed = outcome("P11").broken, outcome("P11").fixed
    assert sum("softmax over a single unit" in w for w in broken.warnings) == 1
    assert not any("single unit" in w for w in fixed.warnings)
