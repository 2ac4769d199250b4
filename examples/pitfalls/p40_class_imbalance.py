"""P40 Class imbalance: 95% accuracy that never finds the rare class

Symptom: A binary classifier on data where 5% of the examples are positive (fraud, a disease, a
defect) reports ~95% accuracy after a few epochs, and the number looks good, but it almost never
predicts the positive class: its recall on the positives, the only class that matters here, is near
0.
Cause: The loss is an average over examples, so 95% of it comes from the majority class. On
overlapping classes the cheapest way to lower it is to predict "negative" nearly everywhere: that
alone scores the majority share (0.95) in accuracy. With a 19:1 prior, a point needs a likelihood 19
times higher under the positive class before predicting positive lowers the average loss, so only
the far tail of the positives is ever called positive. Accuracy hides this because it is dominated
by the same majority.
Fix: Weight the classes so that each contributes equally to the loss: fit(class_weight={c: total /
(n_classes x count_c)}) (scikit-learn's "balanced"; here 0.53 for the 1890 negatives and 9.1 for
the 110 positives, so that each class carries total / 2 of the weight). Recall on the positives rises from
~0 to most of them; judge the model by per-class recall / precision (or balanced accuracy), not
accuracy. Resampling the minority class works too.
Keras:
    model.fit(x, y, epochs=10)                                               # accuracy 0.95, recall ~0
    weights = {c: len(y) / (2 * np.sum(y == c)) for c in (0, 1)}
    model.fit(x, y, epochs=10, class_weight=weights)
Source: the TensorFlow tutorial "Classification on imbalanced data" (class weights total / (2 x
count)); King & Zeng 2001, "Logistic Regression in Rare Events Data"; SageMaker Debugger's
ClassImbalance rule.
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, main

SAMPLES, TEST, FEATURES, POSITIVE_SHARE, SEPARATION = 2000, 2000, 10, 0.05, 1.5
EPOCHS, BATCH = 10, 32


def data(seed, n):
    """Negatives N(0, I); positives N(SEPARATION along one direction, I), a POSITIVE_SHARE of the rows:
    the two classes overlap, as real rare-event data does."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < POSITIVE_SHARE).astype(np.float32)
    direction = np.ones(FEATURES) / np.sqrt(FEATURES)
    x = (rng.normal(size=(n, FEATURES)) + SEPARATION * y[:, None] * direction).astype(np.float32)
    return x, y.reshape(-1, 1)


def balanced_weights(y):
    """scikit-learn's class_weight="balanced": total / (n_classes * count) for each class."""
    classes, counts = np.unique(y.astype(np.int64), return_counts=True)
    return {int(c): len(y) / (len(classes) * int(n)) for c, n in zip(classes, counts)}


def train(seed, weighted):
    x, y = data(seed, SAMPLES)
    x_test, y_test = data(seed + 1, TEST)
    weights = balanced_weights(y) if weighted else None
    model = pf.Sequential([pf.Input((FEATURES,)), pf.layers.Dense(16, activation="relu"), pf.layers.Dense(1)])
    model.compile(optimizer=pf.optimizers.Adam(1e-3), loss=pf.losses.BinaryCrossentropy(from_logits=True),
                  metrics=[pf.metrics.BinaryAccuracy(threshold=0.0, name="accuracy")])
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0, class_weight=weights)
    predicted = np.asarray(model.predict(x_test, verbose=0)).reshape(-1) > 0.0
    truth = y_test.reshape(-1) == 1.0
    counts = {c: int(np.sum(y == c)) for c in (0, 1)}
    values = {"positives in training (share)": counts[1] / len(y),
              "test accuracy": float(np.mean(predicted == truth)),
              "majority share of the test set": float(1.0 - np.mean(truth)),
              "recall of the positives (test)": float(np.mean(predicted[truth])),
              "recall of the negatives (test)": float(np.mean(~predicted[~truth])),
              "weight carried by class 0 / by class 1": 1.0}
    values["balanced accuracy (test)"] = (values["recall of the positives (test)"] +
                                          values["recall of the negatives (test)"]) / 2
    if weighted:
        values["class_weight[0]"], values["class_weight[1]"] = weights[0], weights[1]
        values["weight carried by class 0 / by class 1"] = weights[0] * counts[0] / (weights[1] * counts[1])
    else:
        values["weight carried by class 0 / by class 1"] = counts[0] / counts[1]
    return Run(setup=f"Dense(16, relu) -> Dense(1), {POSITIVE_SHARE:.0%} positives, "
                     + ("class_weight balanced" if weighted else "no class_weight"),
               curves={"loss": curve_from_history(history), "accuracy": curve_from_history(history, "accuracy")},
               values=values)


def broken(seed):
    return train(seed, False)


def fixed(seed):
    return train(seed, True)


def signature(broken, fixed):
    b, f = broken.values, fixed.values
    positives, share = "recall of the positives (test)", "majority share of the test set"
    return [
        check("broken", "test accuracy within 0.01 of always predicting the majority class",
              b["test accuracy"], b["test accuracy"] >= b[share] - 0.01),
        check("broken", "recall of the positives < 0.2", b[positives], b[positives] < 0.2),
        check("broken", "the majority class carries >= 10x the loss weight of the minority",
              b["weight carried by class 0 / by class 1"], b["weight carried by class 0 / by class 1"] >= 10),
        check("fixed", "class_weight makes both classes carry the same weight (count x weight)",
              f["weight carried by class 0 / by class 1"], abs(f["weight carried by class 0 / by class 1"] - 1) < 1e-9),
        check("fixed", "recall of the positives > 0.6, three times the broken run's or more", f[positives],
              f[positives] > max(0.6, 3 * b[positives])),
        check("fixed", "balanced accuracy higher than the broken run's by > 0.15", f["balanced accuracy (test)"],
              f["balanced accuracy (test)"] > b["balanced accuracy (test)"] + 0.15),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
