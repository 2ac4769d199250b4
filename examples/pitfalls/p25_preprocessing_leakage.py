"""P25 Preprocessing fitted before the split (leakage)

Symptom: Cross-validation reports a validation accuracy far above chance, e.g. 0.8 on a two-class
problem, and the model then performs at chance on genuinely new data. Here the features are pure
noise and the labels are coin flips, so no model can beat 0.5, yet the validation accuracy is high.
Cause: The preprocessing saw the validation rows. Choosing the 20 features most correlated with the
label among 5000 noise features, on ALL rows, picks features that happen to agree with the validation
labels too; scaling fitted on all rows leaks their mean and variance as well. The validation rows are no
longer unseen, so the estimate is biased upwards: the classic "wrong way to do cross-validation".
Fix: Fit every data-dependent step (feature selection, scaler, vocabulary, imputation) inside each
training fold only, then apply it unchanged to that fold's validation rows. The estimate falls to the
truth: ~0.5 (with 200 validation predictions its standard error is sqrt(0.25 / 200) = 0.035).
Keras:
    x = StandardScaler().fit_transform(x)                        # fitted on all rows
    x = x[:, top_k_by_correlation(x, y, k=20)]                   # selected on all rows
    model.fit(x_train, y_train, validation_data=(x_val, y_val))  # the split comes after
Source: Hastie, Tibshirani, Friedman, "The Elements of Statistical Learning", 2nd ed., section 7.10.2 "The
Wrong and Right Way to Do Cross-validation"; scikit-learn documentation "Common pitfalls and recommended
practices: Data leakage".
"""
import math

import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

SAMPLES, FEATURES, SELECTED, FOLDS = 200, 5000, 20, 5
CHANCE = 0.5
STANDARD_ERROR = math.sqrt(CHANCE * (1 - CHANCE) / SAMPLES)   # 0.035 over the 200 validation predictions
REFERENCES = {"validation accuracy": [(CHANCE, "chance = 0.5 (the labels are coin flips)")]}


def noise(seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype(np.float32)
    y = rng.integers(0, 2, size=SAMPLES).astype(np.float32)   # coin flips, independent of x
    return x, y


def fit_preprocessing(x, y):
    """Standardization + the SELECTED features with the largest |correlation| with y, fitted on (x, y)."""
    mean, std = x.mean(axis=0), x.std(axis=0)
    z = (x - mean) / std
    centred_y = y - y.mean()
    correlation = np.abs(z.T @ centred_y) / (np.linalg.norm(z, axis=0) * np.linalg.norm(centred_y))
    chosen = np.sort(np.argsort(-correlation, kind="stable")[:SELECTED])
    return lambda rows: ((rows - mean) / std)[:, chosen].astype(np.float32)


def classifier(x, y):
    model = pf.Sequential([pf.Input((SELECTED,)), pf.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=pf.optimizers.Adam(learning_rate=0.05), loss="binary_crossentropy",
                  metrics=["accuracy"])
    model.fit(x, y, epochs=40, batch_size=32, verbose=0)
    return model


def cross_validate(seed, inside_split):
    x, y = noise(seed)
    folds = np.array_split(np.random.default_rng(seed + 1).permutation(SAMPLES), FOLDS)
    everything = None if inside_split else fit_preprocessing(x, y)   # the leak: sees every row
    accuracies, correct, training = [], 0, []
    for fold in folds:
        train_rows = np.setdiff1d(np.arange(SAMPLES), fold)
        transform = fit_preprocessing(x[train_rows], y[train_rows]) if inside_split else everything
        model = classifier(transform(x[train_rows]), y[train_rows, None])
        predicted = (np.asarray(model.predict(transform(x[fold]), verbose=0))[:, 0] > 0.5).astype(np.float32)
        hits = int(np.sum(predicted == y[fold]))
        correct += hits
        accuracies.append(hits / len(fold))
        training.append(float(model.evaluate(transform(x[train_rows]), y[train_rows, None], verbose=0)[1]))
    setup = ("scaler + top-20 selection fitted per training fold" if inside_split
             else "scaler + top-20 selection fitted on all rows")
    return Run(setup=setup, x_label="fold",
               curves={"validation accuracy": accuracies, "training accuracy": training},
               values={"cross-validated accuracy (200 predictions)": correct / SAMPLES,
                       "distance from chance in standard errors": (correct / SAMPLES - CHANCE) / STANDARD_ERROR,
                       "mean training accuracy": float(np.mean(training))})


def broken(seed):
    return cross_validate(seed, inside_split=False)


def fixed(seed):
    return cross_validate(seed, inside_split=True)


def signature(broken, fixed):
    name = "cross-validated accuracy (200 predictions)"
    b, f = broken.values[name], fixed.values[name]
    return [
        check("broken", f"validation accuracy on pure noise is far above chance: > 0.7 (over "
                        f"{(0.7 - CHANCE) / STANDARD_ERROR:.1f} standard errors)", b, b > 0.7),
        check("fixed", f"validation accuracy is at chance: |acc - 0.5| < 0.15 (within "
                       f"{0.15 / STANDARD_ERROR:.1f} standard errors of {STANDARD_ERROR:.3f})", f, abs(f - CHANCE) < 0.15),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
