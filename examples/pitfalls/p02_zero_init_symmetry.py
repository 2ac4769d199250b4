"""P02 Zero or constant initialization (symmetry never broken)

Symptom: A Dense(64, tanh) -> Dense(10) network trains, but the loss stops at the entropy of the
label frequencies (what you get by always predicting how common each class is) and accuracy stays at
the majority-class rate. With kernel_initializer="ones" it learns a little, then plateaus far below a
normally initialized network (23% accuracy here against 100%).
Cause: With every kernel zero, each hidden unit outputs tanh(0) = 0, the output kernel's gradient
(hidden outputs x error) is 0, and the hidden gradient (error x output kernel) is 0: only the output
bias can move, so the model learns the class frequencies and nothing else. With every kernel equal
to one constant, all 64 hidden units compute the same function of the input and receive the same
gradient, so they stay the same unit repeated 64 times. In exact arithmetic the 64 columns of the
hidden kernel stay equal forever; in float32 the matrix multiply rounds a few blocks of columns
differently, so after training they differ by about 1e-6 and nothing more: rounding noise is the only
thing that breaks the symmetry, far too weakly to help. With ReLU and zero kernels the hidden
gradients are exactly 0 as well.
Fix: Initialize kernels randomly (glorot_uniform, Keras's default, or he_normal for ReLU); zeros are
fine for biases, never for kernels.
Keras:
    model = keras.Sequential([layers.Dense(64, activation="tanh", kernel_initializer="zeros"),
                              layers.Dense(10, kernel_initializer="zeros")])
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
Source: the symmetry-breaking argument of Goodfellow, Bengio, Courville, Deep Learning, section 8.4;
Keras initializers guide (keras.io/api/layers/initializers).
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

CLASSES = 10
FEATURES = 20
HIDDEN = 64
EPOCHS = 20


def blobs(seed, n=2000):
    """Ten Gaussian clusters with unequal class frequencies, so that 'learning the frequencies' shows."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.5, size=(CLASSES, FEATURES)).astype(np.float32)
    frequencies = np.linspace(1.0, 3.0, CLASSES)
    y = rng.choice(CLASSES, size=n, p=frequencies / frequencies.sum()).astype(np.int64)
    x = centres[y] + rng.normal(0.0, 1.0, size=(n, FEATURES)).astype(np.float32)
    return x, y


def label_entropy(y):
    p = np.bincount(y, minlength=CLASSES) / len(y)
    return float(-np.sum(p[p > 0] * np.log(p[p > 0])))


def distinct_columns(kernel):
    return len({column.tobytes() for column in np.ascontiguousarray(kernel.T)})


def train(seed, init, activation="tanh"):
    x, y = blobs(seed)
    model = pf.Sequential([pf.Input((FEATURES,)),
                           pf.layers.Dense(HIDDEN, activation=activation, kernel_initializer=init),
                           pf.layers.Dense(CLASSES, kernel_initializer=init)])
    loss = pf.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.05), loss=loss, metrics=["accuracy"])
    with pf.GradientTape() as tape:
        value = loss(y[:256], model(x[:256]))
    grads = tape.gradient(value, model.trainable_weights)
    hidden_grad = float(np.max(np.abs(grads[0].numpy())))
    history = model.fit(x, y, epochs=EPOCHS, batch_size=64, shuffle=False, verbose=0)
    kernel = model.layers[0].get_weights()[0]
    return {"loss": curve_from_history(history), "accuracy": curve_from_history(history, "accuracy"),
            "max |hidden kernel gradient| at step 0": hidden_grad,
            "distinct hidden kernel columns": distinct_columns(kernel),
            "hidden kernel max |w|": float(np.max(np.abs(kernel))),
            "hidden column spread": float(np.max(kernel.max(axis=1) - kernel.min(axis=1))),
            "label entropy": label_entropy(y),
            "majority class rate": float(np.bincount(y, minlength=CLASSES).max() / len(y))}


