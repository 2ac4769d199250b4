"""Learning-rate schedules from Python: the Keras formulas (written out here), Keras argument
names and errors, serialization, and Python subclasses evaluated from C++ with the GIL released."""
import math
import threading
import warnings

import numpy as np
import pytest

import pitfall  # noqa: F401  (loads the extension and its error translation)
from pitfall import _pitfall
from pitfall import schedules

STEPS = list(range(0, 121)) + [199, 200, 201, 999, 1000, 1001, 12345]


def both_paths(schedule, step):
    """The value Python gets by calling the schedule, and the value an optimizer gets from C++."""
    return schedule(step), _pitfall._evaluate_schedule(schedule, step)


def assert_matches(schedule, reference):
    for step in STEPS:
        want = reference(step)
        for got in both_paths(schedule, step):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-15), f"step {step}"


# ---------------------------------------------------------------- values

@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("lr0,decay_steps,rate", [(0.1, 10, 0.96), (1e-3, 7, 0.5), (2.0, 1, 0.999)])
def test_exponential_decay_matches_keras_formula(lr0, decay_steps, rate, staircase):
    schedule = schedules.ExponentialDecay(lr0, decay_steps, rate, staircase=staircase)

    def reference(step):
        p = np.floor(step / decay_steps) if staircase else step / decay_steps
        return lr0 * np.power(rate, p)

    assert_matches(schedule, reference)


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("lr0,decay_steps,rate", [(0.1, 1, 0.5), (0.01, 13, 2.0)])
def test_inverse_time_decay_matches_keras_formula(lr0, decay_steps, rate, staircase):
    schedule = schedules.InverseTimeDecay(lr0, decay_steps, rate, staircase)

    def reference(step):
        t = (step // decay_steps) if staircase else step / decay_steps
        return lr0 / (1 + rate * t)

    assert_matches(schedule, reference)


def test_piecewise_constant_decay_boundary_belongs_to_the_interval_below():
    boundaries, values = [10, 20, 100], [1.0, 0.5, 0.1, 0.01]
    schedule = schedules.PiecewiseConstantDecay(boundaries, values)
    assert_matches(schedule, lambda step: values[int(np.searchsorted(boundaries, step, side="left"))])
    assert both_paths(schedule, 10) == (1.0, 1.0)
    assert both_paths(schedule, 11) == (0.5, 0.5)
    assert both_paths(schedule, 100) == (0.1, 0.1)
    assert both_paths(schedule, 101) == (0.01, 0.01)
    # NumPy inputs and integral float boundaries are accepted.
    same = schedules.PiecewiseConstantDecay(np.array([10.0, 20.0, 100.0]), np.array(values))
    assert same.get_config()["boundaries"] == boundaries


@pytest.mark.parametrize("alpha", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("decay_steps", [1, 10, 100])
def test_cosine_decay_without_warmup_clamps_at_decay_steps(alpha, decay_steps):
    schedule = schedules.CosineDecay(0.5, decay_steps, alpha=alpha)

    def reference(step):
        t = min(step, decay_steps) / decay_steps
        return 0.5 * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * t)) + alpha)

    assert_matches(schedule, reference)
    assert schedule(decay_steps * 7) == schedule(decay_steps) == pytest.approx(0.5 * alpha, abs=1e-15)


@pytest.mark.parametrize("lr0,target,warmup_steps,decay_steps,alpha",
                         [(0.0, 0.1, 10, 100, 0.0), (0.01, 0.5, 1, 7, 0.25), (0.2, 0.05, 30, 3, 0.0)])
def test_cosine_decay_with_warmup(lr0, target, warmup_steps, decay_steps, alpha):
    schedule = schedules.CosineDecay(lr0, decay_steps, alpha=alpha, warmup_target=target, warmup_steps=warmup_steps)

    def reference(step):
        if step < warmup_steps:
            return lr0 + (target - lr0) * step / warmup_steps
        t = min(step - warmup_steps, decay_steps) / decay_steps
        return target * (alpha + (1 - alpha) * (1 + math.cos(math.pi * t)) / 2)

    assert_matches(schedule, reference)
    assert schedule(0) == lr0
    assert schedule(warmup_steps) == target


