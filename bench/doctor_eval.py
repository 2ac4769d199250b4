"""The doctor on seeded faults: correct small training programs, each mutated one fault at a time.

    PYTHONPATH=build/python python3 bench/doctor_eval.py [--json FILE] [--programs a,b] [--operators x,y]

A program is a Spec: its data, layers, activations, loss, label encoding, optimizer and learning
rate, epochs, initializers, preprocessing, training loop and prediction code. A mutation operator
changes one of those things (as DeepFD and the Humbatova et al. taxonomy seed faults) and names the
category of the fault it seeds. Every program and every mutant runs under a doctor Session (what
`pitfall doctor` attaches), and:

- a mutant is *diagnosed right* when the doctor's leading finding has the seeded category: its first
  finding of severity warning or error (the doctor orders root causes first), or, when it has none,
  its first information finding; *loosely right* when any of its findings has the category;
- a *false alarm* is any warning/error finding on an unmutated program;
- a mutant is *effective* (a real fault) when its run raises, ends with a non-finite loss, or scores
  more than EFFECT_MARGIN below the lowest score of the unmutated program over SEEDS seeds, on the
  held-out test set (balanced accuracy for classifiers, R^2 for regressions): outside what a
  change of seed alone does. The criterion looks neither at the fault nor at the doctor. Mutants
  that are not effective are reported and left out of the rates.

Everything is seeded (data from DATA_SEED, the engine from each spec's seed), so a run on one build
gives the same table every time. The data are Fashion-MNIST subsets (Debian's dataset-fashion-mnist),
scikit-learn's bundled digits, iris, wine and breast cancer sets (Debian's python3-sklearn), and
tabular sets generated here with NumPy in the manner of scikit-learn's make_moons, make_circles,
make_classification and make_friedman1.
"""
import argparse
import dataclasses
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

import pitfall as pf
from pitfall import doctor as pf_doctor
from pitfall import layers

DATA_SEED = 0
SEEDS = 4              # the unmutated program runs with seeds 0..SEEDS-1: its seed-to-seed spread
EFFECT_MARGIN = 0.02   # a mutant is a real fault when it scores this much below the program's worst seed
SERIOUS = ("error", "warning")


# ---------------------------------------------------------------- data
@dataclasses.dataclass
class Data:
    x_train: np.ndarray
    y_train: np.ndarray     # class ids (int64) or a standardized real target (float32)
    x_test: np.ndarray
    y_test: np.ndarray
    classes: int            # 0 for a regression
    image_shape: tuple = None


def _split(x, y, test_share, rng):
    order = rng.permutation(len(x))
    cut = int(round(len(x) * (1 - test_share)))
    return x[order[:cut]], y[order[:cut]], x[order[cut:]], y[order[cut:]]


def _fashion(rng, train, test, classes=None):
    (x, y), (x_test, y_test) = pf.datasets.fashion_mnist.load_data()
    if classes is not None:
        keep, keep_test = np.isin(y, classes), np.isin(y_test, classes)
        x, y, x_test, y_test = x[keep], y[keep], x_test[keep_test], y_test[keep_test]
        remap = {c: i for i, c in enumerate(classes)}
        y, y_test = np.vectorize(remap.get)(y), np.vectorize(remap.get)(y_test)
    pick, pick_test = rng.permutation(len(x))[:train], rng.permutation(len(x_test))[:test]
    return Data(x[pick].astype("float32"), y[pick].astype("int64"), x_test[pick_test].astype("float32"),
                y_test[pick_test].astype("int64"), len(classes) if classes else 10, (28, 28, 1))


def _moons(rng, n=1000, noise=0.2):
    t = rng.uniform(0, math.pi, n)
    label = rng.integers(0, 2, n)
    x = np.where(label[:, None] == 0, np.stack([np.cos(t), np.sin(t)], 1),
                 np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)) + rng.normal(0, noise, (n, 2))
    return x, label


def _circles(rng, n=1000, noise=0.08, factor=0.5):
    t = rng.uniform(0, 2 * math.pi, n)
    label = rng.integers(0, 2, n)
    radius = np.where(label == 1, factor, 1.0)
    return np.stack([np.cos(t), np.sin(t)], 1) * radius[:, None] + rng.normal(0, noise, (n, 2)), label


def _spirals(rng, n=1200, arms=3, noise=0.15):
    label = rng.integers(0, arms, n)
    r = rng.uniform(0.1, 1.0, n)
    angle = 2 * math.pi * label / arms + 3.0 * r + rng.normal(0, noise, n)
    return np.stack([r * np.cos(angle), r * np.sin(angle)], 1) * 2.0, label


