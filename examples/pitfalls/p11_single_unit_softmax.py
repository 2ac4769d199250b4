"""P11 Dense(1, activation="softmax") for a binary output

Symptom: the loss does not move from its first value, every prediction is exactly 1.0, and accuracy is
stuck at the fraction of positive samples (here about 30%), whatever the learning rate or the model.
Cause: softmax normalizes over the last axis: with one unit it computes e^z / e^z = 1 for every input.
The output is a constant, so its derivative with respect to z is 0 and no gradient reaches any weight:
the optimizer sees zeros and the weights never change. Every sample is predicted positive, so accuracy
equals the positive rate. With binary_crossentropy the constant 1.0 is clipped to 1 - 1e-7: positives
cost -ln(float32(1 - 1e-7)) ~ 1.2e-7 and negatives -ln(2^-23) = 15.942, so the loss is
15.942 x (negative rate). Keras trains on silently; this engine warns once per layer that softmax over a
single unit is always 1.0.
Fix: a single probability needs sigmoid: Dense(1, activation="sigmoid") with binary_crossentropy
(or Dense(1) with BinaryCrossentropy(from_logits=True)); softmax needs Dense(2) with one-hot or sparse
labels.
Keras:
    model = keras.Sequential([..., layers.Dense(1, activation="softmax")])
    model.compile(loss="binary_crossentropy", metrics=["accuracy"])
Source: keras-team/keras#500.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

POSITIVE_LOSS = -math.log(float(np.float32(1.0 - 1e-7)))   # 1.19e-7: a positive at p = 1 - 1e-7
NEGATIVE_LOSS = -math.log(2.0 ** -23)                      # 15.942: a negative at p = 1 - 1e-7


def data(seed, n=1000, features=10):
    """Two Gaussian clusters, about 30% positives: a sigmoid unit separates them easily."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float32).reshape(-1, 1)
    direction = rng.normal(size=features).astype(np.float32)
    x = (rng.normal(size=(n, features)) + 1.5 * (2 * y - 1) * direction / np.linalg.norm(direction)).astype(np.float32)
    return x, y


def train(seed, activation):
    x, y = data(seed)
    model = pf.Sequential([pf.Input((x.shape[1],)), pf.layers.Dense(16, activation="relu"),
                           pf.layers.Dense(1, activation=activation)])
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.01), loss="binary_crossentropy",
                  metrics=["accuracy"])
    before = model.get_weights()
    history = model.fit(x, y, epochs=10, batch_size=50, verbose=0)
    unchanged = all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    predictions = model.predict(x, verbose=0)
    return Run(setup=f"Dense(1, {activation}) + binary_crossentropy",
               curves={"loss": curve_from_history(history), "accuracy": curve_from_history(history, "accuracy")},
               values={"positive rate": float(y.mean()),
                       "distinct predictions": int(len(np.unique(predictions))),
                       "smallest prediction": float(predictions.min()),
                       "weights bitwise unchanged by training": unchanged,
                       "first epoch loss": curve_from_history(history)[0],
                       "final accuracy": curve_from_history(history, "accuracy")[-1]})


def broken(seed):
    return train(seed, "softmax")


def fixed(seed):
    return train(seed, "sigmoid")


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    rate = b["positive rate"]
    expected_loss = (1 - rate) * NEGATIVE_LOSS + rate * POSITIVE_LOSS
    return [
        check("broken", "every prediction is exactly 1.0", b["smallest prediction"],
              b["smallest prediction"] == 1.0 and b["distinct predictions"] == 1),
        check("broken", "zero gradient: every weight is bitwise unchanged after 10 epochs of Adam",
              b["weights bitwise unchanged by training"], b["weights bitwise unchanged by training"] is True),
        check("broken", f"accuracy equals the positive rate {rate:.4f} at every epoch", b["final accuracy"],
              all(abs(a - rate) < 1e-6 for a in broken.curves["accuracy"])),
        check("broken", f"loss = 15.942 x negative rate = {expected_loss:.4f} at every epoch", b["first epoch loss"],
              all(abs(v - expected_loss) < 1e-3 for v in broken.curves["loss"])),
        check("fixed", "sigmoid output learns: accuracy > 0.9", f["final accuracy"], f["final accuracy"] > 0.9),
        check("fixed", "and the loss falls below half of ln 2 (0.3466)", fixed.curves["loss"][-1],
              fixed.curves["loss"][-1] < 0.5 * math.log(2)),
        check("broken", "the engine warns that softmax over a single unit is always 1.0",
              "warned" if any("softmax over a single unit" in w for w in broken.warnings) else "silent",
              any("softmax over a single unit" in w for w in broken.warnings)),
        check("fixed", "no single-unit softmax warning",
              "warned" if any("single unit" in w for w in fixed.warnings) else "silent",
              not any("single unit" in w for w in fixed.warnings)),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
