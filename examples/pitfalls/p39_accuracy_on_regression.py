"""P39 metrics=["accuracy"] on a regression target

Symptom: A regression model (mean squared error, one real-valued output) logs accuracy 0.0000 in
every epoch while its loss falls steadily; it looks as if the model learns nothing, or as if the
loss and the metric disagree.
Cause: "accuracy" is a classification metric. compile() resolves the string from the loss and the
output shape: on a one-unit output it becomes BinaryAccuracy, which counts the rows where y_true
equals (y_pred > 0.5) as 0 or 1 (a several-unit output gets CategoricalAccuracy, an argmax match).
A real-valued target is (almost) never exactly 0 or 1, so no row can count, however good the
predictions are: the fraction of targets that are exactly 0 or 1 bounds the metric, and here it is
0. The metric measures nothing about a regression.
Fix: Use a regression metric: metrics=["mae"] (mean absolute error, in the target's units) or
RootMeanSquaredError(). Here the MAE falls to a small fraction of the error of always predicting
the mean.
Keras:
    model.compile(optimizer="adam", loss="mse", metrics=["accuracy"])   # accuracy: 0.0000
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
Source: the Keras documentation of compile(metrics=...) (the 'accuracy' string is converted to
binary, categorical or sparse categorical accuracy from the loss and the output shape); the common
question "why is my regression accuracy 0" on Stack Overflow and the Keras issue tracker.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, FEATURES, EPOCHS, BATCH = 1024, 8, 20, 32


def data(seed):
    """A smooth real-valued target of 8 standardized features (a price, a temperature...)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    w = rng.normal(size=(FEATURES, 1)) / np.sqrt(FEATURES)
    y = (2.0 * np.tanh(x @ w) + x @ w + 0.1 * rng.normal(size=(SAMPLES, 1))).astype(np.float32)
    return x, y


def train(seed, metric):
    x, y = data(seed)
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(32, activation="relu"), pf.layers.Dense(1)])
    model.compile(optimizer=pf.optimizers.Adam(0.01), loss="mse", metrics=[metric])
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    predictions = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    targets = y.astype(np.float64)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    return Run(setup=f"Dense(32, relu) -> Dense(1), loss mse, metrics=[{metric!r}], {EPOCHS} epochs",
               curves={"loss": curve_from_history(history), metric: curve_from_history(history, metric)},
               values={"first epoch loss": history.history["loss"][0], "last epoch loss": history.history["loss"][-1],
                       f"{metric} per epoch, largest": max(history.history[metric]),
                       f"{metric} after training (evaluate)": logs[metric],
                       "targets exactly 0 or 1 (fraction)": float(np.mean((targets == 0.0) | (targets == 1.0))),
                       "binary accuracy recomputed (NumPy)": float(np.mean(targets == (predictions > 0.5))),
                       "mean absolute error recomputed (NumPy)": float(np.mean(np.abs(targets - predictions))),
                       "mean absolute error of predicting the mean": float(np.mean(np.abs(targets - targets.mean())))})


def broken(seed):
    return train(seed, "accuracy")


def fixed(seed):
    return train(seed, "mae")


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    return [
        check("broken", "the loss falls by more than half", b["last epoch loss"] / b["first epoch loss"],
              b["last epoch loss"] < 0.5 * b["first epoch loss"]),
        check("broken", "while accuracy is 0 in every epoch (no target is exactly 0 or 1)",
              b["accuracy per epoch, largest"],
              b["accuracy per epoch, largest"] <= b["targets exactly 0 or 1 (fraction)"] == 0.0),
        check("broken", "the logged accuracy is y_true == (y_pred > 0.5), recomputed in NumPy",
              b["accuracy after training (evaluate)"],
              abs(b["accuracy after training (evaluate)"] - b["binary accuracy recomputed (NumPy)"]) < 1e-6),
        check("fixed", "mae after training equals mean |y - y_pred| recomputed in NumPy",
              f["mae after training (evaluate)"],
              abs(f["mae after training (evaluate)"] - f["mean absolute error recomputed (NumPy)"])
              < 1e-4 * f["mean absolute error recomputed (NumPy)"]),
        check("fixed", "mae < 1/4 of the error of always predicting the mean",
              f["mae after training (evaluate)"] / f["mean absolute error of predicting the mean"],
              f["mae after training (evaluate)"] < 0.25 * f["mean absolute error of predicting the mean"]),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