def _clusters(rng, n=2000, features=12, classes=4, per_class=2):
    """make_classification's recipe: Gaussian clusters on hypercube vertices, then features in
    units that differ by five orders of magnitude (grams to tonnes)."""
    centres = rng.choice([-1.5, 1.5], size=(classes * per_class, features))
    cluster = rng.integers(0, classes * per_class, n)
    x = centres[cluster] + rng.normal(0, 1.0, (n, features))
    return x * 10.0 ** np.linspace(-2, 3, features) + 10.0 ** np.linspace(-1, 3, features), cluster % classes


def _friedman1(rng, n=2000, features=8, noise=0.5):
    x = rng.uniform(0, 1, (n, features))
    y = (10 * np.sin(math.pi * x[:, 0] * x[:, 1]) + 20 * (x[:, 2] - 0.5) ** 2 + 10 * x[:, 3] + 5 * x[:, 4]
         + rng.normal(0, noise, n))
    return x * 10.0 ** np.linspace(-1, 3, features), y


def _waves(rng, n=1500, noise=0.1):
    x = rng.uniform(-2, 2, (n, 2))
    return x, np.sin(2 * x[:, 0]) * np.cos(1.5 * x[:, 1]) + 0.3 * x[:, 0] + rng.normal(0, noise, n)


def _sensors(rng, n=1500):
    """Three operating states of a machine from readings in physical units: temperature around 300 K,
    pressure around 1e5 Pa, a flow around 0.01 m^3/s, a relative humidity in [0, 1]."""
    z = rng.normal(size=(n, 4))
    score = np.stack([z[:, 0] + z[:, 1] ** 2 - 1, z[:, 2] - z[:, 3] * z[:, 0], -z[:, 0] - z[:, 2]], 1)
    label = np.argmax(score + rng.normal(0, 0.3, score.shape), axis=1)
    units = np.array([30.0, 5e3, 0.003, 0.15]), np.array([300.0, 1e5, 0.01, 0.5])
    return z * units[0] + units[1], label


def _sklearn(name):
    """One of scikit-learn's bundled data sets (Debian's python3-sklearn): digits, iris, wine,
    breast_cancer, as (x, y)."""
    from sklearn import datasets as sklearn_datasets
    bunch = getattr(sklearn_datasets, f"load_{name}")()
    return bunch.data, bunch.target


def _tabular(x, y, rng, classes):
    x_train, y_train, x_test, y_test = _split(x.astype("float32"), y, 0.25, rng)
    if classes:
        return Data(x_train, y_train.astype("int64"), x_test, y_test.astype("int64"), classes)
    mean, std = y_train.mean(), y_train.std()   # the target is standardized by every program
    return Data(x_train, ((y_train - mean) / std).astype("float32"), x_test,
                ((y_test - mean) / std).astype("float32"), 0)


DATASETS = {
    "fashion": lambda rng: _fashion(rng, 3000, 1000),
    "fashion_small": lambda rng: _fashion(rng, 2000, 1000),
    "fashion_trouser_dress": lambda rng: _fashion(rng, 2000, 1000, classes=(1, 3)),
    "moons": lambda rng: _tabular(*_moons(rng), rng, 2),
    "circles": lambda rng: _tabular(*_circles(rng), rng, 2),
    "spirals": lambda rng: _tabular(*_spirals(rng), rng, 3),
    "clusters": lambda rng: _tabular(*_clusters(rng), rng, 4),
    "sensors": lambda rng: _tabular(*_sensors(rng), rng, 3),
    "friedman1": lambda rng: _tabular(*_friedman1(rng), rng, 0),
    "waves": lambda rng: _tabular(*_waves(rng), rng, 0),
    "digits": lambda rng: _tabular(*_sklearn("digits"), rng, 10),
    "iris": lambda rng: _tabular(*_sklearn("iris"), rng, 3),
    "wine": lambda rng: _tabular(*_sklearn("wine"), rng, 3),
    "breast_cancer": lambda rng: _tabular(*_sklearn("breast_cancer"), rng, 2),
}
_LOADED = {}


def dataset(name):
    if name not in _LOADED:
        _LOADED[name] = DATASETS[name](np.random.default_rng(DATA_SEED))
    return _LOADED[name]


