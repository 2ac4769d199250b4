"""P21 validation_split takes the last rows, before any shuffling

Symptom: Training accuracy climbs to ~100% while val_accuracy is exactly 0.0 in every epoch, and
val_loss grows. The data set is stored sorted by class (all images of class 0, then class 1, ...).
Cause: fit(validation_split=0.2) holds out the LAST 20% of the rows as they are stored; shuffle=True
shuffles only the training part, after the split. With 5 classes of 200 rows each stored in order, the
last 200 rows are exactly class 4: the model never sees a class-4 example in training, learns never
to predict class 4, and every validation sample is class 4, so val_accuracy = 0/200 = 0.0.
Fix: Shuffle the arrays once before fit (one permutation applied to x and y), or pass an explicit
validation_data=(x_val, y_val) drawn from all classes.
Keras:
    x, y = load_sorted_by_class()
    model.fit(x, y, validation_split=0.2, shuffle=True, epochs=5)   # shuffle comes after the split
Source: keras-team/keras#8346, keras-team/keras#597; the Keras documentation of fit(validation_split=...):
"The validation data is selected from the last samples in the x and y data provided, before shuffling."
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

CLASSES, PER_CLASS, FEATURES = 5, 200, 10
SPLIT = 0.2
EPOCHS = 6


def sorted_blobs(seed):
    """Five well separated clusters, stored class by class as many data sets on disk are."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(CLASSES, FEATURES))
    y = np.repeat(np.arange(CLASSES), PER_CLASS).astype(np.int32)
    x = (centres[y] + rng.normal(0.0, 1.0, size=(len(y), FEATURES))).astype(np.float32)
    return x, y


def train(seed, shuffle_first):
    x, y = sorted_blobs(seed)
    if shuffle_first:
        order = np.random.default_rng(seed + 1).permutation(len(y))
        x, y = x[order], y[order]
    validation_rows = y[int(np.floor(len(y) * (1 - SPLIT))):]   # the rows fit() holds out: the last 20%
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(32, activation="relu"),
                           pf.layers.Dense(CLASSES)])
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.01),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, validation_split=SPLIT, shuffle=True, epochs=EPOCHS, batch_size=32, verbose=0)
    # Which rows did fit() validate on? Its last val_loss is the loss on the last 20% of the rows.
    last_rows_loss = model.evaluate(x[-len(validation_rows):], validation_rows, verbose=0)[0]
    setup = ("x, y shuffled once, then fit(validation_split=0.2)" if shuffle_first
             else "x, y sorted by class, fit(validation_split=0.2, shuffle=True)")
    return Run(setup=setup,
               curves={"accuracy": curve_from_history(history, "accuracy"),
                       "val_accuracy": curve_from_history(history, "val_accuracy"),
                       "val_loss": curve_from_history(history, "val_loss")},
               values={"validation rows": len(validation_rows),
                       "classes in the validation set": " ".join(str(c) for c in np.unique(validation_rows)),
                       "classes in the training set": " ".join(str(c) for c in np.unique(y[:len(y) - len(validation_rows)])),
                       "|final val_loss - loss on the last 20% of rows|":
                           abs(curve_from_history(history, "val_loss")[-1] - last_rows_loss),
                       "max val_accuracy over epochs": max(curve_from_history(history, "val_accuracy")),
                       "final accuracy": curve_from_history(history, "accuracy")[-1]})


def broken(seed):
    return train(seed, shuffle_first=False)


def fixed(seed):
    return train(seed, shuffle_first=True)


def signature(broken, fixed):
    held_out = int(round(CLASSES * PER_CLASS * SPLIT))   # 200 rows = exactly one class
    last_class = str(CLASSES - 1)
    b, f = broken.values, fixed.values
    return [
        check("broken", f"the validation set is the last {held_out} rows = only class {last_class}",
              b["classes in the validation set"], b["classes in the validation set"] == last_class
              and b["validation rows"] == held_out),
        check("broken", "fit() validated on those rows: val_loss = loss on the last 20% (within 1e-4)",
              b["|final val_loss - loss on the last 20% of rows|"],
              b["|final val_loss - loss on the last 20% of rows|"] < 1e-4),
        check("broken", "val_accuracy is exactly 0.0 in every epoch", b["max val_accuracy over epochs"],
              all(v == 0.0 for v in broken.curves["val_accuracy"])),
        check("broken", "while training accuracy is high (> 0.95 of the 4 classes it sees)", b["final accuracy"],
              b["final accuracy"] > 0.95),
        check("fixed", "the validation set holds all 5 classes", f["classes in the validation set"],
              f["classes in the validation set"] == " ".join(str(c) for c in range(CLASSES))),
        check("fixed", "final val_accuracy > 0.95", fixed.curves["val_accuracy"][-1],
              fixed.curves["val_accuracy"][-1] > 0.95),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
