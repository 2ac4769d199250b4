"""P17 Custom training loop without training=True

Symptom: A model with BatchNormalization and Dropout trains in a hand-written GradientTape loop, the
loss goes down (even faster than it should, since nothing is dropped), yet the model behaves differently from the same model trained with fit(): after 100
steps the BatchNormalization moving_mean is still exactly its initial 0, and Dropout never drops a
unit (two forward passes of the same batch give identical outputs).
Cause: Calling model(x) without the training argument runs the model in inference mode. BatchNorm
then normalizes with its moving statistics and never updates them; Dropout is the identity. fit()
passes training=True for you; a custom loop has to pass it itself.
Fix: Call model(x, training=True) inside the tape. Then the moving mean follows the momentum rule
m <- 0.99 m + 0.01 mean(batch) step by step, Dropout is active, and the loop reproduces fit() exactly
(same data order, same seed: bitwise-equal weights).
Keras:
    with tf.GradientTape() as tape:
        logits = model(x_batch)              # training defaults to inference mode
        loss = loss_fn(y_batch, logits)
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
Source: tensorflow/tensorflow#31184; the TensorFlow guide "Writing a training loop from scratch"
passes training=True.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

FEATURES, CLASSES = 8, 3
SAMPLES, BATCH, EPOCHS = 640, 64, 10
STEPS = EPOCHS * SAMPLES // BATCH            # 100 train steps
MOMENTUM = 0.99                              # Keras BatchNormalization default
FEATURE_MEANS = np.linspace(1.0, 4.0, FEATURES)   # inputs far from zero mean: the moving mean must move
REFERENCES = {"moving_mean (average over features)": [(float(FEATURE_MEANS.mean()), "mean of the inputs = 2.5")]}


def data(seed):
    rng = np.random.default_rng(seed)
    x = (FEATURE_MEANS + rng.normal(0.0, 1.0, size=(SAMPLES, FEATURES))).astype(np.float32)
    y = np.argmax((x - FEATURE_MEANS) @ rng.normal(size=(FEATURES, CLASSES)), axis=1).astype(np.int32)
    return x, y


def build(seed):
    pf.utils.set_random_seed(seed)
    model = pf.Sequential([pf.Input((FEATURES,)),
                           pf.layers.BatchNormalization(momentum=MOMENTUM),
                           pf.layers.Dense(32, activation="relu"),
                           pf.layers.Dropout(0.5),
                           pf.layers.Dense(CLASSES)])
    model.compile(optimizer=pf.optimizers.SGD(learning_rate=0.05),
                  loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def expected_moving_mean(x):
    """The momentum rule applied to the batch means the loop sees, in float64."""
    moving = np.zeros(FEATURES)
    for step in range(STEPS):
        start = (step * BATCH) % SAMPLES
        moving = MOMENTUM * moving + (1 - MOMENTUM) * x[start:start + BATCH].astype(np.float64).mean(axis=0)
    return moving


def train(seed, training):
    x, y = data(seed)
    model = build(seed)
    loss_fn = pf.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = model.optimizer
    bn = model.layers[0]
    losses, moving_means = [], []
    for step in range(STEPS):
        start = (step * BATCH) % SAMPLES       # the order fit(shuffle=False) uses
        xb, yb = x[start:start + BATCH], y[start:start + BATCH]
        with pf.GradientTape() as tape:
            logits = model(xb, training=True) if training else model(xb)
            loss = loss_fn(yb, logits)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
        moving_means.append(float(np.mean(bn.get_weights()[2])))
    moving_mean = bn.get_weights()[2]
    loop_weights = model.get_weights()         # before the probe below: train-mode calls move BatchNorm
    # Is Dropout active in the call the loop makes? Two passes of the same batch.
    call = (lambda b: model(b, training=True)) if training else (lambda b: model(b))
    dropout_difference = float(np.max(np.abs(np.asarray(call(x[:BATCH])) - np.asarray(call(x[:BATCH])))))

    reference = build(seed)                    # the same model, same seed, trained by fit()
    reference.fit(x, y, batch_size=BATCH, epochs=EPOCHS, shuffle=False, verbose=0)
    versus_fit = max(float(np.max(np.abs(a - b))) for a, b in zip(loop_weights, reference.get_weights()))

    setup = "GradientTape loop calling " + ("model(x, training=True)" if training else "model(x)")
    return Run(setup=setup, x_label="step",
               curves={"loss": losses, "moving_mean (average over features)": moving_means},
               values={"train steps": STEPS,
                       "max |moving_mean|": float(np.max(np.abs(moving_mean))),
                       "max |moving_mean - momentum rule|": float(np.max(np.abs(moving_mean - expected_moving_mean(x)))),
                       "max |difference of two passes|": dropout_difference,
                       "max |weights - fit() weights|": versus_fit})


def broken(seed):
    return train(seed, training=False)


def fixed(seed):
    return train(seed, training=True)


def signature(broken, fixed):
    after = 1 - MOMENTUM ** STEPS   # share of the data mean the moving mean holds after STEPS updates: 0.634
    b, f = broken.values, fixed.values
    return [
        check("broken", f"BatchNorm moving_mean is still exactly 0 after {STEPS} steps", b["max |moving_mean|"],
              b["max |moving_mean|"] == 0.0),
        check("broken", "Dropout inactive: two passes of the same batch are identical",
              b["max |difference of two passes|"], b["max |difference of two passes|"] == 0.0),
        check("broken", "the weights differ from fit() on the same data and seed", b["max |weights - fit() weights|"],
              b["max |weights - fit() weights|"] > 1e-3),
        check("fixed", f"moving_mean follows m <- 0.99 m + 0.01 mean(batch) (reaches {after:.3f} of the data mean)",
              f["max |moving_mean - momentum rule|"], f["max |moving_mean - momentum rule|"] < 1e-4),
        check("fixed", "Dropout active: two passes of the same batch differ", f["max |difference of two passes|"],
              f["max |difference of two passes|"] > 1e-3),
        check("fixed", "the loop reproduces fit() bitwise", f["max |weights - fit() weights|"],
              f["max |weights - fit() weights|"] == 0.0),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
