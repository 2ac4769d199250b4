"""pitfall.doctor: name the pitfall in a training run, with the evidence and the fix.

    doctor = pf.callbacks.Doctor()
    model.fit(x, y, epochs=5, callbacks=[doctor])
    for finding in doctor.findings: print(finding)

    doctor = pf.debug.Doctor().watch(model, optimizer)     # a custom GradientTape loop
    ... the loop ...
    doctor.finish(); doctor.findings

    pitfall doctor [--json F] [--report F.html] script.py [args]   # an unmodified script

What is checked, when, and the thresholds with their sources: docs/doctor.md. Each finding names a
catalog entry (``pitfall run <id>`` shows that pitfall broken and fixed). The doctor only reads: the
weights a run computes are bitwise the same with and without it. Sampled steps are chosen by step
number, so the same run gives the same findings.
"""
import dataclasses
import json
import math

import numpy as np

from . import _hooks
from . import _pitfall as _C
from ._convert import convert_to_tensor

__all__ = ["CATEGORIES", "THRESHOLDS", "Finding", "Doctor", "Session", "classify_error", "findings_json"]

CATEGORIES = (
    "learning_rate_too_high", "learning_rate_too_low", "unnormalized_input", "wrong_output_activation",
    "wrong_loss", "missing_hidden_activation", "bad_initialization", "dying_relu", "vanishing_gradient",
    "exploding_gradient", "saturated_activation", "numerical_instability", "wrong_label_encoding",
    "class_imbalance", "too_few_epochs", "overfitting", "data_pipeline", "dtype_precision", "api_misuse")

SEVERITIES = ("error", "warning", "info")

# Every threshold once, with where it comes from (docs/doctor.md gives the papers' rules in full).
THRESHOLDS = {
    # AUTOTRAINER (ICSE'21, AutoTrainer/utils/monitor.py): first/last layer gradient-norm ratio
    # below 1e-3 with a first-layer norm below 1e-4 is vanishing.
    "vanishing_ratio": 1e-3,
    "vanishing_first_norm": 1e-4,
    # TheDeepChecker (TOSEM'22): gradients above 1e6 explode. A gradient that is already inf/NaN
    # while the loss is finite is the same fault at its limit.
    "exploding_norm": 1e6,
    # DeepDiagnosis (ICSE'22) dead node: >= 70% of a ReLU layer's units output <= 0 (AUTOTRAINER
    # uses the same 70%).
    "dead_fraction": 0.7,
    # DeepDiagnosis saturated activation: > 50% of the pre-activations beyond +-5.
    "saturated_fraction": 0.5,
    "saturation_preactivation": 5.0,
    # DeepDiagnosis learning-rate rule: lr * |dW| / |W| outside [1e-5, 1e-1]; measured here as the
    # update actually applied, |W_after - W_before| / |W_before| (TheDeepChecker: log10 in [-4, -1]).
    "update_ratio_low": 1e-5,
    "update_ratio_high": 1e-1,
    # TheDeepChecker's lower bound (log10 of the update ratio below -4): below 1e-4, with the loss
    # moving less than 5% between the first and the last epoch (epoch means), the steps are too
    # small to train.
    "update_ratio_stalled": 1e-4,
    "stalled_loss_movement": 0.05,
    # SageMaker Debugger ClassImbalance: the most frequent class over the least frequent >= 10.
    "class_imbalance_ratio": 10.0,
    # DeepDiagnosis: loss not decreasing for 5 epochs.
    "loss_not_decreasing_epochs": 5,
    # A loss stuck at the uniform prediction's value: within 1% of ln K (TheDeepChecker's initial
    # loss check; here for the whole run).
    "stuck_loss_relative": 0.01,
    # AUTOTRAINER's NaN rule extended: a finite loss above 1e3 times the first step's diverged.
    "diverged_factor": 1e3,
    # Overfitting (SageMaker Overfit/Overtraining): validation loss 10% above its minimum, that
    # minimum at least 3 epochs before the end, while the training loss kept falling.
    "overfit_rise": 0.10,
    "overfit_patience": 3,
    # Input ranges (UMLAUT checks inputs outside [-1, 1]; 0..255 pixels are its commonest case):
    # integer-valued non-negative inputs with a maximum of 25 or more are raw counts or pixels; a
    # feature scale spread (largest / smallest per-feature max |x| in a batch) above 1e3 is unscaled
    # tabular data.
    "raw_integer_max": 25.0,
    "feature_scale_spread": 1e3,
    "input_abs_max": 1e3,
    # P26: the TensorFlow Profiler's input-pipeline analysis calls a program "highly input-bound"
    # when more than 20% of its step time waits for input (tensorflow/core/profiler/convert/
    # op_stats_to_input_pipeline_analysis.cc, kHighlyInfeedBoundThresholdInPercent = 20; 5-20% is
    # "moderately"). A whole fit waiting less than 0.1 s in all is timer noise, not a pipeline.
    "input_wait_fraction": 0.2,
    "input_wait_min_seconds": 0.1,
    # too_few_epochs: the last epoch still lowered the loss by more than 10% (information: the run is
    # not wrong, more epochs would help).
    "still_improving": 0.10,
    # Forward explosion: hidden activations' std growing > 10x over the stack and ending > 100
    # (TheDeepChecker calls an activation std outside [0.5, 2] abnormal; 50x its upper end).
    "forward_growth": 10.0,
    "forward_std": 1e2,
    # The loss stays within 5% of what the best constant prediction scores (the label
    # frequencies' entropy, Var(y) for MSE) while the steps are of normal size: the inputs do not
    # predict the labels (TheDeepChecker's initial-loss and overfit-one-batch checks).
    "prior_loss_relative": 0.05,
    # ... and, judged on the training loss, a plateau there: less than 2% lower over the last 3
    # epochs (a run still falling through the prior's level is slow, not blind).
    "prior_plateau_epochs": 3,
    "prior_plateau_drop": 0.02,
    # A run of fewer steps is too short to tell what its inputs can predict (the steps are what a
    # model needs to get past the label frequencies, which it learns first).
    "prior_min_steps": 100,
    # Overfitting without a rise: the validation loss has not improved for 5 epochs
    # (loss_not_decreasing_epochs) and is more than 10x the training loss.
    "generalization_gap_ratio": 10.0,
    # DeepDiagnosis' output range vs labels: 5% of the regression targets outside what the last
    # activation can output.
    "unreachable_targets": 0.05,
    # TheDeepChecker's initial-loss check: the first step's loss more than 3x ln K.
    "initial_loss_factor": 3.0,
    # Oscillation (AUTOTRAINER's oscillating-loss symptom): no new minimum in the last 5 epochs, the
    # epoch-to-epoch change flipping sign at least 3 times there, by more than half of what the run
    # gained from its first epoch to its best.
    "oscillation_flips": 3,
    "oscillation_amplitude": 0.5,
    # float16 gradients (P03): below float16's smallest normal number, 2^-14, a value keeps fewer
    # than 10 significant bits, and below 2^-24 it is 0. Half of a gradient's entries down there is
    # the underflow the mixed precision guide's loss scaling exists for.
    "float16_small_gradient": 2.0 ** -14,
    "float16_small_fraction": 0.5,
}

# What each kind of finding links to: the catalog entry that reproduces it.
CATALOG = {
    "double_softmax": "P07", "single_unit_softmax": "P11", "sigmoid_multiclass": "P11", "linear_probability": "P07",
    "label_encoding": "P08", "probabilities_bce": "P09", "learning_rate_too_high": "P12",
    "learning_rate_too_low": "P12", "adam_epsilon": "P13", "batchnorm_momentum": "P14", "exploding_gradient": "P16",
    "training_flag": "P17", "inference_training_mode": "P19", "regularization_dropped": "P18",
    "unnormalized_input": "P06", "off_centre_init": "P01",
    "constant_init": "P02", "initial_loss": "P01", "validation_split": "P21", "input_wait": "P26", "vanishing_gradient": "P31",
    "dying_relu": "P32", "nonfinite": "P03", "shape": "P30", "dtype": "P05", "keyword": "P34", "numpy_call": "P33",
    "mse_broadcast": "P29", "missing_hidden_activation": "P38", "regression_accuracy": "P39",
    "class_imbalance": "P40", "too_few_epochs": "P41", "overfitting": "P42", "saturated_activation": "P43",
    "float16": "P03", "log_of_probabilities": "P10", "labels_unrelated": "P44", "output_range": "P45",
    "shuffle_buffer": "P22", "tf32": "P37",
    "unseeded_engine": "P27",
}

_PROBABILITY_LOSSES = {"BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy",
                       "BinaryFocalCrossentropy", "CategoricalFocalCrossentropy"}
_REGRESSION_LOSSES = {"MeanSquaredError", "MeanAbsoluteError", "Huber", "MeanSquaredLogarithmicError",
                      "LogCosh", "MeanAbsolutePercentageError"}
_ACCURACY_METRICS = {"Accuracy", "SparseCategoricalAccuracy", "CategoricalAccuracy", "BinaryAccuracy"}


