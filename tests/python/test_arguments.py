"""Constructor arguments as data (core/arguments.h): one test over every registered class.

For each class with an argument table: Python keywords -> object -> get_config -> from_config gives
an identical config; inspect.signature and help show the table; every declared default, name and
order is Keras 3's (tests/reference/keras3_defaults.json, read from keras/src at the commit it
names). A registered class without a case here fails, so a new class must add one.
"""
import inspect
import json
import pathlib

import numpy as np
import pytest

import pitfall as pf
from pitfall import _pitfall as _C

REFERENCE = json.loads((pathlib.Path(__file__).resolve().parents[1] / "reference" / "keras3_defaults.json").read_text())

# family -> where its Python classes live, and how a config rebuilds an object.
FAMILIES = {
    "layers": pf.layers,
    "optimizers": pf.optimizers,
    "losses": pf.losses,
    "metrics": pf.metrics,
    "initializers": pf.initializers,
    "regularizers": pf.regularizers,
    "callbacks": pf.callbacks,
    "schedules": pf.optimizers.schedules,
}

# "family/Class" -> keywords that build one (required arguments and a few non-defaults, so that the
# round trip carries real values).
CASES = {
    "layers/InputLayer": dict(shape=(4,), dtype="int32", name="ids"),
    "layers/Dense": dict(units=3, activation="relu", use_bias=False, kernel_initializer="he_normal"),
    "layers/Activation": dict(activation="tanh"),
    "layers/Dropout": dict(rate=0.25, noise_shape=(None, 1), seed=3),
    "layers/Flatten": dict(),
    "layers/Reshape": dict(target_shape=(2, -1)),
    "layers/Add": dict(),
    "layers/Subtract": dict(),
    "layers/Multiply": dict(),
    "layers/Average": dict(),
    "layers/Maximum": dict(),
    "layers/Minimum": dict(),
    "layers/Dot": dict(axes=(1, 2), normalize=True),
    "layers/Concatenate": dict(axis=1),
    "layers/Embedding": dict(input_dim=10, output_dim=4, embeddings_regularizer="l2"),
    "layers/BatchNormalization": dict(momentum=0.9, epsilon=1e-5, center=False),
    "layers/LayerNormalization": dict(axis=[1, 2], epsilon=1e-6),
    "layers/Conv2D": dict(filters=8, kernel_size=3, strides=(2, 1), padding="same"),
    "layers/MaxPooling2D": dict(pool_size=3, padding="same"),
    "layers/AveragePooling2D": dict(pool_size=(2, 3)),
    "layers/GlobalAveragePooling2D": dict(keepdims=True),
    "layers/SimpleRNN": dict(units=4, return_sequences=True, dropout=0.1),
    "layers/LSTM": dict(units=5, recurrent_activation="hard_sigmoid", unit_forget_bias=False),
    "layers/LeakyReLU": dict(negative_slope=0.1),
    "layers/PReLU": dict(alpha_initializer="ones", shared_axes=[1, 2]),
    "layers/ReLU": dict(max_value=6.0, negative_slope=0.1, threshold=0.5),
    "layers/Softmax": dict(axis=[1, 2]),
    "layers/ELU": dict(alpha=0.5),
    "layers/UpSampling1D": dict(size=3),
    "layers/UpSampling2D": dict(size=(2, 3), data_format="channels_first", interpolation="bilinear"),
    "layers/ZeroPadding1D": dict(padding=(1, 2)),
    "layers/ZeroPadding2D": dict(padding=((1, 0), (2, 3))),
    "layers/Cropping1D": dict(cropping=2),
    "layers/Cropping2D": dict(cropping=(1, 2), data_format="channels_first"),
    "layers/Permute": dict(dims=(2, 1)),
    "layers/RepeatVector": dict(n=4),
    "layers/SpatialDropout1D": dict(rate=0.2, seed=1),
    "layers/SpatialDropout2D": dict(rate=0.3, data_format="channels_first", seed=2),
    "layers/GaussianNoise": dict(stddev=0.2, seed=5),
    "layers/GaussianDropout": dict(rate=0.4),
    "layers/ActivityRegularization": dict(l1=0.01, l2=0.001),
    "layers/UnitNormalization": dict(axis=[1, 2]),
    "layers/Rescaling": dict(scale=1 / 255, offset=-0.5),
    "layers/Normalization": dict(axis=None, mean=2.0, variance=4.0, invert=True),
    "layers/CategoryEncoding": dict(num_tokens=7, output_mode="count"),
    "layers/GRU": dict(units=4, reset_after=False, return_sequences=True, recurrent_dropout=0.1),
    "layers/Conv1D": dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2, groups=2),
    "layers/Conv2DTranspose": dict(filters=3, kernel_size=3, strides=2, output_padding=1),
    "layers/DepthwiseConv2D": dict(kernel_size=3, depth_multiplier=2, padding="same"),
    "layers/SeparableConv2D": dict(filters=4, kernel_size=(3, 2), depth_multiplier=2),
    "layers/MaxPooling1D": dict(pool_size=3, strides=1, padding="same"),
    "layers/AveragePooling1D": dict(pool_size=2),
    "layers/GlobalMaxPooling1D": dict(keepdims=True),
    "layers/GlobalAveragePooling1D": dict(),
    "layers/GlobalMaxPooling2D": dict(keepdims=True),
    "layers/Masking": dict(mask_value=-1.0),
    "layers/Bidirectional": lambda: dict(layer=pf.layers.LSTM(3, return_sequences=True), merge_mode="sum"),
    "layers/TimeDistributed": lambda: dict(layer=pf.layers.Dense(2)),
    "optimizers/SGD": dict(learning_rate=0.1, momentum=0.9, nesterov=True),
    "optimizers/Adam": dict(learning_rate=3e-4, epsilon=1e-8, clipnorm=1.0),
    "optimizers/AdamW": dict(weight_decay=0.01, convention="torch"),
    "optimizers/RMSprop": dict(rho=0.99, centered=True),
    "optimizers/Adagrad": dict(initial_accumulator_value=0.0),
    "optimizers/Adadelta": dict(learning_rate=1.0),
    "optimizers/Adamax": dict(beta_2=0.99),
    "optimizers/Nadam": dict(gradient_accumulation_steps=4),
    "optimizers/LossScaleOptimizer": lambda: dict(inner_optimizer=pf.optimizers.SGD(0.1), initial_scale=1024.0),
    "losses/MeanSquaredError": dict(name="mse_loss"),
    "losses/MeanAbsoluteError": dict(),
    "losses/Huber": dict(delta=2.0),
    "losses/BinaryCrossentropy": dict(from_logits=True, label_smoothing=0.1),
    "losses/CategoricalCrossentropy": dict(label_smoothing=0.2, axis=-1),
    "losses/SparseCategoricalCrossentropy": dict(from_logits=True),
    "metrics/Accuracy": dict(),
    "metrics/BinaryAccuracy": dict(threshold=0.7),
    "metrics/CategoricalAccuracy": dict(name="cat_acc"),
    "metrics/SparseCategoricalAccuracy": dict(),
    "metrics/TopKCategoricalAccuracy": dict(k=3),
    "metrics/MeanSquaredError": dict(),
    "metrics/MeanAbsoluteError": dict(),
    "metrics/Precision": dict(thresholds=0.4),
    "metrics/Recall": dict(),
    "metrics/AUC": dict(num_thresholds=50),
    "metrics/Mean": dict(name="running_mean"),
    "metrics/TruePositives": dict(thresholds=0.3),
    "metrics/FalsePositives": dict(name="fp"),
    "metrics/TrueNegatives": dict(),
    "metrics/FalseNegatives": dict(thresholds=0.6, name="fn"),
    "initializers/Zeros": dict(),
    "initializers/Ones": dict(),
    "initializers/Constant": dict(value=2.0),
    "initializers/RandomNormal": dict(mean=1.0, stddev=0.1, seed=3),
    "initializers/RandomUniform": dict(minval=-1.0, maxval=1.0),
    "initializers/TruncatedNormal": dict(stddev=0.2),
    "initializers/VarianceScaling": dict(scale=2.0, mode="fan_avg", distribution="uniform"),
    "initializers/Orthogonal": dict(gain=0.5),
    "initializers/GlorotUniform": dict(seed=1),
    "initializers/GlorotNormal": dict(),
    "initializers/HeUniform": dict(),
    "initializers/HeNormal": dict(seed=7),
    "initializers/LecunUniform": dict(),
    "initializers/LecunNormal": dict(),
    "initializers/TorchKernel": dict(),
    "initializers/TorchBias": dict(fan_in=16),
    "regularizers/L1": dict(l1=0.1),
    "regularizers/L2": dict(),
    "regularizers/L1L2": dict(l1=0.01, l2=0.02),
    "schedules/ExponentialDecay": dict(initial_learning_rate=0.1, decay_steps=100, decay_rate=0.96, staircase=True),
    "schedules/PiecewiseConstantDecay": dict(boundaries=[10, 20], values=[0.3, 0.2, 0.1], name="steps"),
    "schedules/PolynomialDecay": dict(initial_learning_rate=0.1, decay_steps=50, power=0.5, cycle=True),
    "schedules/InverseTimeDecay": dict(initial_learning_rate=0.5, decay_steps=3, decay_rate=0.5),
    "schedules/CosineDecay": dict(initial_learning_rate=0.0, decay_steps=50, warmup_target=0.2, warmup_steps=5),
    "schedules/CosineDecayRestarts": dict(initial_learning_rate=0.3, first_decay_steps=5, m_mul=0.9),
    "callbacks/EarlyStopping": dict(monitor="val_accuracy", patience=3, baseline=0.5, restore_best_weights=True),
    "callbacks/ReduceLROnPlateau": dict(factor=0.5, patience=2, min_lr=1e-5),
    "callbacks/LearningRateScheduler": lambda: dict(schedule=_halving, verbose=1),
    "callbacks/TerminateOnNaN": dict(raise_error=True),
    "callbacks/CheckNumerics": dict(raise_error=False),
    "callbacks/CSVLogger": dict(filename="log.csv", separator=";", append=True),
    "callbacks/LambdaCallback": lambda: dict(on_epoch_end=_epoch_hook, on_batch_end=_batch_hook),
    "callbacks/ModelCheckpoint": dict(filepath="ckpt-{epoch:02d}.pitfall", save_best_only=True, save_freq=10,
                                      initial_value_threshold=1.5),
}


