"""P43 Saturated tanh/sigmoid units on unscaled inputs

Symptom: A small tanh network on tabular data in physical units (readings around 300 with a spread
of 30, as temperatures in kelvin or pressures are) trains without an error, but the loss hardly
moves and the accuracy stays near chance, far below what the same network reaches on standardized
inputs. Almost every hidden unit outputs exactly +1 or -1.
Cause: tanh(z) is flat for |z| > 5: tanh'(5) = 1 - tanh(5)^2 = 1.8e-4, and beyond |z| ~ 9 it
rounds to exactly 0 in float32. With inputs near 300 and Glorot weights of size ~0.3, each
pre-activation z = x.w + b is a sum of terms of size ~100: nearly all of them lie far beyond +-5,
every unit outputs +-1 whatever the input, and the slope tanh'(z) that the gradient is multiplied by
is ~0 for almost every unit and row (DeepDiagnosis's rule: more than half of the pre-activations beyond +-5 is a saturated layer). The
output layer can only combine constant +-1 features, so the model barely learns.
Fix: Standardize the inputs (x - mean) / std with statistics of the training data (or a
Normalization layer adapted on it): the pre-activations become of order 1, almost none is
saturated, the mean slope tanh'(z) rises from ~0.003 to ~0.8, and the network learns. relu
hidden units, whose derivative is 1 for every positive input, also avoid saturation.
Keras:
    model = keras.Sequential([layers.Dense(32, activation="tanh"), layers.Dense(1)])
    model.fit(x_raw, y)                                     # x around 300: every tanh unit at +-1
    norm = layers.Normalization(); norm.adapt(x_raw)
    model = keras.Sequential([norm, layers.Dense(32, activation="tanh"), layers.Dense(1)])
Source: LeCun, Bottou, Orr & Mueller 1998, "Efficient BackProp" (normalize inputs; sigmoids saturate);
DeepDiagnosis (ICSE 2022) saturated-activation rule; Glorot & Bengio 2010.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, FEATURES, UNITS, EPOCHS, BATCH, OFFSET, SPREAD, BOUND = 1000, 8, 32, 10, 32, 300.0, 30.0, 5.0


def data(seed):
    """Eight readings around OFFSET with a spread of SPREAD; the label is which side of a hyperplane
    through the mean the reading falls (learnable from standardized features at once)."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(SAMPLES, FEATURES))
    y = (z @ rng.normal(size=FEATURES) > 0).astype(np.float32).reshape(-1, 1)
    return (OFFSET + SPREAD * z).astype(np.float32), y


def saturated_share(model, x):
    """The share of the hidden layer's pre-activations x.W + b beyond +-BOUND (NumPy, all rows)."""
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in model.get_layer("hidden").get_weights())
    return float(np.mean(np.abs(x.astype(np.float64) @ kernel + bias) > BOUND))


def mean_slope(model, x):
    """The mean of tanh'(z) = 1 - tanh(z)^2 over the hidden pre-activations of all rows: the factor
    each unit passes the gradient back with (NumPy)."""
    kernel, bias = (np.asarray(w, dtype=np.float64) for w in model.get_layer("hidden").get_weights())
    return float(np.mean(1.0 - np.tanh(x.astype(np.float64) @ kernel + bias) ** 2))


def train(seed, standardize):
    x, y = data(seed)
    if standardize:
        x = ((x - x.mean(axis=0)) / x.std(axis=0)).astype(np.float32)
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(UNITS, activation="tanh", name="hidden"),
                           pf.layers.Dense(1, name="logit")])
    loss = pf.losses.BinaryCrossentropy(from_logits=True)
    model.compile(optimizer=pf.optimizers.SGD(0.05), loss=loss,
                  metrics=[pf.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
    at_start = saturated_share(model, x)
    slope = mean_slope(model, x)
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return Run(setup=f"Dense({UNITS}, tanh) -> Dense(1), SGD(0.05), inputs "
                     + ("standardized" if standardize else f"raw (~{OFFSET:g} +- {SPREAD:g})"),
               curves={"loss": curve_from_history(history), "accuracy": curve_from_history(history, "accuracy")},
               values={"pre-activations beyond +-5 at the start": at_start,
                       "pre-activations beyond +-5 after training": saturated_share(model, x),
                       "mean tanh'(z) of the hidden units at the start": slope,
                       "accuracy after training": history.history["accuracy"][-1],
                       "loss after training / loss of epoch 1": history.history["loss"][-1] / history.history["loss"][0]})


def broken(seed):
    return train(seed, False)


def fixed(seed):
    return train(seed, True)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    start, end, grad = ("pre-activations beyond +-5 at the start", "pre-activations beyond +-5 after training",
                        "mean tanh'(z) of the hidden units at the start")
    return [
        check("broken", "more than half of the pre-activations beyond +-5 at the start (DeepDiagnosis)", b[start],
              b[start] > 0.5),
        check("broken", "and still after training", b[end], b[end] > 0.5),
        check("broken", "the mean slope tanh'(z) is at most the unsaturated share (< 0.05): gradients barely pass",
              b[grad], b[grad] < min(0.05, 1 - b[start] + (1 - math.tanh(BOUND) ** 2))),
        check("fixed", "< 5% of the pre-activations beyond +-5, at the start and after training", max(f[start], f[end]),
              max(f[start], f[end]) < 0.05),
        check("fixed", "the mean slope tanh'(z) > 0.5", f[grad], f[grad] > 0.5),
        check("fixed", "accuracy after training > 0.9 and > the broken run's + 0.2", f["accuracy after training"],
              f["accuracy after training"] > max(0.9, b["accuracy after training"] + 0.2)),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