@dataclasses.dataclass
class Finding:
    """One diagnosis: which pitfall (catalog id), its category, how sure (severity), the numbers that
    show it, what to change, and where (layer, epoch and step as first seen; 0-based)."""
    id: str
    category: str
    severity: str
    title: str
    evidence: dict
    fix: str
    layer: str = None
    epoch: int = None
    step: int = None

    def __post_init__(self):
        if self.category not in CATEGORIES:
            raise ValueError(f"Finding: unknown category {self.category!r}; one of {', '.join(CATEGORIES)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"Finding: severity must be one of {SEVERITIES}, got {self.severity!r}")

    def to_dict(self):
        return dataclasses.asdict(self)

    def __str__(self):
        where = ", ".join(f"{k} {v}" for k, v in (("layer", self.layer), ("epoch", self.epoch), ("step", self.step))
                          if v is not None)
        evidence = "; ".join(f"{k}={_short(v)}" for k, v in self.evidence.items())
        return (f"[{self.severity}] {self.id} {self.category}: {self.title}" + (f" ({where})" if where else "") +
                f"\n    evidence: {evidence}\n    fix: {self.fix}")


def _short(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and len(value) > 6:
        return "[" + ", ".join(_short(v) for v in value[:6]) + ", ...]"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def _num(value):
    """A JSON-safe float (inf/NaN as strings, since JSON has neither)."""
    value = float(value)
    return value if math.isfinite(value) else str(value)


def _defined(tensor):
    """False for None and for an undefined engine tensor (a variable the loss does not reach)."""
    if tensor is None:
        return False
    try:
        tensor.dtype
    except ValueError:
        return False
    return True


def _array(tensor):
    return np.asarray(tensor, dtype=np.float64) if tensor is not None else None


def _values(tensor):
    """A tensor's values as they are (float32 stays float32: the per-step statistics need no more)."""
    if tensor is None:
        return None
    out = np.asarray(tensor)
    return out if out.dtype.kind == "f" else out.astype(np.float64)


def _sq(a):
    """sum(a^2), through BLAS for float arrays."""
    flat = a.reshape(-1)
    return float(np.dot(flat, flat))


# ---------------------------------------------------------------- what a model is made of
def _class_name(obj):
    name = getattr(obj, "class_name", None)
    if callable(name):
        name = name()
    return name if isinstance(name, str) else type(obj).__name__


def _config(obj):
    try:
        return obj.get_config()
    except Exception:  # a user's layer without get_config: its class is still known
        return {}


def _activation_name(layer):
    cls = _class_name(layer)
    if cls in ("ReLU", "Softmax", "ELU", "LeakyReLU", "PReLU"):
        return {"ReLU": "relu", "Softmax": "softmax", "ELU": "elu", "LeakyReLU": "leaky_relu", "PReLU": "prelu"}[cls]
    activation = _config(layer).get("activation")
    if isinstance(activation, dict):
        activation = activation.get("config", {}).get("name") or activation.get("class_name")
    return activation if isinstance(activation, str) else None


def _flat_layers(model):
    """The layers of a model in order, nested models expanded (their layers are where weights live)."""
    out = []
    for layer in getattr(model, "layers", []) or []:
        if _class_name(layer) == "InputLayer":
            continue
        if hasattr(layer, "layers") and getattr(layer, "layers", None):
            out.extend(_flat_layers(layer))
        else:
            out.append(layer)
    return out


def _loss_objects(model, doctor=None):
    """The model's compiled losses; for a custom loop (no compiled loss), the Loss object the loop
    was seen calling on the model's output."""
    losses = getattr(model, "compiled_losses", None)
    if callable(losses):
        losses = losses()
    losses = [l for l in (losses or []) if l is not None]
    if not losses and doctor is not None and doctor._loop_loss is not None:
        losses = [doctor._loop_loss]
    return losses


def _optimizer(model):
    return getattr(model, "optimizer", None)


# ---------------------------------------------------------------- the analysis of one run
# The targets the monitor keeps are counted every this many steps (and at the end of the epoch).
_TARGET_BATCHES = 50


class _Run:
    """What the doctor gathered: per-epoch logs, sampled steps' statistics, label counts."""

    def __init__(self):
        self.epoch_logs = []        # [(epoch, {key: value})]
        self.samples = []           # per sampled step: dict of statistics
        self.step_losses = []       # [(step, loss)] of sampled steps (fit) or every step (custom loop)
        self.label_counts = None    # class -> count over the first epoch
        self.label_values = None    # (min, max, all integer?) of the targets seen
        self.label_moments = [0, 0.0, 0.0]  # count, sum, sum of squares of the target entries seen
        self.first_nonfinite_layer = None  # the first layer whose output held inf/NaN on a sampled step
        self.first_batch = None     # the first sampled batch: x, y, y_pred as arrays
        self.timing = {}


class Doctor(_C.Callback):
    """Diagnoses a training run: ``model.fit(..., callbacks=[Doctor()])``, then ``doctor.findings``.

    sample_every: besides the first 4 steps, every sample_every-th step is sampled (gradients,
    updates and each layer's outputs are read on sampled steps only; the rest cost one call).
    For a custom GradientTape loop use ``watch(model, optimizer)`` and ``finish()``.
    """

    def __init__(self, sample_every=50, verbose=0):
        super().__init__()
        if not isinstance(sample_every, int) or isinstance(sample_every, bool) or sample_every < 1:
            raise ValueError(f"Doctor: sample_every must be a positive int, got {sample_every!r}")
        self.sample_every = sample_every
        self.verbose = verbose
        self.findings = []
        self._run = _Run()
        self._model = None
        self._monitor = None
        self._step = 0
        self._epoch = 0
        self._watching = None
        self._finished = False
        self._class_weight = None   # fit's class_weight, when a Session saw it (pitfall doctor, the catalog)
        self._early_stopping = []   # fit's EarlyStopping callbacks, when a Session saw them
        self._loop_loss = None      # the Loss object a custom loop calls on the model's output
        self._fit_arguments = None  # fit's arguments by name, when a Session saw them
        self._activations = None    # layer name -> activation name, read once per run

    # ---- sampling schedule
    def _sampled(self, step):
        return step < 4 or step % self.sample_every == 0

    # ---- fit
    def on_train_begin(self, logs=None):
        self._begin(self.model)

    def _begin(self, model, own_steps=True):
        self._model = model
        self._activations = None
        self._monitor = _C.TrainingMonitor()
        self._monitor.set_record_targets(self._run.label_counts is None)  # the first epoch's labels
        model._monitor = self._monitor
        self._finished = False
        self._warnings = []
        if self._on_warning not in _hooks.engine_warning:
            _hooks.engine_warning.append(self._on_warning)
        self._static_checks(model)
        optimizer = getattr(model, "optimizer", None)
        if own_steps and self._watching is None and _own_train_step(model) and isinstance(optimizer, _C.Optimizer):
            # fit runs the model's own train_step (Python): it is observed as a custom loop is, its
            # GradientTape and its optimizer's steps; the steps' count is the loop's.
            self._monitor.set_record_targets(False)
            self._watching = _LoopWatch(self, model, optimizer)

    def _on_warning(self, message):
        self._warnings.append(str(message))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if self._watching is None and self._sampled(self._step):
            self._monitor.arm()

    def on_train_batch_end(self, batch, logs=None):
        monitor = self._monitor
        if monitor is None or self._watching is not None:
            return
        if (self._epoch == 0 or self._run.label_counts is None) and self._step % _TARGET_BATCHES == 0:
            self._count_labels(monitor.take_targets())  # in bunches: one Python pass per 50 steps
        if self._sampled(self._step):  # an unsampled step costs nothing more than this test
            sample = monitor.take_sample()
            if sample is not None:
                self._analyse_sample(sample, current=self._model.trainable_weights)
        self._step += 1

    def on_epoch_end(self, epoch, logs=None):
        self._run.epoch_logs.append((epoch, {k: float(v) for k, v in (logs or {}).items()}))
        if self._monitor is not None:
            self._monitor.set_record_targets(False)
            self._count_labels(self._monitor.take_targets())

    def on_train_end(self, logs=None):
        if self._model is not None and self._monitor is not None:
            self._model._monitor = None
        self.finish()

    def _history(self, history):
        """fit's History: the input-wait share of each epoch (P26)."""
        self._run.timing = dict(getattr(history, "timing", {}) or {})
        self._pipeline_checks()

    # ---- custom loops
    def watch(self, model, optimizer):
        """Diagnoses a custom training loop: every ``optimizer.apply`` / ``apply_gradients`` is a step;
        the model's calls, the tape's loss and the updates are observed. Call ``finish()`` after the
        loop (or use ``with pf.debug.Doctor().watch(model, optimizer) as doctor:``)."""
        if not hasattr(model, "trainable_weights"):
            raise TypeError(f"Doctor.watch: model must be a pf.Model, got {type(model).__name__}")
        if not isinstance(optimizer, _C.Optimizer):
            raise TypeError(f"Doctor.watch: optimizer must be a pf.optimizers.Optimizer, got {type(optimizer).__name__}")
        self._begin(model, own_steps=False)
        self._monitor.set_record_targets(False)
        self._watching = _LoopWatch(self, model, optimizer)
        return self

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.finish()
        return False

    def finish(self):
        """Ends the observation and computes the findings of the run as a whole (fit calls it)."""
        if self._watching is not None:
            self._watching.detach()
            self._watching = None
            if self._model is not None:
                self._model._monitor = None
        if self._on_warning in _hooks.engine_warning:
            _hooks.engine_warning.remove(self._on_warning)
        if self._finished:
            return self.findings
        self._finished = True
        for message in getattr(self, "_warnings", []):
            self._add_found(classify_warning(message))
        self._end_checks()
        self.findings = _ordered(_demote_consequences(self.findings))
        if self.verbose:
            for finding in self.findings:
                print(finding)
        return self.findings

    def _model_optimizer(self):
        if self._watching is not None:
            return self._watching.optimizer
        return _optimizer(self._model) if self._model is not None else None

    # ---- recording helpers
    def _add(self, key, category, severity, title, evidence, fix, layer=None, epoch=None, step=None):
        ident = CATALOG[key]
        for f in self.findings:
            if f.id == ident and f.category == category and (f.layer == layer or f.title == title):
                # One finding per pitfall: the first sighting; other layers showing it are listed.
                if layer is not None and f.layer != layer:
                    others = f.evidence.setdefault("also_in_layers", [])
                    if layer not in others:
                        others.append(layer)
                return f
        finding = Finding(ident, category, severity, title, evidence, fix, layer, epoch, step)
        self.findings.append(finding)
        return finding

    def _add_found(self, finding):
        """Adds a finding made elsewhere (an engine warning or error) unless its pitfall is named already."""
        if finding is not None and not any(f.id == finding.id and f.category == finding.category
                                           for f in self.findings):
            self.findings.append(finding)

    def _count_labels(self, targets):
        # Batches of one shape are counted together: one NumPy pass, not one per batch.
        groups = {}
        for ys in targets or []:
            if ys:
                y = np.asarray(ys[0])
                if y.size:
                    groups.setdefault((y.dtype.str, y.shape[1:]), []).append(y)
        for parts in groups.values():
            y = np.concatenate(parts) if len(parts) > 1 else parts[0]
            lo, hi = float(np.min(y)), float(np.max(y))
            integral = bool(np.all(np.floor(y) == y))
            moments = self._run.label_moments
            moments[0] += y.size
            moments[1] += float(np.sum(y, dtype=np.float64))
            moments[2] += float(np.sum(np.square(y, dtype=np.float64)))
            if self._run.label_values is None:
                self._run.label_values = [lo, hi, integral]
            else:
                v = self._run.label_values
                v[0], v[1], v[2] = min(v[0], lo), max(v[1], hi), v[2] and integral
            classes = _class_ids(y)
            if classes is None:
                continue
            counts = self._run.label_counts if self._run.label_counts is not None else {}
            values, n = np.unique(classes, return_counts=True)
            for value, count in zip(values.tolist(), n.tolist()):
                counts[value] = counts.get(value, 0) + count
            self._run.label_counts = counts

    # ---- the checks
    def _static_checks(self, model):
        _static_checks(self, model)

    def _analyse_sample(self, sample, current):
        _analyse_sample(self, sample, current)

    def _end_checks(self):
        _end_checks(self)

    def _pipeline_checks(self):
        wait = list(self._run.timing.get("input_wait_fraction") or [])
        waited = list(self._run.timing.get("input_wait_seconds") or [])
        computed = list(self._run.timing.get("step_seconds") or [])
        # The share of the whole fit's time (one short epoch's share is timer noise: an epoch of a
        # few milliseconds can read 0.7 when the process is preempted once).
        total = sum(waited) + sum(computed)
        share = sum(waited) / total if len(waited) == len(computed) == len(wait) and total > 0 else \
            (float(np.median(wait)) if wait else 0.0)
        if wait and share > THRESHOLDS["input_wait_fraction"] and \
                sum(waited) >= THRESHOLDS["input_wait_min_seconds"]:
            epoch = int(np.argmax(wait))
            self._add("input_wait", "data_pipeline", "warning",
                      "training waits for its input pipeline for a large share of its time",
                      {"input_wait_fraction": _num(share), "worst_epoch_fraction": _num(max(wait)),
                       "input_wait_seconds": _num(sum(waited)), "threshold": THRESHOLDS["input_wait_fraction"]},
                      "add .prefetch(pf.data.AUTOTUNE) at the end of the Dataset (and num_parallel_calls= to a "
                      "slow map), or cache() the preprocessed data", epoch=epoch)
            self.findings = _ordered(self.findings)

    def to_dict(self):
        return {"findings": [f.to_dict() for f in self.findings]}

    def curves(self):
        """The monitored series for plots: per-epoch logs and per-sampled-step statistics."""
        logs = {}
        for _, entry in self._run.epoch_logs:
            for k, v in entry.items():
                logs.setdefault(k, []).append(v)
        per_step = {}
        for s in self._run.samples:
            for name, value in s.get("grad_norms", {}).items():
                per_step.setdefault(f"gradient norm {name}", []).append((s["step"], value))
            for name, value in s.get("dead", {}).items():
                per_step.setdefault(f"dead fraction {name}", []).append((s["step"], value))
        return {"epochs": logs, "steps": per_step, "step_loss": list(self._run.step_losses)}


def _class_ids(y):
    """Integer class ids of a classification target (sparse ids, or one-hot rows), else None."""
    if y.ndim >= 2 and y.shape[-1] > 1:
        flat = y.reshape(-1, y.shape[-1])
        if np.all((flat == 0) | (flat == 1)) and np.all(flat.sum(axis=1) == 1):
            return np.argmax(flat, axis=1)
        return None
    flat = y.reshape(-1)
    if np.all(np.floor(flat) == flat) and flat.size and np.max(flat) - np.min(flat) < 10000:
        return flat.astype(np.int64)
    return None


# A root cause, once named as an error, explains these symptoms: they stay in the list as information.
_CONSEQUENCES = {
    "unnormalized_input": {"exploding_gradient", "dying_relu", "saturated_activation", "numerical_instability",
                           "learning_rate_too_high", "dtype_precision"},
    "bad_initialization": {"dying_relu", "exploding_gradient", "vanishing_gradient", "numerical_instability",
                           "learning_rate_too_low", "saturated_activation"},
    "wrong_output_activation": {"learning_rate_too_low", "numerical_instability"},
    "exploding_gradient": {"learning_rate_too_high", "learning_rate_too_low", "numerical_instability",
                           "dying_relu", "saturated_activation"},
    "vanishing_gradient": {"api_misuse:P13"},
    "learning_rate_too_high": {"dying_relu", "exploding_gradient", "numerical_instability"},
    "data_pipeline": {"overfitting"},
}


def _demote_consequences(findings):
    """Each error that is not itself explained demotes the symptoms it explains (a category, or
    "category:id" for one pitfall of a category), the earliest seen first (static findings before
    step 0), ties broken by the order of _CONSEQUENCES."""
    precedence = list(_CONSEQUENCES)
    order = sorted(range(len(findings)), key=lambda i: (
        findings[i].step if findings[i].step is not None else -1,
        precedence.index(findings[i].category) if findings[i].category in precedence else len(precedence)))
    out = list(findings)
    for i in order:
        cause = out[i]
        if cause.severity != "error" or cause.category not in _CONSEQUENCES:
            continue
        for j, f in enumerate(out):
            explained = _CONSEQUENCES[cause.category]
            if j != i and f.severity != "info" and (f.category in explained or f"{f.category}:{f.id}" in explained):
                out[j] = dataclasses.replace(f, severity="info",
                                             evidence={**f.evidence, "explained_by": f"{cause.id} {cause.category}"})
    return out


def _ordered(findings):
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (rank[f.severity], f.step if f.step is not None else -1, f.id, f.category,
                                           f.layer or ""))


# ---------------------------------------------------------------- static checks (before the first step)
def _static_checks(doctor, model):
    layers = _flat_layers(model)
    losses = _loss_objects(model, doctor)
    last = layers[-1] if layers else None
    last_activation = _activation_name(last) if last is not None else None
    units = _output_units(model)
    for loss in losses:
        cls = _class_name(loss)
        cfg = _config(loss)
        from_logits = bool(cfg.get("from_logits", False))
        if cls in ("CategoricalCrossentropy", "SparseCategoricalCrossentropy") and last_activation == "softmax" \
                and from_logits:
            doctor._add("double_softmax", "wrong_output_activation", "error",
                        "softmax output fed to a loss that applies softmax again (from_logits=True)",
                        {"last_layer": last.name, "activation": "softmax", "loss": cls, "from_logits": True,
                         "loss_floor": _double_softmax_floor(units)},
                        "remove the softmax from the last layer (keep from_logits=True), or set from_logits=False",
                        layer=last.name)
        if cls in ("BinaryCrossentropy", "BinaryFocalCrossentropy") and last_activation == "sigmoid" and from_logits:
            doctor._add("double_softmax", "wrong_output_activation", "error",
                        "sigmoid output fed to a loss that applies sigmoid again (from_logits=True)",
                        {"last_layer": last.name, "activation": "sigmoid", "loss": cls, "from_logits": True},
                        "remove the sigmoid from the last layer (keep from_logits=True), or set from_logits=False",
                        layer=last.name)
        if last_activation == "softmax" and units == 1:
            doctor._add("single_unit_softmax", "wrong_output_activation", "error",
                        "softmax over a single unit always outputs 1.0",
                        {"last_layer": last.name, "units": 1, "activation": "softmax", "loss": cls},
                        "use Dense(1, activation='sigmoid') with binary_crossentropy (or Dense(K, 'softmax') "
                        "for K classes)", layer=last.name)
        elif cls in ("CategoricalCrossentropy", "SparseCategoricalCrossentropy") and last_activation == "sigmoid" \
                and units and units > 1 and not from_logits:
            doctor._add("sigmoid_multiclass", "wrong_output_activation", "warning",
                        "sigmoid outputs under a multi-class cross-entropy (the classes do not sum to 1)",
                        {"last_layer": last.name, "units": units, "activation": "sigmoid", "loss": cls},
                        "use activation='softmax' on the last layer for one class per example", layer=last.name)
        elif cls in _PROBABILITY_LOSSES and not from_logits and last_activation in (None, "linear", "relu"):
            doctor._add("linear_probability", "wrong_output_activation", "error",
                        f"{last_activation or 'linear'} outputs given to {cls}, which expects probabilities",
                        {"last_layer": last.name, "activation": last_activation or "linear", "loss": cls,
                         "from_logits": False},
                        f"pass {cls}(from_logits=True) (best), or end the model with "
                        f"{'sigmoid' if cls.startswith('Binary') else 'softmax'}", layer=last.name)
        if cls == "BinaryCrossentropy" and last_activation == "softmax" and units and units > 1:
            doctor._add("sigmoid_multiclass", "wrong_loss", "error",
                        "binary_crossentropy on a multi-class softmax output",
                        {"last_layer": last.name, "units": units, "loss": cls},
                        "use categorical_crossentropy (one-hot labels) or sparse_categorical_crossentropy "
                        "(integer labels); with binary_crossentropy 'accuracy' becomes binary accuracy over "
                        "every unit and looks high while the model is wrong", layer=last.name)
    _linear_stack_check(doctor, layers)
    _convention_checks(doctor, model, layers)


def _output_units(model):
    try:
        shape = model.outputs[0].shape if getattr(model, "outputs", None) else None
    except Exception:
        shape = None
    if shape is None:
        return None
    return int(shape[-1]) if shape[-1] is not None and shape[-1] >= 0 else None


def _double_softmax_floor(units):
    """The smallest cross-entropy a softmax of probabilities can reach with K classes:
    -ln(e / (e + K - 1)) (P07)."""
    if not units or units < 2:
        return None
    return _num(-math.log(math.e / (math.e + units - 1)))


_WEIGHTED = ("Dense", "Conv1D", "Conv2D", "Conv2DTranspose", "SeparableConv2D", "DepthwiseConv2D")
_SHAPE_ONLY = ("Flatten", "Reshape", "Dropout", "InputLayer", "Permute", "RepeatVector", "GaussianNoise",
               "GaussianDropout", "SpatialDropout1D", "SpatialDropout2D", "ActivityRegularization")


def _linear_stack_check(doctor, layers):
    """Two weighted layers with no non-linearity between them compose to one linear map."""
    previous = None
    for layer in layers:
        cls = _class_name(layer)
        if cls in _SHAPE_ONLY:
            continue
        activation = _activation_name(layer)
        if cls in _WEIGHTED:
            # Whatever the second layer's own activation: W2 (W1 x + b1) + b2 is one affine map before it
            # (a linear hidden layer under a softmax output is multinomial logistic regression).
            if previous is not None:
                doctor._add("missing_hidden_activation", "missing_hidden_activation", "warning",
                            "consecutive layers without an activation between them collapse into one linear map",
                            {"layers": [previous.name, layer.name], "activation": "linear"},
                            f"give {previous.name} a non-linearity, e.g. activation='relu'", layer=previous.name)
            previous = layer if activation in (None, "linear") else None
        else:
            previous = None


def _convention_checks(doctor, model, layers):
    optimizer = _optimizer(model)
    for layer in layers:
        _batchnorm_momentum_check(doctor._add, layer)
    if optimizer is None:
        return
    cfg = _config(optimizer)
    epsilon = cfg.get("epsilon")
    if _class_name(optimizer) in ("Adam", "AdamW", "Nadam", "Adamax") and isinstance(epsilon, (int, float)) \
            and epsilon >= 1.0:
        doctor._add("adam_epsilon", "api_misuse", "info",
                    "Adam epsilon of 1 or more dominates sqrt(v): the update is close to SGD with momentum",
                    {"epsilon": epsilon}, "use the default epsilon (1e-7 in Keras, 1e-8 in PyTorch)")


def _batchnorm_momentum_check(add, layer):
    """A BatchNormalization momentum that reads as the other framework's (P14): Keras's momentum
    weights the OLD moving value (default 0.99), PyTorch's the NEW batch (default 0.1), so a value
    below 0.5 under the Keras rule, or above 0.5 under the torch rule, was most likely copied across."""
    if _class_name(layer) != "BatchNormalization":
        return
    cfg = _config(layer)
    momentum, convention = cfg.get("momentum"), cfg.get("convention", "keras")
    if not isinstance(momentum, (int, float)):
        return
    if convention == "keras" and momentum < 0.5:
        add("batchnorm_momentum", "api_misuse", "warning",
            "BatchNormalization momentum looks like PyTorch's (it weights the new batch there)",
            {"layer": layer.name, "momentum": momentum, "convention": "keras", "keras_default": 0.99},
            f"Keras's momentum is 1 - torch's: use momentum={1 - momentum:g}", layer=layer.name)
    elif convention == "torch" and momentum > 0.5:
        add("batchnorm_momentum", "api_misuse", "warning",
            "BatchNormalization momentum looks like Keras's under the PyTorch rule (it weights the new batch "
            "here, so the moving statistics follow the last batch)",
            {"layer": layer.name, "momentum": momentum, "convention": "torch", "torch_default": 0.1},
            f"torch's momentum is 1 - Keras's: use momentum={1 - momentum:g}", layer=layer.name)


# ---------------------------------------------------------------- the loss's autograd graph
# Ops that turn logits into probabilities: a log applied straight to their output is log(0) = -inf
# once a probability underflows (P10); the built-in losses clip, or use log_softmax.
_PROBABILITY_OPS = ("softmax", "sigmoid")


def _graph_checks(doctor, loss, outputs, step, epoch):
    """What the loss's autograd graph shows (on sampled steps): a log of raw probabilities (P10), a
    (N, 1) prediction broadcast against (N,) targets into (N, N) (P29), and (custom loops, where the
    loss is the user's) whether the layers' penalties (model.losses) are part of it (P18)."""
    if loss is None or not hasattr(loss, "_graph"):
        return None
    nodes = {n[0]: n for n in loss._graph()}
    model_outputs = {t._impl_id() for t in outputs if hasattr(t, "_impl_id")}
    downstream = _downstream(nodes, model_outputs)
    for ident, op, layer, shape, dtype, inputs, shapes in nodes.values():
        if op == "log" and inputs and inputs[0] in nodes and nodes[inputs[0]][1] in _PROBABILITY_OPS:
            doctor._add("log_of_probabilities", "numerical_instability", "error",
                        f"the loss takes log() of {nodes[inputs[0]][1]} probabilities: log(0) = -inf once a "
                        "probability underflows, and then the loss and every weight are NaN",
                        {"op": f"log({nodes[inputs[0]][1]}(...))", "layer": layer or None},
                        "use the built-in loss with from_logits=True (it computes log_softmax, finite for every "
                        "logit), or pf.ops.log_softmax(logits) in a hand-written loss", step=step, epoch=epoch)
        if ident in downstream and len(shapes) == 2 and len(shape) == 2 and shape[0] == shape[1] and shape[0] > 1:
            n = shape[0]
            if sorted(map(tuple, (s for s in shapes if s is not None))) == sorted([(n,), (n, 1)]):
                doctor._add("mse_broadcast", "wrong_loss", "error",
                            f"the loss broadcasts a ({n}, 1) prediction against ({n},) targets into a ({n}, {n}) "
                            "matrix: every prediction is compared with every target",
                            {"op": op, "input_shapes": [list(s) for s in shapes], "result_shape": list(shape)},
                            "give both the same shape: y.reshape(-1, 1), or squeeze the model's output "
                            "(the built-in losses and compile() do this for you)", step=step, epoch=epoch)
    return nodes, downstream


def _downstream(nodes, sources):
    """The ids in `nodes` that depend on any of `sources` (the sources included)."""
    memo = {}
    for start in nodes:
        stack = [(start, False)]
        while stack:
            ident, expanded = stack.pop()
            if ident in memo:
                continue
            if ident in sources:
                memo[ident] = True
                continue
            node = nodes.get(ident)
            if node is None:
                memo[ident] = False
                continue
            if expanded:
                memo[ident] = any(memo.get(i, False) for i in node[5])
            else:
                stack.append((ident, True))
                stack.extend((i, False) for i in node[5] if i not in memo)
    return {i for i, v in memo.items() if v} | set(sources)


def _upstream(nodes, sinks):
    """The ids in `nodes` that the `sinks` were computed from (the sinks included)."""
    seen, stack = set(), list(sinks)
    while stack:
        ident = stack.pop()
        if ident in seen:
            continue
        seen.add(ident)
        if ident in nodes:
            stack.extend(nodes[ident][5])
    return seen


def _penalty_check(doctor, model, graph, outputs, step, epoch):
    """A custom loop whose loss leaves out the layers' penalties (P18): the model has regularizers
    (model.losses is not empty) and no part of the loss's graph lies outside the model's forward
    pass and what was computed from its outputs (a penalty is a function of the weights alone)."""
    if graph is None:
        return
    nodes, downstream = graph
    try:
        penalties = list(model.losses)
    except Exception:  # noqa: BLE001 - a model whose losses cannot be read is not diagnosed here
        return
    if not penalties:
        return
    forward = _upstream(nodes, {t._impl_id() for t in outputs if hasattr(t, "_impl_id")})
    if any(i not in forward and i not in downstream for i in nodes):
        return
    doctor._add("regularization_dropped", "api_misuse", "warning",
                "the custom loop's loss leaves out model.losses: the layers' regularization penalties are "
                "never trained on",
                {"model_losses": len(penalties), "penalty_value": _num(sum(float(_scalar(p) or 0) for p in penalties))},
                "add the penalties inside the tape: loss = loss_fn(y, model(x, training=True)) + "
                "sum(model.losses)", step=step, epoch=epoch)


# ---------------------------------------------------------------- per sampled step
def _kernel_groups(paths):
    """Variables grouped by layer (the path without its last part), in order."""
    groups = {}
    for i, path in enumerate(paths):
        layer = path.rsplit("/", 1)[0] if "/" in path else path
        groups.setdefault(layer, []).append(i)
    return groups


def _layer_short(path):
    return path.rsplit("/", 1)[-1]


def _analyse_sample(doctor, sample, current):
    run = doctor._run
    step, epoch = sample["step"], doctor._epoch
    loss = float(sample["loss"]) if sample["loss"] is not None else float("nan")
    if sample["loss"] is not None:
        run.step_losses.append((step, loss))
    stats = {"step": step, "loss": loss, "grad_norms": {}, "update_ratios": {}, "dead": {}, "saturated": {}}
    paths = list(sample["variable_paths"])
    scale = float(sample["gradient_scale"]) or 1.0
    grads = [((_values(g) / scale if scale != 1.0 else _values(g)) if _defined(g) else None)
             for g in sample["gradients"]]
    before = [_values(v) for v in sample["values_before"]]
    after = [_values(v) for v in current][:len(before)] if current is not None else []
    kernels = []
    for layer, idx in _kernel_groups(paths).items():
        name = _layer_short(layer)
        g2 = sum(_sq(grads[i]) for i in idx if grads[i] is not None)
        stats["grad_norms"][name] = math.sqrt(g2) if math.isfinite(g2) else float("inf")
        if after and all(i < len(after) for i in idx):
            w2 = sum(_sq(before[i]) for i in idx)
            d2 = sum(_sq(after[i] - before[i]) for i in idx)
            if w2 > 0 and math.isfinite(w2) and math.isfinite(d2):
                stats["update_ratios"][name] = math.sqrt(d2 / w2)
        if any(before[i].ndim >= 2 for i in idx):
            kernels.append((name, [i for i in idx if before[i].ndim >= 2][0]))
    if run.first_batch is None:
        run.first_batch = {"x": [_array(t) for t in sample["x"]], "y": [_array(t) for t in sample["y"]],
                           "y_pred": [_array(t) for t in sample["y_pred"]], "step": step}
        _data_checks(doctor, sample, step, epoch)
        _initialization_checks(doctor, kernels, before, step, epoch, loss)
        _forward_scale_check(doctor, sample, step, epoch)
        _initial_loss_check(doctor, loss, step, epoch)
    if not math.isfinite(loss) and run.first_nonfinite_layer is None:
        # Where inf/NaN first appears in the forward pass, in execution order (only looked for on a
        # step whose loss is not finite).
        run.first_nonfinite_layer = next(
            (name for name, outputs in zip(sample["layer_names"], sample["layer_outputs"])
             if any(not np.all(np.isfinite(_values(o))) for o in outputs)), "the loss (every layer output finite)")
    graph = _graph_checks(doctor, sample.get("loss_tensor"), list(sample["y_pred"]), step, epoch)
    if doctor._watching is not None and len(run.samples) == 0:
        _penalty_check(doctor, doctor._model, graph, list(sample["y_pred"]), step, epoch)
    _activation_checks(doctor, sample, stats, step, epoch)
    _saturated_probabilities(doctor, sample, step, epoch)
    _gradient_checks(doctor, stats, kernels, grads, loss, step, epoch)
    run.samples.append(stats)


# Layers that scale their input themselves: a model that starts with one normalizes its inputs
# (Keras's recommended place for preprocessing), so raw values at its input are expected.
_INPUT_SCALING = ("Normalization", "Rescaling", "BatchNormalization", "LayerNormalization", "UnitNormalization",
                  "GroupNormalization")


def _data_checks(doctor, sample, step, epoch):
    model = doctor._model
    layers = _flat_layers(model) if model is not None else []
    scaled = bool(layers) and _class_name(layers[0]) in _INPUT_SCALING
    for i, x in enumerate([] if scaled else sample["x"]):
        x = _array(x)
        if x is None or x.size == 0 or not np.all(np.isfinite(x)):
            continue
        lo, hi = float(np.min(x)), float(np.max(x))
        integral = bool(np.all(np.floor(x) == x))
        if integral and lo >= 0 and hi >= THRESHOLDS["raw_integer_max"]:
            doctor._add("unnormalized_input", "unnormalized_input", "error" if hi >= 200 else "warning",
                        "the inputs are raw integers (pixels or counts), not scaled",
                        {"input": i, "min": lo, "max": hi, "integer_valued": True,
                         "threshold_max": THRESHOLDS["raw_integer_max"]},
                        f"scale the inputs to [0, 1] before training: x.astype('float32') / {hi:g}"
                        + (" (or 255 for pixels)" if hi <= 255 else "")
                        + ", or put layers.Rescaling(1/255) first", step=step, epoch=epoch)
            continue
        flat = x.reshape(x.shape[0], -1) if x.ndim > 1 else x.reshape(-1, 1)
        # Each feature's scale is its largest magnitude in the batch: unscaled units (1e5 Pa next to
        # 0.01 m^3/s) differ by orders of magnitude; pixels / 255 differ by at most 255 (a border pixel
        # with one faint value), which a per-feature std would blow up.
        scale = np.max(np.abs(flat), axis=0)
        live = scale[scale > 0]
        spread = float(live.max() / live.min()) if live.size > 1 else 1.0
        if spread > THRESHOLDS["feature_scale_spread"] or max(abs(lo), abs(hi)) > THRESHOLDS["input_abs_max"]:
            doctor._add("unnormalized_input", "unnormalized_input", "warning",
                        "input features span orders of magnitude",
                        {"input": i, "min": _num(lo), "max": _num(hi), "feature_scale_spread": _num(spread),
                         "threshold_spread": THRESHOLDS["feature_scale_spread"]},
                        "standardize each feature: layers.Normalization() adapted on the training data first in "
                        "the model (or (x - mean) / std computed on the training split)", step=step, epoch=epoch)
    _label_checks(doctor, sample, step, epoch)


def _label_checks(doctor, sample, step, epoch):
    losses = _loss_objects(doctor._model, doctor)
    if not losses or not sample["y"]:
        return
    cls = _class_name(losses[0])
    y = _array(sample["y"][0])
    if cls == "BinaryCrossentropy" and (np.min(y) < 0 or np.max(y) > 1):
        doctor._add("label_encoding", "wrong_label_encoding", "error",
                    "binary_crossentropy labels outside [0, 1]",
                    {"loss": cls, "label_min": float(np.min(y)), "label_max": float(np.max(y))},
                    "binary labels must be 0/1 (or probabilities): map them, e.g. y = (y > 0).astype('float32')",
                    step=step, epoch=epoch)
    metrics = _metric_classes(doctor._model)
    integral = bool(np.all(np.floor(y) == y))
    if cls in _REGRESSION_LOSSES and metrics & _ACCURACY_METRICS and not integral:
        doctor._add("regression_accuracy", "api_misuse", "warning",
                    "an accuracy metric on a regression target (real-valued labels are never equal to the "
                    "predictions)", {"loss": cls, "metrics": sorted(metrics & _ACCURACY_METRICS),
                                     "labels_integer_valued": False},
                    "use a regression metric: metrics=['mae'] or RootMeanSquaredError()", step=step, epoch=epoch)
    units = _output_units(doctor._model)
    classes = _class_ids(y)
    last_activation = _activation_name(_flat_layers(doctor._model)[-1])
    one_hot = y.ndim >= 2 and y.shape[-1] > 1 and classes is not None
    if cls in _REGRESSION_LOSSES and classes is not None and (
            (units and units > 1 and last_activation == "softmax") or metrics & _ACCURACY_METRICS):
        # A regression loss on class labels: a softmax classifier, or accuracy asked of class ids.
        doctor._add("label_encoding", "wrong_loss", "warning",
                    f"{cls} on class labels" + (" of a softmax classifier" if last_activation == "softmax" else
                                                " scored by accuracy"),
                    {"loss": cls, "units": units, "activation": last_activation,
                     "metrics": sorted(metrics & _ACCURACY_METRICS)},
                    "use a classification loss: binary_crossentropy for 0/1 labels, categorical_crossentropy for "
                    "one-hot labels, sparse_categorical_crossentropy for integer labels", step=step, epoch=epoch)
    if cls == "BinaryCrossentropy" and one_hot and units and units > 1 and last_activation != "softmax":
        doctor._add("label_encoding", "wrong_loss", "error",
                    "binary_crossentropy on one-hot rows of several classes",
                    {"loss": cls, "units": units, "activation": last_activation},
                    "use categorical_crossentropy (from_logits=True for a linear last layer): one class per example "
                    "is a softmax over the classes, not an independent sigmoid per unit", step=step, epoch=epoch)
    _output_range_check(doctor, cls, last_activation, y, step, epoch)


# The values each bounded output activation can produce.
_OUTPUT_RANGES = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0), "relu": (0.0, math.inf),
                  "softplus": (0.0, math.inf), "exponential": (0.0, math.inf), "hard_sigmoid": (0.0, 1.0)}