def test_cosine_decay_keras_positional_order():
    # Keras: (initial_learning_rate, decay_steps, alpha, name, warmup_target, warmup_steps).
    schedule = schedules.CosineDecay(0.0, 10, 0.1, "warm", 1.0, 4)
    assert schedule.get_config() == {"initial_learning_rate": 0.0, "decay_steps": 10, "alpha": 0.1, "name": "warm",
                                     "warmup_target": 1.0, "warmup_steps": 4}
    assert schedule(2) == pytest.approx(0.5)


def _torch_rates(make_scheduler, lr0, steps):
    """The learning rates a torch.optim.lr_scheduler gives at steps 0..steps-1 (PyTorch's own code)."""
    torch = pytest.importorskip("torch")
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=lr0)
    scheduler = make_scheduler(torch.optim.lr_scheduler, optimizer)
    rates = []
    for _ in range(steps):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize("power", [1.0, 0.5, 2.0])
def test_polynomial_decay_matches_torch_polynomial_lr(power):
    # torch's PolynomialLR is Keras's PolynomialDecay with end_learning_rate=0 and cycle=False.
    want = _torch_rates(lambda s, o: s.PolynomialLR(o, total_iters=20, power=power), 0.4, 40)
    schedule = schedules.PolynomialDecay(0.4, 20, end_learning_rate=0.0, power=power)
    for step, rate in enumerate(want):
        for got in both_paths(schedule, step):
            assert got == pytest.approx(rate, rel=1e-9, abs=1e-12), f"step {step}"


def test_polynomial_decay_cycle_restarts_from_the_top():
    schedule = schedules.PolynomialDecay(1.0, 10, end_learning_rate=0.0, cycle=True)
    # Step 15: the horizon is 20 (the first multiple of 10 at or above 15), p = 0.75.
    assert schedule(15) == pytest.approx(0.25)
    assert schedule(10) == pytest.approx(0.0) and schedule(11) == pytest.approx(1 - 11 / 20)
    assert schedules.PolynomialDecay(1.0, 10)(15) == pytest.approx(0.0001)  # no cycle: held at the end


@pytest.mark.parametrize("t_mul,alpha", [(1, 0.0), (2, 0.0), (2, 0.1), (3, 0.25)])
def test_cosine_decay_restarts_matches_torch_warm_restarts(t_mul, alpha):
    # torch's CosineAnnealingWarmRestarts(T_0, T_mult, eta_min) is Keras's CosineDecayRestarts with
    # m_mul=1 and alpha = eta_min / initial_learning_rate.
    lr0 = 0.2
    want = _torch_rates(lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=7, T_mult=t_mul, eta_min=alpha * lr0), lr0, 150)
    schedule = schedules.CosineDecayRestarts(lr0, 7, t_mul=float(t_mul), m_mul=1.0, alpha=alpha)
    for step, rate in enumerate(want):
        for got in both_paths(schedule, step):
            assert got == pytest.approx(rate, rel=1e-9, abs=1e-12), f"step {step}"


def test_cosine_decay_restarts_m_mul_lowers_each_restart():
    schedule = schedules.CosineDecayRestarts(1.0, 10, t_mul=1.0, m_mul=0.5)
    assert [schedule(s) for s in (0, 10, 20, 30)] == pytest.approx([1.0, 0.5, 0.25, 0.125])
    assert schedule(5) == pytest.approx(0.5)  # half way down the first period


# ---------------------------------------------------------------- objects, configs, serialization

ALL = [
    lambda: schedules.ExponentialDecay(0.1, 100, 0.96, True),
    lambda: schedules.PiecewiseConstantDecay([5, 9], [0.3, 0.2, 0.1], name="steps"),
    lambda: schedules.CosineDecay(0.0, 50, warmup_target=0.2, warmup_steps=5),
    lambda: schedules.InverseTimeDecay(0.5, 3, 0.5),
    lambda: schedules.PolynomialDecay(0.5, 30, end_learning_rate=0.01, power=2.0, cycle=True),
    lambda: schedules.CosineDecayRestarts(0.3, 5, t_mul=1.5, m_mul=0.9, alpha=0.1),
]


