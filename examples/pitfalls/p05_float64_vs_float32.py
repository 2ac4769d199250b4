"""P05 float64 model, float32 data (set_floatx('float64') and mixed dtypes)

Symptom: After keras.backend.set_floatx('float64') the data still arrives as float32 (or a float32
model gets NumPy's default float64 arrays). Keras casts silently, or a custom op fails with "cannot
compute MatMul as input #1 was expected to be a double tensor but is a float tensor". Either way the
hoped-for gain in precision does not show up: results agree with float32 to about 1e-7.
Cause: set_floatx changes the dtype of layers built afterwards, not of the data: the model casts
float32 input up to float64 at its entrance, and the digits float32 never stored do not come back.
Training itself in float64 changes the result only at float32's rounding level (float32 keeps 24
bits, relative precision 6e-8), while every step costs about twice the memory and time.
Fix: Choose one dtype and convert the data once, yourself: x.astype(pf.backend.floatx()). Keep
float32 unless an analysis really needs float64. pitfall warns once at the model input, naming both
dtypes; pf.config.set_strict_dtypes(True) turns that into a TypeError.
Keras:
    keras.backend.set_floatx("float64")
    model = keras.Sequential([layers.Dense(16, activation="relu"), layers.Dense(3)])
    model.fit(x_train.astype("float32"), y_train)      # float32 data into a float64 model
Source: tensorflow/tensorflow#36790, tensorflow/tensorflow#53406.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, error_message, main

FEATURES = 8
CLASSES = 3
FLOAT32_EPSILON = float(np.finfo(np.float32).eps)   # 1.19e-7


def three_classes(seed, rows=512):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES))
    y = np.argmax(x @ rng.normal(size=(FEATURES, CLASSES)), axis=1).astype("int64")
    return x.astype("float32"), y


def train(seed, floatx, x, y):
    """The same seeded MLP built under `floatx`, trained with SGD on x (whatever its dtype)."""
    pf.backend.set_floatx(floatx)
    pf.backend.clear_session()
    pf.utils.set_random_seed(seed)
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(32, activation="relu"),
                           pf.layers.Dense(16, activation="tanh"), pf.layers.Dense(CLASSES)])
    model.compile(optimizer=pf.optimizers.SGD(0.05),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = model.fit(x, y, epochs=4, batch_size=32, shuffle=False, verbose=0)
    return model, history


def broken(seed):
    x, y = three_classes(seed)
    model, history = train(seed, "float64", x, y)
    pf.config.set_strict_dtypes(True)
    strict = error_message(model.predict, x, verbose=0)
    pf.config.set_strict_dtypes(False)
    return Run(setup="set_floatx('float64') model, float32 data",
               curves={"loss": curve_from_history(history)},
               values={"model weight dtype": model.trainable_weights[0].dtype, "data dtype": str(x.dtype),
                       "final loss": curve_from_history(history)[-1],
                       "strict dtypes: raises": strict.split(":")[0] or "nothing"},
               texts={"under pf.config.set_strict_dtypes(True)": strict})


def fixed(seed):
    x, y = three_classes(seed)
    model32, history32 = train(seed, "float32", x, y)
    w32 = [w.numpy().astype(np.float64) for w in model32.trainable_weights]
    model64, history64 = train(seed, "float64", x.astype("float64"), y)
    w64 = [w.numpy() for w in model64.trainable_weights]
    difference = max(float(np.max(np.abs(a - b))) for a, b in zip(w32, w64))
    scale = max(float(np.max(np.abs(b))) for b in w64)
    pf.config.set_strict_dtypes(True)
    strict32 = error_message(model32.predict, x, verbose=0)
    strict64 = error_message(model64.predict, x.astype("float64"), verbose=0)
    pf.config.set_strict_dtypes(False)
    return Run(setup="one dtype end to end: float32 (and, to compare, float64 with x.astype('float64'))",
               curves={"loss": curve_from_history(history32)},
               values={"model weight dtype": model32.trainable_weights[0].dtype, "data dtype": str(x.dtype),
                       "final loss": curve_from_history(history32)[-1],
                       "float64 run: final loss": curve_from_history(history64)[-1],
                       "max |w32 - w64| / max |w64|": difference / scale,
                       "weights bitwise equal": difference == 0.0,
                       "strict dtypes: raises": (strict32 + strict64).split(":")[0] or "nothing"})


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    cast = [w for w in broken.warnings if "float32 input cast to float64" in w]
    relative = f["max |w32 - w64| / max |w64|"]
    return [
        check("broken", "the model warns once at its input that float32 data is cast to float64",
              f"{len(cast)} warning(s) in {len(broken.curves['loss'])} epochs", len(cast) == 1),
        check("broken", "strict dtypes: TypeError naming the model and both dtypes",
              b["strict dtypes: raises"], broken.texts["under pf.config.set_strict_dtypes(True)"].startswith("TypeError")
              and "float32 input where float64 is expected" in broken.texts["under pf.config.set_strict_dtypes(True)"]
              and "sequential" in broken.texts["under pf.config.set_strict_dtypes(True)"]),
        check("fixed", "one dtype end to end: no warning, strict dtypes accept it", f"{len(fixed.warnings)} warnings, "
              f"strict raised: {f['strict dtypes: raises']}", not fixed.warnings and f["strict dtypes: raises"] == "nothing"),
        check("fixed", f"float32 and float64 training agree to ~float32 epsilon ({FLOAT32_EPSILON:.3g}): "
              "relative difference in (0, 1e-5)", relative, 0 < relative < 1e-5),
        check("fixed", "same final loss in float32 and float64 to 1e-5",
              abs(f["final loss"] - f["float64 run: final loss"]), abs(f["final loss"] - f["float64 run: final loss"]) < 1e-5),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
