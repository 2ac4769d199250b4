"""P36 Sequential vs functional API

Symptom: The same architecture written once with keras.Sequential and once with the functional API
(Input -> Dense -> Dense -> Model) gives different initial predictions, different loss curves and
different final weights, even though the script calls set_random_seed(0) at the top. It looks as if
the two APIs build different networks.
Cause: Initial weights come from the global random generator, in the order layers are built. A seed
set once at the top of a script covers the first model only: building the Sequential model draws
the first random streams, so the functional model built after it draws the next ones and starts from
other weights. (fit()'s shuffling draws from the same generator, so the order of fits matters too.)
Nothing differs between the APIs themselves.
Fix: Reset the seed (pf.utils.set_random_seed(seed)) right before building and training each model,
or copy the weights across with model_b.set_weights(model_a.get_weights()). Then the Sequential and
the functional model give bitwise-identical predictions, losses and weights: both run the same layers
in the same order.
Keras:
    keras.utils.set_random_seed(0)
    sequential = keras.Sequential([layers.Dense(10, activation="relu"), layers.Dense(1)])
    inputs = keras.Input((10,))
    functional = keras.Model(inputs, layers.Dense(1)(layers.Dense(10, activation="relu")(inputs)))
Source: seed 002 ("inconsistencies can arise when migrating between Keras' sequential API and the
functional API").
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

FEATURES, HIDDEN, EPOCHS, BATCH = 10, 10, 10, 32


def seed_002_data(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(100, FEATURES)).astype(np.float32)
    y = rng.normal(0.0, 1.0, size=(100, 1)).astype(np.float32)
    return x, y


def sequential_model():
    return pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(HIDDEN, activation="relu"), pf.layers.Dense(1)])


def functional_model():
    inputs = pf.Input((FEATURES,))
    hidden = pf.layers.Dense(HIDDEN, activation="relu")(inputs)
    return pf.Model(inputs, pf.layers.Dense(1)(hidden))


def fit(model, x, y):
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.001), loss="mse")
    initial = model.predict(x, verbose=0)
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    return initial, curve_from_history(history)


def compare(seed, reseed_each_model):
    x, y = seed_002_data(seed)
    pf.utils.set_random_seed(seed)
    sequential = sequential_model()
    if reseed_each_model:
        initial_s, losses_s = fit(sequential, x, y)
        pf.utils.set_random_seed(seed)
        functional = functional_model()
        initial_f, losses_f = fit(functional, x, y)
    else:  # one seed at the top of the script, both models built, then both trained
        functional = functional_model()
        initial_s, losses_s = fit(sequential, x, y)
        initial_f, losses_f = fit(functional, x, y)
    weights_s, weights_f = sequential.get_weights(), functional.get_weights()
    equal = [bool(np.array_equal(a, b)) for a, b in zip(weights_s, weights_f)]
    return Run(setup="set_random_seed before each model" if reseed_each_model else
               "set_random_seed once, then both models",
               curves={"Sequential loss": losses_s, "functional loss": losses_f},
               values={"same weight shapes": [w.shape for w in weights_s] == [w.shape for w in weights_f],
                       "initial predictions bitwise equal": bool(np.array_equal(initial_s, initial_f)),
                       "largest initial prediction difference": float(np.max(np.abs(initial_s - initial_f))),
                       "final weight arrays bitwise equal": f"{sum(equal)} of {len(equal)}",
                       "loss curves identical": losses_s == losses_f,
                       "final loss, Sequential": losses_s[-1], "final loss, functional": losses_f[-1]})


def broken(seed):
    return compare(seed, reseed_each_model=False)


def fixed(seed):
    return compare(seed, reseed_each_model=True)


def signature(broken, fixed):
    return [
        check("broken", "same architecture (identical weight shapes)", broken.values["same weight shapes"],
              broken.values["same weight shapes"] is True),
        check("broken", "initial predictions differ (> 1e-3)", broken.values["largest initial prediction difference"],
              broken.values["largest initial prediction difference"] > 1e-3),
        check("broken", "no final weight array equal", broken.values["final weight arrays bitwise equal"],
              broken.values["final weight arrays bitwise equal"].startswith("0 of")),
        check("fixed", "initial predictions bitwise equal", fixed.values["initial predictions bitwise equal"],
              fixed.values["initial predictions bitwise equal"] is True),
        check("fixed", "identical loss curves", fixed.values["loss curves identical"],
              fixed.values["loss curves identical"] is True),
        check("fixed", "every final weight array bitwise equal", fixed.values["final weight arrays bitwise equal"],
              fixed.values["final weight arrays bitwise equal"] == "4 of 4"),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
