"""P07 Softmax output + from_logits=True (double softmax)

Symptom: The loss starts near ln 10 = 2.3026 as expected, falls a little, then flattens out far above
zero, while accuracy may still creep up. Lowering the learning rate or training longer does not help.
Cause: The last layer already applies softmax, and the loss is told its input are logits, so it applies
softmax again. The outputs p lie in [0, 1] and sum to 1, so the second softmax can never be more
confident than e^1 / (e^1 + 9 e^0): the loss is bounded below by -ln(e / (e + 9)) = 1.4612 and the
gradients reaching the network are squashed.
Fix: Either drop the softmax activation (keep from_logits=True: the numerically stable form) or keep
the softmax and use from_logits=False (the default). Never both.
Keras:
    model = keras.Sequential([..., layers.Dense(10, activation="softmax")])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), ...)
Source: tensorflow/tensorflow#50190; Keras warns "Received from_logits=True, but the output
argument was produced by a Softmax activation" only in some versions and code paths.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

CLASSES = 10
FLOOR = -math.log(math.e / (math.e + CLASSES - 1))  # 1.4612: the best a double softmax can reach
CEILING = math.log(math.e + CLASSES - 1)  # 2.4612: the worst (one-hot on a wrong class) double softmax
REFERENCES = {"loss": [(FLOOR, "floor -ln(e/(e+9)) = 1.4612")]}


def blobs(seed, n=2000, features=20):
    """Ten well separated Gaussian clusters: any sound classifier drives the loss towards 0."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(CLASSES, features)).astype(np.float32)
    y = rng.integers(0, CLASSES, size=n).astype(np.int32)
    x = centres[y] + rng.normal(0.0, 1.0, size=(n, features)).astype(np.float32)
    return x, y


def train(seed, output_activation):
    x, y = blobs(seed)
    model = pf.Sequential([pf.Input((x.shape[1],)),
                           pf.layers.Dense(64, activation="relu"),
                           pf.layers.Dense(CLASSES, activation=output_activation)])
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.01),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    initial_loss = model.evaluate(x, y, verbose=0)[0]
    history = model.fit(x, y, epochs=15, batch_size=64, verbose=0)
    setup = f"Dense(10, {output_activation or 'no activation'}) + from_logits=True"
    losses = curve_from_history(history)
    return Run(setup=setup, curves={"loss": losses, "accuracy": curve_from_history(history, "accuracy")},
               values={"loss at step 0": initial_loss, "lowest training loss": min(losses),
                       "final accuracy": curve_from_history(history, "accuracy")[-1]})


def broken(seed):
    return train(seed, "softmax")


def fixed(seed):
    return train(seed, None)


def signature(broken, fixed):
    return [
        check("broken", f"loss at step 0 lies between the floor {FLOOR:.4f} and the ceiling ln(e+9) = {CEILING:.4f}",
              broken.values["loss at step 0"], FLOOR <= broken.values["loss at step 0"] <= CEILING),
        check("broken", f"loss never goes below the floor -ln(e/(e+9)) = {FLOOR:.4f}",
              broken.values["lowest training loss"], broken.values["lowest training loss"] >= FLOOR - 1e-4),
        check("fixed", f"loss falls far below that floor (< {FLOOR / 4:.4f})", fixed.values["lowest training loss"],
              fixed.values["lowest training loss"] < FLOOR / 4),
        check("broken", "the engine warns that a softmax output is passed as logits",
              "warned" if any("double softmax" in w for w in broken.warnings) else "silent",
              any("double softmax" in w for w in broken.warnings)),
        check("fixed", "no double-softmax warning", "warned" if fixed.warnings else "silent", not fixed.warnings),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