# ---------------------------------------------------------------- a program
@dataclasses.dataclass(frozen=True)
class Spec:
    """A correct training program, written out as the things a mutation can change."""
    name: str
    data: str
    task: str                              # multiclass | binary | regression
    hidden: tuple = (32,)                  # Dense widths
    conv: tuple = ()                       # Conv2D filters, each followed by MaxPooling2D(2)
    activation: str = "relu"               # of every hidden layer (None: linear)
    output: str = "softmax"                # softmax | sigmoid | linear | relu
    loss: str = "sparse_categorical_crossentropy"
    from_logits: bool = False
    labels: str = "sparse"                 # sparse | onehot | binary | plus_minus_one | one_based | real
    metrics: tuple = ("accuracy",)
    optimizer: str = "adam"                # adam | sgd
    lr: float = 1e-3
    momentum: float = 0.0
    epsilon: float = None                  # Adam's epsilon (None: the default)
    lr_keyword: str = "learning_rate"
    epochs: int = 20
    batch_size: int = 32
    kernel_init: tuple = ("GlorotUniform", {})   # hidden layers
    bias_init: tuple = ("Zeros", {})             # hidden layers
    output_init: tuple = ("GlorotUniform", {})
    scaling: str = "standard"              # standard | pixel | layer (a Normalization layer) | None
    dropout: float = 0.0
    batchnorm: bool = False
    bn_momentum: float = 0.99
    validation_split: float = 0.0
    train_rows: int = None                 # None: all the training rows
    rows: str = "shuffled"                 # shuffled | by_label | labels_shuffled
    minority_keep: float = None            # rows kept of the upper half of the classes
    loop: str = "fit"                      # fit | custom (a GradientTape loop)
    loop_training: bool = True             # the custom loop calls model(x, training=True)
    predict: str = "predict"               # predict | call_training (model(x, training=True))
    policy: str = "float32"
    seed: int = 0


PROGRAMS = (
    Spec("fashion_mlp", "fashion", "multiclass", hidden=(128,), dropout=0.5, scaling="pixel", epochs=8,
         batch_size=64),
    Spec("fashion_cnn", "fashion_small", "multiclass", conv=(8, 16), hidden=(), output="linear", from_logits=True,
         scaling="pixel", epochs=4, batch_size=64),
    Spec("fashion_custom_loop", "fashion_small", "multiclass", hidden=(64,), batchnorm=True, dropout=0.3,
         loss="categorical_crossentropy", labels="onehot", scaling="pixel", epochs=5, batch_size=64, loop="custom"),
    Spec("fashion_cnn_sgd", "fashion_small", "multiclass", conv=(16,), hidden=(64,), scaling="pixel", optimizer="sgd",
         lr=0.05, momentum=0.9, epochs=4, batch_size=64, validation_split=0.1),
    Spec("fashion_binary", "fashion_trouser_dress", "binary", hidden=(32,), output="sigmoid",
         loss="binary_crossentropy", labels="binary", optimizer="sgd", lr=0.05, momentum=0.9, scaling="pixel",
         epochs=6, batch_size=64),
    Spec("clusters_mlp", "clusters", "multiclass", hidden=(64, 64), epochs=30, validation_split=0.2),
    Spec("sensors_normalization", "sensors", "multiclass", hidden=(32, 32), scaling="layer", epochs=40),
    Spec("spirals_mlp", "spirals", "multiclass", hidden=(64, 64), lr=1e-2, epochs=60),
    Spec("moons_logits", "moons", "binary", hidden=(32, 32), activation="tanh", output="linear", from_logits=True,
         loss="binary_crossentropy", labels="binary", lr=1e-2, epochs=40),
    Spec("circles_sigmoid", "circles", "binary", hidden=(16, 16), output="sigmoid", loss="binary_crossentropy",
         labels="binary", lr=1e-2, epochs=40),
    Spec("friedman_regression", "friedman1", "regression", hidden=(64, 64), output="linear", loss="mse",
         labels="real", metrics=("mae",), epochs=40),
    Spec("waves_regression_sgd", "waves", "regression", hidden=(32, 32), activation="tanh", output="linear",
         loss="mse", labels="real", metrics=("mae",), optimizer="sgd", lr=0.05, momentum=0.9, epochs=60),
    Spec("sensors_tanh_sgd", "sensors", "multiclass", hidden=(32,), activation="tanh", optimizer="sgd", lr=0.05,
         momentum=0.9, epochs=40),
    # scikit-learn's data sets: 8x8 digit images (0-16), iris, wine and breast cancer measurements in
    # their own units (standardized by the programs).
    Spec("digits_mlp", "digits", "multiclass", hidden=(64,), epochs=30, validation_split=0.2),
    Spec("iris_mlp", "iris", "multiclass", hidden=(16,), lr=1e-2, epochs=80, batch_size=16),
    Spec("wine_mlp", "wine", "multiclass", hidden=(16,), lr=1e-2, epochs=60, batch_size=16),
    Spec("breast_cancer_binary", "breast_cancer", "binary", hidden=(16,), output="sigmoid",
         loss="binary_crossentropy", labels="binary", epochs=30),
)


def _initializer(spec):
    name, kwargs = spec
    return getattr(pf.initializers, name)(**kwargs)