@pytest.mark.parametrize("make", ALL)
def test_every_schedule_is_a_learning_rate_schedule_and_round_trips(make):
    schedule = make()
    assert isinstance(schedule, schedules.LearningRateSchedule)
    assert isinstance(schedule, _pitfall.LearningRateSchedule)
    assert schedule.class_name == type(schedule).__name__
    config = schedule.get_config()
    again = type(schedule).from_config(config)
    assert type(again) is type(schedule) and again.get_config() == config
    restored = schedules.deserialize(schedules.serialize(schedule))
    assert type(restored) is type(schedule) and restored.get_config() == config
    # The C++ reader takes the same entry.
    from_cpp = _pitfall.schedule_from_config(schedules.serialize(schedule))
    assert from_cpp.get_config() == config
    for step in (0, 4, 5, 6, 55, 500):
        assert restored(step) == schedule(step) == from_cpp(step)
    assert schedules.get(schedule) is schedule
    assert schedules.get(schedules.serialize(schedule)).get_config() == config
    assert type(schedule).__name__ in repr(schedule)


def test_config_keys_and_default_names_are_keras():
    assert schedules.ExponentialDecay(0.1, 10, 0.9).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.9, "staircase": False,
        "name": "ExponentialDecay"}
    assert schedules.PiecewiseConstantDecay([1], [0.2, 0.1]).get_config() == {
        "boundaries": [1], "values": [0.2, 0.1], "name": "PiecewiseConstant"}
    assert schedules.CosineDecay(0.1, 10).get_config() == {
        "initial_learning_rate": 0.1, "decay_steps": 10, "alpha": 0.0, "name": "CosineDecay", "warmup_target": None,
        "warmup_steps": 0}
    assert schedules.InverseTimeDecay(0.1, 10, 0.9, name="inv").get_config()["name"] == "inv"
    serialized = schedules.serialize(schedules.ExponentialDecay(0.1, 10, 0.9))
    assert serialized["module"] == "keras.optimizers.schedules" and serialized["registered_name"] is None


def test_attributes_are_the_arguments_and_read_only():
    schedule = schedules.ExponentialDecay(0.1, decay_steps=1000.0, decay_rate=0.5)
    assert schedule.initial_learning_rate == 0.1 and schedule.decay_steps == 1000 and schedule.decay_rate == 0.5
    assert schedule.staircase is False and schedule.name == "ExponentialDecay"
    with pytest.raises(AttributeError):
        schedule.decay_rate = 0.9


def test_deserialize_reads_keras_output_and_names_unknown_classes():
    keras_entry = {"module": "keras.optimizers.schedules", "class_name": "CosineDecay",
                   "config": {"initial_learning_rate": 0.1, "decay_steps": 1000, "alpha": 0.0, "name": "CosineDecay",
                              "warmup_target": None, "warmup_steps": 0}, "registered_name": None}
    schedule = schedules.deserialize(keras_entry)
    assert isinstance(schedule, schedules.CosineDecay)
    assert schedule(500) == pytest.approx(0.05)
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'ExponentialDecai'; did you mean "
                                         "'ExponentialDecay'"):
        schedules.deserialize({"class_name": "ExponentialDecai", "config": {}})
    # Keras's serialize() output of every other class reads too.
    poly = schedules.deserialize({"module": "keras.optimizers.schedules", "class_name": "PolynomialDecay",
                                  "config": {"initial_learning_rate": 0.1, "decay_steps": 100, "end_learning_rate": 0.0001,
                                             "power": 1.0, "cycle": False, "name": "PolynomialDecay"},
                                  "registered_name": None})
    assert poly(50) == pytest.approx((0.1 - 0.0001) * 0.5 + 0.0001)
    sgdr = schedules.deserialize({"class_name": "CosineDecayRestarts",
                                  "config": {"initial_learning_rate": 0.1, "first_decay_steps": 10, "t_mul": 2.0,
                                             "m_mul": 1.0, "alpha": 0.0, "name": "SGDRDecay"}})
    assert sgdr(10) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="did you mean 'CosineDecay'"):
        _pitfall.schedule_from_config({"class_name": "CosineDecai", "config": {}})
    with pytest.raises(TypeError, match="cannot interpret 0.1"):
        schedules.get(0.1)


# ---------------------------------------------------------------- argument errors

