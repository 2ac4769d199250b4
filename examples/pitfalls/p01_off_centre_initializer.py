"""P01 Off-centre custom initializer (RandomNormal with mean +5 or -5)

Symptom: The model compiles, fit() runs, and nothing learns. With kernels drawn around +5 the loss
sits at a large constant (14.46 here) and accuracy stays at the rate of one class; the logits are
about 10^11. With kernels drawn around -5 the loss starts at exactly ln 10 = 2.3026 and barely moves:
every prediction is 1/10 for every class.
Cause: A Dense kernel with mean m adds up fan_in terms of size m * input, so every layer multiplies the
scale by about fan_in * m. With m = +5 four layers turn pixels in [0, 1] into logits near 10^11: far
beyond exp's float32 range (exp(88.7) is already the largest float32), so exp(logits) is inf and a
softmax that does not subtract the max returns NaN; the built-in softmax returns probabilities of
exactly 0 and 1. The loss then reads a clipped probability of 1e-7 (-ln 1e-7 = 16.118 per wrong
sample) and the clip has zero gradient: no weight moves. With m = -5 every pre-activation of the first
layer is negative, every ReLU outputs 0 and passes no gradient back: the logits are just the last
bias, and that bias is the only weight that learns.
Fix: Keep the initializer centred at 0 with a variance scaled to the fan-in: he_normal for ReLU
layers, glorot_uniform (the Keras default) for the output layer.
Keras:
    init = keras.initializers.RandomNormal(mean=5.0, stddev=1.0)
    model = keras.Sequential([layers.Dense(128, activation="relu", kernel_initializer=init), ...x3,
                              layers.Dense(10, activation="softmax", kernel_initializer=init)])
Source: keras-team/keras#52, tensorflow/tensorflow#19081 (initialization and dead or saturated units).
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, fashion_mnist_subset, main

CLASSES = 10
EPOCHS = 4
CLIP = 1e-7                              # probabilities are clipped to [1e-7, 1 - 1e-7] before the log
WRONG_ONE_HOT = -math.log(CLIP)          # 16.118: the loss of a sample whose true class got probability 0
UNIFORM = math.log(CLASSES)              # 2.3026: the loss of predicting 1/10 for every class
EXP_LIMIT = math.log(np.finfo(np.float32).max)   # 88.72: exp(z) overflows float32 above this
REFERENCES = {"loss, kernels mean +5": [(WRONG_ONE_HOT, "-ln(1e-7) = 16.118: a wrong one-hot prediction")],
              "loss, kernels mean -5": [(UNIFORM, "ln 10 = 2.3026: uniform prediction")]}


def data(seed):
    (x, y), (x_test, y_test) = fashion_mnist_subset(train=3000, test=1000, seed=seed)
    return (x.reshape(len(x), -1).astype("float32") / 255, y.astype("int64"),
            x_test.reshape(len(x_test), -1).astype("float32") / 255, y_test.astype("int64"))


def build(hidden_init, output_init):
    model = pf.Sequential([pf.Input((784,))] +
                          [pf.layers.Dense(128, activation="relu", kernel_initializer=hidden_init) for _ in range(3)] +
                          [pf.layers.Dense(CLASSES, activation="softmax", kernel_initializer=output_init)])
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.001), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def step0(model, x, y):
    """Logits, ReLU outputs and gradients of the first batch, before any update."""
    h, dead = x, []
    for layer in model.layers[:-1]:
        h = np.asarray(layer(h))
        dead.append(float(np.mean(h == 0.0)))
    kernel, bias = model.layers[-1].get_weights()
    logits = h.astype(np.float64) @ kernel.astype(np.float64) + bias
    with pf.GradientTape() as tape:
        loss = pf.losses.SparseCategoricalCrossentropy()(y, model(x))
    grads = tape.gradient(loss, model.trainable_weights)
    moving = [w.path for w, g in zip(model.trainable_weights, grads) if np.any(g.numpy() != 0)]
    return logits, dead, moving


def train(seed, mean):
    x, y, x_test, y_test = data(seed)
    if mean is None:
        model = build("he_normal", "glorot_uniform")
    else:
        init = pf.initializers.RandomNormal(mean=mean, stddev=1.0)
        model = build(init, init)
    logits, dead, moving = step0(model, x[:256], y[:256])
    before = [w.copy() for w in model.get_weights()]
    loss0 = model.evaluate(x, y, verbose=0)[0]
    history = model.fit(x, y, epochs=EPOCHS, batch_size=64, verbose=0)
    changed = [i for i, (a, b) in enumerate(zip(before, model.get_weights())) if not np.array_equal(a, b)]
    with np.errstate(over="ignore", invalid="ignore"):
        exp32 = np.exp(logits.astype(np.float32))
        naive = exp32 / exp32.sum(axis=1, keepdims=True)
    return {"loss": curve_from_history(history), "accuracy": curve_from_history(history, "accuracy"),
            "loss at step 0": loss0, "max |logit| at step 0": float(np.max(np.abs(logits))),
            "naive exp/sum softmax non-finite": float(np.mean(~np.isfinite(naive))),
            "ReLUs outputting 0 (layers 1-3)": dead, "weights with a gradient at step 0": moving,
            "weights changed by training": changed, "test accuracy": model.evaluate(x_test, y_test, verbose=0)[1],
            "majority class rate": float(np.bincount(y, minlength=CLASSES).max() / len(y)),
            "weight names": [w.path for w in model.trainable_weights]}


def broken(seed):
    plus, minus = train(seed, 5.0), train(seed, -5.0)
    values = {}
    for tag, r in (("mean +5", plus), ("mean -5", minus)):
        values[f"{tag}: loss at step 0"] = r["loss at step 0"]
        values[f"{tag}: max |logit| at step 0"] = r["max |logit| at step 0"]
        values[f"{tag}: naive softmax entries non-finite"] = r["naive exp/sum softmax non-finite"]
        values[f"{tag}: ReLUs outputting 0"] = " / ".join(f"{d:.0%}" for d in r["ReLUs outputting 0 (layers 1-3)"])
        values[f"{tag}: weights with a gradient at step 0"] = len(r["weights with a gradient at step 0"])
        values[f"{tag}: weights changed by training"] = ", ".join(
            r["weight names"][i] for i in r["weights changed by training"]) or "none"
        values[f"{tag}: final training accuracy"] = r["accuracy"][-1]
        values[f"{tag}: test accuracy"] = r["test accuracy"]
    values["majority class rate (training)"] = plus["majority class rate"]
    values["trainable weights"] = len(plus["weight names"])
    values["mean -5: last bias is the only weight changed"] = \
        minus["weights changed by training"] == [len(minus["weight names"]) - 1]
    return Run(setup="kernels RandomNormal(mean=+5 / -5, stddev=1), Adam 1e-3",
               curves={"loss, kernels mean +5": plus["loss"], "loss, kernels mean -5": minus["loss"],
                       "training accuracy (broken: mean -5)": minus["accuracy"]},
               values=values,
               texts={"what the two off-centre runs show": (
                   f"mean +5: logits up to {plus['max |logit| at step 0']:.3g} at step 0, exp() of them is inf, "
                   f"the softmax is one-hot and the clipped loss has no gradient; loss stays at "
                   f"{plus['loss'][-1]:.4f}.\nmean -5: {minus['ReLUs outputting 0 (layers 1-3)'][0]:.0%} of the "
                   f"ReLUs output 0, loss at step 0 = {minus['loss at step 0']:.4f} = ln 10; only "
                   f"{', '.join(minus['weight names'][i] for i in minus['weights changed by training'])} moves.")},
               x_label="epoch")


def fixed(seed):
    r = train(seed, None)
    return Run(setup="he_normal (ReLU layers) + glorot_uniform (output), Adam 1e-3",
               curves={"loss, kernels mean +5": r["loss"], "loss, kernels mean -5": r["loss"],
                       "training accuracy (broken: mean -5)": r["accuracy"]},
               values={"loss at step 0": r["loss at step 0"], "max |logit| at step 0": r["max |logit| at step 0"],
                       "naive softmax entries non-finite": r["naive exp/sum softmax non-finite"],
                       "ReLUs outputting 0": " / ".join(f"{d:.0%}" for d in r["ReLUs outputting 0 (layers 1-3)"]),
                       "weights with a gradient at step 0": len(r["weights with a gradient at step 0"]),
                       "weights changed by training": len(r["weights changed by training"]),
                       "lowest training loss": min(r["loss"]), "final training accuracy": r["accuracy"][-1],
                       "test accuracy": r["test accuracy"], "trainable weights": len(r["weight names"])},
               x_label="epoch")


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    plus_level = (1 - b["mean +5: final training accuracy"]) * WRONG_ONE_HOT
    return [
        check("broken", f"mean +5: logits at step 0 exceed exp's float32 range ({EXP_LIMIT:.2f}) by > 10^6",
              b["mean +5: max |logit| at step 0"], b["mean +5: max |logit| at step 0"] > 1e6 * EXP_LIMIT),
        check("broken", "mean +5: a hand-written exp/sum softmax of those logits is non-finite (fraction of entries)",
              b["mean +5: naive softmax entries non-finite"], b["mean +5: naive softmax entries non-finite"] > 0.5),
        check("broken", "mean +5: no weight has a gradient at step 0 (saturated softmax, clipped loss)",
              b["mean +5: weights with a gradient at step 0"], b["mean +5: weights with a gradient at step 0"] == 0),
        check("broken", f"mean +5: loss = (1 - accuracy) * -ln(1e-7) = {plus_level:.4f} (+-0.01)",
              b["mean +5: loss at step 0"], abs(b["mean +5: loss at step 0"] - plus_level) < 0.01),
        check("broken", "mean -5: 100% of the ReLUs of the first layer output 0",
              b["mean -5: ReLUs outputting 0"], b["mean -5: ReLUs outputting 0"] == "100% / 100% / 100%"),
        check("broken", f"mean -5: loss at step 0 is ln 10 = {UNIFORM:.4f} (+-1e-4)", b["mean -5: loss at step 0"],
              abs(b["mean -5: loss at step 0"] - UNIFORM) < 1e-4),
        check("broken", "mean -5: only the last bias changes during training",
              b["mean -5: weights changed by training"], b["mean -5: last bias is the only weight changed"]),
        check("broken", "both: test accuracy within 0.05 of the majority-class rate "
              f"({b['majority class rate (training)']:.3f})",
              f"{b['mean +5: test accuracy']:.3f} / {b['mean -5: test accuracy']:.3f}",
              max(abs(b[f"mean {s}: test accuracy"] - b["majority class rate (training)"]) for s in ("+5", "-5")) < 0.05),
        check("fixed", "logits at step 0 stay small (max |logit| < 20)", f["max |logit| at step 0"],
              f["max |logit| at step 0"] < 20),
        check("fixed", "every weight gets a gradient and changes", f"{f['weights with a gradient at step 0']} of "
              f"{f['trainable weights']}", f["weights with a gradient at step 0"] == f["trainable weights"]
              and f["weights changed by training"] == f["trainable weights"]),
        check("fixed", "the loss falls below half of ln 10", f["lowest training loss"],
              f["lowest training loss"] < UNIFORM / 2),
        check("fixed", "test accuracy > 0.75", f["test accuracy"], f["test accuracy"] > 0.75),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