def _halving(epoch, lr):
    return lr / 2


def _epoch_hook(epoch, logs):
    pass


def _batch_hook(batch, logs):
    pass


def keywords(name):
    case = CASES[name]
    return case() if callable(case) else dict(case)


def tables():
    return [t for t in _C.argument_tables() if t["family"] in FAMILIES]


def key(t):
    return f"{t['family']}/{t['class_name']}"


def python_class(t):
    return getattr(FAMILIES[t["family"]], t["class_name"])


def test_every_registered_class_has_a_case():
    missing = [key(t) for t in tables() if key(t) not in CASES]
    assert not missing, f"classes without a case in tests/python/test_arguments.py: {missing}"
    known = {key(t) for t in tables()}
    assert not [k for k in CASES if k not in known], "cases for classes that are not registered"
    assert len(known) >= 17


@pytest.mark.parametrize("name", sorted(CASES))
def test_keywords_to_object_to_config_and_back(name):
    t = next(t for t in tables() if key(t) == name)
    cls = python_class(t)
    obj = cls(**keywords(name))
    config = obj.get_config()
    # get_config shows every argument, resolved: each table argument is there.
    for a in t["arguments"]:
        if t["class_name"] != "InputLayer" and a["supported"]:
            assert a["name"] in config, f"{name}: get_config() lacks '{a['name']}'"
    again = cls.from_config(config)
    assert type(again) is type(obj)
    assert again.get_config() == config


