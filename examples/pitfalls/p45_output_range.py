"""P45 An output activation that cannot reach the targets

Symptom: A regression model trains, its loss falls at first and then stops at a level that no
amount of training, learning rate or model size lowers; plotted against the targets, its
predictions never go below 0 (or above 1): every target in that region gets the same prediction.
Cause: The last layer has a bounded activation: Dense(1, activation="sigmoid") outputs values in
(0, 1) only (relu: [0, inf); tanh: (-1, 1)). The targets here are standardized, mean 0 and std 1,
so about half of them are negative and some are above 1. For those the best a sigmoid can output is
the nearest end of (0, 1), so the mean squared error cannot go below mean(dist(y, [0, 1])^2): the
part of the target the activation cannot reach.
Fix: A real-valued target gets a linear last layer: Dense(1) (activation=None). Use a bounded
activation only when the targets are bounded the same way (probabilities in (0, 1)), or rescale the
targets into the activation's range and back.
Keras:
    model = keras.Sequential([layers.Dense(32, activation="relu"), layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, (y - y.mean()) / y.std())       # targets in about [-3, 3]
Source: DeepDiagnosis (ICSE 2022), "output range vs labels" among its symptoms; the Keras regression
tutorial (a linear output layer for a real-valued target).
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, FEATURES, EPOCHS, BATCH = 1024, 6, 30, 32


def data(seed):
    """A smooth target of 6 features, standardized (mean 0, std 1)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    w = rng.normal(size=(FEATURES,)) / np.sqrt(FEATURES)
    y = np.sin(x @ w) + 0.5 * (x @ w)
    y = ((y - y.mean()) / y.std()).astype(np.float32).reshape(-1, 1)
    return x, y


def train(seed, activation):
    x, y = data(seed)
    pf.utils.set_random_seed(seed)
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(32, activation="relu"),
                           pf.layers.Dense(1, activation=activation)])
    model.compile(optimizer=pf.optimizers.Adam(0.01), loss="mse")
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    predictions = np.asarray(model.predict(x, verbose=0), dtype=np.float64)
    targets = y.astype(np.float64)
    unreachable = np.clip(targets, 0.0, 1.0) - targets   # distance to [0, 1]
    return Run(setup=f"Dense(32, relu) -> Dense(1, activation={activation!r}), standardized targets",
               curves={"loss": curve_from_history(history)},
               values={"last loss": history.history["loss"][-1],
                       "floor of a (0, 1) output: mean(dist(y, [0, 1])^2)": float(np.mean(unreachable ** 2)),
                       "smallest prediction": float(predictions.min()),
                       "largest prediction": float(predictions.max()),
                       "targets below 0 or above 1 (fraction)": float(np.mean((targets < 0) | (targets > 1))),
                       "R^2": float(1 - np.mean((predictions - targets) ** 2) / np.var(targets))})


def broken(seed):
    return train(seed, "sigmoid")


def fixed(seed):
    return train(seed, None)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    floor = b["floor of a (0, 1) output: mean(dist(y, [0, 1])^2)"]
    return [
        check("broken", "over half of the targets lie outside (0, 1)", b["targets below 0 or above 1 (fraction)"],
              b["targets below 0 or above 1 (fraction)"] > 0.5),
        check("broken", "every prediction lies in [0, 1]", (b["smallest prediction"], b["largest prediction"]),
              0.0 <= b["smallest prediction"] and b["largest prediction"] <= 1.0),
        check("broken", f"the loss cannot go below the unreachable part, {floor:.3f}", b["last loss"],
              b["last loss"] >= floor * 0.999),
        check("fixed", "a linear output fits: R^2 > 0.9", f["R^2"], f["R^2"] > 0.9),
        check("fixed", "and its loss ends below the sigmoid's floor", f["last loss"], f["last loss"] < floor),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
