"""P07 double softmax: the signature asserted from the runs themselves."""
import math

from pitfall_outcomes import outcome


def test_p07_broken_loss_is_floored_at_the_double_softmax_bound():
    run = outcome("P07").broken
    floor = math.log(math.e + 9) - 1.0  # -ln(e / (e + 9)), the loss of a perfect double-softmax prediction
    # whatever the first softmax outputs (a point of the simplex), the second one keeps the loss in
    # [-ln(e/(e+9)), ln(e+9)]; an untrained network sits near ln 10 inside it
    assert floor <= run.values["loss at step 0"] <= math.log(math.e + 9)
    assert abs(run.values["loss at step 0"] - math.log(10)) < 0.1
    assert min(run.curves["loss"]) >= floor - 1e-4
    assert min(run.curves["loss"]) < floor + 0.01  # it does reach the floor: the model itself is fine
    assert any("double softmax" in w for w in run.warnings)


def test_p07_fixed_loss_goes_far_below_the_floor():
    run = outcome("P07").fixed
    assert min(run.curves["loss"]) < 0.1
    assert run.curves["accuracy"][-1] > 0.95
    assert not run.warnings
