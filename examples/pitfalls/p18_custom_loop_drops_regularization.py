"""P18 Custom training loop drops the regularization losses

Symptom: Adding kernel_regularizer=l2(...) to a layer changes nothing when the model is trained in a
hand-written GradientTape loop: the loss curve and the trained weights are bitwise identical to the
run without a regularizer, while the same model trained with fit() ends with visibly smaller weights.
Cause: A regularizer does not touch the loss function. The layer adds its penalty (for l2: l2 * sum(W^2),
no 1/2 factor) to model.losses, and fit() adds sum(model.losses) to the loss it differentiates. A custom
loop that computes only loss_fn(y, model(x)) never sees the penalty, so its gradient is exactly the
unregularized gradient.
Fix: Add the penalties inside the tape: loss = loss_fn(y, logits) + sum(model.losses). Then the kernel
shrinks, the loss contains l2 * ||W||^2, and the loop reproduces fit() bitwise.
Keras:
    layers.Dense(1, kernel_regularizer=keras.regularizers.l2(0.1))
    with tf.GradientTape() as tape:
        loss = loss_fn(y_batch, model(x_batch, training=True))   # + sum(model.losses) is missing
Source: the TensorFlow guide "Writing a training loop from scratch" (section "Low-level handling of losses
tracked by the model": `loss_value += sum(model.losses)`); keras.Model.losses documentation.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

SAMPLES, FEATURES, STEPS = 64, 32, 200
L2 = 0.1
LEARNING_RATE = 0.05


def data(seed):
    """A linear target with more weights than the data pins down well: the penalty visibly shrinks them."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    y = (x @ rng.normal(size=(FEATURES, 1)) + rng.normal(0.0, 0.5, size=(SAMPLES, 1))).astype(np.float32)
    return x, y


def build(seed, regularized):
    pf.utils.set_random_seed(seed)    # the same initial kernel with and without the regularizer
    regularizer = pf.regularizers.L2(L2) if regularized else None
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(1, kernel_regularizer=regularizer)])
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=LEARNING_RATE), loss="mse")
    return model


def custom_loop(model, x, y, add_model_losses):
    loss_fn = pf.losses.MeanSquaredError()
    losses = []
    for _ in range(STEPS):
        with pf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
            if add_model_losses:
                loss = loss + sum(model.losses)   # the penalties the layers registered
        grads = tape.gradient(loss, model.trainable_variables)
        model.optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    return losses


def train(seed, add_model_losses):
    x, y = data(seed)
    plain = build(seed, regularized=False)
    plain_losses = custom_loop(plain, x, y, add_model_losses)
    model = build(seed, regularized=True)
    losses = custom_loop(model, x, y, add_model_losses)
    kernel = model.get_weights()[0].astype(np.float64)
    penalty = float(np.sum([float(p) for p in model.losses]))

    reference = build(seed, regularized=True)    # fit() on the same model, data and seed
    reference.fit(x, y, batch_size=SAMPLES, epochs=STEPS, shuffle=False, verbose=0)
    versus_fit = max(float(np.max(np.abs(a - b))) for a, b in zip(model.get_weights(), reference.get_weights()))

    setup = "loss = loss_fn(y, model(x))" + (" + sum(model.losses)" if add_model_losses else "")
    return Run(setup=setup, x_label="step",
               curves={"loss, kernel_regularizer=l2(0.1)": losses, "loss, no regularizer": plain_losses},
               values={"max |loss(l2) - loss(none)| over all steps":
                           float(np.max(np.abs(np.array(losses) - np.array(plain_losses)))),
                       "max |kernel(l2) - kernel(none)|":
                           float(np.max(np.abs(model.get_weights()[0] - plain.get_weights()[0]))),
                       "||kernel|| with l2": float(np.linalg.norm(kernel)),
                       "||kernel|| without regularizer": float(np.linalg.norm(plain.get_weights()[0])),
                       "sum(model.losses) after training": penalty,
                       "0.1 * sum(kernel^2) by hand": L2 * float(np.sum(kernel ** 2)),
                       "max |weights - fit() weights|": versus_fit})


def broken(seed):
    return train(seed, add_model_losses=False)


def fixed(seed):
    return train(seed, add_model_losses=True)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    penalty_error = abs(f["sum(model.losses) after training"] - f["0.1 * sum(kernel^2) by hand"])
    return [
        check("broken", "loss with l2 is bitwise the loss without it, at every step",
              b["max |loss(l2) - loss(none)| over all steps"], b["max |loss(l2) - loss(none)| over all steps"] == 0.0),
        check("broken", "the l2 kernel is bitwise the unregularized kernel", b["max |kernel(l2) - kernel(none)|"],
              b["max |kernel(l2) - kernel(none)|"] == 0.0),
        check("broken", "the weights differ from fit(), which does add the penalty", b["max |weights - fit() weights|"],
              b["max |weights - fit() weights|"] > 1e-3),
        check("fixed", "the penalty model.losses holds is 0.1 * sum(W^2) (relative error < 1e-4)",
              penalty_error, penalty_error < 1e-4 * max(1.0, f["0.1 * sum(kernel^2) by hand"])),
        check("fixed", "the l2 kernel is at least 5% smaller than the unregularized one (norm ratio)",
              f["||kernel|| with l2"] / f["||kernel|| without regularizer"],
              f["||kernel|| with l2"] < 0.95 * f["||kernel|| without regularizer"]),
        check("fixed", "the loop reproduces fit() bitwise", f["max |weights - fit() weights|"],
              f["max |weights - fit() weights|"] == 0.0),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
