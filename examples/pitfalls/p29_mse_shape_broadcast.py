"""P29 (N,1) prediction vs (N,) target in MSE

Symptom: A regression model's loss drops for a moment and then sits at the variance of the target
(here about 9.0) however long it trains. Every prediction ends up close to the same number, the mean
of y, so R^2 is about 0, although the target is an exact linear function of the inputs.
Cause: The model outputs shape (N, 1) and the targets have shape (N,). y_true - y_pred broadcasts
(N,) against (N, 1) to an (N, N) matrix: every prediction is compared with every target. The mean of
that matrix is Var_batch(y) + Var_batch(p) + (mean(y) - mean(p))^2, which is smallest when all
predictions equal mean(y); the loss can never go below Var(y) and the model learns nothing about x.
Fix: Give both the same shape: y.reshape(-1, 1) (or squeeze the model output). The engine's built-in
losses refuse the (N,) / (N, 1) pair with an error naming both shapes; a hand-written loss, as
here, gets NumPy broadcasting like any other op, so the check must be done by the person writing it.
Keras:
    model = keras.Sequential([..., layers.Dense(1)])           # output (N, 1)
    def loss_fn(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))      # y_true (N,): broadcasts to (N, N)
    model.compile(optimizer="adam", loss=loss_fn); model.fit(x, y)   # y.shape == (N,)
Source: pytorch/pytorch#16045 (the same broadcast in torch's MSELoss, which now warns); Keras's
built-in mean_squared_error squeezes or broadcasts depending on the version and code path.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, error_message, main

SAMPLES, FEATURES, BATCH, EPOCHS = 512, 8, 64, 20
WEIGHT_NORM, NOISE = 3.0, 0.1
VAR_Y = WEIGHT_NORM ** 2 + NOISE ** 2  # x ~ N(0, I): Var(w.x + noise) = |w|^2 + noise^2 = 9.01
REFERENCES = {"loss": [(VAR_Y, f"Var(y) = |w|^2 + noise^2 = {VAR_Y:.2f}")]}


def linear_data(seed):
    """y = w.x + small noise with |w| = 3: a straight line any regression should fit (R^2 ~ 0.999)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 1.0, size=(SAMPLES, FEATURES)).astype(np.float32)
    w = rng.normal(0.0, 1.0, size=FEATURES)
    w *= WEIGHT_NORM / np.linalg.norm(w)
    y = (x @ w + rng.normal(0.0, NOISE, size=SAMPLES)).astype(np.float32)
    return x, y


def hand_written_mse(y_true, y_pred):
    """The loss as users write it: no shape check, so (N,) - (N, 1) broadcasts to (N, N)."""
    return pf.ops.mean(pf.ops.square(y_true - y_pred))


def regression_model():
    return pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(1)])


def r_squared(y, prediction):
    prediction = np.asarray(prediction, dtype=np.float64).reshape(-1)
    y = np.asarray(y, dtype=np.float64)
    return 1.0 - np.sum((y - prediction) ** 2) / np.sum((y - y.mean()) ** 2)


def train(seed, targets_as_column):
    x, y = linear_data(seed)
    targets = y.reshape(-1, 1) if targets_as_column else y
    texts = {}
    if not targets_as_column:
        # What the built-in loss says to the same (N,) targets (fit stops before any step).
        probe = regression_model()
        probe.compile(optimizer=pf.optimizers.SGD(learning_rate=0.05), loss="mse")
        texts["built-in 'mse' on the same targets"] = error_message(probe.fit, x, targets, epochs=1, batch_size=BATCH,
                                                                          verbose=0)
    model = regression_model()
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.05), loss=hand_written_mse)
    history = model.fit(x, targets, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0)
    prediction = model.predict(x, verbose=0).reshape(-1)
    losses = curve_from_history(history)
    setup = (f"Dense(1) output (N, 1), targets {targets.shape[1:] and '(N, 1)' or '(N,)'}, "
             "hand-written MSE")
    return Run(setup=setup, curves={"loss": losses}, texts=texts,
               values={"final loss": losses[-1], "Var(y)": float(np.var(y)),
                       "R^2 of the predictions": r_squared(y, prediction),
                       "std(prediction) / std(y)": float(np.std(prediction) / np.std(y)),
                       "mean(prediction) - mean(y)": float(np.mean(prediction) - np.mean(y))})


def broken(seed):
    return train(seed, targets_as_column=False)


def fixed(seed):
    return train(seed, targets_as_column=True)


def signature(broken, fixed):
    var_y = broken.values["Var(y)"]
    # Averaged over batches of 64 the floor is the mean in-batch variance, (63/64) Var(y) up to sampling noise.
    floor_low, floor_high = 0.9 * var_y, 1.05 * var_y
    error = broken.texts["built-in 'mse' on the same targets"]
    names_shapes = f"({BATCH},)" in error and f"({BATCH}, 1)" in error or \
        f"({SAMPLES},)" in error and f"({SAMPLES}, 1)" in error
    return [
        check("broken", f"final loss sits at Var(y) = {var_y:.3f} (within -10%/+5%)", broken.values["final loss"],
              floor_low <= broken.values["final loss"] <= floor_high),
        check("broken", "R^2 ~ 0 (|R^2| < 0.1; predicting mean(y) scores 0)", broken.values["R^2 of the predictions"],
              abs(broken.values["R^2 of the predictions"]) < 0.1),
        check("broken", "predictions collapse: std(prediction) < 0.1 std(y)",
              broken.values["std(prediction) / std(y)"], broken.values["std(prediction) / std(y)"] < 0.1),
        check("broken", "the built-in MSE refuses (N,) vs (N, 1), naming both shapes",
              error.split(":")[0] if error else "no error", error.startswith("ValueError") and names_shapes),
        check("fixed", f"loss falls to the noise level (< {10 * NOISE ** 2:.2f})", fixed.values["final loss"],
              fixed.values["final loss"] < 10 * NOISE ** 2),
        check("fixed", "R^2 > 0.99", fixed.values["R^2 of the predictions"],
              fixed.values["R^2 of the predictions"] > 0.99),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
