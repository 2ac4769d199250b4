"""P32 Dead ReLU units after a too-large learning rate

Symptom: Training on Fashion-MNIST with SGD(learning_rate=1.0) goes wrong in the first few dozen
steps: the loss jumps, accuracy falls to chance (10%) and stays there. Lowering the learning rate
afterwards does not bring the model back. Inspecting the activations shows hidden units that output
exactly 0 for every training image.
Cause: A relu unit passes a gradient only where its input is positive. One oversized update can push
a unit's weights and bias so far negative that w.x + b < 0 for every image (pixels are all >= 0, so a
step along minus the mean image does it for all of them at once). From then on the unit's output and
its gradient are 0 on the whole training set, so no later step can revive it: the unit is dead. With
learning rate 1, almost all of the second layer's 256 units and most of the first layer's die within
one epoch, and a network with a dead layer predicts the same class for every image.
Fix: Use a learning rate that suits plain SGD on [0, 1] inputs (0.01 to 0.1; here 0.05); he_normal
initialization, leaky_relu, or Adam with its default rate also keep units alive. Check the fraction of
units that are zero on the whole training set when a relu network stops learning.
Keras:
    model = keras.Sequential([layers.Dense(256, activation="relu"), layers.Dense(256, activation="relu"),
                              layers.Dense(10)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), ...)
    model.fit(x_train / 255.0, y_train, epochs=1)
Source: CS231n notes ("as much as 40% of your network can be dead if the learning rate is set too
high"); Lu et al. 2019, "Dying ReLU and Initialization: Theory and Numerical Examples".
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, fashion_mnist_subset, main

TRAIN, TEST, UNITS, BATCH, PROBE_EVERY = 6000, 1000, 256, 32, 10


def images(seed):
    (x, y), (x_test, y_test) = fashion_mnist_subset(TRAIN, TEST, seed=seed)
    return (x.reshape(len(x), -1).astype(np.float32) / 255.0, y.astype(np.int32),
            x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0, y_test.astype(np.int32))


def dead_fractions(weights, x):
    """The fraction of units in each hidden layer whose relu output is 0 for every row of x (NumPy)."""
    kernel_1, bias_1, kernel_2, bias_2 = (np.asarray(w, dtype=np.float64) for w in weights[:4])
    with np.errstate(over="ignore", invalid="ignore"):
        hidden_1 = np.maximum(x @ kernel_1 + bias_1, 0.0)
        hidden_2 = np.maximum(hidden_1 @ kernel_2 + bias_2, 0.0)
    return float(np.mean(hidden_1.max(axis=0) == 0.0)), float(np.mean(hidden_2.max(axis=0) == 0.0))


class DeadUnitProbe(pf.callbacks.Callback):
    """Measures the dead fraction of both hidden layers on the whole training set every few steps."""

    def __init__(self, x):
        super().__init__()
        self.x, self.steps, self.layer_1, self.layer_2 = x, [], [], []

    def _probe(self, step):
        first, second = dead_fractions(self.model.get_weights(), self.x)
        self.steps.append(step)
        self.layer_1.append(100.0 * first)
        self.layer_2.append(100.0 * second)

    def on_train_begin(self, logs=None):
        self._probe(0)

    def on_train_batch_end(self, batch, logs=None):
        if (batch + 1) % PROBE_EVERY == 0:
            self._probe(batch + 1)


def train(seed, learning_rate):
    x, y, x_test, y_test = images(seed)
    model = pf.Sequential([pf.Input((x.shape[1],)),
                           pf.layers.Dense(UNITS, activation="relu", name="hidden_1"),
                           pf.layers.Dense(UNITS, activation="relu", name="hidden_2"),
                           pf.layers.Dense(10, name="logits")])
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=learning_rate),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    probe = DeadUnitProbe(x)
    history = model.fit(x, y, epochs=1, batch_size=BATCH, verbose=0, callbacks=[probe])
    first, second = dead_fractions(model.get_weights(), x)
    test_accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    return Run(setup=f"Dense({UNITS}, relu) x 2, SGD(learning_rate={learning_rate}), 1 epoch",
               curves={"dead units in hidden_1 (%)": probe.layer_1, "dead units in hidden_2 (%)": probe.layer_2},
               x_label=f"probe (every {PROBE_EVERY} steps)",
               values={"dead units in hidden_1 after 1 epoch": first, "dead units in hidden_2 after 1 epoch": second,
                       "dead units, both layers": (first + second) / 2,
                       "training loss (epoch 1)": history.history["loss"][0],
                       "test accuracy": test_accuracy})


def broken(seed):
    return train(seed, 1.0)


def fixed(seed):
    return train(seed, 0.05)


def signature(broken, fixed):
    return [
        check("broken", "> 90% of hidden_2's units output 0 on all training images after one epoch",
              broken.values["dead units in hidden_2 after 1 epoch"],
              broken.values["dead units in hidden_2 after 1 epoch"] > 0.9),
        check("broken", "and more than half of hidden_1's", broken.values["dead units in hidden_1 after 1 epoch"],
              broken.values["dead units in hidden_1 after 1 epoch"] > 0.5),
        check("broken", "test accuracy at chance (< 0.2)", broken.values["test accuracy"],
              broken.values["test accuracy"] < 0.2),
        check("fixed", "< 5% dead units in either layer", fixed.values["dead units, both layers"],
              max(fixed.values["dead units in hidden_1 after 1 epoch"],
                  fixed.values["dead units in hidden_2 after 1 epoch"]) < 0.05),
        check("fixed", "test accuracy > 0.7 after one epoch", fixed.values["test accuracy"],
              fixed.values["test accuracy"] > 0.7),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
