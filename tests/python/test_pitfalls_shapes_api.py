"""P29-P36 (shapes, gradients and API pitfalls): each signature asserted from the runs themselves."""
import math

from pitfall_outcomes import outcome


def test_p29_broadcast_mse_floors_at_var_y_and_predicts_the_mean():
    run = outcome("P29").broken
    var_y = run.values["Var(y)"]
    assert abs(var_y - 9.01) < 0.1 * 9.01  # |w|^2 + noise^2 for x ~ N(0, I), up to sampling
    assert 0.9 * var_y < run.curves["loss"][-1] < 1.05 * var_y
    assert min(run.curves["loss"]) > 0.9 * var_y  # never below the floor
    assert abs(run.values["R^2 of the predictions"]) < 0.1
    assert run.values["std(prediction) / std(y)"] < 0.1
    assert abs(run.values["mean(prediction) - mean(y)"]) < 0.05 * math.sqrt(var_y)
    # fit() on the same (N,) targets aligns the ranks, as Keras's compile does: both losses train.
    assert run.values["fit, hand-written loss compiled: final loss"] < 0.1
    assert run.values["fit, built-in 'mse': final loss"] < 0.1


def test_p29_matching_shapes_fit_the_line():
    run = outcome("P29").fixed
    assert run.curves["loss"][-1] < 0.1 ** 2 * 10  # noise variance 0.01, within 10x
    assert run.values["R^2 of the predictions"] > 0.99


def test_p30_errors_name_layer_op_and_both_shapes():
    texts = outcome("P30").broken.texts
    call = texts["calling the layer"]
    for part in ("residual_block", "CustomLayer", "add", "(32, 5)", "(32, 2)", "(32, 10)"):
        assert part in call, part
    for part in ("residual_block", "add", "5 vs 2"):
        assert part in texts["building the model"], part
    assert "(None, 10)" in texts["predict on 12-column data"] and "12)" in texts["predict on 12-column data"]
    shared = texts["shared Dense on a 12-wide input"]
    assert "shared_encoder" in shared and "(None, 10)" in shared and "(None, 12)" in shared


def test_p30_fixed_layer_runs_and_trains():
    run = outcome("P30").fixed
    assert run.values["layer output shape"] == "(32, 5)"
    assert run.curves["loss"][-1] < run.curves["loss"][0] / 10
    assert not run.texts


def test_p31_sigmoid_gradients_vanish_and_relu_he_keeps_them():
    broken, fixed = outcome("P31").broken, outcome("P31").fixed
    ratio = 10 ** broken.curves["log10 ||dW|| relative to layer 10"][0]
    assert ratio < 1e-3
    assert math.isclose(ratio, broken.values["||dW1|| / ||dW10||"], rel_tol=1e-9)
    # Per layer the sigmoid net loses at least a factor 2 on average; relu + he_normal stays within 10x overall.
    assert broken.curves["log10 ||dW|| relative to layer 10"][0] < 9 * math.log10(0.5)
    assert 0.1 < fixed.values["||dW1|| / ||dW10||"] < 10
    assert broken.values["loss after epoch 10"] > 0.9 * math.log(10)
    assert fixed.values["loss after epoch 10"] < 0.1 * math.log(10)
    assert fixed.values["accuracy after epoch 10"] > 0.95


def test_p32_lr_1_kills_the_relu_units_and_a_sane_rate_keeps_them():
    broken, fixed = outcome("P32").broken, outcome("P32").fixed
    assert broken.values["dead units in hidden_2 after 1 epoch"] > 0.9
    assert broken.values["dead units in hidden_1 after 1 epoch"] > 0.5
    assert broken.curves["dead units in hidden_2 (%)"][0] == 0.0  # all alive at initialization
    assert broken.values["test accuracy"] < 0.2  # chance is 0.1
    assert max(fixed.curves["dead units in hidden_1 (%)"] + fixed.curves["dead units in hidden_2 (%)"]) < 5.0
    assert fixed.values["test accuracy"] > 0.7