def _output_range_check(doctor, cls, activation, y, step, epoch):
    """DeepDiagnosis' output-range rule: a regression loss whose targets lie (in part) where the last
    activation cannot reach (a sigmoid for targets in [-3, 3], a relu for negative targets)."""
    if cls not in _REGRESSION_LOSSES or activation not in _OUTPUT_RANGES or y.size == 0:
        return
    lo, hi = _OUTPUT_RANGES[activation]
    outside = float(np.mean((y < lo) | (y > hi)))
    if outside >= THRESHOLDS["unreachable_targets"]:
        doctor._add("output_range", "wrong_output_activation", "error",
                    f"the last layer's {activation} cannot reach the targets: its outputs lie in [{lo:g}, {hi:g}]",
                    {"activation": activation, "output_range": [lo, hi], "target_min": _num(float(np.min(y))),
                     "target_max": _num(float(np.max(y))), "fraction_outside": _num(outside),
                     "threshold": THRESHOLDS["unreachable_targets"]},
                    "use a linear last layer (activation=None) for a real-valued target, or rescale the targets into "
                    "the activation's range", step=step, epoch=epoch)


def _saturated_probabilities(doctor, sample, step, epoch):
    """Sigmoid outputs that are exactly 0 or 1 in float32 under a cross-entropy on probabilities:
    the loss clips them at epsilon (per-sample loss -ln(1e-7) = 16.118) and their gradient is 0 (P09)."""
    losses = _loss_objects(doctor._model, doctor) if doctor._model is not None else []
    if not losses or not sample["y_pred"] or _class_name(losses[0]) != "BinaryCrossentropy" or \
            _config(losses[0]).get("from_logits"):
        return
    y_pred = _array(sample["y_pred"][0])
    if y_pred is None or y_pred.size == 0:
        return
    saturated = float(np.mean((y_pred == 0.0) | (y_pred == 1.0)))
    if saturated > 0.0:
        doctor._add("probabilities_bce", "numerical_instability", "warning",
                    "sigmoid outputs saturate to exactly 0 or 1: binary_crossentropy on probabilities clips them "
                    "and their gradient is zero",
                    {"saturated_fraction": _num(saturated), "from_logits": False},
                    "drop the sigmoid from the last layer and use BinaryCrossentropy(from_logits=True)",
                    step=step, epoch=epoch)