def _loss(spec):
    if spec.loss == "mse":
        return pf.losses.MeanSquaredError()
    cls = {"sparse_categorical_crossentropy": pf.losses.SparseCategoricalCrossentropy,
           "categorical_crossentropy": pf.losses.CategoricalCrossentropy,
           "binary_crossentropy": pf.losses.BinaryCrossentropy}[spec.loss]
    return cls(from_logits=spec.from_logits)


def _optimizer(spec):
    arguments = {spec.lr_keyword: spec.lr}
    if spec.optimizer == "sgd":
        return pf.optimizers.SGD(momentum=spec.momentum, **arguments)
    if spec.epsilon is not None:
        arguments["epsilon"] = spec.epsilon
    return pf.optimizers.Adam(**arguments)


def _metrics(spec):
    if spec.metrics == ("accuracy",) and spec.task == "binary" and spec.from_logits:
        return [pf.metrics.BinaryAccuracy(threshold=0.0)]
    return list(spec.metrics)


def _inputs(spec, data, x):
    """The program's preprocessing of the raw features."""
    if spec.scaling == "pixel":
        x = x / 255.0
    elif spec.scaling == "standard":
        std = data.x_train.std(axis=0)
        x = (x - data.x_train.mean(axis=0)) / np.where(std > 0, std, 1.0)   # digits' border pixels are constant
    if spec.conv:
        x = x.reshape((-1,) + data.image_shape)
    elif x.ndim > 2:
        x = x.reshape(len(x), -1)
    return x.astype("float32")


def _targets(spec, data, y):
    if spec.labels == "real":
        return y.reshape(-1, 1).astype("float32")
    if spec.labels in ("binary", "plus_minus_one"):
        y = y.reshape(-1, 1).astype("float32")
        return 2 * y - 1 if spec.labels == "plus_minus_one" else y
    if spec.labels == "onehot":
        return pf.utils.to_categorical(y, data.classes)
    return y + 1 if spec.labels == "one_based" else y