@pytest.mark.parametrize("name", sorted(CASES))
def test_signature_and_help_come_from_the_table(name):
    t = next(t for t in tables() if key(t) == name)
    cls = python_class(t)
    sig = inspect.signature(cls)
    declared = [a["name"] for a in t["arguments"]]
    assert [p for p in sig.parameters if p != "kwargs"] == [a["name"] for a in t["arguments"] if not a["keyword_only"]] \
        + [a["name"] for a in t["arguments"] if a["keyword_only"]]
    for a in t["arguments"]:
        p = sig.parameters[a["name"]]
        assert (p.default is inspect.Parameter.empty) == a["required"]
        if not a["required"]:
            assert p.default == a["default"]
    doc = cls.__doc__
    assert t["doc"] in doc and t["source"] in doc
    for arg in declared:
        assert f"    {arg} (" in doc


def keras_reference(t):
    return REFERENCE["classes"].get(key(t))


@pytest.mark.parametrize("name", sorted(CASES))
def test_declared_arguments_are_keras_3s(name):
    t = next(t for t in tables() if key(t) == name)
    if not t["source"]:
        # pitfall's own class (PyTorch's defaults): nothing of it may claim to be Keras's.
        assert not [a["name"] for a in t["arguments"] if a["keras"]]
        return
    ref = keras_reference(t)
    assert ref is not None, f"{name} is not in tests/reference/keras3_defaults.json"
    ref_args = [a for a in ref["args"] if not a.get("varargs")]
    by_name = {a["name"]: a for a in ref_args}
    ours = [a for a in t["arguments"] if a["keras"]]
    problems = []
    for a in ours:
        r = by_name.get(a["name"])
        if r is None:
            problems.append(f"'{a['name']}' is not an argument of Keras's {t['class_name']} ({ref['source']})")
            continue
        if r.get("required"):
            if not a["required"]:
                problems.append(f"'{a['name']}' is required in Keras, pitfall defaults it to {a['default']!r}")
        elif a["required"]:
            problems.append(f"'{a['name']}' defaults to {r['default']!r} in Keras, pitfall requires it")
        elif a["default"] != r["default"] or type(a["default"]) is bool and type(r["default"]) is not bool:
            problems.append(f"'{a['name']}': Keras's default is {r['default']!r}, pitfall's {a['default']!r}")
    # The same order as Keras (positional binding depends on it), and nothing of Keras's left out
    # except what the base class takes (name, dtype, ...).
    ours_names = [a["name"] for a in ours]
    ref_names = [a["name"] for a in ref_args if a["name"] in ours_names]
    if ours_names != ref_names:
        problems.append(f"order {ours_names} differs from Keras's {ref_names}")
    left_out = [a["name"] for a in ref_args if a["name"] not in ours_names and a["name"] not in t["base_names"]]
    if left_out:
        problems.append(f"Keras arguments not declared: {left_out}")
    assert not problems, f"{name} ({ref['source']}):\n  " + "\n  ".join(problems)


