"""P19 Inference left in training mode

Symptom: A trained model gives a different prediction each time it sees the same input; predictions for a
single image are nonsense while the same image inside a larger batch looks fine, and the prediction for
one sample changes with whatever else is in the batch.
Cause: The model is called in training mode at inference (model(x, training=True) in Keras, a forgotten
model.eval() in PyTorch). Dropout(0.5) then zeroes a fresh random half of the units on every call, and
BatchNormalization normalizes with the statistics of the current batch instead of its moving averages.
On a batch of one sample x - mean(batch) is exactly 0, so the layer outputs exactly beta whatever the
input; on larger batches each output depends on the other samples.
Fix: Predict in inference mode: model.predict(x) or model(x, training=False) (model.eval() in PyTorch).
Dropout is then the identity and BatchNorm uses gamma (x - moving_mean) / sqrt(moving_variance + eps) + beta,
which depends on the sample alone.
Keras:
    model = keras.Sequential([layers.Dense(16), layers.BatchNormalization(), layers.Dropout(0.5),
                              layers.Dense(3)])
    model.fit(x_train, y_train, epochs=5)
    probabilities = model(x_test, training=True)     # or a PyTorch model without model.eval()
Source: pytorch/pytorch#5406 (BatchNorm in train mode on a batch of 1); Keras documentation of the
`training` argument of BatchNormalization and Dropout.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

CLASSES, FEATURES, UNITS = 3, 10, 16
EPSILON = 1e-3   # Keras BatchNormalization default
PASSES = 10


def blobs(seed, n, test_n=64):
    """Three Gaussian clusters: n training and test_n test samples from the same centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 2.0, size=(CLASSES, FEATURES))
    y = rng.integers(0, CLASSES, size=n + test_n).astype(np.int32)
    x = (centres[y] + rng.normal(0.0, 1.0, size=(n + test_n, FEATURES))).astype(np.float32)
    return (x[:n], y[:n]), (x[n:], y[n:])


def trained_model(seed):
    (x, y), _ = blobs(seed, 600)
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(UNITS), pf.layers.BatchNormalization(),
                           pf.layers.Dropout(0.5), pf.layers.Dense(CLASSES, activation="softmax")])
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=32, verbose=0)
    return model


def infer(seed, training):
    model = trained_model(seed)
    _, (x_test, y_test) = blobs(seed, 600)
    dense, bn = model.layers[0], model.layers[1]
    gamma, beta, moving_mean, moving_variance = bn.get_weights()

    passes = [np.asarray(model(x_test, training=training)) for _ in range(PASSES)]
    spread = float(max(np.max(np.abs(p - passes[0])) for p in passes))
    flipped = float(np.mean([np.mean(np.argmax(p, 1) != np.argmax(passes[0], 1)) for p in passes[1:]]))

    one_at_a_time = np.concatenate([np.asarray(model(x_test[i:i + 1], training=training)) for i in range(len(x_test))])

    # BatchNorm on batches of one sample each.
    hidden = np.asarray(dense(x_test))
    single = np.stack([np.asarray(bn(hidden[i:i + 1], training=training))[0] for i in range(16)])
    inference_formula = gamma * (hidden[:16] - moving_mean) / np.sqrt(moving_variance + EPSILON) + beta

    # The same sample in two different batches: rows 0..31, and row 0 with rows 32..62.
    in_batch_a = np.asarray(bn(hidden[:32], training=training))[0]
    in_batch_b = np.asarray(bn(np.concatenate([hidden[:1], hidden[32:63]]), training=training))[0]

    setup = "model(x, training=True) at inference" if training else "model(x, training=False) / predict()"
    return Run(setup=setup, x_label="call",
               curves={"P(true class) of test sample 0, repeated calls":
                           [float(p[0, y_test[0]]) for p in passes],
                       "BatchNorm unit 0 on a batch of 1, 16 different inputs": [float(v) for v in single[:, 0]]},
               values={"max |difference| over 10 passes of the same inputs": spread,
                       "share of predicted classes that change between passes": flipped,
                       "test accuracy (first pass)": float(np.mean(np.argmax(passes[0], 1) == y_test)),
                       "test accuracy, one sample per call": float(np.mean(np.argmax(one_at_a_time, 1) == y_test)),
                       "max |BatchNorm(batch of 1) - beta|": float(np.max(np.abs(single - beta))),
                       "max |BatchNorm(batch of 1) - inference formula|":
                           float(np.max(np.abs(single - inference_formula))),
                       "max |sample 0 in batch A - in batch B|": float(np.max(np.abs(in_batch_a - in_batch_b)))})


def broken(seed):
    return infer(seed, training=True)


def fixed(seed):
    return infer(seed, training=False)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    return [
        check("broken", "10 passes of the same inputs give different outputs",
              b["max |difference| over 10 passes of the same inputs"],
              b["max |difference| over 10 passes of the same inputs"] > 1e-3),
        check("broken", "BatchNorm on a batch of 1 outputs exactly beta, whatever the input",
              b["max |BatchNorm(batch of 1) - beta|"], b["max |BatchNorm(batch of 1) - beta|"] == 0.0),
        check("broken", "one sample's output depends on the rest of its batch",
              b["max |sample 0 in batch A - in batch B|"], b["max |sample 0 in batch A - in batch B|"] > 1e-2),
        check("broken", "one sample per call: accuracy near chance 1/3 (< 0.6), the input is normalized away",
              b["test accuracy, one sample per call"], b["test accuracy, one sample per call"] < 0.6),
        check("fixed", "10 passes of the same inputs are bitwise identical",
              f["max |difference| over 10 passes of the same inputs"],
              f["max |difference| over 10 passes of the same inputs"] == 0.0),
        check("fixed", "BatchNorm on a batch of 1 = gamma (x - moving_mean) / sqrt(moving_var + 1e-3) + beta",
              f["max |BatchNorm(batch of 1) - inference formula|"],
              f["max |BatchNorm(batch of 1) - inference formula|"] < 1e-5),
        check("fixed", "one sample per call: accuracy as in batches (> 0.9)", f["test accuracy, one sample per call"],
              f["test accuracy, one sample per call"] > 0.9),
        check("fixed", "one sample's output does not depend on its batch (bitwise)",
              f["max |sample 0 in batch A - in batch B|"], f["max |sample 0 in batch A - in batch B|"] == 0.0),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
