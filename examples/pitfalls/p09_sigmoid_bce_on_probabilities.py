"""P09 Sigmoid output + binary crossentropy on probabilities: saturated samples stop learning

Symptom: a binary classifier's loss sits at a suspiciously round value such as 15.94 or 16.12 per
sample, or a group of confidently wrong samples never gets corrected, although the optimizer runs and
nothing is NaN.
Cause: in float32, sigmoid(x) = 1 / (1 + e^-x) rounds to exactly 1.0 once e^-x < 2^-24, i.e. for
x > 24 ln 2 = 16.64. Keras's binary_crossentropy on probabilities clips p to [1e-7, 1 - 1e-7] before
the log, so a confidently wrong sample costs a fixed -ln(1e-7) = 16.118 (label 1, p clipped up to 1e-7)
or -ln(2^-23) = 15.942 (label 0, p clipped down to float32(1 - 1e-7) = 1 - 2^-23), and the clip has zero
derivative: the gradient is exactly 0. From logits, the same sample costs |x| and its gradient is
sigmoid(x) - y = -1 or +1: the largest possible push in the right direction.
Fix: output logits (Dense(1), no activation) and use BinaryCrossentropy(from_logits=True); apply
sigmoid only when you need probabilities for predictions.
Keras:
    model = keras.Sequential([..., layers.Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", ...)       # from_logits=False: clipped probabilities
Source: Keras 3's binary_crossentropy (keras/src/backend/tensorflow/nn.py) clips probabilities to
[epsilon, 1 - epsilon] with keras.config.epsilon() = 1e-7 before taking the log.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

EPSILON = 1e-7
LOSS_LABEL_1 = -math.log(float(np.float32(EPSILON)))              # 16.118: p clipped up to 1e-7
LOSS_LABEL_0 = -math.log(1.0 - float(np.float32(1.0 - EPSILON)))   # 15.942: 1 - p = 2^-23
SATURATION = 24 * math.log(2)                                      # 16.64: float32 sigmoid(x) == 1 beyond
LOGIT = 20.0
REFERENCES = {"loss": [((LOSS_LABEL_0 + LOSS_LABEL_1) / 2, "clipped loss of a saturated wrong sample ~16.03")]}


def data(seed, n=256):
    """One feature whose sign is the label; the model starts with kernel -20, so every sample gets a
    confidently wrong logit of magnitude >= 20 (past the float32 sigmoid saturation)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, size=(n, 1)).astype(np.float32)
    x = ((2 * y - 1) * rng.uniform(1.0, 2.0, size=(n, 1))).astype(np.float32)
    return x, y


def single_sample(from_logits):
    """Loss and gradient for two saturated wrong samples: logit -20 with label 1, logit +20 with label 0."""
    logits = pf.Variable(np.array([[-LOGIT], [LOGIT]], np.float32))
    labels = np.array([[1.0], [0.0]], np.float32)
    with pf.GradientTape() as tape:
        y_pred = logits if from_logits else pf.ops.sigmoid(logits)
        per_sample = pf.losses.binary_crossentropy(labels, y_pred, from_logits=from_logits)
        total = pf.ops.sum(per_sample)
    gradient = np.array(tape.gradient(total, logits)).ravel()
    return np.array(per_sample).ravel(), gradient, np.array(pf.ops.sigmoid(logits)).ravel()


def train(seed, from_logits):
    x, y = data(seed)
    model = pf.Sequential([pf.Input((1,)), pf.layers.Dense(1, activation=None if from_logits else "sigmoid",
                                                           kernel_initializer=pf.initializers.Constant(-LOGIT))])
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=1.0),
                  loss=pf.losses.BinaryCrossentropy(from_logits=from_logits),
                  metrics=[pf.metrics.BinaryAccuracy(threshold=0.0 if from_logits else 0.5)])
    history = model.fit(x, y, epochs=30, batch_size=len(x), verbose=0)  # one full batch: epoch 1 = start
    losses, per_sample, gradient, probability = curve_from_history(history), *single_sample(from_logits)
    setup = ("Dense(1, sigmoid) + BinaryCrossentropy()" if not from_logits
             else "Dense(1) + BinaryCrossentropy(from_logits=True)")
    return Run(setup=setup, curves={"loss": losses,
                                    "accuracy": curve_from_history(history, "binary_accuracy")},
               values={"float32 sigmoid(+20)": float(probability[1]),
                       "loss, logit -20 label 1": float(per_sample[0]),
                       "loss, logit +20 label 0": float(per_sample[1]),
                       "dloss/dlogit, logit -20 label 1": float(gradient[0]),
                       "dloss/dlogit, logit +20 label 0": float(gradient[1]),
                       "kernel after training": float(model.get_weights()[0].ravel()[0]),
                       "final accuracy": curve_from_history(history, "binary_accuracy")[-1]})


def broken(seed):
    return train(seed, from_logits=False)


def fixed(seed):
    return train(seed, from_logits=True)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    return [
        check("broken", "float32 sigmoid(20) is exactly 1.0 (saturates beyond 24 ln 2 = 16.64)",
              b["float32 sigmoid(+20)"], b["float32 sigmoid(+20)"] == 1.0),
        check("broken", f"label 1, logit -20: clipped loss -ln(1e-7) = {LOSS_LABEL_1:.4f}", b["loss, logit -20 label 1"],
              abs(b["loss, logit -20 label 1"] - LOSS_LABEL_1) < 1e-4),
        check("broken", f"label 0, logit +20: clipped loss -ln(2^-23) = {LOSS_LABEL_0:.4f}", b["loss, logit +20 label 0"],
              abs(b["loss, logit +20 label 0"] - LOSS_LABEL_0) < 1e-4),
        check("broken", "the gradient of both saturated samples is exactly 0",
              max(abs(b["dloss/dlogit, logit -20 label 1"]), abs(b["dloss/dlogit, logit +20 label 0"])),
              b["dloss/dlogit, logit -20 label 1"] == 0.0 and b["dloss/dlogit, logit +20 label 0"] == 0.0),
        check("broken", "so training never moves the kernel from -20 (accuracy stays 0)", b["kernel after training"],
              b["kernel after training"] == -LOGIT and b["final accuracy"] == 0.0),
        check("fixed", "from logits the loss equals |logit| = 20 for both samples",
              max(abs(f["loss, logit -20 label 1"] - LOGIT), abs(f["loss, logit +20 label 0"] - LOGIT)),
              abs(f["loss, logit -20 label 1"] - LOGIT) < 1e-5 and abs(f["loss, logit +20 label 0"] - LOGIT) < 1e-5),
        check("fixed", "and the gradient is sigmoid(x) - y = -1 and +1",
              f"{f['dloss/dlogit, logit -20 label 1']:g}, {f['dloss/dlogit, logit +20 label 0']:g}",
              f["dloss/dlogit, logit -20 label 1"] == -1.0 and f["dloss/dlogit, logit +20 label 0"] == 1.0),
        check("fixed", "training flips the kernel's sign and reaches accuracy 1", f["final accuracy"],
              f["kernel after training"] > 0 and f["final accuracy"] == 1.0),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
