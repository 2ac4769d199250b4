"""P38 Dense layers stacked without an activation (one linear map)

Symptom: A three-layer network (2 -> 32 -> 32 -> 1) on the XOR problem (the label is 1 when the two
inputs have the same sign) trains without an error, but its accuracy stays near chance (50%) however
long it trains, while the same network with relu reaches ~98%. Adding layers or units changes nothing.
Cause: Dense(32) without activation= is linear: h = x W1 + b1. Stacking linear layers gives another
linear map, x W1 W2 W3 + ((b1 W2 + b2) W3 + b3): the whole network computes exactly what one
Dense(1) computes, and the product of the kernels reproduces its outputs to float32 rounding. Its
decision boundary is one straight line, and no line separates XOR: the best line classifies about
2/3 of the points (cutting off one corner), which caps the network's accuracy; on data this symmetric
the cross-entropy's best line is close to chance.
Fix: Give every hidden layer a non-linearity, activation="relu" (keep the last layer linear with
from_logits=True). The product of the kernels then no longer describes the model, and the boundary
can bend around the quadrants.
Keras:
    model = keras.Sequential([layers.Dense(32), layers.Dense(32), layers.Dense(1)])   # no activation
    model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(32, activation="relu"),
                              layers.Dense(1)])
Source: Goodfellow, Bengio & Courville, "Deep Learning" section 6.1 (learning XOR: a linear model
cannot; one hidden layer with a rectifier can); UMLAUT's and NeuraLint's "no activation between
layers" rules.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, TEST, UNITS, EPOCHS, BATCH, ANGLES = 1000, 1000, 32, 30, 32, 3600


def xor(seed, n):
    """Points uniform in [-1, 1]^2, label 1 when x1 and x2 have the same sign."""
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, size=(n, 2)).astype(np.float32)
    return x, (x[:, 0] * x[:, 1] > 0).astype(np.float32).reshape(-1, 1)


def best_line_accuracy(x, y):
    """The accuracy of the best straight-line classifier on (x, y): every direction on a grid of
    ANGLES, every threshold between two projections, either side labelled 1 (NumPy)."""
    labels = y.reshape(-1).astype(np.float64)
    best = 0.0
    for angle in np.arange(ANGLES) * (math.pi / ANGLES):
        order = np.argsort(x.astype(np.float64) @ np.array([math.cos(angle), math.sin(angle)]), kind="stable")
        ones_below = np.concatenate([[0.0], np.cumsum(labels[order])])  # label-1 points below each cut
        below = np.arange(len(labels) + 1)
        # Predict 1 above the cut: correct = zeros below + ones above; the opposite labelling is 1 - that.
        correct = (below - ones_below) + (labels.sum() - ones_below)
        best = max(best, float(np.max(correct)) / len(labels), float(np.max(len(labels) - correct)) / len(labels))
    return best


def collapsed_deviation(model, x):
    """The largest |model(x) - (x W + b)| with W, b the product of the kernels and the carried biases:
    zero (up to rounding) exactly when the network is one linear map."""
    weights = [np.asarray(w, dtype=np.float64) for w in model.get_weights()]
    kernel, bias = np.eye(x.shape[1]), np.zeros(x.shape[1])
    for w, b in zip(weights[0::2], weights[1::2]):
        kernel, bias = kernel @ w, bias @ w + b
    linear = x.astype(np.float64) @ kernel + bias
    outputs = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    return float(np.max(np.abs(outputs - linear))), float(np.max(np.abs(outputs)))


def train(seed, activation):
    x, y = xor(seed, SAMPLES)
    x_test, y_test = xor(seed + 1, TEST)
    model = pf.Sequential([pf.Input((2,)), pf.layers.Dense(UNITS, activation=activation, name="hidden_1"),
                           pf.layers.Dense(UNITS, activation=activation, name="hidden_2"),
                           pf.layers.Dense(1, name="logit")])
    model.compile(optimizer=pf.optimizers.Adam(0.01), loss=pf.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[pf.metrics.BinaryAccuracy(threshold=0.0)])
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    deviation, scale = collapsed_deviation(model, x_test)
    _, test_accuracy = model.evaluate(x_test, y_test, verbose=0)
    return Run(setup=f"Dense({UNITS}, {activation or 'no activation'}) x 2 -> Dense(1), Adam 0.01, {EPOCHS} epochs",
               curves={"loss": curve_from_history(history), "accuracy": curve_from_history(history, "binary_accuracy")},
               values={"test accuracy": float(test_accuracy),
                       "best straight line's accuracy on the test set": best_line_accuracy(x_test, y_test),
                       "max |model - product of kernels| on the test set": deviation,
                       "max |model output| on the test set": scale})


def broken(seed):
    return train(seed, None)


def fixed(seed):
    return train(seed, "relu")


def signature(broken, fixed):
    deviation, line = "max |model - product of kernels| on the test set", "best straight line's accuracy on the test set"
    b, f = broken.values, fixed.values
    return [
        check("broken", "the product of the kernels reproduces the model (max deviation < 1e-4 x max output)",
              b[deviation], b[deviation] < 1e-4 * b["max |model output| on the test set"]),
        check("broken", "test accuracy no better than the best straight line's (+0.01)", b["test accuracy"],
              b["test accuracy"] <= b[line] + 0.01),
        check("broken", "and that line is far from solving XOR (< 0.75)", b[line], b[line] < 0.75),
        check("fixed", "the product of the kernels no longer describes the model (deviation > 0.1 x max output)",
              f[deviation], f[deviation] > 0.1 * f["max |model output| on the test set"]),
        check("fixed", "test accuracy > 0.95, above any straight line", f["test accuracy"],
              f["test accuracy"] > max(0.95, f[line])),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