def test_p33_numpy_in_call_raises_naming_the_layer():
    broken = outcome("P33").broken
    error = broken.texts["np.tanh(inputs) in call()"]
    assert error.startswith("TypeError") and "numpy_tanh" in error and "pf.ops" in error


def test_p33_numpy_round_trip_cuts_the_gradient_and_ops_fix_it():
    broken, fixed = outcome("P33").broken, outcome("P33").fixed
    assert broken.values["encoder gradients that are None"] == 2
    assert broken.values["largest change of an encoder weight"] == 0.0
    assert fixed.values["encoder gradients that are None"] == 0
    assert fixed.values["largest change of an encoder weight"] > 0.01
    assert fixed.curves["loss"][-1] < broken.curves["loss"][-1] / 5


def test_p34_unknown_keywords_are_rejected_with_the_right_name():
    texts = outcome("P34").broken.texts
    assert texts["SGD(lr=0.1)"].startswith("TypeError") and "'learning_rate'" in texts["SGD(lr=0.1)"]
    assert texts["SGD(decay=1e-4)"].startswith("TypeError")
    assert "'kernel_initializer'" in texts["Dense(64, kernel_initalizer=...)"]


def test_p34_a_dropped_learning_rate_costs_training_progress():
    broken, fixed = outcome("P34").broken, outcome("P34").fixed
    assert abs(broken.values["learning rate in effect"] - 0.01) < 1e-9  # Keras's SGD default
    assert abs(fixed.values["learning rate in effect"] - 0.1) < 1e-9
    assert broken.curves["loss"][-1] > 1.3 * fixed.curves["loss"][-1]
    assert fixed.curves["loss"][1] < broken.curves["loss"][-1]
    assert fixed.values["test accuracy"] > broken.values["test accuracy"]


def test_p35_fit_and_custom_loop_agree_bitwise_only_when_equal():
    broken, fixed = outcome("P35").broken, outcome("P35").fixed
    epochs, samples, batch = 10, 100, 32
    assert broken.values["custom loop optimizer steps"] == epochs * (samples // batch)
    assert broken.values["fit() optimizer steps"] == epochs * -(-samples // batch)
    assert broken.values["largest weight difference"] > 1e-4
    assert broken.curves["fit() loss"] != broken.curves["custom loop loss"]
    assert fixed.values["largest weight difference"] == 0.0
    assert fixed.values["weight arrays bitwise equal"] == "4 of 4"
    assert fixed.curves["fit() loss"] == fixed.curves["custom loop loss"]
    assert fixed.curves["fit() loss"][-1] < fixed.curves["fit() loss"][0]  # it did train


def test_p36_sequential_and_functional_agree_bitwise_when_seeded_alike():
    broken, fixed = outcome("P36").broken, outcome("P36").fixed
    assert broken.values["same weight shapes"] is True
    assert broken.values["largest initial prediction difference"] > 1e-3
    assert broken.curves["Sequential loss"] != broken.curves["functional loss"]
    assert fixed.values["initial predictions bitwise equal"] is True
    assert fixed.values["largest initial prediction difference"] == 0.0
    assert fixed.curves["Sequential loss"] == fixed.curves["functional loss"]
    assert fixed.values["final weight arrays bitwise equal"] == "4 of 4"


def test_p33_engine_warns_once_about_the_disconnected_round_trip():
    broken, fixed = outcome("P33").broken, outcome("P33").fixed
    disconnected = [w for w in broken.warnings if "not connected to its inputs" in w]
    assert len(disconnected) == 1 and "numpy_round_trip" in disconnected[0]
    assert not any("not connected" in w for w in fixed.warnings)


def test_p34_compile_keyword_typo_names_the_method_and_the_keyword():
    message = outcome("P34").broken.texts["model.compile(..., metric=[...])"]
    assert message.startswith("TypeError: Model.compile() got an unexpected keyword argument 'metric'")
    assert "did you mean metrics=?" in message