def _metric_classes(model):
    lists = getattr(model, "_compiled_metric_lists", None) or []
    return {_class_name(metric) for group in lists for metric in group}


def _initialization_checks(doctor, kernels, before, step, epoch, loss):
    for name, i in kernels:
        w = before[i]
        if w.size < 2:
            continue
        mean, std = float(np.mean(w)), float(np.std(w))
        if std == 0.0:
            doctor._add("constant_init", "bad_initialization", "error",
                        "a kernel starts with every weight equal: its units stay identical (symmetry never breaks)",
                        {"kernel": name, "value": mean, "std": 0.0},
                        "use a random initializer (the default glorot_uniform, or he_normal before relu)",
                        layer=name, step=step, epoch=epoch)
        elif abs(mean) > 3 * std and abs(mean) > 0.5:
            doctor._add("off_centre_init", "bad_initialization", "error",
                        "a kernel's initial weights are centred far from zero",
                        {"kernel": name, "mean": mean, "std": std},
                        "initialize around zero: glorot_uniform / he_normal (a custom RandomNormal needs mean=0)",
                        layer=name, step=step, epoch=epoch)


def _initial_loss_check(doctor, loss, step, epoch):
    """TheDeepChecker's initial-loss check: an untrained classifier should score about ln K (its
    predictions near uniform). Far above, it starts confidently wrong (initial scale, unscaled inputs,
    an output layer's bias); said as information, with the number, since the causes have their own
    checks."""
    expected = _uniform_loss(doctor) if step == 0 else None
    if expected and math.isfinite(loss) and loss > THRESHOLDS["initial_loss_factor"] * expected:
        doctor._add("initial_loss", "bad_initialization", "info",
                    "the first step's loss is far above ln K, the loss of a uniform prediction",
                    {"initial_loss": _num(loss), "ln_K": _num(expected),
                     "threshold_factor": THRESHOLDS["initial_loss_factor"]},
                    "start from predictions near uniform: default initializers (glorot_uniform / he_normal), "
                    "scaled inputs, a zero bias on the last layer", step=step, epoch=epoch)


def _forward_scale_check(doctor, sample, step, epoch):
    """Activations that grow layer after layer (SageMaker's ExplodingTensor watches activations too;
    TheDeepChecker calls an activation std outside [0.5, 2] abnormal): hidden outputs whose std grows
    more than 10x over the stack and ends above 100 explode forward. The output probabilities then
    saturate, a probability loss clips them, and the gradients read 0, so the gradient rule cannot see
    it."""
    layers = {l.name: l for l in _flat_layers(doctor._model)}
    stds = []
    for name, outputs in list(zip(sample["layer_names"], sample["layer_outputs"]))[:-1]:
        layer = layers.get(name)
        if layer is None or _class_name(layer) not in _WEIGHTED or not outputs:
            continue
        out = _array(outputs[0])
        if out is not None and out.size > 1 and np.all(np.isfinite(out)):
            stds.append((name, float(np.std(out))))
    if len(stds) < 2 or stds[0][1] <= 0:
        return
    name, last = stds[-1]
    growth = last / stds[0][1]
    if growth > THRESHOLDS["forward_growth"] and last > THRESHOLDS["forward_std"]:
        doctor._add("exploding_gradient", "exploding_gradient", "error",
                    "activations explode forward: each layer's outputs are larger than the last one's",
                    {"layer": name, "first_hidden_std": _num(stds[0][1]), "last_hidden_std": _num(last),
                     "growth": _num(growth), "threshold_growth": THRESHOLDS["forward_growth"],
                     "threshold_std": THRESHOLDS["forward_std"]},
                    "initialize with a variance-preserving scheme (he_normal before relu, glorot_uniform otherwise; "
                    "a custom RandomNormal needs stddev ~ sqrt(2 / fan_in)), or add BatchNormalization",
                    layer=name, step=step, epoch=epoch)


