"""P33 NumPy inside a custom layer's call()

Symptom: A custom layer that uses np.tanh (or np.sin, np.exp, ...) in call() either fails when the
model is built, or, after the usual workaround of converting to NumPy and back, runs without a
single error while the layers before it never change: their gradients are None, and the loss only
falls as far as the layers after it can take it.
Cause: Gradients come from the operations the tape recorded. A NumPy function computes on a copy
of the numbers, outside the tape, so nothing connects the layer's output to its input. Applied to a
tensor directly, np.tanh(tensor) cannot run (the engine's tensors refuse NumPy ufuncs, and the
engine reports the layer by name); np.tanh(np.asarray(inputs)) wrapped back with pf.tensor()
produces a new constant: the forward pass is right, the backward pass stops there. Keras behaves the
same way: in graph mode np.sin fails on a symbolic tensor; in eager mode the round trip through
.numpy() gives None gradients and, in fit(), only the warning "Gradients do not exist for
variables" (or nothing at all when other variables still get gradients). This engine warns once
per layer: "call() returned a tensor that is not connected to its inputs or weights".
Fix: Compute inside call() with the engine's ops (pf.ops.tanh, pf.ops.matmul, ...), never NumPy.
Keras:
    class MyCustomLayer(keras.layers.Layer):
        def call(self, inputs):
            return np.sin(inputs)          # tf.math.sin(inputs) is the fix
Source: seed 000 ("Custom Layer Discrepancy": np.sin instead of tf.math.sin inside call()).
Note: the engine has no sin op, so this example uses tanh; the mechanism is the same for any NumPy function.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, error_message, main

FEATURES, HIDDEN, EPOCHS, BATCH = 8, 16, 15, 32


class NumpyTanh(pf.layers.Layer):
    """What seed 000 wrote: a NumPy function applied to the layer's input."""

    def call(self, inputs):
        return np.tanh(inputs)


class NumpyRoundTrip(pf.layers.Layer):
    """The usual next attempt: convert to NumPy, compute, convert back. Runs, but cuts the tape."""

    def call(self, inputs):
        return pf.tensor(np.tanh(np.asarray(inputs)))


class OpsTanh(pf.layers.Layer):
    """The fix: the engine's op, recorded on the tape."""

    def call(self, inputs):
        return pf.ops.tanh(inputs)


def regression_data(seed, n=512):
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(n, FEATURES)).astype(np.float32)
    teacher = rng.normal(0.0, 1.0, size=(FEATURES, 1)) / np.sqrt(FEATURES)
    y = np.tanh(x @ teacher).astype(np.float32) * 2.0
    return x, y


def model_with(activation_layer):
    return pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(HIDDEN, name="encoder"), activation_layer,
                          pf.layers.Dense(1, name="head")])


def train(seed, activation_layer):
    x, y = regression_data(seed)
    model = model_with(activation_layer)
    encoder = model.get_layer("encoder")
    with pf.GradientTape() as tape:
        loss = pf.ops.mean(pf.ops.square(model(x[:BATCH], training=True) - y[:BATCH]))
    encoder_grads = tape.gradient(loss, encoder.trainable_variables)
    before = [np.array(w) for w in encoder.get_weights()]
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.01), loss="mse")
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(before, encoder.get_weights()))
    losses = curve_from_history(history)
    return Run(setup=f"Dense({HIDDEN}) -> {type(activation_layer).__name__} -> Dense(1)", curves={"loss": losses},
               values={"encoder gradients that are None": sum(g is None for g in encoder_grads),
                       "largest change of an encoder weight": moved, "final loss": losses[-1]})


def broken(seed):
    error = error_message(model_with, NumpyTanh(name="numpy_tanh"))
    run = train(seed, NumpyRoundTrip(name="numpy_round_trip"))
    run.texts["np.tanh(inputs) in call()"] = error
    run.setup = "np.tanh in call(): fails; np.tanh(np.asarray(x)) round trip: trains the head only"
    return run


def fixed(seed):
    return train(seed, OpsTanh(name="ops_tanh"))


def signature(broken, fixed):
    error = broken.texts["np.tanh(inputs) in call()"]
    return [
        check("broken", "np.tanh(inputs) raises a TypeError naming the layer 'numpy_tanh' and pf.ops",
              error.split(":")[0] or "no error",
              error.startswith("TypeError") and "numpy_tanh" in error and "pf.ops" in error),
        check("broken", "the NumPy round trip gives None for both encoder gradients (kernel, bias)",
              broken.values["encoder gradients that are None"], broken.values["encoder gradients that are None"] == 2),
        check("broken", "fit() leaves every encoder weight bitwise unchanged",
              broken.values["largest change of an encoder weight"],
              broken.values["largest change of an encoder weight"] == 0.0),
        check("fixed", "every encoder gradient exists", fixed.values["encoder gradients that are None"],
              fixed.values["encoder gradients that are None"] == 0),
        check("fixed", "the encoder trains (weights move by > 0.01)", fixed.values["largest change of an encoder weight"],
              fixed.values["largest change of an encoder weight"] > 0.01),
        check("fixed", "final loss below the broken run's", fixed.values["final loss"],
              fixed.values["final loss"] < broken.values["final loss"]),
        check("broken", "the engine warns that the round trip's output is not connected to its inputs",
              "warned" if any("not connected to its inputs" in w for w in broken.warnings) else "silent",
              any("numpy_round_trip" in w and "not connected to its inputs" in w for w in broken.warnings)),
        check("fixed", "no disconnected-output warning",
              "warned" if any("not connected" in w for w in fixed.warnings) else "silent",
              not any("not connected" in w for w in fixed.warnings)),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
