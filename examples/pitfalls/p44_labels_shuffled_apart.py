"""P44 Inputs and labels shuffled apart

Symptom: Training runs without an error or a warning, the loss falls a little on the training data
and then stalls, and the validation loss never gets below what guessing from the class frequencies
gives (ln 4 = 1.386 for four balanced classes); validation accuracy stays at chance, 0.25, however
long the model trains or whatever the architecture.
Cause: The rows of x and y were shuffled with two different permutations (x = x[perm_a], y =
y[perm_b], or a shuffle applied to one array only, or a join/filter that reordered one side). Each
label now belongs to a random input: the inputs carry no information about the labels, so the best
any model can do on new data is to predict the label frequencies, whose cross-entropy is their
entropy, -sum p ln p. What the training loss gains below it is memorization of random pairs.
Fix: Shuffle x and y together with one permutation (order = rng.permutation(n); x, y = x[order],
y[order]), or let fit(shuffle=True) / Dataset.from_tensor_slices((x, y)).shuffle(n) do it. The
validation accuracy then rises far above chance (0.86 here).
Keras:
    x = x[np.random.permutation(len(x))]
    y = y[np.random.permutation(len(y))]          # a second, different permutation
    model.fit(x, y, validation_split=0.2, epochs=20)
Source: "shuffle X and y together" (scikit-learn's sklearn.utils.shuffle, which takes both arrays for
this reason); TheDeepChecker's pre-training checks (a correct pipeline can overfit a single batch;
an initial loss at ln K that never improves means the labels are not learnable from the inputs).
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, FEATURES, CLASSES, EPOCHS, BATCH = 1200, 8, 4, 12, 32


def data(seed):
    """Four Gaussian classes in 8 features, 300 rows each, overlapping a little."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(CLASSES, FEATURES))
    y = np.repeat(np.arange(CLASSES), SAMPLES // CLASSES)
    x = (centres[y] + rng.normal(size=(SAMPLES, FEATURES))).astype(np.float32)
    return x, y.astype(np.int64), rng


def train(seed, together):
    x, y, rng = data(seed)
    if together:
        order = rng.permutation(SAMPLES)
        x, y = x[order], y[order]
    else:
        x, y = x[rng.permutation(SAMPLES)], y[rng.permutation(SAMPLES)]
    pf.utils.set_random_seed(seed)
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(32, activation="relu"),
                           pf.layers.Dense(CLASSES)])
    model.compile(optimizer=pf.optimizers.Adam(0.003),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, validation_split=0.2, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    counts = np.bincount(y[:int(SAMPLES * 0.8)], minlength=CLASSES) / (SAMPLES * 0.8)
    return Run(setup="x and y shuffled " + ("with one permutation" if together else "with two permutations"),
               curves={"loss": curve_from_history(history), "val_loss": curve_from_history(history, "val_loss")},
               values={"best val_loss": min(history.history["val_loss"]),
                       "entropy of the training labels' frequencies": float(-np.sum(counts * np.log(counts))),
                       "last val_accuracy": history.history["val_accuracy"][-1],
                       "last training loss": history.history["loss"][-1]})


def broken(seed):
    return train(seed, together=False)


def fixed(seed):
    return train(seed, together=True)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    prior = b["entropy of the training labels' frequencies"]
    return [
        check("broken", f"the best val_loss stays above 0.95 x the label entropy ({prior:.3f}; ln 4 = "
                        f"{math.log(4):.3f})", b["best val_loss"], b["best val_loss"] > 0.95 * prior),
        check("broken", "validation accuracy at chance (< 0.4 for 4 classes)", b["last val_accuracy"],
              b["last val_accuracy"] < 0.4),
        check("fixed", "validation accuracy > 0.75 (3x chance)", f["last val_accuracy"], f["last val_accuracy"] > 0.75),
        check("fixed", "the val_loss falls below half the label entropy", f["best val_loss"],
              f["best val_loss"] < 0.5 * f["entropy of the training labels' frequencies"]),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