def _training_rows(spec, data, rng):
    """The indices of the training rows the program trains on, in the order it passes them."""
    rows = np.arange(len(data.x_train))
    if spec.minority_keep is not None:
        upper = data.y_train >= max(1, data.classes // 2)
        kept = [r for r in rows[upper] if rng.random() < spec.minority_keep]
        rows = np.sort(np.concatenate([rows[~upper], kept]).astype(np.int64))
    if spec.train_rows is not None:
        rows = rows[:spec.train_rows]
    if spec.rows == "by_label":
        rows = rows[np.argsort(data.y_train[rows], kind="stable")]
    return rows


def build_model(spec, data, x_train):
    shape = x_train.shape[1:]
    model = pf.Sequential([pf.Input(shape=shape)])
    if spec.scaling == "layer":
        norm = layers.Normalization()
        norm.adapt(x_train)
        model.add(norm)
    hidden = dict(kernel_initializer=_initializer(spec.kernel_init), bias_initializer=_initializer(spec.bias_init))
    for filters in spec.conv:
        model.add(layers.Conv2D(filters, 3, padding="same", activation=spec.activation, **hidden))
        model.add(layers.MaxPooling2D(2))
    if spec.conv:
        model.add(layers.Flatten())
    for units in spec.hidden:
        model.add(layers.Dense(units, activation=spec.activation, **hidden))
        if spec.batchnorm:
            model.add(layers.BatchNormalization(momentum=spec.bn_momentum))
        if spec.dropout:
            model.add(layers.Dropout(spec.dropout))
    units = data.classes if spec.task == "multiclass" else 1
    model.add(layers.Dense(units, activation=None if spec.output == "linear" else spec.output,
                           kernel_initializer=_initializer(spec.output_init)))
    return model


def _custom_loop(spec, model, x, y, rng):
    optimizer, loss_fn = _optimizer(spec), _loss(spec)
    variables, losses = model.trainable_variables, []
    for _ in range(spec.epochs):
        order, epoch_losses = rng.permutation(len(x)), []
        for start in range(0, len(x), spec.batch_size):
            batch = order[start:start + spec.batch_size]
            with pf.GradientTape() as tape:
                outputs = model(x[batch], training=True) if spec.loop_training else model(x[batch])
                loss = loss_fn(y[batch], outputs)
            optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
            epoch_losses.append(float(loss))
        losses.append(float(np.mean(epoch_losses)))
    return {"loss": losses}


def run_program(spec):
    """Trains and scores `spec`: (held-out score, the per-epoch logs: loss, val_loss, metrics)."""
    data = dataset(spec.data)
    pf.backend.clear_session()
    pf.utils.set_random_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    rows = _training_rows(spec, data, rng)
    x, y = _inputs(spec, data, data.x_train[rows]), _targets(spec, data, data.y_train[rows])
    if spec.rows == "labels_shuffled":
        y = y[rng.permutation(len(y))]
    pf.mixed_precision.set_global_policy(spec.policy)
    try:
        model = build_model(spec, data, x)
        if spec.loop == "custom":
            history = _custom_loop(spec, model, x, y, rng)
        else:
            model.compile(optimizer=_optimizer(spec), loss=_loss(spec), metrics=_metrics(spec))
            history = model.fit(x, y, epochs=spec.epochs, batch_size=spec.batch_size, verbose=0,
                                validation_split=spec.validation_split).history
        history = {k: [float(v) for v in values] for k, values in history.items()}
        x_test = _inputs(spec, data, data.x_test)
        if spec.predict == "call_training":
            outputs = model(x_test, training=True)
        else:
            outputs = model.predict(x_test, batch_size=256, verbose=0)
    finally:
        pf.mixed_precision.set_global_policy("float32")
    return _score(spec, data, np.asarray(outputs, dtype=np.float64)), history


def _score(spec, data, outputs):
    """Balanced accuracy of a classifier, R^2 of a regression, on the held-out rows. The decision rule
    is the unmutated program's (a mutation changes the model, not the code that reads it)."""
    if not np.all(np.isfinite(outputs)):
        return float("nan")
    base = _original(spec)
    if data.classes == 0:
        residual = np.sum((outputs.reshape(-1) - data.y_test) ** 2)
        return float(1 - residual / np.sum((data.y_test - data.y_test.mean()) ** 2))
    if spec.task == "binary" or outputs.shape[-1] == 1:
        threshold = 0.0 if base.from_logits else 0.5
        predicted = (outputs.reshape(-1) > threshold).astype(np.int64)
    else:
        predicted = np.argmax(outputs, axis=-1)
    return float(np.mean([np.mean(predicted[data.y_test == c] == c) for c in range(data.classes)]))


def _original(spec):
    return next(p for p in PROGRAMS if p.name == spec.name)


# ---------------------------------------------------------------- mutation operators
@dataclasses.dataclass(frozen=True)
class Operator:
    name: str
    category: str            # the seeded fault, in the doctor's vocabulary
    applies: object          # Spec -> bool
    mutate: object           # Spec -> Spec
    what: str


def _classifier(s):
    return s.task != "regression"


def _probabilities(s):
    return s.output in ("softmax", "sigmoid") and not s.from_logits


def _has_hidden(s):
    return bool(s.hidden or s.conv)


def _stateful(s):
    return bool(s.dropout or s.batchnorm)


def _r(**changes):
    return lambda s: dataclasses.replace(s, **changes)


def _overfit(s):
    rows = max(40, len(dataset(s.data).x_train) // 10)
    return dataclasses.replace(s, train_rows=rows, hidden=(256, 256), epochs=s.epochs * 3,
                               validation_split=s.validation_split or 0.25)


OPERATORS = (
    Operator("learning_rate_x1000", "learning_rate_too_high", lambda s: True, lambda s: _r(lr=s.lr * 1000)(s),
             "learning rate multiplied by 1000"),
    Operator("learning_rate_div1e4", "learning_rate_too_low", lambda s: True, lambda s: _r(lr=s.lr / 1e4)(s),
             "learning rate divided by 10^4"),
    Operator("no_input_scaling", "unnormalized_input", lambda s: s.scaling is not None, _r(scaling=None),
             "the inputs' scaling (/255, standardization, Normalization layer) removed"),
    Operator("softmax_to_sigmoid", "wrong_output_activation", lambda s: s.output == "softmax",
             _r(output="sigmoid"), "softmax output replaced by sigmoid (loss unchanged)"),
    Operator("output_activation_dropped", "wrong_output_activation", _probabilities, _r(output="linear"),
             "the output's softmax/sigmoid removed, the loss still expects probabilities"),
    Operator("output_activation_added", "wrong_output_activation", lambda s: s.from_logits,
             lambda s: _r(output="softmax" if s.task == "multiclass" else "sigmoid")(s),
             "softmax/sigmoid added to a model whose loss takes logits (from_logits=True)"),
    Operator("sigmoid_output_on_regression", "wrong_output_activation", lambda s: s.task == "regression",
             _r(output="sigmoid"), "a classifier's sigmoid output on a regression"),
    Operator("mse_on_classifier", "wrong_loss", _classifier,
             lambda s: _r(loss="mse", labels="onehot" if s.task == "multiclass" else "binary")(s),
             "mean squared error on the classifier (one-hot / 0-1 targets)"),
    Operator("bce_on_multiclass", "wrong_loss", lambda s: s.task == "multiclass",
             _r(loss="binary_crossentropy", labels="onehot"),
             "binary cross-entropy on a multi-class output (one-hot targets)"),
    Operator("no_hidden_activation", "missing_hidden_activation", _has_hidden, _r(activation=None),
             "the hidden layers' activation removed"),
    Operator("zeros_init", "bad_initialization", lambda s: True,
             _r(kernel_init=("Zeros", {}), output_init=("Zeros", {})), "every kernel initialized to zeros"),
    Operator("off_centre_init", "bad_initialization", _has_hidden,
             _r(kernel_init=("RandomNormal", {"mean": 1.0, "stddev": 0.05})),
             "hidden kernels initialized around 1 (RandomNormal(mean=1, stddev=0.05))"),
    Operator("negative_bias_init", "dying_relu", lambda s: _has_hidden(s) and s.activation == "relu",
             _r(bias_init=("Constant", {"value": -10.0})), "relu layers' biases initialized to -10"),
    Operator("deep_sigmoid_stack", "vanishing_gradient", lambda s: bool(s.hidden),
             lambda s: _r(hidden=(max(s.hidden),) * 10, activation="sigmoid", batchnorm=False)(s),
             "the hidden layers replaced by ten sigmoid layers of the widest width"),
    Operator("large_init_deep_relu", "exploding_gradient", lambda s: bool(s.hidden) and s.activation == "relu",
             lambda s: _r(hidden=(max(s.hidden),) * 6, batchnorm=False,
                          kernel_init=("RandomNormal", {"mean": 0.0, "stddev": 1.0}))(s),
             "six relu layers with kernels of standard deviation 1 (no normalization)"),
    Operator("large_init_saturating", "saturated_activation",
             lambda s: _has_hidden(s) and s.activation in ("tanh", "sigmoid"),
             _r(kernel_init=("RandomNormal", {"mean": 0.0, "stddev": 5.0})),
             "tanh/sigmoid layers' kernels of standard deviation 5"),
    Operator("adam_epsilon_zero", "numerical_instability", lambda s: s.optimizer == "adam", _r(epsilon=0.0),
             "Adam with epsilon=0 (0/0 where a gradient is zero)"),
    Operator("one_hot_into_sparse_loss", "wrong_label_encoding",
             lambda s: s.loss == "sparse_categorical_crossentropy", _r(labels="onehot"),
             "one-hot labels given to sparse_categorical_crossentropy"),
    Operator("ids_into_categorical_loss", "wrong_label_encoding", lambda s: s.loss == "categorical_crossentropy",
             _r(labels="sparse"), "integer class ids given to categorical_crossentropy"),
    Operator("one_based_labels", "wrong_label_encoding", lambda s: s.labels == "sparse", _r(labels="one_based"),
             "class ids 1..K instead of 0..K-1"),
    Operator("plus_minus_one_labels", "wrong_label_encoding", lambda s: s.labels == "binary",
             _r(labels="plus_minus_one"), "binary labels -1/+1 under binary_crossentropy"),
    Operator("minority_classes_5pc", "class_imbalance", _classifier, _r(minority_keep=0.05),
             "the upper half of the classes subsampled to 5% of their rows"),
    Operator("epochs_div10", "too_few_epochs", lambda s: s.epochs >= 20,
             lambda s: _r(epochs=max(2, s.epochs // 10))(s), "a tenth of the epochs"),
    Operator("small_data_big_model", "overfitting", lambda s: bool(s.hidden),
             _overfit, "a tenth of the rows (at least 40), Dense(256) x 2, three times the epochs, validation"),
    Operator("validation_split_sorted_rows", "data_pipeline", _classifier,
             lambda s: _r(rows="by_label", validation_split=s.validation_split or 0.2)(s),
             "rows sorted by label before fit's validation_split (which takes the last rows)"),
    Operator("labels_shuffled_apart", "data_pipeline", lambda s: True, _r(rows="labels_shuffled"),
             "the labels shuffled separately from the inputs"),
    Operator("float16_policy", "dtype_precision", lambda s: True, _r(policy="float16"),
             "the model in float16 (variables and compute; no loss scaling)"),
    Operator("lr_keyword", "api_misuse", lambda s: True, _r(lr_keyword="lr"),
             "the optimizer's rate passed as lr= (Keras 2) instead of learning_rate="),
    Operator("predict_in_training_mode", "api_misuse", _stateful, _r(predict="call_training"),
             "predictions made with model(x, training=True)"),
    Operator("custom_loop_without_training", "api_misuse", lambda s: s.loop == "custom" and _stateful(s),
             _r(loop_training=False), "the custom loop calls model(x) without training=True"),
    Operator("batchnorm_torch_momentum", "api_misuse", lambda s: s.batchnorm, _r(bn_momentum=0.1),
             "BatchNormalization(momentum=0.1), PyTorch's meaning"),
)


# ---------------------------------------------------------------- running under the doctor
def observe(spec, sample_every=50):
    """Runs `spec` under a doctor Session, as `pitfall doctor` does: a dict with its score, history,
    error (an exception's text) and findings (the exception's own finding last, as the command)."""
    start = time.perf_counter()
    score, history, error, error_finding = float("nan"), {}, None, None
    session = pf_doctor.Session(sample_every=sample_every)
    try:
        with session:
            score, history = run_program(spec)
    except Exception as exc:  # noqa: BLE001  (a mutant's failure is a result)
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"[:300]
        error_finding = pf_doctor.classify_error(exc)
    findings = ([error_finding] if error_finding is not None else []) + session.findings  # as `pitfall doctor`
    return {"score": score, "history": history, "error": error, "seconds": time.perf_counter() - start,
            "findings": [_finding_dict(f) for f in findings]}


def _finding_dict(f):
    return {"id": f.id, "category": f.category, "severity": f.severity, "title": f.title,
            "evidence": json.loads(json.dumps(f.evidence, default=str)), "layer": f.layer}


def diagnosis(findings):
    """The doctor's leading finding's category: the first warning/error (findings come ordered, root
    causes first); when there is none, the first information finding (P41's "still falling when
    training stopped" is information by design); 'none' when nothing was found."""
    leading = next((f for f in findings if f["severity"] in SERIOUS), findings[0] if findings else None)
    return leading["category"] if leading is not None else "none"


def effective(result, floor):
    """A real fault: the run raised, its loss went non-finite, or it scores EFFECT_MARGIN below `floor`,
    the unmutated program's lowest score over SEEDS seeds."""
    if result["error"] is not None:
        return True, "raised"
    if any(not math.isfinite(v) for v in result["history"].get("loss", [])) or not math.isfinite(result["score"]):
        return True, "non-finite"
    if result["score"] < floor - EFFECT_MARGIN:
        return True, "score drop"
    return False, "no effect"


def mutants(programs=PROGRAMS, operators=OPERATORS):
    for spec in programs:
        for op in operators:
            if op.applies(spec):
                mutated = op.mutate(spec)
                if mutated != spec:
                    yield spec, op, mutated


def evaluate(programs=PROGRAMS, operators=OPERATORS, log=None):
    started = time.perf_counter()
    originals = {}
    for spec in programs:
        result = observe(spec)
        result["false_alarms"] = [f for f in result["findings"] if f["severity"] in SERIOUS]
        result["seed_scores"] = [result["score"]] + [run_program(dataclasses.replace(spec, seed=seed))[0]
                                                     for seed in range(1, SEEDS)]
        originals[spec.name] = result
        if log:
            log(f"{spec.name}: score {result['score']:.3f} (seeds: {min(result['seed_scores']):.3f} to "
                f"{max(result['seed_scores']):.3f}), {len(result['false_alarms'])} false alarm(s), "
                f"{result['seconds']:.1f} s")
    rows = []
    for spec, op, mutated in mutants(programs, operators):
        result = observe(mutated)
        real, why = effective(result, min(originals[spec.name]["seed_scores"]))
        found = diagnosis(result["findings"])
        loose = any(f["category"] == op.category for f in result["findings"])
        rows.append({"program": spec.name, "operator": op.name, "truth": op.category, "effective": real,
                     "effect": why, "diagnosed": found, "right": found == op.category, "loosely_right": loose,
                     **result})
        if log:
            log(f"  {spec.name} / {op.name}: {why}, score {result['score']:.3f}; truth {op.category}, "
                f"doctor {found}{'' if found == op.category else '  <-- MISS'}")
    return summarize(originals, rows, time.perf_counter() - started)


def summarize(originals, rows, seconds):
    counted = [r for r in rows if r["effective"]]
    truths = [c for c in pf_doctor.CATEGORIES if any(r["truth"] == c for r in counted)]
    columns = [c for c in pf_doctor.CATEGORIES if any(r["diagnosed"] == c for r in counted)] + ["none"]
    matrix = {t: {c: sum(1 for r in counted if r["truth"] == t and r["diagnosed"] == c) for c in columns}
              for t in truths}
    recall = {t: sum(1 for r in counted if r["truth"] == t and r["right"]) / sum(matrix[t].values()) for t in truths}
    right = sum(r["right"] for r in counted)
    loose = sum(r["loosely_right"] for r in counted)
    alarms = {name: o["false_alarms"] for name, o in originals.items() if o["false_alarms"]}
    return {
        "programs": {name: {k: o[k] for k in ("score", "seed_scores", "seconds", "history", "findings",
                                                       "false_alarms", "error")}
                     for name, o in originals.items()},
        "mutants": rows,
        "summary": {"mutants": len(rows), "effective": len(counted), "not_effective": len(rows) - len(counted),
                    "right": right, "rate": right / len(counted) if counted else float("nan"),
                    "loosely_right": loose, "loose_rate": loose / len(counted) if counted else float("nan"),
                    "false_alarms": sum(len(v) for v in alarms.values()), "programs_with_false_alarms": len(alarms),
                    "programs": len(originals), "matrix": matrix, "columns": columns, "recall": recall,
                    "seconds": seconds, "seeds": SEEDS, "effect_margin": EFFECT_MARGIN, "commit": _commit()},
    }


def _commit():
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=os.path.dirname(os.path.abspath(__file__))).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


# ---------------------------------------------------------------- the report
_SHORT = {"learning_rate_too_high": "lr_high", "learning_rate_too_low": "lr_low", "unnormalized_input": "unnorm",
          "wrong_output_activation": "out_act", "wrong_loss": "loss", "missing_hidden_activation": "no_act",
          "bad_initialization": "init", "dying_relu": "dead", "vanishing_gradient": "vanish",
          "exploding_gradient": "explode", "saturated_activation": "satur", "numerical_instability": "numeric",
          "wrong_label_encoding": "labels", "class_imbalance": "imbal", "too_few_epochs": "epochs",
          "overfitting": "overfit", "data_pipeline": "pipeline", "dtype_precision": "dtype", "api_misuse": "api",
          "none": "none"}


def markdown(result):
    s = result["summary"]
    columns = s["columns"]
    lines = [f"Mutants: {s['mutants']} ({s['effective']} effective, {s['not_effective']} not effective and left "
             f"out); programs: {s['programs']}; {s['seconds']:.0f} s; commit {s['commit']}.", "",
             f"**Diagnosed right (the leading finding): {s['right']}/{s['effective']} = {s['rate']:.1%}**; "
             f"any finding with the right category: {s['loosely_right']}/{s['effective']} = "
             f"{s['loose_rate']:.1%}. False alarms on the {s['programs']} unmutated programs: {s['false_alarms']} "
             f"(in {s['programs_with_false_alarms']} program(s)).", "",
             "| truth \\ leading finding | " + " | ".join(_SHORT[c] for c in columns) + " | recall |",
             "|---|" + "---:|" * (len(columns) + 1)]
    for truth, row in s["matrix"].items():
        cells = [(f"**{row[c]}**" if c == truth else str(row[c])) if row[c] else "." for c in columns]
        n = sum(row.values())
        lines.append(f"| {truth} | " + " | ".join(cells) + f" | {s['recall'][truth]:.0%} ({row.get(truth, 0)}/{n}) |")
    lines += ["", "Columns: " + ", ".join(f"{_SHORT[c]} = {c}" for c in columns) + ".", ""]
    lines += [f"| program | held-out score (seed 0; lowest of {s['seeds']} seeds) | seconds | warning/error findings |",
              "|---|---:|---:|---|"]
    for name, p in result["programs"].items():
        alarms = "; ".join(f"{f['id']} {f['category']} ({f['severity']})" for f in p["false_alarms"]) or "none"
        lines.append(f"| {name} | {p['score']:.3f} ({min(p['seed_scores']):.3f}) | {p['seconds']:.1f} | {alarms} |")
    lines += ["", "| operator | truth | mutants | effective | right |", "|---|---|---:|---:|---:|"]
    for op in OPERATORS:
        rows = [r for r in result["mutants"] if r["operator"] == op.name]
        if rows:
            lines.append(f"| {op.name} | {op.category} | {len(rows)} | {sum(r['effective'] for r in rows)} | "
                         f"{sum(r['right'] for r in rows if r['effective'])} |")
    return "\n".join(lines)


def write_json(path, result):
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=1, default=str, allow_nan=True)
        f.write("\n")
    os.replace(tmp, path)


def _select(items, names, what):
    if not names:
        return tuple(items)
    wanted = names.split(",")
    unknown = sorted(set(wanted) - {i.name for i in items})
    if unknown:
        raise SystemExit(f"doctor_eval: unknown {what}: {', '.join(unknown)}")
    return tuple(i for i in items if i.name in wanted)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the full result (every run's findings) to this file")
    parser.add_argument("--programs", help="comma-separated program names (default: all)")
    parser.add_argument("--operators", help="comma-separated operator names (default: all)")
    parser.add_argument("--quiet", action="store_true", help="print only the tables")
    args = parser.parse_args(argv)
    log = None if args.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    result = evaluate(_select(PROGRAMS, args.programs, "programs"), _select(OPERATORS, args.operators, "operators"),
                      log=log)
    print(markdown(result))
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
