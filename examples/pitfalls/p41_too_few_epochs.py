"""P41 Too few epochs: training stopped while the loss was still falling fast

Symptom: A model trained for a fixed small number of epochs (copied from a tutorial, or cut to save
time) ends with a mediocre loss, and the conclusion is that the model or the data are not good
enough. The loss curve shows it: the last epoch still lowered the loss by more than 10%, and the
validation loss was falling with it.
Cause: Gradient descent with a modest learning rate needs many passes over a small data set; with
SGD(0.01) and 25 steps an epoch, three epochs are 75 small steps, far from a minimum. Training
stopped because the epoch count ran out, not because the model stopped improving. An epoch count
is a guess; it says nothing about convergence.
Fix: Give fit a generous epochs= and let EarlyStopping(monitor="val_loss", patience=...,
restore_best_weights=True) end training when the validation loss stops improving; it then puts back
the weights of the best epoch, so the model kept is the one with the lowest validation loss (its
val_loss, evaluated again, equals the minimum of the history). Here the validation loss ends several
times lower.
Keras:
    model.fit(x, y, epochs=3, validation_split=0.2)          # the loss was still falling fast
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    model.fit(x, y, epochs=500, validation_split=0.2, callbacks=[stop])
Source: the Keras documentation of EarlyStopping (restore_best_weights); AUTOTRAINER (ICSE 2021)
"slow convergence" symptom.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, FEATURES, BATCH, SPLIT, LEARNING_RATE = 1000, 8, 32, 0.2, 0.01
FEW_EPOCHS, MAX_EPOCHS, PATIENCE = 3, 500, 5


def data(seed):
    """A smooth real-valued target of 8 standardized features, with a little noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    w = rng.normal(size=(FEATURES, 1)) / np.sqrt(FEATURES)
    y = (2.0 * np.tanh(x @ w) + x @ w + 0.1 * rng.normal(size=(SAMPLES, 1))).astype(np.float32)
    return x, y


def train(seed, early_stopping):
    x, y = data(seed)
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(32, activation="relu"), pf.layers.Dense(1)])
    model.compile(optimizer=pf.optimizers.SGD(LEARNING_RATE), loss="mse")
    callbacks = [pf.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE, restore_best_weights=True)] \
        if early_stopping else []
    history = model.fit(x, y, epochs=MAX_EPOCHS if early_stopping else FEW_EPOCHS, batch_size=BATCH,
                        validation_split=SPLIT, verbose=0, callbacks=callbacks)
    split = int(np.floor(SAMPLES * (1 - SPLIT)))
    losses, val = history.history["loss"], history.history["val_loss"]
    return Run(setup=(f"SGD({LEARNING_RATE}), up to {MAX_EPOCHS} epochs, EarlyStopping(patience={PATIENCE}, "
                      "restore_best_weights=True)") if early_stopping else f"SGD({LEARNING_RATE}), epochs={FEW_EPOCHS}",
               curves={"loss": curve_from_history(history), "val_loss": curve_from_history(history, "val_loss")},
               values={"epochs run": len(losses),
                       "last epoch's relative drop of the loss": (losses[-2] - losses[-1]) / losses[-2],
                       "last epoch's val_loss": val[-1], "lowest val_loss of the history": min(val),
                       "val_loss of the model kept (evaluated again)":
                           float(model.evaluate(x[split:], y[split:], batch_size=BATCH, verbose=0))})


def broken(seed):
    return train(seed, False)


def fixed(seed):
    return train(seed, True)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    drop, kept = "last epoch's relative drop of the loss", "val_loss of the model kept (evaluated again)"
    return [
        check("broken", "the last epoch still lowered the loss by > 10%", b[drop], b[drop] > 0.10),
        check("broken", "the validation loss was still falling in the last epoch", b["last epoch's val_loss"],
              b["last epoch's val_loss"] == b["lowest val_loss of the history"]),
        check("broken", "the model kept has a val_loss > 2x the early-stopped one's", b[kept] / f[kept],
              b[kept] > 2 * f[kept]),
        check("fixed", f"EarlyStopping ended training before {MAX_EPOCHS} epochs", f["epochs run"],
              f["epochs run"] < MAX_EPOCHS),
        check("fixed", "the last epoch lowered the loss by < 10%", f[drop], f[drop] < 0.10),
        check("fixed", "the weights kept are the best epoch's: their val_loss equals the history's minimum",
              f[kept], abs(f[kept] - f["lowest val_loss of the history"]) <= 1e-6 * f[kept]),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
