"""P16 Exploding gradients in a recurrent network

Symptom: a recurrent model on long sequences shows a finite loss at the first step and nan from the
second step on; every weight is nan. Adding clipnorm=1 to the optimizer, the usual advice, does not
help when the gradient has already overflowed.
Cause: back-propagation through time multiplies the gradient by the recurrent kernel's transpose once
per time step. A linear SimpleRNN with recurrent kernel 1.5 I scales it by 1.5 per step: the gradient
reaching step 1 of a 250-step sequence carries 1.5^249 = 8e43, beyond float32's 3.4e38, so it is inf.
Here the sequences are pre-padded (Keras's pad_sequences default): the first 230 steps are zeros and
the state is 0 there, so the forward pass and the loss stay finite, but the backward pass forms
0 * inf = nan in the kernel gradients and inf - inf = nan in the bias gradient. One update turns the
weights into nan. Clipping cannot repair this: clipnorm rescales g by c / max(||g||, c), and with
||g|| = inf or nan that is 0 * inf or nan again.
Fix: remove the amplification itself: an orthogonal recurrent kernel (Keras's default
recurrent_initializer) preserves norms, so the gradient stays finite at any length, and clipnorm=1
then guards training against the occasional large step. Clipping alone only helps while the gradient
is finite: at length 60 (1.5^59 = 2e10) clipnorm=1 turns a nan at step 2 into a finite run, but its
loss is still ~1e17, because a 1.5 I recurrence amplifies even the smallest weight change.
Keras:
    layers.SimpleRNN(4, activation=None, recurrent_initializer=keras.initializers.Identity(gain=1.5))
    model.compile(optimizer=keras.optimizers.SGD(0.02, clipnorm=1.0), loss="mse")   # still nan
Source: pitfalls.md P16; Pascanu, Mikolov, Bengio, "On the difficulty of training recurrent neural
networks" (2013) introduced norm clipping for exploding gradients.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

LENGTH, CONTENT, UNITS, SAMPLES = 250, 20, 4, 256
SHORT = 60
GAIN = 1.5
LEARNING_RATE = 0.02
FLOAT32_MAX = float(np.finfo(np.float32).max)


def data(seed, length=LENGTH):
    """Pre-padded sequences: zeros, then CONTENT values ~ N(0, 1); the target is their sum."""
    rng = np.random.default_rng(seed)
    x = np.zeros((SAMPLES, length, 1), np.float32)
    x[:, -CONTENT:, 0] = rng.normal(size=(SAMPLES, CONTENT))
    return x, x.sum(axis=1).astype(np.float32)


def build(seed, recurrent, clipnorm, length=LENGTH):
    pf.utils.set_random_seed(seed)
    model = pf.Sequential([pf.Input((length, 1)), pf.layers.SimpleRNN(UNITS, activation=None),
                           pf.layers.Dense(1)])
    if recurrent == "1.5 I":
        kernel, _, bias = model.layers[0].get_weights()
        model.layers[0].set_weights([kernel, GAIN * np.eye(UNITS, dtype=np.float32), bias])
    options = {} if clipnorm is None else {"clipnorm": clipnorm}
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=LEARNING_RATE, **options), loss="mse")
    return model


def gradient_report(model, x, y):
    """Loss at the current weights and the global gradient norm (inf/nan counted)."""
    with pf.GradientTape() as tape:
        loss = pf.losses.MeanSquaredError()(y, model(x, training=True))
    gradients = [np.array(g, np.float64) for g in tape.gradient(loss, model.trainable_variables)]
    flat = np.concatenate([g.ravel() for g in gradients])
    return {"loss": float(np.array(loss)), "non-finite gradient entries": int((~np.isfinite(flat)).sum()),
            "gradient norm": float(np.sqrt(np.sum(flat ** 2))) if np.isfinite(flat).all() else math.nan}


def train(seed, recurrent, clipnorm, length=LENGTH, epochs=30):
    x, y = data(seed, length)
    model = build(seed, recurrent, clipnorm, length)
    report = gradient_report(model, x, y)
    history = model.fit(x, y, epochs=epochs, batch_size=SAMPLES, verbose=0)  # one batch: epoch = step
    weights_finite = all(np.isfinite(w).all() for w in model.get_weights())
    return report, curve_from_history(history), weights_finite


def first_non_finite(values):
    return next((i + 1 for i, v in enumerate(values) if not math.isfinite(v)), 0)


def broken(seed):
    report, losses, finite = train(seed, "1.5 I", None)
    _, clipped_losses, clipped_finite = train(seed, "1.5 I", 1.0)
    # Shorter sequences with the same 1.5 I kernel: the gradient is huge but finite, so clipnorm can
    # rescale it; the run stays finite, yet the loss stays huge (clipping hides the cause).
    _, short_unclipped, _ = train(seed, "1.5 I", None, length=SHORT, epochs=3)
    short_report, short_clipped, short_finite = train(seed, "1.5 I", 1.0, length=SHORT, epochs=3)
    return Run(setup=f"SimpleRNN(activation=None), recurrent 1.5 I, length {LENGTH}, SGD (and SGD clipnorm=1)", x_label="step",
               curves={"loss": losses, "loss with clipnorm=1": clipped_losses},
               values={"loss at step 1": report["loss"], "non-finite gradient entries at step 1":
                       report["non-finite gradient entries"], "gradient norm at step 1": report["gradient norm"],
                       "first non-finite loss, no clipping": first_non_finite(losses),
                       "first non-finite loss, clipnorm=1": first_non_finite(clipped_losses),
                       "weights finite after training": finite and clipped_finite,
                       f"1.5 I, length {SHORT}: gradient norm at step 1": short_report["gradient norm"],
                       f"1.5 I, length {SHORT}, no clipping: losses": " ".join(f"{v:.4g}" for v in short_unclipped),
                       f"1.5 I, length {SHORT}, clipnorm=1: losses": " ".join(f"{v:.4g}" for v in short_clipped),
                       f"1.5 I, length {SHORT}, clipnorm=1: all finite":
                           short_finite and all(math.isfinite(v) for v in short_clipped)})


def fixed(seed):
    report, losses, finite = train(seed, "orthogonal", 1.0)
    return Run(setup=f"SimpleRNN(activation=None), orthogonal recurrent kernel, length {LENGTH}, SGD(clipnorm=1)",
               x_label="step", curves={"loss": losses, "loss with clipnorm=1": losses},
               values={"loss at step 1": report["loss"], "non-finite gradient entries at step 1":
                       report["non-finite gradient entries"], "gradient norm at step 1": report["gradient norm"],
                       "final loss": losses[-1], "weights finite after training": finite})


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    growth = (LENGTH - 1) * math.log10(GAIN)   # 1.5^249 = 10^43.8 > float32 max 3.4e38 = 10^38.5
    short = f"1.5 I, length {SHORT}"
    return [
        check("broken", f"step 1: the loss is finite but 1.5^{LENGTH - 1} = 10^{growth:.1f} overflows the "
                        "backward pass: non-finite gradient entries", b["non-finite gradient entries at step 1"],
              math.isfinite(b["loss at step 1"]) and b["non-finite gradient entries at step 1"] > 0
              and growth > math.log10(FLOAT32_MAX)),
        check("broken", "the loss is nan from step 2 on", b["first non-finite loss, no clipping"],
              b["first non-finite loss, no clipping"] == 2),
        check("broken", "clipnorm=1 does not help: an inf/nan gradient cannot be rescaled (nan from step 2)",
              b["first non-finite loss, clipnorm=1"], b["first non-finite loss, clipnorm=1"] == 2),
        check("fixed", "orthogonal recurrent kernel: finite gradient at step 1",
              f["gradient norm at step 1"], f["non-finite gradient entries at step 1"] == 0
              and math.isfinite(f["gradient norm at step 1"])),
        check("fixed", "and training lowers the loss more than 5-fold in 30 steps, weights finite throughout",
              f["final loss"] / f["loss at step 1"], f["weights finite after training"] is True
              and f["final loss"] < f["loss at step 1"] / 5 and all(math.isfinite(v) for v in fixed.curves["loss"])),
        check("broken", f"{short}: the gradient is huge but finite, and clipnorm=1 keeps the run finite "
                        "(not good: the loss stays huge)",
              b[f"{short}: gradient norm at step 1"], b[f"{short}, clipnorm=1: all finite"] is True
              and "nan" in b[f"{short}, no clipping: losses"]
              and 1e6 < b[f"{short}: gradient norm at step 1"] < FLOAT32_MAX),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
