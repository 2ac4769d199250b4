"""P10 log(0) in a hand-written cross-entropy

Symptom: a custom loss written as -sum(y * log(softmax(z))) trains for a while (or not at all) and then
the loss is nan, and after that every weight is nan. It happens when the model becomes very sure that
some class is absent, never on toy inputs where the logits are small.
Cause: softmax(z) is computed as exp(z - max z) / sum. In float32, exp(t) underflows to exactly 0 for
t < ln(2^-149) = -103.28, so a logit 200 below the largest gives probability 0 and log(0) = -inf. That
class has label 0, and 0 * (-inf) = nan in IEEE arithmetic: the loss is nan. The backward pass is no
better: d log(p) / dp = 1/p = inf, times the label 0, is nan again.
Fix: compute log-probabilities directly: log_softmax(z) = z - max z - log(sum exp(z - max z)) is
finite for every finite logit (here -200 - log(...)), so 0 * log_softmax = 0. Better still, use the
built-in CategoricalCrossentropy(from_logits=True), which does exactly that.
Keras:
    def my_loss(y_true, logits):
        return -tf.reduce_sum(y_true * tf.math.log(tf.nn.softmax(logits)), axis=-1)
    model.compile(loss=my_loss, ...)        # nan once a logit is ~100 below the largest
Source: the classic tf.log(tf.nn.softmax(...)) cross-entropy of early TensorFlow tutorials; the
TensorFlow docs of tf.nn.softmax_cross_entropy_with_logits recommend the fused form for this reason.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

CLASSES = 3
ABSENT_LOGIT = -200.0
UNDERFLOW = math.log(2.0 ** -149)   # -103.28: below this exp() of a float32 is exactly 0
SAMPLE_LOSS = math.log(1.0 + math.exp(-2.0))   # -log softmax([2, 0, -200])[0]; e^-202 is negligible
SAMPLE_GRADIENT = [1.0 / (1.0 + math.exp(-2.0)) - 1.0, math.exp(-2.0) / (1.0 + math.exp(-2.0)), 0.0]


def naive_crossentropy(y_true, logits):
    return -pf.ops.sum(y_true * pf.ops.log(pf.ops.softmax(logits)), axis=-1)


def log_softmax_crossentropy(y_true, logits):
    return -pf.ops.sum(y_true * pf.ops.log_softmax(logits), axis=-1)


def data(seed, n=512, features=4):
    """Two of the three classes occur; the model has learned that class 2 never does (bias -200)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=n)
    centres = rng.normal(0.0, 2.0, size=(2, features)).astype(np.float32)
    x = centres[labels] + rng.normal(0.0, 1.0, size=(n, features)).astype(np.float32)
    return x, np.eye(CLASSES, dtype=np.float32)[labels]


def one_sample(loss):
    """Loss and gradient of one sample with logits [2, 0, -200] and label 0, through the tape."""
    logits = pf.Variable(np.array([[2.0, 0.0, ABSENT_LOGIT]], np.float32))
    with pf.GradientTape() as tape:
        value = pf.ops.sum(loss(np.array([[1.0, 0.0, 0.0]], np.float32), logits))
    return float(np.array(value)), np.array(tape.gradient(value, logits)).ravel()


def train(seed, loss):
    x, y = data(seed)
    model = pf.Sequential([pf.Input((x.shape[1],)), pf.layers.Dense(CLASSES)])
    kernel, bias = model.get_weights()
    model.set_weights([kernel * 0.1, np.array([0.0, 0.0, ABSENT_LOGIT], np.float32)])
    probabilities = np.array(pf.ops.softmax(model(x[:1])))[0]
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.1), loss=loss)
    history = model.fit(x, y, epochs=10, batch_size=64, verbose=0, shuffle=False)
    losses = curve_from_history(history)
    weights_finite = all(np.isfinite(w).all() for w in model.get_weights())
    sample_loss, sample_gradient = one_sample(loss)
    return Run(setup=f"custom loss {loss.__name__}, class-2 logit ~{ABSENT_LOGIT:g}",
               curves={"loss": losses},
               values={"softmax probability of the absent class": float(probabilities[2]),
                       "loss of logits [2, 0, -200], label 0": sample_loss,
                       "its gradient dloss/dz": " ".join(f"{g:.6g}" for g in sample_gradient),
                       "first epoch loss": losses[0], "final loss": losses[-1],
                       "weights finite after training": weights_finite})


def broken(seed):
    return train(seed, naive_crossentropy)


def fixed(seed):
    return train(seed, log_softmax_crossentropy)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    return [
        check("broken", f"exp(-200) underflows: the absent class's probability is exactly 0 (float32 exp is 0 "
                        f"below {UNDERFLOW:.2f})", b["softmax probability of the absent class"],
              b["softmax probability of the absent class"] == 0.0),
        check("broken", "0 * log(0) = nan: the loss is nan from the first epoch", b["first epoch loss"],
              math.isnan(b["first epoch loss"])),
        check("broken", "one sample with logits [2, 0, -200]: loss and gradient are nan",
              f"{b['loss of logits [2, 0, -200], label 0']}; {b['its gradient dloss/dz']}",
              math.isnan(b["loss of logits [2, 0, -200], label 0"]) and "nan" in b["its gradient dloss/dz"]),
        check("broken", "and the nan gradient has turned the weights into nan", b["weights finite after training"],
              b["weights finite after training"] is False),
        check("fixed", "log_softmax keeps the loss finite at every epoch", f["first epoch loss"],
              all(math.isfinite(v) for v in fixed.curves["loss"])),
        check("fixed", "one sample: loss ln(1 + e^-2 + e^-202) = 0.1269, gradient softmax(z) - y",
              f"{f['loss of logits [2, 0, -200], label 0']:.6g}; {f['its gradient dloss/dz']}",
              abs(f["loss of logits [2, 0, -200], label 0"] - SAMPLE_LOSS) < 1e-6
              and np.allclose([float(v) for v in f["its gradient dloss/dz"].split()], SAMPLE_GRADIENT, atol=1e-7)),
        check("fixed", "and the model learns the two present classes (final loss < 0.1)", f["final loss"],
              f["final loss"] < 0.1 and f["weights finite after training"] is True),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
