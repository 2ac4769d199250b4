"""P35 fit() vs a custom GradientTape loop

Symptom: The same model, optimizer and data trained with model.fit() and with a hand-written
GradientTape loop end with different weights and different losses, and the custom loop is blamed
("my Keras implementation is flawed compared to TensorFlow's").
Cause: The two loops are not doing the same thing. In seed 001's loop, `for batch in
range(len(x) // batch_size)` drops the last partial batch (100 samples, batch 32: 96 samples and 3
steps per epoch instead of 4, so 4 samples are never trained on), and fit() shuffles the samples
every epoch (shuffle=True by default) while the loop walks them in order. Either difference alone
changes every weight after the first epoch.
Fix: Make the loops equal: ceil(n / batch_size) batches including the partial one, the same order
(fit(shuffle=False) or the same permutation in both), model(x, training=True), the same loss object
and reduction. fit() and GradientTape run the same autograd and optimizer code in this engine, so the
two then give bitwise-identical weights (numpy.array_equal on every array) and identical losses.
Keras:
    for batch in range(x_train.shape[0] // batch_size):        # drops the last 4 samples
        with tf.GradientTape() as tape:
            loss = loss_fn(y_batch, model(x_batch))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables),
                                      model.trainable_variables))
    # versus model.fit(x_train, y_train, epochs=10)            # batch 32, shuffled, 4 steps
Source: seeds 001 and 002 (moving from model.fit to a custom tf.GradientTape loop).
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, FEATURES, CLASSES, BATCH, EPOCHS = 100, 10, 10, 32, 10


def seed_001_data(seed):
    """Seed 001's shapes: 100 random inputs of 10 features, one-hot labels of 10 classes. The seed draws
    the labels at random; here they are the tenths of a fixed linear score of x (10 rows per class), so
    that either loop is also a sound training run (labels unrelated to the inputs are a fault of their
    own, P44)."""
    rng = np.random.default_rng(seed)
    x = rng.random((SAMPLES, FEATURES)).astype(np.float32)
    rank = np.argsort(np.argsort(x @ rng.normal(size=FEATURES)))
    y = np.eye(CLASSES, dtype=np.float32)[rank * CLASSES // SAMPLES]
    return x, y


def seed_001_model():
    return pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(64, activation="relu"),
                          pf.layers.Dense(CLASSES, activation="softmax")])


def with_fit(seed, x, y, shuffle):
    pf.utils.set_random_seed(seed)
    model = seed_001_model()
    optimizer = pf.optimizers.Adam(learning_rate=0.001)
    model.compile(optimizer=optimizer, loss=pf.losses.CategoricalCrossentropy())
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, shuffle=shuffle, verbose=0)
    return model.get_weights(), curve_from_history(history), int(optimizer.iterations)


def with_tape(seed, x, y, batches_per_epoch):
    pf.utils.set_random_seed(seed)  # the same initial weights as the fit() model
    model = seed_001_model()
    optimizer = pf.optimizers.Adam(learning_rate=0.001)
    loss_fn = pf.losses.CategoricalCrossentropy()
    losses = []
    for _ in range(EPOCHS):
        total, seen = 0.0, 0
        for batch in range(batches_per_epoch):
            x_batch, y_batch = x[batch * BATCH:(batch + 1) * BATCH], y[batch * BATCH:(batch + 1) * BATCH]
            with pf.GradientTape() as tape:
                loss = loss_fn(y_batch, model(x_batch, training=True))
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            total += float(loss) * len(x_batch)  # fit()'s epoch loss: the sample-weighted batch mean
            seen += len(x_batch)
        losses.append(total / seen)
    return model.get_weights(), losses, int(optimizer.iterations)


def compare(seed, shuffle, batches_per_epoch, setup):
    x, y = seed_001_data(seed)
    fit_weights, fit_losses, fit_steps = with_fit(seed, x, y, shuffle)
    tape_weights, tape_losses, tape_steps = with_tape(seed, x, y, batches_per_epoch)
    equal = [bool(np.array_equal(a, b)) for a, b in zip(fit_weights, tape_weights)]
    difference = max(float(np.max(np.abs(a.astype(np.float64) - b))) for a, b in zip(fit_weights, tape_weights))
    return Run(setup=setup, curves={"fit() loss": fit_losses, "custom loop loss": tape_losses},
               values={"weight arrays bitwise equal": f"{sum(equal)} of {len(equal)}",
                       "largest weight difference": difference,
                       "fit() optimizer steps": fit_steps, "custom loop optimizer steps": tape_steps,
                       "samples per epoch in the custom loop": min(SAMPLES, batches_per_epoch * BATCH),
                       "loss curves identical": fit_losses == tape_losses})


def broken(seed):
    return compare(seed, shuffle=True, batches_per_epoch=SAMPLES // BATCH,
                   setup="fit() (shuffled) vs loop over len(x) // 32 batches in order")


def fixed(seed):
    return compare(seed, shuffle=False, batches_per_epoch=math.ceil(SAMPLES / BATCH),
                   setup="fit(shuffle=False) vs loop over ceil(len(x) / 32) batches in order")


def signature(broken, fixed):
    full_steps, floor_steps = EPOCHS * math.ceil(SAMPLES / BATCH), EPOCHS * (SAMPLES // BATCH)
    return [
        check("broken", f"the loop makes {floor_steps} steps, fit() {full_steps}",
              f"{broken.values['custom loop optimizer steps']} vs {broken.values['fit() optimizer steps']}",
              broken.values["custom loop optimizer steps"] == floor_steps
              and broken.values["fit() optimizer steps"] == full_steps),
        check("broken", f"the loop never sees {SAMPLES - SAMPLES // BATCH * BATCH} of the {SAMPLES} samples",
              broken.values["samples per epoch in the custom loop"],
              broken.values["samples per epoch in the custom loop"] == SAMPLES // BATCH * BATCH),
        check("broken", "final weights differ (largest difference > 1e-4)", broken.values["largest weight difference"],
              broken.values["largest weight difference"] > 1e-4),
        check("fixed", "every weight array bitwise equal (numpy.array_equal)",
              fixed.values["weight arrays bitwise equal"], fixed.values["largest weight difference"] == 0.0
              and fixed.values["weight arrays bitwise equal"] == "4 of 4"),
        check("fixed", "identical per-epoch losses", fixed.values["loss curves identical"],
              fixed.values["loss curves identical"] is True),
        check("fixed", f"both make {full_steps} optimizer steps", fixed.values["custom loop optimizer steps"],
              fixed.values["custom loop optimizer steps"] == fixed.values["fit() optimizer steps"] == full_steps),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