def _activation_checks(doctor, sample, stats, step, epoch):
    names = list(sample["layer_names"])
    if doctor._activations is None:  # once per run: a layer's config does not change while it trains
        doctor._activations = {l.name: _activation_name(l) for l in _flat_layers(doctor._model)}
    last_name = names[-1] if names else None
    for name, outputs in zip(names, sample["layer_outputs"]):
        if name not in doctor._activations or not outputs or name == last_name:
            continue
        activation = doctor._activations[name]
        if activation not in ("relu", "sigmoid", "tanh"):
            continue
        out = _values(outputs[0])
        if out is None or out.ndim < 2 or out.size == 0:
            continue
        if activation == "relu":
            units = out.reshape(-1, out.shape[-1])
            dead = float(np.mean(np.all(units <= 0, axis=0)))
            stats["dead"][name] = dead
        elif activation in ("sigmoid", "tanh"):
            bound = THRESHOLDS["saturation_preactivation"]
            edge = 1 / (1 + math.exp(-bound)) if activation == "sigmoid" else math.tanh(bound)
            low = 1 - edge if activation == "sigmoid" else -edge
            stats["saturated"][name] = float(np.mean((out <= low) | (out >= edge)))


def _gradient_checks(doctor, stats, kernels, grads, loss, step, epoch):
    norms = [(name, math.sqrt(_sq(grads[i])) if grads[i] is not None else None) for name, i in kernels]
    stats["kernel_grad_norms"] = norms
    finite_loss = math.isfinite(loss)
    clipping = _clipping(doctor._model_optimizer())
    for name, norm in norms:
        if norm is None:
            continue
        if finite_loss and (not math.isfinite(norm) or norm > THRESHOLDS["exploding_norm"]):
            # With clipping on, the optimizer never applies the raw gradient: the explosion is
            # handled, and reported as information only.
            doctor._add("exploding_gradient", "exploding_gradient", "info" if clipping else "error",
                        "a layer's gradient explodes while the loss is still finite" +
                        (f" (the optimizer clips it: {clipping})" if clipping else ""),
                        {"layer": name, "gradient_norm": _num(norm), "threshold": THRESHOLDS["exploding_norm"],
                         "loss": _num(loss), "clipping": clipping},
                        "clip the gradients (optimizer clipnorm=1.0), shorten the sequence / add normalization, "
                        "and initialize recurrent kernels orthogonally", layer=name, step=step, epoch=epoch)
            break
    _epsilon_check(doctor, stats, kernels, grads, step, epoch)


def _clipping(optimizer):
    cfg = _config(optimizer) if optimizer is not None else {}
    on = {k: cfg.get(k) for k in ("clipnorm", "clipvalue", "global_clipnorm") if cfg.get(k) is not None}
    return ", ".join(f"{k}={v}" for k, v in on.items()) or None


def _epsilon_check(doctor, stats, kernels, grads, step, epoch):
    """Adam's epsilon against the gradients' size, on the first sampled step of a model."""
    if step == 0:
        named = [(name, grads[i]) for name, i in kernels]
        _adam_epsilon_check(doctor._add, doctor._model_optimizer(), named, step, epoch)


def _adam_epsilon_check(add, optimizer, named_grads, step=None, epoch=None):
    """With |g| at or below Adam's epsilon the step is lr * g / (|g| + eps), far below lr, and where
    eps sits (Keras: outside the bias correction, PyTorch: inside) changes the step several-fold (P13)."""
    if optimizer is None or _class_name(optimizer) not in ("Adam", "AdamW", "Nadam", "Adamax"):
        return
    epsilon = _config(optimizer).get("epsilon")
    if not isinstance(epsilon, (int, float)) or epsilon <= 0:
        return
    rms_of = {name: float(np.sqrt(np.mean(np.asarray(g, np.float64) ** 2)))
              for name, g in named_grads if g is not None and g.size}
    # Every gradient that small (a tiny loss scale); one small layer among normal ones is a vanishing
    # gradient, not an epsilon matter.
    if not rms_of or max(rms_of.values()) > 10 * epsilon:
        return
    for name, rms in rms_of.items():
        if 0 < rms <= 10 * epsilon:
            add("adam_epsilon", "api_misuse", "warning",
                "the gradients are as small as Adam's epsilon: the step is damped and depends on the "
                "framework's epsilon convention",
                {"layer": name, "gradient_rms": _num(rms), "epsilon": epsilon,
                 "step_fraction_of_lr": _num(rms / (rms + epsilon))},
                "scale the loss (or the inputs) so gradients are well above epsilon, or set epsilon to "
                "match the framework you compare with (Keras 1e-7 outside the bias correction, PyTorch "
                "1e-8 inside)", layer=name, step=step, epoch=epoch)
            return


# ---------------------------------------------------------------- at the end of the run
def _end_checks(doctor):
    _nonfinite_checks(doctor)
    if not _too_high_early(doctor):
        # Dead units, saturation and a stuck loss are what a too-high rate leaves behind: named
        # only when it is not the cause.
        _vanishing_check(doctor)
        _dead_and_saturated(doctor)
        _loss_curve_checks(doctor)
    _label_distribution(doctor)
    _overfitting_check(doctor)


def _early_update_ratio(run):
    """The largest, over the first 4 steps, of a step's median update ratio over its layers."""
    values = [float(np.median(list(s["update_ratios"].values()))) for s in run.samples
              if s["step"] < 4 and s["update_ratios"]]
    return max(values) if values else None


def _first_large_update_step(run):
    """The first sampled step whose median update ratio exceeds the upper bound (None: none does)."""
    for s in run.samples:
        if s["update_ratios"] and float(np.median(list(s["update_ratios"].values()))) > THRESHOLDS["update_ratio_high"]:
            return s["step"]
    return None


def _dead_at_end(run):
    """(layer, fraction) of the layer with the most dead units at the last sample, when above the threshold."""
    if not run.samples or not run.samples[-1]["dead"]:
        return None
    layer, fraction = max(run.samples[-1]["dead"].items(), key=lambda kv: (kv[1], kv[0]))
    return (layer, fraction) if fraction >= THRESHOLDS["dead_fraction"] else None


def _too_high_early(doctor):
    """A rate so high that the first updates change the weights by more than 10% of their norm
    (DeepDiagnosis / TheDeepChecker's upper bound) and the loss ends above where it started."""
    run = doctor._run
    if any(f.category == "learning_rate_too_high" for f in doctor.findings):
        return True
    early = _early_update_ratio(run)
    losses = [logs.get("loss") for _, logs in run.epoch_logs if "loss" in logs]
    if early is None or not run.step_losses or not losses or early <= THRESHOLDS["update_ratio_high"]:
        return False
    first = run.step_losses[0][1]
    exploded_later = any(f.category == "exploding_gradient" and (f.step or 0) > 0 for f in doctor.findings)
    if not (math.isfinite(first) and (exploded_later or not math.isfinite(losses[-1]) or losses[-1] >= first)):
        return False
    lr = _learning_rate(doctor._model)
    dead = _dead_at_end(run)
    if dead:
        # What the user sees is dead units (P32); the rate that killed them is the evidence.
        layer, fraction = dead
        doctor._add("dying_relu", "dying_relu", "error", "most ReLU units output 0 for every example",
                    {"layer": layer, "dead_fraction_at_end": _num(fraction), "threshold": THRESHOLDS["dead_fraction"],
                     "early_update_ratio": _num(early), "update_ratio_threshold": THRESHOLDS["update_ratio_high"],
                     "learning_rate": lr},
                    f"lower the learning rate (e.g. {lr / 100:g}); LeakyReLU and he_normal initialization help"
                    if lr else "lower the learning rate", layer=layer)
        return True
    doctor._add("learning_rate_too_high", "learning_rate_too_high", "error",
                "the first updates are too large: the loss ends above where it started",
                {"early_update_ratio": _num(early), "threshold": THRESHOLDS["update_ratio_high"],
                 "first_step_loss": _num(first), "last_epoch_loss": _num(losses[-1]), "learning_rate": lr},
                f"lower the learning rate (e.g. {lr / 100:g})" if lr else "lower the learning rate 100x",
                step=0, epoch=0)
    return True


def _first_nonfinite(run):
    for step, loss in run.step_losses:
        if not math.isfinite(loss):
            return step, None
    for epoch, logs in run.epoch_logs:
        if "loss" in logs and not math.isfinite(logs["loss"]):
            return None, epoch
    return None


def _nonfinite_checks(doctor):
    run = doctor._run
    found = _first_nonfinite(run)
    if found is None:
        return
    step, epoch = found
    if any(f.category == "bad_initialization" or (f.category == "exploding_gradient" and not f.step)
           or f.id == CATALOG["log_of_probabilities"] for f in doctor.findings):
        return  # the cause is already named
    ratios = [max(s["update_ratios"].values()) for s in run.samples if s["update_ratios"]]
    first_loss = run.step_losses[0][1] if run.step_losses else float("nan")
    if step == 0 or not math.isfinite(first_loss):
        doctor._add("nonfinite", "numerical_instability", "error",
                    "the loss is inf/NaN at the first step",
                    {"first_loss": _num(first_loss), "first_nonfinite_layer": run.first_nonfinite_layer},
                    "find the op with pf.debug.check_numerics(model) (it names the layer and op); compute "
                    "softmax/log in the built-in losses (from_logits=True) and keep them in float32",
                    step=0, epoch=0)
        return
    lr = _learning_rate(doctor._model)
    large = _first_large_update_step(run)
    finite = [l for _, l in run.step_losses if math.isfinite(l)]
    grew = bool(finite) and max(finite) > THRESHOLDS["diverged_factor"] * max(abs(first_loss), 1e-12)
    if (large is None or (step is not None and large >= step)) and not grew:
        # In-bound steps, and then inf/NaN from one step to the next: an op produced it (0/0 in an
        # update with epsilon 0, a log or sqrt of 0), not the size of the steps (DeepDiagnosis and
        # DeepLocalize tell a numerical error from divergence).
        doctor._add("nonfinite", "numerical_instability", "error",
                    "the loss turned inf/NaN from one step to the next although the updates were of normal size",
                    {"first_loss": _num(first_loss), "nonfinite_at_step": step, "nonfinite_at_epoch": epoch,
                     "first_nonfinite_layer": run.first_nonfinite_layer,
                     "largest_update_ratio": _num(max(ratios)) if ratios else None,
                     "update_ratio_threshold": THRESHOLDS["update_ratio_high"]},
                    "find the op with pf.debug.check_numerics(model) (it names the layer and op): an optimizer "
                    "epsilon of 0, a division, log or sqrt of 0; keep softmax/log inside the built-in losses",
                    step=step, epoch=epoch)
        return
    doctor._add("learning_rate_too_high", "learning_rate_too_high", "error",
                "the loss diverged to inf/NaN after finite first steps",
                {"first_loss": _num(first_loss), "nonfinite_at_step": step, "nonfinite_at_epoch": epoch,
                 "largest_update_ratio": _num(max(ratios)) if ratios else None,
                 "update_ratio_threshold": THRESHOLDS["update_ratio_high"], "learning_rate": lr},
                f"lower the learning rate (e.g. {lr / 10:g})" if lr else "lower the learning rate 10x",
                step=large if large is not None else step, epoch=epoch)


def _learning_rate(model):
    optimizer = _optimizer(model)
    try:
        return float(optimizer.learning_rate) if optimizer is not None else None
    except Exception:
        return None


def _vanishing_check(doctor):
    run = doctor._run
    hits, total, worst = 0, 0, None
    for s in run.samples:
        norms = [n for _, n in s.get("kernel_grad_norms", []) if n is not None]
        if len(norms) < 3 or not all(math.isfinite(n) for n in norms):
            continue
        total += 1
        first, last = norms[0], norms[-1]
        ratio = first / last if last > 0 else float("inf")
        if ratio < THRESHOLDS["vanishing_ratio"] and first < THRESHOLDS["vanishing_first_norm"]:
            hits += 1
            if worst is None:
                worst = (s["step"], ratio, first, last, s["kernel_grad_norms"][0][0])
    if total and hits * 2 >= total and worst is not None:
        step, ratio, first, last, layer = worst
        doctor._add("vanishing_gradient", "vanishing_gradient", "error",
                    "gradients vanish towards the first layers",
                    {"first_to_last_gradient_ratio": _num(ratio), "first_layer_gradient_norm": _num(first),
                     "last_layer_gradient_norm": _num(last), "threshold_ratio": THRESHOLDS["vanishing_ratio"],
                     "threshold_first_norm": THRESHOLDS["vanishing_first_norm"],
                     "sampled_steps_affected": f"{hits}/{total}"},
                    "use relu with he_normal initialization in the hidden layers (or add BatchNormalization / "
                    "residual connections) instead of stacked sigmoid/tanh", layer=layer, step=step)