def broken(seed):
    zeros = train(seed, "zeros")
    constant = train(seed, "ones")
    relu = train(seed, "zeros", activation="relu")
    values = {"label entropy H(y)": zeros["label entropy"], "majority class rate": zeros["majority class rate"]}
    for tag, r in (("zeros", zeros), ("ones", constant)):
        values[f"{tag}: final loss"] = r["loss"][-1]
        values[f"{tag}: final accuracy"] = r["accuracy"][-1]
        values[f"{tag}: distinct hidden kernel columns (of {HIDDEN})"] = r["distinct hidden kernel columns"]
        values[f"{tag}: hidden kernel max |w| after training"] = r["hidden kernel max |w|"]
        values[f"{tag}: max |hidden kernel gradient| at step 0"] = r["max |hidden kernel gradient| at step 0"]
        values[f"{tag}: largest difference between two hidden columns"] = r["hidden column spread"]
    values["relu + zeros: max |hidden kernel gradient| at step 0"] = relu["max |hidden kernel gradient| at step 0"]
    values["relu + zeros: distinct hidden kernel columns"] = relu["distinct hidden kernel columns"]
    return Run(setup="Dense(64, tanh) -> Dense(10), kernels zeros (and ones), SGD 0.05",
               curves={"loss (broken: zeros)": zeros["loss"], "loss (broken: ones)": constant["loss"],
                       "accuracy (broken: ones)": constant["accuracy"]},
               values=values, x_label="epoch")


def fixed(seed):
    r = train(seed, "glorot_uniform")
    return Run(setup="Dense(64, tanh) -> Dense(10), kernels glorot_uniform, SGD 0.05",
               curves={"loss (broken: zeros)": r["loss"], "loss (broken: ones)": r["loss"],
                       "accuracy (broken: ones)": r["accuracy"]},
               values={"label entropy H(y)": r["label entropy"], "final loss": r["loss"][-1],
                       "final accuracy": r["accuracy"][-1],
                       f"distinct hidden kernel columns (of {HIDDEN})": r["distinct hidden kernel columns"],
                       "max |hidden kernel gradient| at step 0": r["max |hidden kernel gradient| at step 0"]},
               x_label="epoch")


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    entropy = b["label entropy H(y)"]
    return [
        check("broken", "zeros: the hidden kernel gets exactly zero gradient and stays all zeros",
              b["zeros: hidden kernel max |w| after training"],
              b["zeros: max |hidden kernel gradient| at step 0"] == 0 and b["zeros: hidden kernel max |w| after training"] == 0),
        check("broken", f"zeros: the loss ends at the label entropy H(y) = {entropy:.4f} (+-0.01)",
              b["zeros: final loss"], abs(b["zeros: final loss"] - entropy) < 0.01),
        check("broken", f"zeros: accuracy = the majority-class rate {b['majority class rate']:.4f}",
              b["zeros: final accuracy"], abs(b["zeros: final accuracy"] - b["majority class rate"]) < 1e-6),
        check("broken", "ones: the hidden kernel moves, yet its 64 columns stay equal to float32 rounding "
              "(largest difference < 1e-5, at most 4 bitwise-distinct columns)",
              f"{b['ones: largest difference between two hidden columns']:.3g}, "
              f"{b[f'ones: distinct hidden kernel columns (of {HIDDEN})']} distinct, max |w| "
              f"{b['ones: hidden kernel max |w| after training']:.4f}",
              b["ones: largest difference between two hidden columns"] < 1e-5
              and b[f"ones: distinct hidden kernel columns (of {HIDDEN})"] <= 4
              and b["ones: hidden kernel max |w| after training"] != 1.0),
        check("broken", "ones: accuracy stays below 0.4 (one effective hidden unit)", b["ones: final accuracy"],
              b["ones: final accuracy"] < 0.4),
        check("broken", "relu + zeros: hidden kernel gradient exactly 0",
              b["relu + zeros: max |hidden kernel gradient| at step 0"],
              b["relu + zeros: max |hidden kernel gradient| at step 0"] == 0),
        check("fixed", f"all {HIDDEN} hidden kernel columns differ", f[f"distinct hidden kernel columns (of {HIDDEN})"],
              f[f"distinct hidden kernel columns (of {HIDDEN})"] == HIDDEN),
        check("fixed", "the loss falls below a quarter of H(y)", f["final loss"], f["final loss"] < entropy / 4),
        check("fixed", "accuracy > 0.9", f["final accuracy"], f["final accuracy"] > 0.9),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
