"""P12 Learning rate too high or too low

Symptom: with a large learning rate the loss jumps up within a few steps and becomes inf or nan; with a
tiny one the loss curve is a flat line that looks like "the model cannot learn this data". Both look
like a bug in the model; the data and the architecture are fine.
Cause: plain SGD moves each weight by lr x gradient. With lr = 10 on a Dense network over pixels in
[0, 1] the first steps overshoot the minimum by orders of magnitude, the logits grow, and within a few
steps they overflow float32 (the loss becomes inf, then nan). With lr = 1e-7 a step is ~1e-7 x a
gradient of order 1, so an epoch of 20 steps changes the loss by less than 1e-4: training would need
millions of epochs.
Fix: start from a learning rate known to work for the optimizer (SGD ~1e-2 to 1e-1, Adam 1e-3), watch
the first epochs, and change it by factors of 10. Here SGD with lr = 1e-2 lowers the loss steadily.
Keras:
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=10), ...)     # loss: nan
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1e-7), ...)   # loss never moves
Source: the most common answer to "my loss is nan" and "my loss does not decrease" in Keras forums;
pitfalls.md P12.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

EPOCHS, BATCH, SAMPLES = 5, 32, 1024


def data(seed, n=SAMPLES, features=20):
    """A smooth regression target of 20 standardized features (variance of y about 1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, 1)) / np.sqrt(features)
    y = (np.tanh(x @ w) + 0.5 * (x @ w) + 0.1 * rng.normal(size=(n, 1))).astype(np.float32)
    return x, y


def train(seed, learning_rate):
    """The training loss at every step, and the full-data loss before training and after every epoch
    (model.evaluate, so it does not depend on the batch)."""
    x, y = data(seed)
    pf.utils.set_random_seed(seed)  # the same initial weights for every learning rate
    model = pf.Sequential([pf.Input((x.shape[1],)), pf.layers.Dense(64, activation="tanh"), pf.layers.Dense(1)])
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=learning_rate), loss="mse")
    step_losses, epoch_losses = [], [float(model.evaluate(x, y, verbose=0))]
    for _ in range(EPOCHS):
        for start in range(0, SAMPLES, BATCH):
            model.reset_metrics()  # train_on_batch reports a running mean (Keras 3) until reset
            loss = model.train_on_batch(x[start:start + BATCH], y[start:start + BATCH])
            step_losses.append(float(np.asarray(loss).ravel()[0]))
        epoch_losses.append(float(model.evaluate(x, y, verbose=0)))
    return step_losses, epoch_losses


def log10(values):
    """log10 of each loss (inf and nan stay as they are), so that growth by powers of ten is visible."""
    return [math.log10(v) if math.isfinite(v) and v > 0 else v for v in values]


def first_non_finite(values):
    return next((i + 1 for i, v in enumerate(values) if not math.isfinite(v)), 0)


def broken(seed):
    high_steps, high_epochs = train(seed, 10.0)
    low_steps, low_epochs = train(seed, 1e-7)
    changes = [abs(b - a) for a, b in zip(low_epochs, low_epochs[1:])]
    return Run(setup="SGD learning_rate=10 (too high) and 1e-7 (too low)", x_label="step",
               curves={"log10 loss, lr 10 vs 1e-2": log10(high_steps), "loss, lr 1e-7 vs 1e-2": low_steps},
               values={"lr 10: first step with a non-finite loss": first_non_finite(high_steps),
                       "lr 10: loss at step 1": high_steps[0],
                       "lr 10: last finite loss": [v for v in high_steps if math.isfinite(v)][-1],
                       "lr 1e-7: loss before training": low_epochs[0],
                       "lr 1e-7: loss after 5 epochs": low_epochs[-1],
                       "lr 1e-7: largest loss change in one epoch": max(changes)})


def fixed(seed):
    steps, epochs = train(seed, 1e-2)
    return Run(setup="SGD learning_rate=1e-2", x_label="step",
               curves={"log10 loss, lr 10 vs 1e-2": log10(steps), "loss, lr 1e-7 vs 1e-2": steps},
               values={"lr 1e-2: loss before training": epochs[0], "lr 1e-2: loss after 5 epochs": epochs[-1],
                       "lr 1e-2: every epoch lowers the loss": all(b < a for a, b in zip(epochs, epochs[1:]))})


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    return [
        check("broken", "lr 10: the loss is non-finite within 10 steps", b["lr 10: first step with a non-finite loss"],
              0 < b["lr 10: first step with a non-finite loss"] <= 10),
        check("broken", "lr 1e-7: no epoch changes the full-data loss by 1e-4 or more",
              b["lr 1e-7: largest loss change in one epoch"], b["lr 1e-7: largest loss change in one epoch"] < 1e-4),
        check("broken", "lr 1e-7: after 5 epochs the loss is within 0.1% of where it started",
              b["lr 1e-7: loss after 5 epochs"] / b["lr 1e-7: loss before training"],
              abs(b["lr 1e-7: loss after 5 epochs"] / b["lr 1e-7: loss before training"] - 1) < 1e-3),
        check("fixed", "lr 1e-2: every epoch lowers the full-data loss", f["lr 1e-2: every epoch lowers the loss"],
              f["lr 1e-2: every epoch lowers the loss"] is True),
        check("fixed", "lr 1e-2: the loss falls to less than half its initial value in 5 epochs",
              f["lr 1e-2: loss after 5 epochs"] / f["lr 1e-2: loss before training"],
              f["lr 1e-2: loss after 5 epochs"] < 0.5 * f["lr 1e-2: loss before training"]),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
