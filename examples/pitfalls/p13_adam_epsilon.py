"""P13 Adam's epsilon: same name, different value and place in Keras and PyTorch

Symptom: a training recipe ported between PyTorch and Keras with "the same" Adam (same learning rate,
default betas and epsilon) trains much more slowly, or differently, when the gradients are tiny: a loss
summed over few, small values, a very small output scale, late training with small residuals.
Cause: the two rules differ. PyTorch: w -= lr * m_hat / (sqrt(v_hat) + 1e-8) with m_hat = m / (1 - b1^t),
v_hat = v / (1 - b2^t): epsilon is added AFTER the bias correction. Keras: w -= lr * sqrt(1 - b2^t) /
(1 - b1^t) * m / (sqrt(v) + 1e-7): the correction is folded into the learning rate and epsilon is added
to the square root of the UNcorrected v. For a constant gradient g, m = (1 - b1^t) g and
sqrt(v) = sqrt(1 - b2^t) |g|, so the steps are
    PyTorch: lr * |g| / (|g| + 1e-8)                                = lr / 2 for g = 1e-8, every step
    Keras:   lr * s |g| / (s |g| + 1e-7), s = sqrt(1 - 0.999^t)     = lr * 0.0031523 at t = 1
At step 1 the Keras step is 0.0063 times PyTorch's (160 times smaller). It grows with t towards
lr * g / (g + 1e-7) = lr / 11 (s -> 1), still 2/11 = 0.18 of PyTorch's. (The often quoted
"lr/11 vs lr/2" is only this limit; it leaves out the sqrt(1 - b2^t) that Keras applies to the
learning rate.) When |g| >> 1e-7 both rules give a step of ~lr and the runs agree.
Fix: keep gradients well above epsilon (normalize inputs and targets, use a mean rather than a tiny
scale), or choose epsilon knowingly (Keras: Adam(epsilon=1e-10)); to reproduce a PyTorch run, use the
PyTorch rule: in pitfall, pf.optimizers.Adam(convention="torch").
Keras:
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)      # eps 1e-7, next to sqrt(v)
    # the PyTorch original: torch.optim.Adam(params, lr=1e-3)  # eps 1e-8, after bias correction
Source: pitfalls.md P13 (seed 003); Keras keras/src/optimizers/adam.py and torch/optim/adam.py
(the update rules; docs/optimizers.md lists both).
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

LR, BETA_1, BETA_2 = 1e-3, 0.9, 0.999
KERAS_EPSILON, TORCH_EPSILON = 1e-7, 1e-8
STEPS = 3000
TINY, ORDINARY = 1e-8, 1e-3


def keras_step(g, t):
    """Keras's step / lr for a constant gradient g at step t (derived in the docstring)."""
    s = math.sqrt(1 - BETA_2 ** t)
    return s * g / (s * g + KERAS_EPSILON)


def torch_step(g, t):
    return g / (g + TORCH_EPSILON)


REFERENCES = {"step / lr, Keras Adam()": [(1 / 11, "limit g/(g+1e-7) = 1/11 for g = 1e-8")],
              "step / lr, Adam(convention='torch')": [(0.5, "g/(g+1e-8) = 1/2 for g = 1e-8")]}


def steps(convention, gradient):
    """Step / lr at every step of Adam under `convention`, for a constant gradient. float64 weights, so
    that each step is measured to 1e-16."""
    optimizer = pf.optimizers.Adam(learning_rate=LR, convention=convention)
    weight = pf.Variable(np.zeros(1, np.float64))
    g = pf.tensor(np.full(1, gradient, np.float64))
    previous, out = 0.0, []
    for _ in range(STEPS):
        optimizer.apply_gradients([(g, weight)])
        now = float(weight.numpy()[0])
        out.append((previous - now) / LR)
        previous = now
    return out


def run(gradient):
    keras, torch = steps("keras", gradient), steps("torch", gradient)
    return Run(setup=f"Adam(), constant gradient {gradient:g}, lr {LR:g}, Keras vs torch rule", x_label="step",
               curves={"step / lr, Keras Adam()": keras, "step / lr, Adam(convention='torch')": torch,
                       "Keras step / torch step": [k / t for k, t in zip(keras, torch)]},
               values={"Keras step / lr at step 1": keras[0], "torch step / lr at step 1": torch[0],
                       "Keras / torch at step 1": keras[0] / torch[0],
                       f"Keras step / lr at step {STEPS}": keras[-1],
                       f"Keras / torch at step {STEPS}": keras[-1] / torch[-1],
                       "largest relative deviation from the closed forms": max(
                           max(abs(k / keras_step(gradient, t + 1) - 1) for t, k in enumerate(keras)),
                           max(abs(s / torch_step(gradient, t + 1) - 1) for t, s in enumerate(torch)))})


def broken(seed):
    return run(TINY)


def fixed(seed):
    return run(ORDINARY)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    ratio_1 = keras_step(TINY, 1) / torch_step(TINY, 1)
    return [
        check("broken", f"g = 1e-8, step 1: Keras step = lr * {keras_step(TINY, 1):.7f}",
              b["Keras step / lr at step 1"], abs(b["Keras step / lr at step 1"] - keras_step(TINY, 1)) < 1e-9),
        check("broken", "g = 1e-8, step 1: torch step = lr / 2", b["torch step / lr at step 1"],
              abs(b["torch step / lr at step 1"] - 0.5) < 1e-9),
        check("broken", f"Keras / torch at step 1 = {ratio_1:.5f} (the limit lr/11 vs lr/2 would say 2/11 = 0.18)",
              b["Keras / torch at step 1"], abs(b["Keras / torch at step 1"] - ratio_1) < 1e-6),
        check("broken", f"all {STEPS} steps match the closed forms (relative 1e-7: Keras keeps lr in float32), "
                        f"Keras tending to lr/11 ({keras_step(TINY, STEPS):.5f} at step {STEPS})",
              b["largest relative deviation from the closed forms"],
              b["largest relative deviation from the closed forms"] < 1e-7),
        check("fixed", "g = 1e-3 >> eps: Keras and torch steps agree within 0.4% at step 1",
              f["Keras / torch at step 1"], abs(f["Keras / torch at step 1"] - 1) < 4e-3),
        check("fixed", f"and within 1e-4 at step {STEPS}", f[f"Keras / torch at step {STEPS}"],
              abs(f[f"Keras / torch at step {STEPS}"] - 1) < 1e-4),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
