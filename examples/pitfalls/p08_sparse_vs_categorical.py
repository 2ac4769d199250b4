"""P08 Sparse vs categorical labels (integer labels with the one-hot loss, or the reverse)

Symptom: fit() stops at the first batch with an error about shapes, not about labels: Keras 2 said
"Shapes (None, 1) and (None, 3) are incompatible" for integer labels given to categorical_crossentropy,
and "logits and labels must have the same first dimension, got logits shape [32,3] and labels shape
[96]" for one-hot labels given to sparse_categorical_crossentropy (96 = 32 rows x 3 columns, flattened).
Neither message says which loss expects which label format.
Cause: the two losses compute the same number from two label formats. categorical_crossentropy wants
one-hot rows of shape (N, C), the same shape as the predictions; sparse_categorical_crossentropy wants
one integer class index per row, shape (N,) or (N, 1). Labels in the other format do not fit.
Fix: match the loss to the labels: integer labels -> SparseCategoricalCrossentropy; one-hot labels ->
CategoricalCrossentropy (or convert: one_hot(labels, C) / argmax(one_hot, -1)). Both then train to the
same loss. pitfall checks the label shape against the loss and names the loss, both shapes and the
loss to use instead.
Keras:
    y = np.array([0, 2, 1, ...])                       # integer class labels
    model.compile(loss="categorical_crossentropy")     # expects one-hot (N, 3)
    y_one_hot = keras.utils.to_categorical(y)
    model.compile(loss="sparse_categorical_crossentropy")  # expects integers (N,)
    model.fit(x, y_one_hot)
Source: keras-team/keras#3009, tensorflow/tensorflow#28441; the quoted messages are from
tensorflow/tensorflow#32333 and keras-team/keras#17368.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, error_message, main

CLASSES = 3
SAMPLES = 600
KERAS_MESSAGES = {
    "integer labels + categorical_crossentropy":
        "ValueError: Shapes (None, 1) and (None, 3) are incompatible",
    "one-hot labels + sparse_categorical_crossentropy":
        "InvalidArgumentError: logits and labels must have the same first dimension, got logits shape [32,3] "
        "and labels shape [96]",
}


def blobs(seed, n=SAMPLES, features=8):
    """Three separated Gaussian clusters; labels both as integers (N,) and as one-hot rows (N, 3)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 3.0, size=(CLASSES, features)).astype(np.float32)
    labels = rng.integers(0, CLASSES, size=n).astype(np.int32)
    x = centres[labels] + rng.normal(0.0, 1.0, size=(n, features)).astype(np.float32)
    return x, labels, np.eye(CLASSES, dtype=np.float32)[labels]


def model(loss, features=8):
    net = pf.Sequential([pf.Input((features,)), pf.layers.Dense(16, activation="relu"),
                         pf.layers.Dense(CLASSES, activation="softmax")])
    net.compile(optimizer=pf.optimizers.Adam(learning_rate=0.01), loss=loss, metrics=["accuracy"])
    return net


def broken(seed):
    x, labels, one_hot = blobs(seed)
    integer_with_categorical = error_message(model("categorical_crossentropy").fit, x, labels,
                                             epochs=1, batch_size=32, verbose=0)
    one_hot_with_sparse = error_message(model("sparse_categorical_crossentropy").fit, x, one_hot,
                                        epochs=1, batch_size=32, verbose=0)
    texts = {"integer labels + categorical_crossentropy (pitfall)": integer_with_categorical,
             "one-hot labels + sparse_categorical_crossentropy (pitfall)": one_hot_with_sparse}
    texts.update({f"{case} (Keras 2 said)": message for case, message in KERAS_MESSAGES.items()})
    return Run(setup="labels (N,) with categorical CE; labels (N, 3) with sparse CE",
               values={"integer labels + categorical CE": integer_with_categorical.split(":")[0] or "trained",
                       "one-hot labels + sparse CE": one_hot_with_sparse.split(":")[0] or "trained"},
               texts=texts)


def fixed(seed):
    x, labels, one_hot = blobs(seed)
    pf.utils.set_random_seed(seed)
    sparse_model = model("sparse_categorical_crossentropy")
    initial_loss = sparse_model.evaluate(x, labels, verbose=0)[0]
    sparse = sparse_model.fit(x, labels, epochs=10, batch_size=32, verbose=0, shuffle=False)
    pf.utils.set_random_seed(seed)
    categorical = model("categorical_crossentropy").fit(x, one_hot, epochs=10, batch_size=32, verbose=0,
                                                        shuffle=False)
    sparse_loss, categorical_loss = curve_from_history(sparse), curve_from_history(categorical)
    gap = max(abs(a - b) for a, b in zip(sparse_loss, categorical_loss))
    return Run(setup="labels (N,) with sparse CE; labels (N, 3) with categorical CE",
               curves={"loss": sparse_loss, "accuracy": curve_from_history(sparse, "accuracy")},
               values={"loss before training": initial_loss,
                       "final loss, integer labels + sparse CE": sparse_loss[-1],
                       "final loss, one-hot labels + categorical CE": categorical_loss[-1],
                       "largest per-epoch loss difference between the two": gap,
                       "final accuracy": curve_from_history(sparse, "accuracy")[-1]})


def _names_everything(message, loss, shapes, instead):
    return message.startswith("ValueError") and f"'{loss}'" in message and all(s in message for s in shapes) \
        and instead in message


def signature(broken, fixed):
    n = SAMPLES
    first = broken.texts["integer labels + categorical_crossentropy (pitfall)"]
    second = broken.texts["one-hot labels + sparse_categorical_crossentropy (pitfall)"]
    return [
        check("broken", f"integer labels + categorical CE: a ValueError naming the loss, y_true (32,), y_pred "
                        f"(32, {CLASSES}) and 'sparse_categorical_crossentropy'", first.split(":")[0],
              _names_everything(first, "categorical_crossentropy", ["(32,)", f"(32, {CLASSES})"],
                                "sparse_categorical_crossentropy")),
        check("broken", f"one-hot labels + sparse CE: a ValueError naming the loss, both shapes (32, {CLASSES}) "
                        "and 'categorical_crossentropy'", second.split(":")[0],
              _names_everything(second, "sparse_categorical_crossentropy", [f"(32, {CLASSES})"],
                                "Use loss='categorical_crossentropy'")),
        check("fixed", "the loss falls more than 100-fold from its value before training",
              fixed.values["loss before training"] / fixed.values["final loss, integer labels + sparse CE"],
              fixed.values["loss before training"] > 100 * fixed.values["final loss, integer labels + sparse CE"]),
        check("fixed", f"both matching pairs train to below 0.1 ({n} samples, 10 epochs)",
              max(fixed.values["final loss, integer labels + sparse CE"],
                  fixed.values["final loss, one-hot labels + categorical CE"]),
              max(fixed.values["final loss, integer labels + sparse CE"],
                  fixed.values["final loss, one-hot labels + categorical CE"]) < 0.1),
        check("fixed", "the two label formats give the same loss curve (difference < 1e-5)",
              fixed.values["largest per-epoch loss difference between the two"],
              fixed.values["largest per-epoch loss difference between the two"] < 1e-5),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
