"""P14 BatchNormalization momentum means opposite things in Keras and PyTorch

Symptom: a model ported between Keras and PyTorch trains as before but evaluates badly: validation
accuracy jumps around from epoch to epoch, or inference outputs are off for the first thousand steps,
while training-mode outputs look fine.
Cause: Keras updates moving = momentum * moving + (1 - momentum) * batch with momentum 0.99: the
momentum weights the OLD value. PyTorch updates running = (1 - momentum) * running + momentum * batch
with momentum 0.1: its momentum weights the NEW batch. Copying the number across flips its meaning.
From a moving mean of 0, one step on data with mean 5 gives:
    Keras momentum 0.99          0.01 * 5 = 0.05
    PyTorch momentum 0.1         0.1 * 5  = 0.5
    PyTorch given 0.99 (ported)  0.99 * 5 = 4.95: the statistics are the last batch, noise and all
(and Keras given PyTorch's 0.1 keeps 0.9 of each new batch: 4.5). Over t steps the moving mean is
5 (1 - r^t) where r is the weight kept on the old value (0.99, 0.9, 0.01): the mis-ported layer follows
every batch, so the inference-mode statistics change with whichever batch came last.
Fix: convert, do not copy: torch momentum = 1 - Keras momentum (Keras 0.99 = torch 0.01; torch 0.1 =
Keras 0.9). In pitfall the meaning is explicit: BatchNormalization(convention="torch") uses PyTorch's
rule and default 0.1, and `pitfall defaults` prints both rows.
Keras:
    layers.BatchNormalization(momentum=0.99)                 # Keras: 0.99 * moving + 0.01 * batch
    torch.nn.BatchNorm1d(features, momentum=0.99)            # the port: 0.01 * running + 0.99 * batch
Source: pytorch/examples#289, pytorch/vision#8250.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

DATA_MEAN, DATA_STD, BATCH, STEPS, FEATURES = 5.0, 2.0, 16, 1000, 4
REFERENCES = {"moving mean (feature 0)": [(DATA_MEAN, "data mean 5")]}


def one_step(**kwargs):
    """The moving mean after one training-mode call on a batch whose every value is 5."""
    layer = pf.layers.BatchNormalization(**kwargs)
    layer(np.full((BATCH, FEATURES), DATA_MEAN, np.float32), training=True)
    return float(layer.get_weights()[2][0])


def curve(seed, **kwargs):
    """The moving mean of feature 0 after each of STEPS batches drawn from N(5, 2^2)."""
    rng = np.random.default_rng(seed)
    layer = pf.layers.BatchNormalization(**kwargs)
    out = []
    for _ in range(STEPS):
        layer(rng.normal(DATA_MEAN, DATA_STD, size=(BATCH, FEATURES)).astype(np.float32), training=True)
        out.append(float(layer.get_weights()[2][0]))
    return out


def spread(values, kept):
    """Standard deviation, over the last half of the run, of the moving mean around its expected value
    5 (1 - kept^t), `kept` being the weight the rule keeps on the old value."""
    residuals = [v - DATA_MEAN * (1 - kept ** (t + 1)) for t, v in enumerate(values)]
    return float(np.sqrt(np.mean(np.square(residuals[len(values) // 2:]))))


def broken(seed):
    ported = curve(seed, momentum=0.99, convention="torch")
    return Run(setup="torch-convention BatchNormalization given Keras's momentum=0.99", x_label="step",
               curves={"moving mean (feature 0)": ported},
               values={"one step, torch rule, momentum 0.99 (mis-port)": one_step(momentum=0.99, convention="torch"),
                       "one step, Keras rule, momentum 0.1 (mis-port)": one_step(momentum=0.1),
                       "spread of the moving mean, second half": spread(ported, 0.01),
                       "spread of one batch mean, sigma / sqrt(16)": DATA_STD / np.sqrt(BATCH)})


def fixed(seed):
    converted = curve(seed, momentum=0.01, convention="torch")
    keras = curve(seed)
    return Run(setup="torch-convention momentum=0.01 (= Keras 0.99)", x_label="step",
               curves={"moving mean (feature 0)": converted},
               values={"one step, Keras default (0.99)": one_step(),
                       "one step, torch default (0.1)": one_step(convention="torch"),
                       "one step, torch rule, momentum 0.01": one_step(momentum=0.01, convention="torch"),
                       "largest difference to a Keras momentum=0.99 layer": max(
                           abs(a - b) for a, b in zip(converted, keras)),
                       "spread of the moving mean, second half": spread(converted, 0.99)})


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    sigma_batch = DATA_STD / np.sqrt(BATCH)
    # A moving average keeping r of the old value has stationary std sigma_batch * sqrt((1 - r) / (1 + r)).
    ported_spread = sigma_batch * np.sqrt(0.99 / 1.01)
    converted_spread = sigma_batch * np.sqrt(0.01 / 1.99)
    return [
        check("broken", "torch rule given 0.99: one step on data of mean 5 -> 0.99 * 5 = 4.95",
              b["one step, torch rule, momentum 0.99 (mis-port)"],
              abs(b["one step, torch rule, momentum 0.99 (mis-port)"] - 4.95) < 1e-5),
        check("broken", "Keras rule given 0.1: one step -> 0.9 * 5 = 4.5", b["one step, Keras rule, momentum 0.1 (mis-port)"],
              abs(b["one step, Keras rule, momentum 0.1 (mis-port)"] - 4.5) < 1e-5),
        check("broken", f"the moving mean follows each batch: spread ~ sigma/sqrt(16) * sqrt(0.99/1.01) = "
                        f"{ported_spread:.3f} (+-30%)", b["spread of the moving mean, second half"],
              abs(b["spread of the moving mean, second half"] / ported_spread - 1) < 0.3),
        check("fixed", "Keras default 0.99: one step -> 0.01 * 5 = 0.05", f["one step, Keras default (0.99)"],
              abs(f["one step, Keras default (0.99)"] - 0.05) < 1e-6),
        check("fixed", "torch default 0.1: one step -> 0.1 * 5 = 0.5", f["one step, torch default (0.1)"],
              abs(f["one step, torch default (0.1)"] - 0.5) < 1e-6),
        check("fixed", "torch momentum 0.01 tracks a Keras 0.99 layer step for step (to 1e-5)",
              f["largest difference to a Keras momentum=0.99 layer"],
              f["largest difference to a Keras momentum=0.99 layer"] < 1e-5),
        check("fixed", f"and its spread is ~ sigma/sqrt(16) * sqrt(0.01/1.99) = {converted_spread:.3f} (+-50%)",
              f["spread of the moving mean, second half"],
              abs(f["spread of the moving mean, second half"] / converted_spread - 1) < 0.5),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