def _dead_and_saturated(doctor):
    run = doctor._run
    for key, threshold, category, title in (
            ("dead", THRESHOLDS["dead_fraction"], "dying_relu", "most ReLU units output 0 for every example"),
            ("saturated", THRESHOLDS["saturated_fraction"], "saturated_activation",
             "most sigmoid/tanh activations are saturated (pre-activation beyond +-5)")):
        for layer in sorted({name for s in run.samples for name in s[key]}):
            series = [(s["step"], s[key][layer]) for s in run.samples if layer in s[key]]
            bad = [(st, v) for st, v in series if v >= threshold]
            if not bad or len(bad) * 2 < len(series):
                continue
            step, value = bad[0]
            if key == "dead":
                initial = series[0][0] == 0 and series[0][1] >= threshold
                if initial:
                    _dead_from_start(doctor, layer, value)
                    continue
                lr = _learning_rate(doctor._model)
                doctor._add("dying_relu", "dying_relu", "error", title,
                            {"layer": layer, "dead_fraction": _num(value), "threshold": threshold,
                             "dead_fraction_at_end": _num(series[-1][1]), "learning_rate": lr},
                            "lower the learning rate, or use LeakyReLU / ELU, and he_normal initialization",
                            layer=layer, step=step)
            else:
                doctor._add("saturated_activation", category, "warning", title,
                            {"layer": layer, "saturated_fraction": _num(value), "threshold": threshold},
                            "scale the inputs, use relu (or normalize before the sigmoid/tanh), and glorot/he "
                            "initialization", layer=layer, step=step)


def _dead_from_start(doctor, layer, value):
    kernel_blamed = any(f.category == "bad_initialization" and f.step == 0 and f.layer is not None
                        for f in doctor.findings)
    if not kernel_blamed:
        # The kernels start centred (the initialization check passed): the biases, or the inputs the
        # layer receives, put every pre-activation below 0 from the start.
        doctor._add("dying_relu", "dying_relu", "error",
                    "ReLU units are dead from the first step although the kernels are centred: the biases push "
                    "every pre-activation below 0",
                    {"layer": layer, "dead_fraction_at_step_0": _num(value), "threshold": THRESHOLDS["dead_fraction"]},
                    "start the biases at 0 (bias_initializer='zeros', the default), or use LeakyReLU / ELU",
                    layer=layer, step=0)
        return
    doctor._add("off_centre_init", "bad_initialization", "error",
                "ReLU units are dead from the first step: the initial weights push every pre-activation below 0",
                {"layer": layer, "dead_fraction_at_step_0": _num(value), "threshold": THRESHOLDS["dead_fraction"]},
                "initialize around zero (he_normal before relu); check custom initializers' mean", layer=layer,
                step=0)


def _uniform_loss(doctor):
    """The loss of a model that predicts the uniform distribution: ln K for K classes."""
    units = _output_units(doctor._model)
    losses = _loss_objects(doctor._model, doctor)
    if not losses or not units:
        return None
    cls = _class_name(losses[0])
    if cls in ("CategoricalCrossentropy", "SparseCategoricalCrossentropy") and units > 1:
        return math.log(units)
    if cls == "BinaryCrossentropy" and units == 1:
        return math.log(2)
    return None


def _loss_curve_checks(doctor):
    run = doctor._run
    losses = [logs.get("loss") for _, logs in run.epoch_logs if "loss" in logs]
    if not losses or not all(math.isfinite(v) for v in losses):
        return
    if any(f.severity == "error" for f in doctor.findings):
        return  # an error already explains the curve
    first_step = run.step_losses[0][1] if run.step_losses else losses[0]
    uniform = _uniform_loss(doctor)
    # Exact zeros are weights with no gradient at all (dead units), not small steps.
    ratios = [v for s in run.samples for v in s["update_ratios"].values() if v > 0]
    median_ratio = float(np.median(ratios)) if ratios else None
    lr = _learning_rate(doctor._model)
    # How far the loss moved: epoch means against epoch means (one sampled batch is noise).
    start = losses[0] if len(losses) >= 2 else first_step
    relative_drop = (start - losses[-1]) / abs(start) if start else 0.0
    if losses[-1] > THRESHOLDS["diverged_factor"] * max(abs(first_step), 1e-12):
        doctor._add("learning_rate_too_high", "learning_rate_too_high", "error",
                    "the loss grows instead of falling",
                    {"first_step_loss": _num(first_step), "last_epoch_loss": _num(losses[-1]),
                     "median_update_ratio": _num(median_ratio) if median_ratio else None, "learning_rate": lr},
                    f"lower the learning rate (e.g. {lr / 10:g})" if lr else "lower the learning rate 10x")
        return
    if median_ratio is not None and median_ratio < THRESHOLDS["update_ratio_stalled"] and \
            relative_drop < THRESHOLDS["stalled_loss_movement"]:
        doctor._add("learning_rate_too_low", "learning_rate_too_low", "warning",
                    "the updates are too small to move the loss",
                    {"median_update_ratio": _num(median_ratio), "threshold": THRESHOLDS["update_ratio_low"],
                     "loss_relative_change": _num(relative_drop), "learning_rate": lr},
                    f"raise the learning rate (e.g. {lr * 100:g}), or use the optimizer's default" if lr
                    else "raise the learning rate")
        return
    if uniform is not None and all(abs(v - uniform) <= THRESHOLDS["stuck_loss_relative"] * uniform for v in losses) \
            and median_ratio is not None and median_ratio < THRESHOLDS["update_ratio_low"]:
        doctor._add("learning_rate_too_low", "learning_rate_too_low", "warning",
                    "the loss stays at the uniform prediction's value ln K: the model has learned nothing",
                    {"loss": _num(losses[-1]), "ln_K": _num(uniform), "median_update_ratio":
                     _num(median_ratio) if median_ratio is not None else None},
                    "check that the model can learn (activations alive, labels matching the loss); then raise "
                    "the learning rate")
        return
    if _prior_loss_check(doctor, losses, median_ratio):
        return
    window = THRESHOLDS["loss_not_decreasing_epochs"]
    if len(losses) > window and min(losses[-window:]) >= min(losses[:-window]):
        recent = losses[-window - 1:]
        changes = np.diff(recent)
        flips = int(np.sum(np.sign(changes[1:]) * np.sign(changes[:-1]) < 0))
        # Swings measured against what the run has gained (its first epoch's loss minus its best): a
        # converged loss of 0.1 that wobbles by 0.02 is noise, a loss that gives back half its gain
        # every other epoch oscillates.
        gained = losses[0] - min(losses)
        amplitude = (max(recent) - min(recent)) / gained if gained > 0 else 0.0
        oscillating = flips >= THRESHOLDS["oscillation_flips"] and amplitude > THRESHOLDS["oscillation_amplitude"]
        doctor._add("learning_rate_too_high", "learning_rate_too_high", "warning" if oscillating else "info",
                    f"the loss oscillates and has not decreased for {window} epochs" if oscillating else
                    f"the loss has not decreased for {window} epochs",
                    {"best_loss": _num(min(losses)), "last_losses": [_num(v) for v in losses[-window:]],
                     "direction_changes": flips, "relative_amplitude": _num(amplitude), "learning_rate": lr},
                    "lower the learning rate (or use ReduceLROnPlateau), and check for a plateau caused by the data")
        return
    if len(losses) >= 2:
        drops = [(a - b) / abs(a) if a else 0.0 for a, b in zip(losses[:-1], losses[1:])]
        val = [logs.get("val_loss") for _, logs in run.epoch_logs if "val_loss" in logs]
        val_improving = len(val) < 2 or val[-1] < val[-2]
        if drops[-1] > THRESHOLDS["still_improving"] and val_improving:
            doctor._add("too_few_epochs", "too_few_epochs", "info",
                        "the loss was still falling fast when training stopped",
                        {"last_epoch_relative_drop": _num(drops[-1]), "threshold": THRESHOLDS["still_improving"],
                         "epochs": len(losses)},
                        "train for more epochs (with EarlyStopping(restore_best_weights=True) to stop in time)")


def _prior_loss(doctor):
    """The loss of the best constant prediction on the labels seen: the entropy of the class
    frequencies (cross-entropies), of the positive rate (binary), or Var(y) (MSE); None otherwise."""
    run, losses = doctor._run, _loss_objects(doctor._model, doctor)
    if not losses or len(losses) > 1 or doctor._class_weight:
        return None
    cls = _class_name(losses[0])
    if cls in ("CategoricalCrossentropy", "SparseCategoricalCrossentropy") and run.label_counts:
        n = np.array(list(run.label_counts.values()), np.float64)
        p = n / n.sum()
        return float(-np.sum(p * np.log(p)))
    count, total, squares = run.label_moments
    if not count:
        return None
    mean = total / count
    if cls == "BinaryCrossentropy" and 0 < mean < 1:
        return float(-(mean * math.log(mean) + (1 - mean) * math.log(1 - mean)))
    if cls == "MeanSquaredError":
        return float(max(squares / count - mean * mean, 0.0))
    return None


def _prior_loss_check(doctor, losses, median_ratio):
    """The loss never gets below what predicting the label frequencies alone scores (on validation
    data when there is some: memorized training labels can go lower), with updates of normal size
    and nothing else named: the inputs do not predict the labels (rows of x and y shuffled apart,
    labels from another file, a wrong join). TheDeepChecker's initial-loss and overfit-one-batch
    checks; DeepDiagnosis puts the fix of a loss that does not decrease in the training data."""
    if len(losses) < 2 or doctor._step < THRESHOLDS["prior_min_steps"] or \
            any(f.severity in ("warning", "error") for f in doctor.findings):
        return False
    prior = _prior_loss(doctor)
    if not prior or median_ratio is None or median_ratio < THRESHOLDS["update_ratio_low"]:
        return False
    val = [logs.get("val_loss") for _, logs in doctor._run.epoch_logs if "val_loss" in logs]
    reached = min(val) if val else losses[-1]
    recent = losses[-THRESHOLDS["prior_plateau_epochs"]:]
    if not val and (recent[0] - recent[-1]) > THRESHOLDS["prior_plateau_drop"] * abs(recent[0]):
        return False  # still falling: slow training passing the prior's level, not a plateau at it
    if not math.isfinite(reached) or abs(reached - prior) > THRESHOLDS["prior_loss_relative"] * prior:
        return False  # below: it learned something; far above: it has not even reached the prior
    doctor._add("labels_unrelated", "data_pipeline", "error",
                "the loss never gets below what the label frequencies alone give: the inputs do not predict "
                "the labels", {"best_loss": _num(reached), "on": "validation" if val else "training",
                               "constant_prediction_loss": _num(prior),
                               "threshold": THRESHOLDS["prior_loss_relative"],
                               "median_update_ratio": _num(median_ratio)},
                "check that x and y stay aligned (shuffle them together, one permutation for both; the same "
                "row order after joins and filters); a correct pipeline lets the model overfit one small batch")
    return True


def _label_distribution(doctor):
    counts = doctor._run.label_counts
    losses = _loss_objects(doctor._model, doctor)
    if not counts or not losses or _class_name(losses[0]) in _REGRESSION_LOSSES:
        return
    units = _output_units(doctor._model)
    classes = sorted(counts)
    expected = units if units and units > 1 else 2
    if len(classes) == 1:
        doctor._add("class_imbalance", "class_imbalance", "error",
                    "every training label is the same class",
                    {"class": classes[0], "count": counts[classes[0]], "classes_expected": expected},
                    "check the labels and the split: shuffle before splitting, and make sure each class is present")
        return
    most, least = max(counts.values()), min(counts.values())
    missing = [c for c in range(expected) if c not in counts] if units and units > 1 else []
    ratio = most / least
    if ratio >= THRESHOLDS["class_imbalance_ratio"]:
        evidence = {"largest_to_smallest": _num(ratio), "threshold": THRESHOLDS["class_imbalance_ratio"],
                    "counts": {str(k): counts[k] for k in classes}}
        carried = _weighted_counts(counts, doctor._class_weight)
        if carried is not None:
            # What the loss sees is count x class weight per class: balanced weights make the classes equal.
            evidence["weighted_largest_to_smallest"] = _num(max(carried.values()) / min(carried.values()))
            evidence["class_weight"] = {str(k): doctor._class_weight[k] for k in classes}
        balanced = carried is not None and max(carried.values()) < THRESHOLDS["class_imbalance_ratio"] * \
            min(carried.values())
        doctor._add("class_imbalance", "class_imbalance", "info" if balanced else "warning",
                    "the classes are heavily imbalanced" + (" (fit's class_weight balances them)" if balanced else ""),
                    evidence,
                    "pass class_weight={class: total / (n_classes * count)} to fit, resample, and watch "
                    "per-class metrics (Precision/Recall) instead of accuracy")
    split = _split_class_gap(doctor._fit_arguments)
    if (missing and _validation_class_gap(doctor)) or split:
        evidence = {"classes_missing_from_training": missing} if not split else split
        if _validation_class_gap(doctor):
            evidence["val_accuracy"] = 0.0
        doctor._add("validation_split", "data_pipeline", "error",
                    "the validation data holds classes the training data (nearly) never contains",
                    evidence,
                    "shuffle the arrays before fit (validation_split takes the LAST rows, unshuffled), or pass "
                    "validation_data explicitly")


