"""The doctor (pitfall/doctor.py): each fault named with its catalog id and category, no warning on
correct runs, the same findings from the same run, weights untouched, custom loops, and the
`pitfall doctor` command on unmodified scripts."""
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

import pitfall as pf
from pitfall import layers

BUILD_PYTHON = os.path.dirname(os.path.dirname(pf.__file__))


@pytest.fixture(scope="module")
def fashion():
    (x, y), _ = pf.datasets.fashion_mnist.load_data()
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(x))[:3000]
    return x[pick].reshape(-1, 784), y[pick].astype("int64")


def mlp(hidden_activation="relu", output_activation="softmax", units=10, depth=2, initializer="glorot_uniform",
        width=64, dropout=0.0):
    model = pf.Sequential([pf.Input(shape=(784,))])
    for _ in range(depth):
        model.add(layers.Dense(width, activation=hidden_activation, kernel_initializer=initializer))
        if dropout:
            model.add(layers.Dropout(dropout))
    model.add(layers.Dense(units, activation=output_activation))
    return model


def diagnose(model, x, y, loss="sparse_categorical_crossentropy", optimizer=None, epochs=3, batch_size=64,
             metrics=("accuracy",), **fit_args):
    model.compile(optimizer=optimizer or pf.optimizers.Adam(1e-3), loss=loss, metrics=list(metrics))
    doctor = pf.callbacks.Doctor(sample_every=10)
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[doctor], **fit_args)
    return doctor, history


def serious(findings):
    return [f for f in findings if f.severity in ("error", "warning")]


def ids(findings):
    return {(f.id, f.category) for f in findings}


def test_a_correct_mlp_gets_no_warning(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    doctor, history = diagnose(mlp(), x.astype("float32") / 255, y, validation_split=0.2)
    assert history.history["val_accuracy"][-1] > 0.7
    assert serious(doctor.findings) == [], [str(f) for f in doctor.findings]


@pytest.mark.parametrize("batch_size", [32, 128, 512])
def test_pixels_over_255_are_not_unnormalized_at_any_batch_size(fashion, batch_size):
    """Scaled pixels: border pixels that are faint in a few images have a tiny spread but a scale of at
    most 255x below the centre's; no batch size makes them 'features on different scales'."""
    pf.utils.set_random_seed(0)
    x, y = fashion
    doctor, _ = diagnose(mlp(), x.astype("float32") / 255, y, epochs=1, batch_size=batch_size)
    assert not [f for f in doctor.findings if f.category == "unnormalized_input"], [str(f) for f in doctor.findings]


def test_the_doctor_never_changes_the_weights(fashion):
    x, y = fashion
    x = x[:600].astype("float32") / 255
    weights = []
    for attach in (False, True):
        pf.utils.set_random_seed(3)
        model = mlp(dropout=0.2)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
        callbacks = [pf.callbacks.Doctor(sample_every=2)] if attach else []
        model.fit(x, y[:600], epochs=2, batch_size=32, verbose=0, callbacks=callbacks)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_same_run_same_findings(fashion):
    x, y = fashion
    runs = []
    for _ in range(2):
        pf.utils.set_random_seed(1)
        doctor, _ = diagnose(mlp(), x[:1000], y[:1000], epochs=2)
        runs.append(json.dumps(doctor.to_dict(), sort_keys=True))
    assert runs[0] == runs[1]


def test_raw_uint8_pixels_are_unnormalized_input(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    doctor, _ = diagnose(mlp(), x.astype("float32"), y, epochs=2)
    assert ("P06", "unnormalized_input") in ids(serious(doctor.findings))
    finding = next(f for f in doctor.findings if f.id == "P06")
    assert finding.evidence["max"] == 255.0 and finding.step == 0 and "255" in finding.fix


def test_features_on_different_scales_are_unnormalized_input():
    pf.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(512, 4)) * np.array([1e-3, 1.0, 10.0, 5e3])
    y = (x[:, 1] > 0).astype("float32")
    model = pf.Sequential([pf.Input(shape=(4,)), layers.Dense(8, activation="relu"), layers.Dense(1, activation="sigmoid")])
    doctor, _ = diagnose(model, x.astype("float32"), y, loss="binary_crossentropy", epochs=1)
    finding = next(f for f in doctor.findings if f.category == "unnormalized_input")
    assert finding.evidence["feature_scale_spread"] > 1e3


def test_double_softmax_is_named_with_its_loss_floor(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    doctor, _ = diagnose(mlp(), x[:500].astype("float32") / 255, y[:500],
                         loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), epochs=1)
    finding = next(f for f in doctor.findings if f.id == "P07")
    assert finding.category == "wrong_output_activation" and finding.severity == "error"
    assert math.isclose(finding.evidence["loss_floor"], -math.log(math.e / (math.e + 9)), rel_tol=1e-12)


def test_single_unit_softmax():
    pf.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 5)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    model = pf.Sequential([pf.Input(shape=(5,)), layers.Dense(8, activation="relu"), layers.Dense(1, activation="softmax")])
    doctor, _ = diagnose(model, x, y, loss="binary_crossentropy", epochs=1)
    assert ("P11", "wrong_output_activation") in ids(doctor.findings)