def test_unknown_keyword_says_did_you_mean():
    with pytest.raises(TypeError, match="ExponentialDecay\\(\\) got an unexpected keyword argument 'decay_rte'; "
                                        "did you mean 'decay_rate'"):
        schedules.ExponentialDecay(0.1, decay_steps=10, decay_rte=0.5)
    with pytest.raises(TypeError, match="did you mean 'warmup_steps'"):
        schedules.CosineDecay(0.1, 10, warmup_step=5)
    with pytest.raises(TypeError, match="missing required argument 'decay_rate'"):
        schedules.InverseTimeDecay(0.1, 10)
    with pytest.raises(TypeError, match="takes at most 3 positional arguments"):
        schedules.PiecewiseConstantDecay([1], [1.0, 2.0], "n", 4)


def test_argument_types_are_checked():
    # The argument tables' kinds (core/arguments.h): ValueError naming the schedule, the argument and
    # the value, as for every other class.
    with pytest.raises(ValueError, match="ExponentialDecay: argument 'decay_steps' must be an integer, got '10'"):
        schedules.ExponentialDecay(0.1, "10", 0.5)
    with pytest.raises(ValueError, match="argument 'decay_steps' must be an integer, got 2.5"):
        schedules.CosineDecay(0.1, 2.5)
    assert schedules.CosineDecay(0.1, 1000.0).decay_steps == 1000  # Keras accepts a whole float
    with pytest.raises(ValueError, match="argument 'staircase' must be True or False, got 'yes'"):
        schedules.InverseTimeDecay(0.1, 10, 0.5, staircase="yes")
    with pytest.raises(ValueError, match="argument 'initial_learning_rate' cannot be None; pass a float \\(the learning rate at step 0\\)"):
        schedules.CosineDecay(None, 10)
    with pytest.raises(ValueError, match="argument 'values' must be a list of numbers, got values=\\[1.0, 'x'\\]"):
        schedules.PiecewiseConstantDecay([1], [1.0, "x"])
    with pytest.raises(ValueError, match="argument 'boundaries' must be a list of integers, got boundaries=5"):
        schedules.PiecewiseConstantDecay(5, [1.0, 2.0])


def test_invalid_values_raise_value_errors_naming_the_schedule():
    with pytest.raises(ValueError, match="ExponentialDecay: argument 'decay_steps' must be > 0"):
        schedules.ExponentialDecay(0.1, 0, 0.5)
    with pytest.raises(ValueError, match="InverseTimeDecay: argument 'decay_rate' must be >= 0"):
        schedules.InverseTimeDecay(0.1, 10, -1.0)
    with pytest.raises(ValueError, match="CosineDecay: argument 'alpha' must be in \\[0, 1\\]"):
        schedules.CosineDecay(0.1, 10, alpha=2.0)
    with pytest.raises(ValueError, match="CosineDecay: argument 'initial_learning_rate' must be a finite number"):
        schedules.CosineDecay(float("nan"), 10)
    with pytest.raises(ValueError, match="'values' must have one more element than 'boundaries'"):
        schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.5])
    with pytest.raises(ValueError, match="'boundaries' must be strictly increasing"):
        schedules.PiecewiseConstantDecay([20, 10], [1.0, 0.5, 0.1])
    with pytest.raises(ValueError, match="ExponentialDecay: the step must be >= 0"):
        schedules.ExponentialDecay(0.1, 10, 0.5)(-1)


def test_warmup_steps_without_target_warns(capfd):
    # Engine warnings reach Python's warnings module or, where no handler routes them, stderr.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schedules.CosineDecay(0.1, 10, warmup_steps=5)
    shown = " ".join(str(w.message) for w in caught) + capfd.readouterr().err
    assert "warmup_steps=5 has no effect without warmup_target" in shown


# ---------------------------------------------------------------- Python subclasses

class InverseSqrt(schedules.LearningRateSchedule):
    def __init__(self, peak, warmup=4):
        super().__init__()
        self.peak = peak
        self.warmup = warmup

    def __call__(self, step):
        return self.peak * min((step + 1) / self.warmup, (self.warmup / (step + 1)) ** 0.5)

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup}


def test_python_subclass_is_evaluated_from_cpp_with_the_gil_released():
    schedule = InverseSqrt(0.2)
    assert isinstance(schedule, schedules.LearningRateSchedule)
    assert schedule.class_name == "InverseSqrt"
    assert_matches(schedule, lambda step: 0.2 * min((step + 1) / 4, (4 / (step + 1)) ** 0.5))
    # The C++ serializer reaches the Python get_config.
    assert _pitfall.schedule_to_config(schedule) == {"class_name": "InverseSqrt",
                                                     "config": {"peak": 0.2, "warmup": 4}}
    entry = schedules.serialize(schedule)
    assert entry["registered_name"] == "InverseSqrt"
    restored = schedules.deserialize(entry, custom_objects={"InverseSqrt": InverseSqrt})
    assert isinstance(restored, InverseSqrt) and restored(10) == schedule(10)
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'InverseSqrt'.*custom_objects"):
        schedules.deserialize(entry)


