"""P06 uint8 pixels fed without normalization (and x /= 255 on an integer array)

Symptom: Fashion-MNIST loaded as uint8 and passed straight to fit(): the first epoch's loss is in the
hundreds of thousands, then it sits at ln 10 = 2.3026 and accuracy freezes at the rate of one class
(10.5% here). The same model on x / 255 passes 80% test accuracy in a few epochs. Trying to fix it
with x /= 255 raises an error, and x //= 255 or x[:] = x / 255 "work" but turn every pixel into 0
(or 1 where it was exactly 255).
Cause: The model casts uint8 to float32 but does not scale: inputs up to 255 give pre-activations and
gradients hundreds of times larger than the initializers assume, the first SGD steps throw the
weights far away, the ReLUs end up outputting 0 for every image and only the output bias still
learns. (Adaptive optimizers such as Adam survive better, but still train worse.) An integer NumPy
array cannot hold x / 255: in-place true division is refused (UFuncTypeError), and floor division or
assignment back into the integer array truncates 0..254 to 0.
Fix: Convert once, explicitly: x = x.astype("float32") / 255 (or a Rescaling(1/255) layer first).
pitfall warns at the model input that it saw uint8 values in [0, 255]; pf.config.set_strict_dtypes(True)
makes it an error.
Keras:
    (x_train, y_train), _ = keras.datasets.fashion_mnist.load_data()   # uint8, 0..255
    model = keras.Sequential([layers.Flatten(), layers.Dense(128, activation="relu"), layers.Dense(10)])
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    model.fit(x_train, y_train)          # no / 255
Source: tensorflow/tensorflow#32899, keras-team/keras#15778.
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, error_message, fashion_mnist_subset, main

CLASSES = 10
EPOCHS = 6
REFERENCES = {"log10 of the loss": [(math.log10(math.log(CLASSES)), "log10(ln 10) = 0.362: uniform prediction")]}


def train(seed, scale):
    (x, y), (x_test, y_test) = fashion_mnist_subset(train=5000, test=2000, seed=seed)
    if scale:
        x, x_test = x.astype("float32") / 255, x_test.astype("float32") / 255
    model = pf.Sequential([pf.Input((28, 28)), pf.layers.Flatten(),
                           pf.layers.Dense(128, activation="relu"), pf.layers.Dense(CLASSES)])
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.05),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, epochs=EPOCHS, batch_size=64, verbose=0)
    hidden = np.asarray(model.layers[1](model.layers[0](x_test[:500].astype("float32"))))  # what the model sees
    test_predictions = np.argmax(model.predict(x_test, verbose=0), axis=1)
    return {"x": x, "y": y, "y_test": y_test, "history": history,
            "test accuracy": float(np.mean(test_predictions == y_test)),
            "distinct test predictions": len(np.unique(test_predictions)),
            "ReLUs outputting 0 on test images": float(np.mean(hidden == 0.0)),
            "most common training class rate": float(np.bincount(y, minlength=CLASSES).max() / len(y)),
            "rate of the predicted class in test": float(np.mean(y_test == np.bincount(test_predictions).argmax()))}


def in_place_division():
    """What NumPy does to an integer array divided in place (pixels 0, 128, 254, 255)."""
    pixels = np.array([0, 128, 254, 255], dtype=np.uint8)
    attempt = pixels.copy()
    refused = error_message(lambda: np.true_divide(attempt, 255, out=attempt))   # what x /= 255 does
    floor = pixels.copy()
    floor //= 255
    assigned = pixels.copy()
    assigned[:] = assigned / 255
    return refused, floor, assigned


def trained_run(seed, scale, setup, extra_values, texts=None):
    """The Run of one training: curves and the values both variants report, then `extra_values`."""
    r = train(seed, scale=scale)
    losses, accuracy = curve_from_history(r["history"]), curve_from_history(r["history"], "accuracy")
    x_range = f"{r['x'].min()}..{r['x'].max()}" if not scale else f"{r['x'].min():g}..{r['x'].max():g}"
    values = {"input dtype": str(r["x"].dtype), "input range": x_range,
              "first epoch loss": losses[0], "final loss": losses[-1], "final training accuracy": accuracy[-1]}
    values.update(extra_values(r))
    return Run(setup=setup, curves={"log10 of the loss": [math.log10(v) for v in losses], "accuracy": accuracy},
               values=values, texts=texts or {})


def broken(seed):
    refused, floor, assigned = in_place_division()
    return trained_run(seed, False, "raw uint8 pixels 0..255, SGD 0.05", lambda r: {
        "most common training class rate": r["most common training class rate"],
        "test accuracy": r["test accuracy"],
        "distinct classes predicted on the test set": r["distinct test predictions"],
        "test rate of the one predicted class": r["rate of the predicted class in test"],
        "ReLUs outputting 0 on test images": r["ReLUs outputting 0 on test images"],
        "uint8 [0, 128, 254, 255] //= 255": str(floor.tolist()),
        "x[:] = x / 255 on uint8": str(assigned.tolist())}, texts={"x /= 255 on a uint8 array": refused})


def fixed(seed):
    converted = np.array([0, 128, 254, 255], dtype=np.uint8).astype("float32") / 255
    return trained_run(seed, True, "x.astype('float32') / 255, SGD 0.05", lambda r: {
        "test accuracy": r["test accuracy"],
        "distinct classes predicted on the test set": r["distinct test predictions"],
        "ReLUs outputting 0 on test images": r["ReLUs outputting 0 on test images"],
        "uint8 [0, 128, 254, 255].astype('float32') / 255": " ".join(f"{v:.4f}" for v in converted)})


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    uint8_warning = [w for w in broken.warnings if "uint8 input with values in [0, 255] cast to float32" in w]
    return [
        check("broken", "the engine warns at the model input that it got uint8 values in [0, 255]",
              f"{len(uint8_warning)} warning(s)", len(uint8_warning) == 1),
        check("broken", "training accuracy freezes at the most common class rate "
              f"({b['most common training class rate']:.4f}, +-0.01)", b["final training accuracy"],
              abs(b["final training accuracy"] - b["most common training class rate"]) < 0.01),
        check("broken", "the model predicts a single class on the test set", b["distinct classes predicted on the test set"],
              b["distinct classes predicted on the test set"] == 1),
        check("broken", "the loss ends at ln 10 = 2.3026 (+-0.01)", b["final loss"],
              abs(b["final loss"] - math.log(CLASSES)) < 0.01),
        check("broken", "x /= 255 on uint8 raises (UFuncTypeError); //= 255 and x[:] = x / 255 give [0, 0, 0, 1]",
              broken.texts["x /= 255 on a uint8 array"].split(":")[0],
              "Cannot cast ufunc 'divide' output" in broken.texts["x /= 255 on a uint8 array"]
              and b["uint8 [0, 128, 254, 255] //= 255"] == "[0, 0, 0, 1]" and b["x[:] = x / 255 on uint8"] == "[0, 0, 0, 1]"),
        check("fixed", "test accuracy > 0.8 on held-out images", f["test accuracy"], f["test accuracy"] > 0.8),
        check("fixed", "no engine warning", f"{len(fixed.warnings)} warnings", not fixed.warnings),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