def _split_class_gap(arguments):
    """fit's own arrays split as fit splits them (validation_split: the last rows, keras/src/trainers/
    data_adapters/data_adapter_utils.py train_validation_split) or validation_data's labels: the
    classes whose share of the training labels is under a tenth of their share of the validation
    labels (the P21 signature, seen before the first step). None when there is nothing to compare."""
    if not arguments:
        return None
    y, val_y = arguments.get("y"), None
    split = arguments.get("validation_split") or 0.0
    try:
        if y is not None and split and not isinstance(arguments.get("x"), _non_array_sources()):
            from ._trainer import validation_split_index
            y = np.asarray(y)
            cut = validation_split_index(len(y), split)
            y, val_y = y[:cut], y[cut:]
        elif y is not None and isinstance(arguments.get("validation_data"), (tuple, list)) and \
                len(arguments["validation_data"]) >= 2:
            y, val_y = np.asarray(y), np.asarray(arguments["validation_data"][1])
    except (TypeError, ValueError):
        return None
    if val_y is None or not len(y) or not len(val_y):
        return None
    train_ids, val_ids = _class_ids(y), _class_ids(val_y)
    if train_ids is None or val_ids is None:
        return None
    classes, val_counts = np.unique(val_ids, return_counts=True)
    train_counts = {c: n for c, n in zip(*np.unique(train_ids, return_counts=True))}
    gap = [int(c) for c, n in zip(classes, val_counts)
           if train_counts.get(c, 0) / len(train_ids) < 0.1 * n / len(val_ids)]
    if not gap:
        return None
    return {"classes_rare_or_missing_in_training": gap,
            "training_share": {str(c): _num(train_counts.get(c, 0) / len(train_ids)) for c in gap},
            "validation_share": {str(c): _num(float(np.mean(val_ids == c))) for c in gap}}


def _weighted_counts(counts, class_weight):
    """count x class weight per class (the share of the loss each class carries), or None without
    class weights (or with a class they leave out, which fit refuses)."""
    if not class_weight or any(c not in class_weight for c in counts):
        return None
    carried = {c: counts[c] * float(class_weight[c]) for c in counts}
    return carried if min(carried.values()) > 0 else None


def _validation_class_gap(doctor):
    accs = [logs.get("val_accuracy") for _, logs in doctor._run.epoch_logs if "val_accuracy" in logs]
    return bool(accs) and max(accs) == 0.0


def _overfitting_check(doctor):
    run = doctor._run
    val = [logs.get("val_loss") for _, logs in run.epoch_logs if "val_loss" in logs]
    train = [logs.get("loss") for _, logs in run.epoch_logs if "loss" in logs]
    if len(val) < THRESHOLDS["overfit_patience"] + 1 or len(train) != len(val):
        return
    best = int(np.argmin(val))
    epochs_after = len(val) - 1 - best
    # EarlyStopping that stopped on val_loss and put the best epoch's weights back: the model kept
    # is the one at the minimum (the fix this finding asks for), so what follows is information only.
    restored = any(_config(c).get("restore_best_weights") and _config(c).get("monitor") == "val_loss"
                   and (getattr(c, "stopped_epoch", 0) or 0) > 0 for c in doctor._early_stopping)
    if epochs_after >= THRESHOLDS["overfit_patience"] and val[-1] >= (1 + THRESHOLDS["overfit_rise"]) * val[best] \
            and train[-1] < train[best]:
        evidence = {"best_val_loss": _num(val[best]), "best_epoch": best, "last_val_loss": _num(val[-1]),
                    "last_train_loss": _num(train[-1]), "rise_threshold": THRESHOLDS["overfit_rise"]}
        if restored:
            evidence["restored_best_weights"] = True
        doctor._add("overfitting", "overfitting", "info" if restored else "warning",
                    "the validation loss rises while the training loss falls"
                    + (" (EarlyStopping restored the best epoch's weights)" if restored else ""),
                    evidence,
                    f"stop at the best epoch: EarlyStopping(monitor='val_loss', patience={THRESHOLDS['overfit_patience']},"
                    " restore_best_weights=True); add Dropout / weight decay, or more data", epoch=best)
        return
    window = THRESHOLDS["loss_not_decreasing_epochs"]
    if epochs_after >= window and train[-1] > 0 and val[best] > THRESHOLDS["generalization_gap_ratio"] * train[-1]:
        # No rise, but no progress either, at a validation loss many times the training loss:
        # SageMaker's Overfit rule compares the two; DeepDiagnosis' 5-epoch window says it stopped.
        doctor._add("overfitting", "overfitting", "info" if restored else "warning",
                    "the model fits the training data far better than the validation data, and the validation "
                    "loss stopped improving", {"best_val_loss": _num(val[best]), "best_epoch": best,
                                               "last_train_loss": _num(train[-1]),
                                               "ratio": _num(val[best] / train[-1]),
                                               "threshold": THRESHOLDS["generalization_gap_ratio"]},
                    "add Dropout / weight decay, use a smaller model or more data, and stop at the best epoch "
                    "(EarlyStopping(monitor='val_loss', restore_best_weights=True))", epoch=best)


# ---------------------------------------------------------------- custom loops
class _LoopWatch:
    """The observation of a custom loop: the model's calls, the tape's loss, the optimizer's steps."""

    def __init__(self, doctor, model, optimizer):
        self.doctor, self.model, self.optimizer = doctor, model, optimizer
        self.step = 0
        self.loss = None  # the tape's target since the last step (None: not seen)
        self.loss_tensor = None  # ... as a tensor with its graph, on sampled steps
        self.training_flags = set()
        self.sampling = False
        self.last_call = None
        self._original = optimizer.__dict__.get("apply_gradients")
        optimizer.apply_gradients = self._apply_gradients
        _hooks.model_call.append(self._model_call)
        _hooks.tape_gradient.append(self._tape_gradient)
        _hooks.loss_call.append(self._loss_call)

    def detach(self):
        if self._loss_call in _hooks.loss_call:
            _hooks.loss_call.remove(self._loss_call)
        if self._model_call in _hooks.model_call:
            _hooks.model_call.remove(self._model_call)
        if self._tape_gradient in _hooks.tape_gradient:
            _hooks.tape_gradient.remove(self._tape_gradient)
        if self._original is None:
            self.optimizer.__dict__.pop("apply_gradients", None)
        else:
            self.optimizer.apply_gradients = self._original
        _loop_end_checks(self)

    def _model_call(self, model, inputs, training, phase, outputs):
        if model is not self.model:
            return
        monitor = self.doctor._monitor
        if phase == "before":
            if self.doctor._sampled(self.step) and not self.sampling:
                monitor.arm()
                monitor.begin_step()
                self.sampling = True
            return
        self.training_flags.add(training)
        xs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        ys = list(outputs.values()) if isinstance(outputs, dict) else (
            list(outputs) if isinstance(outputs, (list, tuple)) else [outputs])
        self.last_call = (xs, ys)

    def _loss_call(self, loss, y_true, y_pred):
        """A Loss object called on the model's last output: the loop's loss and its labels."""
        ident = y_pred._impl_id() if hasattr(y_pred, "_impl_id") else None
        if self.last_call is None or not any(y_pred is y or (ident is not None and hasattr(y, "_impl_id") and
                                                             y._impl_id() == ident) for y in self.last_call[1]):
            return
        if self.doctor._loop_loss is None:
            self.doctor._loop_loss = loss
            _static_checks(self.doctor, self.model)
        if self.step < _LOOP_LABEL_STEPS or self.doctor._sampled(self.step):
            self.doctor._count_labels([[_array(convert_to_tensor(y_true))]])

    def _tape_gradient(self, target, sources, grads):
        self.loss = _scalar(target)
        if self.sampling and hasattr(target, "_graph"):
            self.loss_tensor = target

    def _apply_gradients(self, grads_and_vars):
        pairs = list(grads_and_vars)
        monitor = self.doctor._monitor
        sample = None
        if self.sampling:
            grads = [g for g, _ in pairs]
            variables = [v for _, v in pairs]
            paths = [getattr(v, "path", None) or getattr(v, "name", f"variable_{i}") for i, v in enumerate(variables)]
            xs, ys = self.last_call if self.last_call is not None else ([], [])
            monitor.record_batch([convert_to_tensor(v) for v in xs], [], None, [convert_to_tensor(v) for v in ys])
            monitor.record_update(paths, [g if g is not None else _C.full(list(v.shape), 0.0, v.dtype)
                                          for g, v in pairs], variables, 1.0)
            monitor.end_step(self.loss if self.loss is not None else float("nan"))
            sample = monitor.take_sample()
            sample["loss_tensor"], self.loss_tensor = self.loss_tensor, None
            self.sampling = False
        result = self._original(pairs) if self._original is not None else _ORIGINAL_APPLY(self.optimizer, pairs)
        if sample is not None:
            sample["step"] = self.step
            if self.loss is None:
                sample["loss"] = None
            self.doctor._analyse_sample(sample, current=[v for _, v in pairs])
        elif self.loss is not None:
            self.doctor._run.step_losses.append((self.step, self.loss))
        self.loss = None
        self.step += 1
        self.doctor._step = self.step
        return result


def _non_array_sources():
    from .data import Dataset
    return (Dataset,)


# A custom loop's labels are counted on its first steps (and the sampled ones after): enough for the
# class balance, without a cost on every step of a long loop.
_LOOP_LABEL_STEPS = 200


def _own_train_step(model):
    """Whether fit runs the model's own Python train_step (a subclass overriding it)."""
    from ._trainer import overrides
    return overrides(model, ("train_step",))


def _scalar(value):
    """A loss value as a float (the mean of a non-scalar loss), None when it is not numeric."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return float(array.mean()) if array.size else None


def _loop_end_checks(watch):
    doctor = watch.doctor
    layers = _flat_layers(watch.model)
    stateful = [l.name for l in layers if _class_name(l) in _TRAINING_MODE_LAYERS]
    if watch.step and stateful and True not in watch.training_flags:
        doctor._add("training_flag", "api_misuse", "warning",
                    "the custom loop calls the model without training=True: "
                    + ", ".join(stateful) + " run in inference mode while training",
                    {"layers": stateful, "training_flags_seen": sorted(str(t) for t in watch.training_flags)},
                    "call the model as model(x, training=True) inside the GradientTape")
    # Per-step losses stand for the epochs of fit in the curve checks.
    run = doctor._run
    if not run.epoch_logs and run.step_losses:
        n = len(run.step_losses)
        chunk = max(1, n // 10)
        for k in range(0, n, chunk):
            part = [l for _, l in run.step_losses[k:k + chunk]]
            run.epoch_logs.append((k // chunk, {"loss": float(np.mean(part))}))


# ---------------------------------------------------------------- engine errors and warnings as findings
# (words that must all appear, lower case) -> (catalog key, category, severity, title, fix). The first
# rule that matches names the message; the engine's messages already say where and how to fix.
_MESSAGE_RULES = (
    (("double softmax",), ("double_softmax", "wrong_output_activation", "error",
                           "softmax output fed to a loss that applies softmax again (from_logits=True)",
                           "remove the softmax from the last layer (keep from_logits=True), or set from_logits=False")),
    (("double sigmoid",), ("double_softmax", "wrong_output_activation", "error",
                           "sigmoid output fed to a loss that applies sigmoid again (from_logits=True)",
                           "remove the sigmoid from the last layer (keep from_logits=True), or set from_logits=False")),
    (("pitfall p11",), ("single_unit_softmax", "wrong_output_activation", "error",
                        "softmax over a single unit always outputs 1.0",
                        "use Dense(1, activation='sigmoid') with binary_crossentropy")),
    (("did you mean to scale",), ("unnormalized_input", "unnormalized_input", "error",
                                  "the inputs are raw integers (pixels or counts), not scaled",
                                  "scale the inputs: x.astype('float32') / 255 for pixels")),
    (("float64", "cast to float32"), ("dtype", "dtype_precision", "warning",
                                      "float64 data cast down to the model's float32",
                                      "pass float32 data, or pf.config.set_floatx('float64') before building the model")),
    (("sparse", "label"), ("label_encoding", "wrong_label_encoding", "error", "labels do not match the sparse loss",
                           "sparse_categorical_crossentropy takes integer class ids of shape (N,); for one-hot "
                           "labels use categorical_crossentropy")),
    (("categorical", "one-hot"), ("label_encoding", "wrong_label_encoding", "error",
                                  "labels do not match the categorical loss",
                                  "categorical_crossentropy takes one-hot rows; for integer ids use "
                                  "sparse_categorical_crossentropy, or pf.utils.to_categorical(y)")),
    (("conditioned on metric",), ("keyword", "api_misuse", "warning",
                                  "a callback monitors a metric the logs do not have (it never acts)",
                                  "monitor one of the logged keys the warning lists")),
    (("unexpected keyword",), ("keyword", "api_misuse", "error", "an argument name the engine does not know",
                               "use the Keras 3 argument name the error suggests")),
    (("numpy",), ("numpy_call", "api_misuse", "error", "NumPy inside call() cannot be differentiated",
                  "use pf.ops inside call()")),
    (("non-finite",), ("nonfinite", "numerical_instability", "error", "an op produced inf/NaN",
                       "see the layer and op named in the message; use the built-in losses with from_logits=True")),
    (("dtype",), ("dtype", "dtype_precision", "error", "the dtypes of the inputs and the layer disagree",
                  "cast the data once (x.astype('float32')) or set one policy (pf.config.set_floatx)")),
    (("shape",), ("shape", "api_misuse", "error", "shapes do not fit",
                  "see the layer and both shapes named in the message")),
)


def _finding_for_message(text, severity=None, field="error"):
    lower = text.lower()
    rule = next((r for words, r in _MESSAGE_RULES if all(w in lower for w in words)), None)
    if rule is None:
        return None
    key, category, rule_severity, title, fix = rule
    return Finding(CATALOG[key], category, severity or rule_severity, title, {field: text.splitlines()[0][:500]}, fix)


def classify_error(exc):
    """A finding for an exception raised by the engine (or None when no rule knows it)."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, FloatingPointError):
        text += " (non-finite)"
    return _finding_for_message(text, severity="error")