def test_values_are_checked_with_the_class_the_argument_and_the_value():
    with pytest.raises(ValueError, match=r"Dense: argument 'units' must be a positive integer, got units=-3"):
        pf.layers.Dense(-3)
    with pytest.raises(ValueError, match=r"Dropout: argument 'rate' must be a number in \[0, 1\], got rate=1.5"):
        pf.layers.Dropout(1.5)
    with pytest.raises(ValueError, match=r"Conv2D: argument 'kernel_size' must be an integer or a tuple of 2 integers, "
                                         r"got \[3, 3, 3\]"):
        pf.layers.Conv2D(4, (3, 3, 3))
    with pytest.raises(ValueError, match=r"BatchNormalization: argument 'convention' must be one of 'keras', 'torch'"):
        pf.layers.BatchNormalization(convention="pytorch")
    with pytest.raises(NotImplementedError, match=r"Dense: argument 'lora_rank' is not supported"):
        pf.layers.Dense(3, lora_rank=4)
    with pytest.raises(TypeError, match=r"Dense\(\) missing required argument 'units'"):
        pf.layers.Dense()
    with pytest.raises(TypeError, match=r"Dense\(\) got an unexpected keyword argument 'unit'; did you mean 'units'"):
        pf.layers.Dense(unit=3)
    with pytest.raises(TypeError, match=r"Dense\(\) got multiple values for argument 'units'"):
        pf.layers.Dense(3, units=4)


def test_convention_defaults_come_from_the_conventions_table():
    # BatchNormalization: Keras's row in the signature, the torch row when built with convention="torch".
    sig = inspect.signature(pf.layers.BatchNormalization)
    assert sig.parameters["momentum"].default == 0.99 and sig.parameters["epsilon"].default == 1e-3
    torch_bn = pf.layers.BatchNormalization(convention="torch").get_config()
    assert torch_bn["momentum"] == 0.1 and torch_bn["epsilon"] == 1e-5
    # Dense and Conv2D read their default initializers from the table too.
    assert pf.layers.Dense(2).get_config()["kernel_initializer"]["class_name"] == "GlorotUniform"
    pf.utils.set_random_seed(0)
    torch_dense = pf.layers.Dense(200, convention="torch")
    assert torch_dense.get_config()["kernel_initializer"]["class_name"] == "TorchKernel"
    # torch.nn.Linear: kernel and bias U(+-1/sqrt(fan_in)), fan_in 100: 20000 and 200 draws reach
    # 0.9 of the bound (a draw stays below it with probability 0.95 each).
    torch_dense(pf.tensor(np.zeros((1, 100), np.float32)))
    bound = 1 / np.sqrt(100)
    kernel, bias = (np.asarray(w) for w in torch_dense.weights)
    assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.9 * bound
    assert np.abs(bias).max() <= bound and np.abs(bias).max() > 0.9 * bound