def test_python_schedule_from_many_threads_does_not_deadlock():
    schedule = InverseSqrt(0.1)
    results = {}

    def work(index):
        results[index] = [_pitfall._evaluate_schedule(schedule, step) for step in range(200)]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    expected = [schedule(step) for step in range(200)]
    assert all(results[i] == expected for i in range(4))


def test_python_schedule_returning_numpy_and_a_tensor():
    class NumpyRate(schedules.LearningRateSchedule):
        def __call__(self, step):
            return np.float32(0.5) / np.float32(step + 1)

    class TensorRate(schedules.LearningRateSchedule):
        def __call__(self, step):
            return pitfall.tensor(0.25) * 2

    assert _pitfall._evaluate_schedule(NumpyRate(), 3) == float(np.float32(0.5) / np.float32(4))
    assert _pitfall._evaluate_schedule(TensorRate(), 3) == 0.5


def test_exception_in_python_call_names_the_class_and_the_step():
    class Broken(schedules.LearningRateSchedule):
        def __call__(self, step):
            if step >= 3:
                raise ZeroDivisionError("division by zero")
            return 0.1

    class Picky(schedules.LearningRateSchedule):
        def __call__(self, step):
            raise ValueError("no rate for you")

    assert _pitfall._evaluate_schedule(Broken(), 2) == 0.1
    with pytest.raises(RuntimeError, match="learning-rate schedule 'Broken' at step 3: __call__ raised "
                                           "ZeroDivisionError: division by zero"):
        _pitfall._evaluate_schedule(Broken(), 3)
    # The kinds pitfall knows keep their Python type.
    with pytest.raises(ValueError, match="learning-rate schedule 'Picky' at step 7: __call__ raised ValueError: no rate"):
        _pitfall._evaluate_schedule(Picky(), 7)


def test_python_call_returning_a_non_number_or_nan_is_an_error():
    class Text(schedules.LearningRateSchedule):
        def __call__(self, step):
            return "0.1"

    class NotFinite(schedules.LearningRateSchedule):
        def __call__(self, step):
            return float("nan")

    with pytest.raises(TypeError, match="learning-rate schedule 'Text' at step 1: __call__ returned '0.1'"):
        _pitfall._evaluate_schedule(Text(), 1)
    with pytest.raises(ValueError, match="'NotFinite' at step 0: __call__ returned nan; a learning rate must be finite"):
        _pitfall._evaluate_schedule(NotFinite(), 0)


def test_subclass_without_call_or_get_config_says_what_to_override():
    class Empty(schedules.LearningRateSchedule):
        pass

    with pytest.raises(NotImplementedError, match="'Empty' must override __call__\\(self, step\\)"):
        Empty()(0)
    with pytest.raises(NotImplementedError, match="'Empty' must override __call__"):
        _pitfall._evaluate_schedule(Empty(), 0)
    with pytest.raises(NotImplementedError, match="'Empty' must override get_config\\(\\)"):
        Empty().get_config()
    with pytest.raises(NotImplementedError, match="must override get_config"):
        _pitfall.schedule_to_config(Empty())


def test_subclass_of_a_builtin_can_override_call_and_use_super():
    class Doubled(schedules.ExponentialDecay):
        def __call__(self, step):
            return 2 * super().__call__(step)

    class Plain(schedules.ExponentialDecay):
        pass

    schedule = Doubled(0.1, 10, 0.5)
    reference = schedules.ExponentialDecay(0.1, 10, 0.5)
    for step in (0, 5, 10, 33):
        assert both_paths(schedule, step) == (2 * reference(step), 2 * reference(step))
        assert both_paths(Plain(0.1, 10, 0.5), step) == both_paths(reference, step)
    assert schedule.class_name == "Doubled"
    assert schedule.get_config() == reference.get_config()
    assert isinstance(Doubled.from_config(schedule.get_config()), Doubled)