def classify_warning(message):
    """A finding for an engine warning (or None when no rule knows it)."""
    return _finding_for_message(str(message), field="engine_warning")


# ---------------------------------------------------------------- a whole script
_ORIGINAL_APPLY = _C.Optimizer.apply_gradients


class Session:
    """Attaches a Doctor to every fit, every train_on_batch loop and every custom loop run while it is
    active (``pitfall doctor``). A custom loop is recognized at its optimizer's first apply_gradients
    outside fit: the model watched is the one called last before it."""

    def __init__(self, sample_every=50):
        self.sample_every = sample_every
        self.doctors = []       # (label, Doctor), in the order the runs started
        self._loops = {}        # id(optimizer) -> Doctor
        self._batch_loops = {}  # id(model) -> Doctor driven by train_on_batch
        self._fitting = 0
        self._last_model = None
        self._last_loss = None
        self._training_call = None  # a model called with training=True whose gradient was not taken (yet)
        self._extra = []            # findings of the session itself
        self._seen_layers = set()   # ids of layers called from Python whose configuration was checked
        self._bare_optimizers = set()
        self._numpy_seeded = False
        self._engine_seeded = False
        self._patched = []          # (owner, attribute, original) to restore
        self._engine_warnings = []  # every engine warning while active (a run's Doctor may start later)

    def __enter__(self):
        for name, hook in self._hook_table():
            getattr(_hooks, name).append(hook)
        session = self

        def apply_gradients(optimizer, grads_and_vars):
            return session._apply(optimizer, grads_and_vars)
        _C.Optimizer.apply_gradients = apply_gradients
        self._patch_seeding()
        return self

    def _hook_table(self):
        return (("fit_callbacks", self._fit_callbacks), ("fit_history", self._fit_history),
                ("model_call", self._model_call), ("tape_gradient", self._tape_gradient),
                ("train_on_batch", self._train_on_batch), ("layer_call", self._layer_call),
                ("dataset_shuffle", self._dataset_shuffle), ("config_change", self._config_change),
                ("engine_warning", self._engine_warnings.append))

    def _patch_seeding(self):
        """Which generator the script seeds (P27): np.random.seed alone leaves the engine's
        initializers, dropout and shuffles unseeded; pf.utils.set_random_seed seeds all three."""
        from . import utils
        session, numpy_seed, engine_seed = self, np.random.seed, utils.set_random_seed

        def seed_numpy(*args, **kwargs):
            session._numpy_seeded = True
            return numpy_seed(*args, **kwargs)

        def seed_everything(seed):
            session._engine_seeded = True
            return engine_seed(seed)
        for owner, name, value in ((np.random, "seed", seed_numpy), (utils, "set_random_seed", seed_everything)):
            self._patched.append((owner, name, getattr(owner, name)))
            setattr(owner, name, value)

    def _add_extra(self, key, category, severity, title, evidence, fix, layer=None, epoch=None, step=None):
        if not any(f.id == CATALOG[key] and f.category == category for f in self._extra):
            self._extra.append(Finding(CATALOG[key], category, severity, title, evidence, fix, layer, epoch, step))

    def _layer_call(self, layer, training):
        """A layer used on its own (outside a model): its configuration is checked once."""
        if id(layer) not in self._seen_layers:
            self._seen_layers.add(id(layer))
            _batchnorm_momentum_check(self._add_extra, layer)

    def _dataset_shuffle(self, dataset, buffer_size):
        """shuffle(buffer_size) over a data set that is larger (P22): element k comes from the first
        buffer_size + k elements, so data stored in order stays nearly in order (tf.data.Dataset.shuffle:
        "For perfect shuffling, a buffer size greater than or equal to the full size of the dataset is
        required")."""
        try:
            size = int(dataset.cardinality())
        except Exception:  # noqa: BLE001 - a pipeline that cannot tell its size is not judged
            return
        if size > 0 and buffer_size < size:
            self._add_extra("shuffle_buffer", "data_pipeline", "warning",
                            f"shuffle(buffer_size={buffer_size}) over {size} elements: batches only mix "
                            f"neighbouring elements",
                            {"buffer_size": buffer_size, "elements": size,
                             "furthest_reach_of_first_element": buffer_size},
                            f"shuffle with a buffer at least as large as the data set (shuffle({size})), or shuffle "
                            "the file/row order first (from_tensor_slices of a permuted array) when it does not fit "
                            "in memory")

    def _config_change(self, name, value):
        if name == "tensor_float_32" and value:
            self._add_extra("tf32", "dtype_precision", "info",
                            "TensorFloat-32 is on: float32 matmuls and convolutions on a GPU round their inputs "
                            "to 11 significant bits (relative error ~1e-3 instead of ~1e-7)",
                            {"tensor_float_32": True, "tf32_unit_roundoff": 2.0 ** -11,
                             "float32_unit_roundoff": 2.0 ** -24},
                            "pf.config.experimental.enable_tensor_float_32_execution(False) where float32 "
                            "accuracy matters (a regression to 1e-7, a comparison with a CPU run)")

    def __exit__(self, exc_type, exc, tb):
        for name, hook in self._hook_table():
            if hook in getattr(_hooks, name):
                getattr(_hooks, name).remove(hook)
        if exc_type is not None:
            self._training_call = None  # the script stopped: its last call was not a prediction
        _C.Optimizer.apply_gradients = _ORIGINAL_APPLY
        for owner, name, value in reversed(self._patched):
            setattr(owner, name, value)
        self._patched = []
        self._check_training_call()
        for doctor in list(self._loops.values()) + list(self._batch_loops.values()):
            doctor.finish()
        for message in self._engine_warnings:
            found = classify_warning(message)
            if found is not None and not any(f.id == found.id and f.category == found.category
                                             for f in self.findings):
                self._extra.append(found)
        if self._numpy_seeded and not self._engine_seeded and self.doctors:
            self._add_extra("unseeded_engine", "api_misuse", "warning",
                            "np.random.seed was called but the engine's generator was not seeded: initial "
                            "weights, dropout masks and shuffles differ from run to run",
                            {"numpy_seeded": True, "engine_seeded": False},
                            "seed everything at once with pf.utils.set_random_seed(seed) (keras.utils."
                            "set_random_seed) before building the model")
        return False

    @property
    def findings(self):
        """Every run's findings, each pitfall once per place (the first run that saw it), then the
        session's own; ordered by severity."""
        out = []
        for f in [f for _, d in self.doctors for f in d.findings] + self._extra:
            if not any(g.id == f.id and g.category == f.category and g.layer == f.layer for g in out):
                out.append(f)
        return _ordered(out)

    def _start(self, label, doctor):
        self.doctors.append((label, doctor))
        return doctor

    def _fit_callbacks(self, model, callbacks, arguments=None):
        self._fitting += 1
        class_weight = (arguments or {}).get("class_weight")
        stopping = [c for c in callbacks if _class_name(c) == "EarlyStopping"]
        given = [c for c in callbacks if isinstance(c, Doctor)]
        for doctor in given:
            doctor._class_weight, doctor._early_stopping = class_weight, stopping
            doctor._fit_arguments = arguments
        if given:
            return callbacks
        doctor = Doctor(sample_every=self.sample_every)
        doctor._class_weight, doctor._early_stopping = class_weight, stopping
        doctor._fit_arguments = arguments
        return callbacks + [self._start(f"fit of model '{model.name}'", doctor)]

    def _fit_history(self, model, history):
        self._fitting -= 1
        if history is None:
            return
        for _, doctor in self.doctors:
            if doctor._model is model:
                doctor._history(history)

    def _model_call(self, model, inputs, training, phase, outputs):
        if phase != "after" or self._fitting:
            return
        self._check_training_call()
        self._last_model = model
        if training:
            self._training_call = model

    def _tape_gradient(self, target, sources, grads):
        self._last_loss = _scalar(target)
        self._training_call = None
        _float16_gradient_check(self._add_extra, target, grads)

    def _check_training_call(self):
        """A model called with training=True and no gradient taken before its next call: a prediction
        made in training mode (dropout active, batch statistics used), P19."""
        model, self._training_call = self._training_call, None
        # A model trained by a custom loop sets its mode itself (a check of the loop's own call is
        # not a prediction); fit and train_on_batch set it for the user, so an explicit
        # training=True call outside them is one.
        if model is None or any(d._model is model for d in self._loops.values()):
            return
        modal = [l.name for l in _flat_layers(model) if _class_name(l) in _TRAINING_MODE_LAYERS]
        if modal and not any(f.id == CATALOG["inference_training_mode"] for f in self._extra):
            self._extra.append(Finding(
                CATALOG["inference_training_mode"], "api_misuse", "warning",
                "the model was called with training=True outside a training step (a prediction in training mode)",
                {"model": model.name, "layers": modal},
                "predict with model(x, training=False) or model.predict(x): Dropout is then off and "
                "BatchNormalization uses its moving statistics"))

    def _train_on_batch(self, model, phase, logs):
        doctor = self._batch_loops.get(id(model))
        if doctor is None:
            doctor = self._start(f"train_on_batch loop of model '{model.name}'", Doctor(sample_every=self.sample_every))
            doctor._begin(model)
            self._batch_loops[id(model)] = doctor
        if phase == "before":
            doctor.on_train_batch_begin(doctor._step)
            return
        loss = (logs or {}).get("loss")
        doctor.on_train_batch_end(doctor._step)
        if loss is not None and (not doctor._run.step_losses or doctor._run.step_losses[-1][0] != doctor._step - 1):
            doctor._run.step_losses.append((doctor._step - 1, float(loss)))

    def _apply(self, optimizer, grads_and_vars):
        doctor = self._loops.get(id(optimizer))
        if doctor is None:
            if self._fitting:
                return _ORIGINAL_APPLY(optimizer, grads_and_vars)
            if self._last_model is None:
                # Variables optimized directly, with no model: the optimizer's own checks, once.
                pairs = list(grads_and_vars)
                if id(optimizer) not in self._bare_optimizers:
                    self._bare_optimizers.add(id(optimizer))
                    _adam_epsilon_check(self._add_extra, optimizer,
                                        [(getattr(v, "path", None) or getattr(v, "name", f"variable_{i}"),
                                          _array(g) if _defined(g) else None) for i, (g, v) in enumerate(pairs)])
                return _ORIGINAL_APPLY(optimizer, pairs)
            doctor = Doctor(sample_every=self.sample_every).watch(self._last_model, optimizer)
            doctor._watching.loss = self._last_loss
            self._loops[id(optimizer)] = doctor
            self._start(f"custom loop of model '{self._last_model.name}'", doctor)
        return doctor._watching._apply_gradients(grads_and_vars)


def _float16_gradient_check(add, target, grads):
    """Gradients taken through float16 ops without loss scaling (P03): most entries below float16's
    smallest normal number have lost their precision or flushed to 0 on the way back."""
    if not hasattr(target, "_graph") or not any(g is not None for g in grads):
        return
    if not any(node[4] == "float16" for node in target._graph()):
        return
    values = np.concatenate([np.abs(_array(g).astype(np.float64)).ravel() for g in grads if _defined(g)])
    if values.size == 0 or not np.all(np.isfinite(values)):
        return
    small = float(np.mean(values < THRESHOLDS["float16_small_gradient"]))
    if small >= THRESHOLDS["float16_small_fraction"]:
        add("float16", "dtype_precision", "warning",
            "gradients computed in float16 are below its smallest normal number: they lose their digits or "
            "flush to 0 (no loss scaling)",
            {"fraction_below": _num(small), "float16_smallest_normal": THRESHOLDS["float16_small_gradient"],
             "zero_entries": int(np.sum(values == 0)), "entries": int(values.size)},
            "scale the loss: optimizer = pf.optimizers.LossScaleOptimizer(optimizer) and "
            "tape.gradient(optimizer.scale_loss(loss), ...) (compile() does this under mixed_float16)")


_TRAINING_MODE_LAYERS = ("Dropout", "BatchNormalization", "SpatialDropout1D", "SpatialDropout2D", "GaussianNoise",
                         "GaussianDropout", "AlphaDropout")


def findings_json(findings, script=None, exit_status=None, error=None, extra=None):
    out = {"findings": [f.to_dict() for f in findings], "script": script, "exit_status": exit_status,
           "error": error}
    if extra:
        out.update(extra)
    return out


def write_json(path, data):
    from .report import _atomic_write
    _atomic_write(path, (json.dumps(data, indent=2, default=str) + "\n").encode())


def example_path(ident):
    """The catalog example that reproduces `ident` (for links), or None."""
    from . import catalog
    for entry in catalog.entries():
        if entry.id == ident:
            return getattr(entry, "path", None)
    return None


