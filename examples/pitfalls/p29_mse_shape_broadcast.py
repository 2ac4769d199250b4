"""P29 (N,1) prediction vs (N,) target in MSE

Symptom: A regression model's loss drops for a moment and then sits at the variance of the target
(here about 9.0) however long it trains. Every prediction ends up close to the same number, the mean
of y, so R^2 is about 0, although the target is an exact linear function of the inputs.
Cause: The model outputs shape (N, 1) and the targets have shape (N,). y_true - y_pred broadcasts
(N,) against (N, 1) to an (N, N) matrix: every prediction is compared with every target. The mean of
that matrix is Var_batch(y) + Var_batch(p) + (mean(y) - mean(p))^2, which is smallest when all
predictions equal mean(y); the loss can never go below Var(y) and the model learns nothing about x.
Fix: Give both the same shape: y.reshape(-1, 1) (or squeeze the model output). Only a loss written
by hand and called directly, as in a custom GradientTape loop, broadcasts: Keras's built-in losses
and compile() (which wraps a loss function in LossFunctionWrapper) first bring y_true and y_pred to
the same rank (squeeze_or_expand_to_same_rank), and so does pitfall, so model.fit with the same
(N,) targets trains, with the built-in 'mse' or with the hand-written function.
Keras:
    model = keras.Sequential([..., layers.Dense(1)])           # output (N, 1)
    with tf.GradientTape() as tape:
        loss = ops.mean(ops.square(y - model(x)))               # y (N,): broadcasts to (N, N)
    optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
Source: pytorch/pytorch#16045 (the same broadcast in torch's MSELoss, which now warns);
keras/src/losses/loss.py squeeze_or_expand_to_same_rank and keras/src/trainers/compile_utils.py
get_loss (why compile() does not show it).
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

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


def custom_loop(x, targets, seed):
    """Mini-batch SGD in a GradientTape loop with the hand-written loss, one loss value per epoch."""
    pf.utils.set_random_seed(seed)
    model = regression_model()
    optimizer = pf.optimizers.SGD(learning_rate=0.05)
    losses = []
    for _ in range(EPOCHS):
        total = 0.0
        for start in range(0, SAMPLES, BATCH):
            x_batch, y_batch = x[start:start + BATCH], targets[start:start + BATCH]
            with pf.GradientTape() as tape:
                loss = hand_written_mse(y_batch, model(x_batch, training=True))
            optimizer.apply(tape.gradient(loss, model.trainable_weights), model.trainable_weights)
            total += float(loss)
        losses.append(total / (SAMPLES // BATCH))
    return model, losses


def compiled_final_loss(x, targets, loss):
    """model.fit with the same targets: compile() aligns y_true to y_pred's rank, as Keras's does."""
    model = regression_model()
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.05), loss=loss)
    history = model.fit(x, targets, epochs=EPOCHS, batch_size=BATCH, shuffle=False, verbose=0)
    return curve_from_history(history)[-1]


def train(seed, targets_as_column):
    x, y = linear_data(seed)
    targets = y.reshape(-1, 1) if targets_as_column else y
    model, losses = custom_loop(x, targets, seed)
    prediction = model.predict(x, verbose=0).reshape(-1)
    values = {"final loss": losses[-1], "Var(y)": float(np.var(y)),
              "R^2 of the predictions": r_squared(y, prediction),
              "std(prediction) / std(y)": float(np.std(prediction) / np.std(y)),
              "mean(prediction) - mean(y)": float(np.mean(prediction) - np.mean(y))}
    if not targets_as_column:
        # The same (N,) targets through compile()/fit(): no broadcast, with either loss.
        values["fit, hand-written loss compiled: final loss"] = compiled_final_loss(x, targets, hand_written_mse)
        values["fit, built-in 'mse': final loss"] = compiled_final_loss(x, targets, "mse")
    setup = f"Dense(1) output (N, 1), targets {'(N, 1)' if targets_as_column else '(N,)'}, hand-written MSE, custom loop"
    return Run(setup=setup, curves={"loss": losses}, values=values)


def broken(seed):
    return train(seed, targets_as_column=False)


def fixed(seed):
    return train(seed, targets_as_column=True)


def signature(broken, fixed):
    var_y = broken.values["Var(y)"]
    # Averaged over batches of 64 the floor is the mean in-batch variance, (63/64) Var(y) up to sampling noise.
    floor_low, floor_high = 0.9 * var_y, 1.05 * var_y
    noise_level = 10 * NOISE ** 2
    compiled = broken.values["fit, hand-written loss compiled: final loss"]
    builtin = broken.values["fit, built-in 'mse': final loss"]
    return [
        check("broken", f"final loss sits at Var(y) = {var_y:.3f} (within -10%/+5%)", broken.values["final loss"],
              floor_low <= broken.values["final loss"] <= floor_high),
        check("broken", "R^2 ~ 0 (|R^2| < 0.1; predicting mean(y) scores 0)", broken.values["R^2 of the predictions"],
              abs(broken.values["R^2 of the predictions"]) < 0.1),
        check("broken", "predictions collapse: std(prediction) < 0.1 std(y)",
              broken.values["std(prediction) / std(y)"], broken.values["std(prediction) / std(y)"] < 0.1),
        check("broken", f"the same loss compiled into fit() is rank-aligned as in Keras: loss < {noise_level:.2f}",
              compiled, compiled < noise_level),
        check("broken", f"built-in 'mse' in fit() on the (N,) targets: loss < {noise_level:.2f}", builtin,
              builtin < noise_level),
        check("fixed", f"loss falls to the noise level (< {noise_level:.2f})", fixed.values["final loss"],
              fixed.values["final loss"] < noise_level),
        check("fixed", "R^2 > 0.99", fixed.values["R^2 of the predictions"],
              fixed.values["R^2 of the predictions"] > 0.99),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
