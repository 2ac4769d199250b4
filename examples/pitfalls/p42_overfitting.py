"""P42 Overfitting: the validation loss rises while the training loss falls

Symptom: A large network trained on a small, noisy data set reaches a training loss close to 0,
but its validation loss, after falling for a few epochs, climbs back up epoch after epoch; the
model kept at the end of fit() (the last epoch's) predicts new data worse than it did many epochs
earlier.
Cause: With far more parameters than examples (two Dense(256) layers, ~70k weights, for 160 rows),
the network can fit the noise in the labels as well as the signal. After the signal is learned,
every further epoch lowers the training loss by memorizing individual rows, which makes the
predictions on other rows more confident and more often wrong: the validation loss rises while the
training loss falls. fit() keeps the last epoch's weights, the most overfitted ones.
Fix: Monitor the validation loss and stop at its minimum: EarlyStopping(monitor="val_loss",
patience=3, restore_best_weights=True) ends training a few epochs after the minimum and puts back
the weights of the best epoch, so the model kept has exactly the lowest validation loss of the
run. Dropout, weight decay (L2) or more data reduce the overfitting itself.
Keras:
    model.fit(x, y, epochs=60, validation_split=0.2)     # val_loss lowest at epoch 2, then rising
    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=3, restore_best_weights=True)
    model.fit(x, y, epochs=60, validation_split=0.2, callbacks=[stop])
Source: the Keras documentation of EarlyStopping; the TensorFlow tutorial "Overfit and underfit";
SageMaker Debugger's Overfit / Overtraining rules.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, FEATURES, SPLIT, EPOCHS, BATCH, PATIENCE, LABEL_NOISE = 200, 20, 0.2, 60, 16, 3, 0.2


def data(seed):
    """Labels from a linear rule on 20 features, a LABEL_NOISE share of them flipped, rows shuffled."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    y = (x @ rng.normal(size=FEATURES) > 0).astype(np.float32)
    flip = rng.random(SAMPLES) < LABEL_NOISE
    y[flip] = 1.0 - y[flip]
    return x, y.reshape(-1, 1)


def train(seed, early_stopping):
    x, y = data(seed)
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(256, activation="relu"),
                           pf.layers.Dense(256, activation="relu"), pf.layers.Dense(1)])
    model.compile(optimizer=pf.optimizers.Adam(1e-3), loss=pf.losses.BinaryCrossentropy(from_logits=True))
    callbacks = [pf.callbacks.EarlyStopping(monitor="val_loss", patience=PATIENCE, restore_best_weights=True)] \
        if early_stopping else []
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, validation_split=SPLIT, verbose=0,
                        callbacks=callbacks)
    split = int(np.floor(SAMPLES * (1 - SPLIT)))
    losses, val = history.history["loss"], history.history["val_loss"]
    best = int(np.argmin(val))
    return Run(setup=f"Dense(256, relu) x 2 on {split} rows, {EPOCHS} epochs"
                     + (f", EarlyStopping(patience={PATIENCE}, restore_best_weights=True)" if early_stopping else ""),
               curves={"loss": curve_from_history(history), "val_loss": curve_from_history(history, "val_loss")},
               values={"epochs run": len(val), "epoch of the lowest val_loss (1-based)": best + 1,
                       "lowest val_loss": val[best], "last epoch's val_loss": val[-1],
                       "training loss at the best epoch": losses[best], "last epoch's training loss": losses[-1],
                       "val_loss of the model kept (evaluated again)":
                           float(model.evaluate(x[split:], y[split:], batch_size=BATCH, verbose=0))})


def broken(seed):
    return train(seed, False)


def fixed(seed):
    return train(seed, True)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    kept, low = "val_loss of the model kept (evaluated again)", "lowest val_loss"
    return [
        check("broken", "the last val_loss is > 10% above its minimum", b["last epoch's val_loss"] / b[low],
              b["last epoch's val_loss"] > 1.10 * b[low]),
        check("broken", "the minimum came 3 or more epochs before the end",
              b["epochs run"] - b["epoch of the lowest val_loss (1-based)"],
              b["epochs run"] - b["epoch of the lowest val_loss (1-based)"] >= 3),
        check("broken", "while the training loss kept falling after it", b["last epoch's training loss"],
              b["last epoch's training loss"] < b["training loss at the best epoch"]),
        check("broken", "the model kept has the last epoch's val_loss, not the minimum", b[kept],
              abs(b[kept] - b["last epoch's val_loss"]) <= 1e-6 * b[kept] and b[kept] > 1.10 * b[low]),
        check("fixed", f"training stopped {PATIENCE} epochs after the minimum",
              f["epochs run"] - f["epoch of the lowest val_loss (1-based)"],
              f["epochs run"] - f["epoch of the lowest val_loss (1-based)"] == PATIENCE and f["epochs run"] < EPOCHS),
        check("fixed", "the model kept has the lowest val_loss of the run (restored weights)", f[kept],
              abs(f[kept] - f[low]) <= 1e-6 * f[kept]),
        check("fixed", "below the broken run's final model by > 10%", f[kept] / b[kept], f[kept] < b[kept] / 1.10),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