def test_linear_layers_without_activation(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    doctor, _ = diagnose(mlp(hidden_activation=None), x[:500].astype("float32") / 255, y[:500], epochs=1)
    finding = next(f for f in doctor.findings if f.category == "missing_hidden_activation")
    assert finding.id == "P38" and len(finding.evidence["layers"]) == 2


def test_learning_rate_too_high_diverges(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    doctor, _ = diagnose(mlp(), x[:1000].astype("float32") / 255, y[:1000], optimizer=pf.optimizers.SGD(10.0),
                         epochs=2)
    assert ("P12", "learning_rate_too_high") in ids(serious(doctor.findings))


def test_learning_rate_too_low(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    doctor, _ = diagnose(mlp(), x[:1000].astype("float32") / 255, y[:1000], optimizer=pf.optimizers.SGD(1e-7),
                         epochs=2)
    finding = next(f for f in doctor.findings if f.category == "learning_rate_too_low")
    assert finding.evidence["median_update_ratio"] < 1e-5


def test_deep_sigmoid_stack_vanishes(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    model = mlp(hidden_activation="sigmoid", depth=10, width=32)
    doctor, _ = diagnose(model, x[:1000].astype("float32") / 255, y[:1000], optimizer=pf.optimizers.SGD(0.01),
                         epochs=1)
    finding = next(f for f in doctor.findings if f.category == "vanishing_gradient")
    assert finding.id == "P31" and finding.evidence["first_to_last_gradient_ratio"] < 1e-3


def test_off_centre_initializer_kills_relus_from_the_start(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    model = mlp(initializer=pf.initializers.RandomNormal(mean=-5.0, stddev=1.0))
    doctor, _ = diagnose(model, x[:1000].astype("float32") / 255, y[:1000], epochs=1)
    assert ("P01", "bad_initialization") in ids(serious(doctor.findings))


def test_constant_initializer(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    doctor, _ = diagnose(mlp(initializer="zeros"), x[:500].astype("float32") / 255, y[:500], epochs=1)
    finding = next(f for f in doctor.findings if f.id == "P02")
    assert finding.category == "bad_initialization" and finding.evidence["std"] == 0.0


def test_class_imbalance(fashion):
    pf.utils.set_random_seed(0)
    x, y = fashion
    keep = np.concatenate([np.where(y == 0)[0], np.where(y == 1)[0][:20]])
    x2, y2 = x[keep].astype("float32") / 255, (y[keep] == 1).astype("float32")
    model = pf.Sequential([pf.Input(shape=(784,)), layers.Dense(16, activation="relu"),
                           layers.Dense(1, activation="sigmoid")])
    doctor, _ = diagnose(model, x2, y2, loss="binary_crossentropy", epochs=1)
    finding = next(f for f in doctor.findings if f.category == "class_imbalance")
    assert finding.evidence["largest_to_smallest"] >= 10


def test_overfitting_with_rising_validation_loss():
    pf.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 20)).astype("float32")
    y = rng.integers(0, 2, size=96).astype("float32")  # pure noise: memorised, never generalised
    model = pf.Sequential([pf.Input(shape=(20,)), layers.Dense(256, activation="relu"),
                           layers.Dense(256, activation="relu"), layers.Dense(1, activation="sigmoid")])
    doctor, history = diagnose(model, x, y, loss="binary_crossentropy", epochs=30, batch_size=16,
                               validation_split=0.25)
    finding = next(f for f in doctor.findings if f.category == "overfitting")
    assert finding.id == "P42" and finding.evidence["last_val_loss"] > finding.evidence["best_val_loss"]


def test_custom_loop_without_training_flag_and_weights_untouched(fashion):
    x, y = fashion
    x = x[:512].astype("float32") / 255
    y = y[:512]
    results = []
    for attach in (False, True):
        pf.utils.set_random_seed(0)
        model = mlp(dropout=0.3)
        optimizer = pf.optimizers.Adam(1e-3)
        loss_fn = pf.losses.SparseCategoricalCrossentropy()
        doctor = pf.debug.Doctor(sample_every=4).watch(model, optimizer) if attach else None
        for start in range(0, 512, 64):
            with pf.GradientTape() as tape:
                loss = loss_fn(y[start:start + 64], model(x[start:start + 64]))  # no training=True
            grads = tape.gradient(loss, model.trainable_weights)
            optimizer.apply(grads, model.trainable_weights)
        if doctor is not None:
            findings = doctor.finish()
        results.append(model.get_weights())
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
    assert ("P17", "api_misuse") in ids(findings)


def test_custom_loop_with_unscaled_input_is_diagnosed(fashion):
    x, y = fashion
    pf.utils.set_random_seed(0)
    model = mlp()
    optimizer = pf.optimizers.SGD(0.01)
    with pf.debug.Doctor(sample_every=4).watch(model, optimizer) as doctor:
        for start in range(0, 512, 64):
            xb = x[start:start + 64].astype("float32")
            with pf.GradientTape() as tape:
                loss = pf.losses.sparse_categorical_crossentropy(y[start:start + 64], model(xb, training=True))
                loss = pf.ops.mean(loss)
            optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
    assert ("P06", "unnormalized_input") in ids(doctor.findings)
    assert all(f.category != "api_misuse" for f in doctor.findings)


def test_finding_validates_its_vocabulary():
    with pytest.raises(ValueError, match="unknown category"):
        pf.doctor.Finding("P01", "bad_init", "error", "t", {}, "f")
    with pytest.raises(ValueError, match="severity"):
        pf.doctor.Finding("P01", "bad_initialization", "fatal", "t", {}, "f")
    with pytest.raises(ValueError, match="sample_every"):
        pf.callbacks.Doctor(sample_every=0)


# ---------------------------------------------------------------- the command on scripts
def run_doctor(tmp_path, source, *args):
    script = tmp_path / "train.py"
    if source is not None:
        script.write_text(source)
    out = tmp_path / "findings.json"
    page = tmp_path / "report.html"
    env = dict(os.environ, PYTHONPATH=BUILD_PYTHON)
    proc = subprocess.run([sys.executable, "-m", "pitfall", "doctor", "--json", str(out), "--report", str(page),
                           "--sample-every", "5", str(script), *args], capture_output=True, text=True, env=env,
                          timeout=300)
    data = json.loads(out.read_text()) if out.exists() else None
    return proc, data, page


SCRIPT_HEAD = """
import sys
import numpy as np
import pitfall as keras
from pitfall import layers
(x, y), _ = keras.datasets.fashion_mnist.load_data()
x, y = x[:1200].reshape(-1, 784), y[:1200]
"""


def test_command_diagnoses_an_unmodified_script_with_its_arguments(tmp_path):
    source = SCRIPT_HEAD + """
epochs = int(sys.argv[1])
model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(32, activation="relu"), layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x.astype("float32"), y, epochs=epochs, verbose=0)
print("trained", epochs)
"""
    proc, data, page = run_doctor(tmp_path, source, "2")
    assert proc.returncode == 0, proc.stderr
    assert "trained 2" in proc.stdout
    assert data["exit_status"] == 0 and data["error"] is None and data["script"].endswith("train.py")
    assert ("P06", "unnormalized_input") in {(f["id"], f["category"]) for f in data["findings"]}
    finding = next(f for f in data["findings"] if f["id"] == "P06")
    assert set(finding) == {"id", "category", "severity", "title", "evidence", "fix", "layer", "epoch", "step"}
    assert len(data["runs"]) == 1 and len(data["runs"][0]["curves"]["epochs"]["loss"]) == 2
    text = page.read_text()
    assert "<svg" in text and "P06" in text and "pitfall run P06" in text


def test_command_turns_the_scripts_error_into_a_finding(tmp_path):
    source = SCRIPT_HEAD + """
model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x / 255.0, keras.utils.to_categorical(y, 10), epochs=1, verbose=0)
"""
    proc, data, _ = run_doctor(tmp_path, source)
    assert proc.returncode == 1
    assert data["exit_status"] == 1 and data["error"]
    assert [(f["id"], f["category"]) for f in data["findings"]][0] == ("P08", "wrong_label_encoding")


def test_command_keeps_the_scripts_exit_status(tmp_path):
    proc, data, _ = run_doctor(tmp_path, "import sys\nsys.exit(5)\n")
    assert proc.returncode == 5 and data["exit_status"] == 5 and data["script_exit_status"] == 5
    assert "trained no model" in proc.stdout and data["findings"] == []


def test_command_says_so_when_a_clean_script_trains_nothing(tmp_path):
    """A script that runs cleanly but never trains: a clear message, a non-zero exit, and the JSON
    saying what happened (its own exit status kept apart)."""
    proc, data, _ = run_doctor(tmp_path, "import numpy as np\nprint(np.zeros(3).sum())\n")
    assert proc.returncode == 3 and data["exit_status"] == 3 and data["script_exit_status"] == 0
    assert "trained no model" in proc.stdout and "trained no model" in data["error"] and data["findings"] == []


@pytest.mark.parametrize("case", ["missing", "not_python", "directory"])
def test_command_refuses_what_is_not_a_script(tmp_path, case):
    if case == "missing":
        proc, data, _ = run_doctor(tmp_path, None)
        assert "no such file" in proc.stderr
    elif case == "not_python":
        proc, data, _ = run_doctor(tmp_path, "\x7fELF this is not python {{{")
        assert "not a Python script" in proc.stderr
    else:
        out = tmp_path / "findings.json"
        proc = subprocess.run([sys.executable, "-m", "pitfall", "doctor", "--json", str(out), str(tmp_path)],
                              capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=BUILD_PYTHON))
        data = json.loads(out.read_text())
        assert "is a directory" in proc.stderr
    assert proc.returncode == 2 and data["exit_status"] == 2 and data["error"]


# ---------------------------------------------------------------- what the loss's graph shows
def regression_data(n=64, features=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype("float32")
    return x, (x @ rng.normal(size=(features,))).astype("float32")


def custom_loop(model, x, y, loss_of, steps=6):
    optimizer = pf.optimizers.SGD(0.01)
    with pf.debug.Doctor(sample_every=2).watch(model, optimizer) as doctor:
        for _ in range(steps):
            with pf.GradientTape() as tape:
                loss = loss_of(y, model(x, training=True))
            optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
    return doctor.findings


@pytest.mark.parametrize("target_shape", ["(N,)", "(N, 1)"])
def test_a_column_prediction_broadcast_against_a_row_of_targets(target_shape):
    """P29, in any hand-written loss: (N, 1) - (N,) is an (N, N) matrix; with equal shapes nothing."""
    x, y = regression_data()
    if target_shape == "(N, 1)":
        y = y.reshape(-1, 1)
    pf.utils.set_random_seed(0)
    model = pf.Sequential([pf.Input((8,)), layers.Dense(16, activation="relu"), layers.Dense(1)])
    findings = custom_loop(model, x, y, lambda t, p: pf.ops.mean(pf.ops.abs(t - p)))
    named = [f for f in findings if f.id == "P29"]
    if target_shape == "(N,)":
        assert named and named[0].category == "wrong_loss" and named[0].evidence["result_shape"] == [64, 64]
    else:
        assert not named and not serious(findings), [str(f) for f in findings]


@pytest.mark.parametrize("where", ["model output", "loss"])
def test_log_of_softmax_probabilities_is_named_before_it_turns_nan(where):
    """P10 from the graph: log() straight on softmax probabilities, whether the softmax is the model's
    output layer or inside the hand-written loss; the loss is still finite here (small logits)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 6)).astype("float32")
    y = pf.utils.to_categorical(rng.integers(0, 3, 96), 3)
    pf.utils.set_random_seed(0)
    activation = "softmax" if where == "model output" else None
    model = pf.Sequential([pf.Input((6,)), layers.Dense(3, activation=activation)])
    probabilities = (lambda p: p) if where == "model output" else pf.ops.softmax

    def naive(y_true, y_pred):
        return -pf.ops.mean(pf.ops.sum(y_true * pf.ops.log(probabilities(y_pred)), axis=-1))
    model.compile(optimizer=pf.optimizers.SGD(0.1), loss=naive)
    doctor = pf.callbacks.Doctor(sample_every=5)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[doctor])
    assert all(math.isfinite(v) for v in history.history["loss"])
    named = [f for f in doctor.findings if f.id == "P10"]
    assert named and named[0].category == "numerical_instability" and named[0].severity == "error"
    # The built-in loss on the same model clips (probabilities) or uses log_softmax (logits): no finding.
    pf.utils.set_random_seed(0)
    model = pf.Sequential([pf.Input((6,)), layers.Dense(3, activation=activation)])
    model.compile(optimizer=pf.optimizers.SGD(0.1),
                  loss=pf.losses.CategoricalCrossentropy(from_logits=activation is None))
    doctor = pf.callbacks.Doctor(sample_every=5)
    model.fit(x, y, epochs=2, batch_size=32, verbose=0, callbacks=[doctor])
    assert not [f for f in doctor.findings if f.id == "P10"]


@pytest.mark.parametrize("adds_penalties", [False, True])
def test_custom_loop_without_model_losses(adds_penalties):
    """P18: a regularized model trained by a loop whose loss leaves out sum(model.losses)."""
    x, y = regression_data()
    y = y.reshape(-1, 1)
    pf.utils.set_random_seed(0)
    model = pf.Sequential([pf.Input((8,)), layers.Dense(16, activation="relu", kernel_regularizer="l2"),
                           layers.Dense(1)])
    mse = pf.losses.MeanSquaredError()

    def loss_of(t, p):
        return mse(t, p) + sum(model.losses) if adds_penalties else mse(t, p)
    findings = custom_loop(model, x, y, loss_of)
    named = [f for f in findings if f.id == "P18"]
    assert bool(named) != adds_penalties, [str(f) for f in findings]
    if named:
        assert named[0].category == "api_misuse" and named[0].severity == "warning"


# ---------------------------------------------------------------- what a whole script shows
def test_seeding_numpy_only_is_named_and_seeding_the_engine_is_not():
    """P27 in a script: np.random.seed alone leaves the engine's generator unseeded."""
    from pitfall.doctor import Session
    x, y = regression_data()
    results = {}
    for how in ("numpy", "engine"):
        with Session() as session:
            if how == "numpy":
                np.random.seed(0)
            else:
                pf.utils.set_random_seed(0)
            model = pf.Sequential([pf.Input((8,)), layers.Dense(1)])
            model.compile(optimizer="sgd", loss="mse")
            model.fit(x, y, epochs=1, verbose=0)
        results[how] = [f for f in session.findings if f.id == "P27"]
    assert results["numpy"] and results["numpy"][0].category == "api_misuse"
    assert not results["engine"]
    assert np.random.seed.__module__ != "pitfall.doctor"  # the session put NumPy's seed back


@pytest.mark.parametrize("buffer", [100, 1000])
def test_a_shuffle_buffer_smaller_than_the_data(buffer):
    """P22: shuffle(buffer_size) below the data set's size is named; a full buffer is not."""
    from pitfall.doctor import Session
    with Session() as session:
        ds = pf.data.Dataset.from_tensor_slices(np.arange(1000, dtype="float32")).shuffle(buffer).batch(10)
        sum(1 for _ in ds)
    named = [f for f in session.findings if f.id == "P22"]
    assert bool(named) == (buffer < 1000)
    if named:
        assert named[0].category == "data_pipeline" and named[0].evidence["elements"] == 1000


@pytest.mark.parametrize("convention, momentum, flagged", [("keras", 0.99, False), ("keras", 0.1, True),
                                                           ("torch", 0.1, False), ("torch", 0.99, True)])
def test_batchnorm_momentum_read_in_the_other_convention(convention, momentum, flagged):
    """P14, on a layer used on its own and in a model."""
    from pitfall.doctor import Session
    with Session() as session:
        layer = layers.BatchNormalization(momentum=momentum, convention=convention)
        layer(np.ones((4, 3), "float32"), training=True)
    assert bool([f for f in session.findings if f.id == "P14"]) == flagged
    x, y = regression_data()
    model = pf.Sequential([pf.Input((8,)), layers.Dense(4),
                           layers.BatchNormalization(momentum=momentum, convention=convention), layers.Dense(1)])
    doctor, _ = diagnose(model, x, y, loss="mse", metrics=(), epochs=1)
    assert bool([f for f in doctor.findings if f.id == "P14"]) == flagged


def test_float16_gradients_without_loss_scaling():
    """P03: a gradient computed through float16 ops falls below float16's smallest normal number
    unless the loss is scaled (LossScaleOptimizer.scale_loss)."""
    from pitfall.doctor import Session
    x = np.linspace(0.5, 3.0, 16, dtype="float32").reshape(8, 2)
    found = {}
    for scaled in (False, True):
        layer = layers.Dense(1, use_bias=False, kernel_initializer="ones", dtype="mixed_float16")
        layer(x)
        optimizer = pf.optimizers.LossScaleOptimizer(pf.optimizers.SGD(1.0))
        with Session() as session:
            with pf.GradientTape() as tape:
                loss = pf.ops.sum(pf.ops.cast(layer(x), "float32")) * 1e-6
                target = optimizer.scale_loss(loss) if scaled else loss
            tape.gradient(target, layer.kernel)
        found[scaled] = [f for f in session.findings if f.id == "P03"]
    assert found[False] and found[False][0].category == "dtype_precision"
    assert not found[True]


class OwnStep(pf.Model):
    """A model with its own train_step, as in the Keras guide 'Customizing what happens in fit()'."""

    def train_step(self, data):
        x, y = data
        with pf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


def test_fit_with_the_models_own_train_step_is_diagnosed(fashion):
    """fit() of a model whose train_step is Python gets the in-training checks too (as a custom
    loop), and the weights are bitwise those of the run without the doctor."""
    x, y = fashion
    x = x[:1024].astype("float32")  # raw 0-255 pixels: P06
    y = y[:1024]
    weights, findings = [], None
    for attach in (False, True):
        pf.utils.set_random_seed(0)
        inputs = pf.Input((784,))
        outputs = layers.Dense(10)(layers.Dense(32, activation="relu")(inputs))
        model = OwnStep(inputs, outputs)
        model.compile(optimizer=pf.optimizers.SGD(0.01),
                      loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
        doctor = pf.callbacks.Doctor(sample_every=4)
        model.fit(x, y, epochs=2, batch_size=64, verbose=0, shuffle=False, callbacks=[doctor] if attach else [])
        weights.append(model.get_weights())
        findings = doctor.findings if attach else findings
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    assert ("P06", "unnormalized_input") in ids(findings), [str(f) for f in findings]
    assert "apply_gradients" not in model.optimizer.__dict__  # the observation is taken off again


def test_initial_loss_far_above_ln_k_is_reported(fashion):
    """TheDeepChecker's initial-loss check: an output layer initialized 30x too large starts with a
    loss many times ln 10; the default initializer does not."""
    x, y = fashion
    found = {}
    for stddev in (1.0, None):
        pf.utils.set_random_seed(0)
        init = pf.initializers.RandomNormal(stddev=stddev) if stddev else "glorot_uniform"
        model = pf.Sequential([pf.Input((784,)), layers.Dense(10, activation="softmax", kernel_initializer=init)])
        doctor, _ = diagnose(model, x.astype("float32") / 255, y, epochs=1)
        found[stddev] = [f for f in doctor.findings if f.title.startswith("the first step's loss")]
    assert found[1.0] and found[1.0][0].evidence["initial_loss"] > 3 * math.log(10)
    assert found[1.0][0].id == "P01" and found[1.0][0].category == "bad_initialization"
    assert not found[None]


def test_nan_in_the_inputs_names_the_first_layer_it_reaches(fashion):
    x, y = fashion
    x = x[:256].astype("float32") / 255
    x[3, 5] = np.nan
    pf.utils.set_random_seed(0)
    model = mlp()
    doctor, _ = diagnose(model, x, y[:256], epochs=1)
    nonfinite = [f for f in doctor.findings if f.category == "numerical_instability"]
    assert nonfinite, [str(f) for f in doctor.findings]
    assert nonfinite[0].evidence["first_nonfinite_layer"] == model.layers[0].name


@pytest.mark.parametrize("curve, oscillating", [
    # A converged Adam run: 1.17 down to ~0.06, then wobbling by +-0.015 without a new minimum.
    ([1.17, 0.63, 0.41, 0.2, 0.1, 0.063, 0.081, 0.064, 0.091, 0.07, 0.083, 0.078], False),
    # A rate too high: the loss gives back most of what it gained, up and down.
    ([2.3, 1.2, 0.8, 1.9, 0.9, 2.0, 1.0, 2.1, 1.1, 1.95], True)])
def test_oscillation_is_measured_against_what_the_run_gained(curve, oscillating):
    """AUTOTRAINER's oscillating loss, measured against the run's gain: a converged loss that wobbles
    is information ('not decreasing'), a loss swinging by half its gain and more is a warning."""
    from pitfall import doctor as D
    doctor = D.Doctor()
    doctor._model = pf.Sequential([pf.Input((4,)), layers.Dense(3)])
    doctor._run.epoch_logs = [(e, {"loss": v}) for e, v in enumerate(curve)]
    D._loss_curve_checks(doctor)
    found = [f for f in doctor.findings if f.category == "learning_rate_too_high"]
    assert found and found[0].severity == ("warning" if oscillating else "info"), [str(f) for f in found]
