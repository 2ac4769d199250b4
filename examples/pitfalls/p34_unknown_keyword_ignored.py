"""P34 Renamed or unknown keyword silently ignored (lr= instead of learning_rate=)

Symptom: A script written for older Keras sets SGD(lr=0.1). On TensorFlow 2.11-2.15 it runs, prints
one log line "`lr` is deprecated in Keras optimizer, please use `learning_rate`", and trains much
more slowly than before: after five epochs the loss is higher than it used to be after two. Nothing
fails; the learning rate that was asked for is simply not used.
Cause: The optimizer accepted the old keyword and dropped it, keeping its default learning_rate=0.01.
A warning in a log is easy to miss, especially in a pipeline or a third-party module. Keras 3 does
the same with decay= ("Argument `decay` is no longer supported and will be ignored").
Fix: Use the current names (learning_rate=...), and check the optimizer's resolved settings
(optimizer.get_config()). The engine rejects every unknown or renamed keyword with a TypeError that
says which name it expected, so the mistake stops the script instead of silently changing the run;
the broken variant below reproduces what the dropped keyword cost.
Keras:
    optimizer = keras.optimizers.SGD(lr=0.1)     # TF 2.11+: warning only, trains with 0.01
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
Source: tensorflow/tensorflow#58831 and keras-team/keras#17338 ("New optimizers API accepts 'lr' as
argument, but ignores it").
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, curve_from_history, error_message, fashion_mnist_subset, main

INTENDED_LR, EPOCHS, BATCH = 0.1, 5, 32
KERAS_SGD_DEFAULT_LR = 0.01  # keras.optimizers.SGD(learning_rate=0.01)


def images(seed):
    (x, y), (x_test, y_test) = fashion_mnist_subset(3000, 1000, seed=seed)
    return (x.reshape(len(x), -1).astype(np.float32) / 255.0, y.astype(np.int32),
            x_test.reshape(len(x_test), -1).astype(np.float32) / 255.0, y_test.astype(np.int32))


def train(seed, optimizer, setup, texts=None):
    x, y, x_test, y_test = images(seed)
    model = pf.Sequential([pf.Input((x.shape[1],)), pf.layers.Dense(64, activation="relu"), pf.layers.Dense(10)])
    model.compile(optimizer=optimizer, loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=EPOCHS, batch_size=BATCH, verbose=0)
    losses = curve_from_history(history)
    return Run(setup=setup, curves={"loss": losses}, texts=texts or {},
               values={"learning rate in effect": float(optimizer.get_config()["learning_rate"]),
                       "loss after epoch 1": losses[0], f"loss after epoch {EPOCHS}": losses[-1],
                       "test accuracy": model.evaluate(x_test, y_test, verbose=0)[1]})


def broken(seed):
    texts = {"SGD(lr=0.1)": error_message(pf.optimizers.SGD, lr=INTENDED_LR),
             "SGD(decay=1e-4)": error_message(pf.optimizers.SGD, learning_rate=INTENDED_LR, decay=1e-4),
             "Dense(64, kernel_initalizer=...)": error_message(pf.layers.Dense, 64,
                                                                kernel_initalizer="he_normal"),
             "model.compile(..., metric=[...])": error_message(
                 pf.Sequential([pf.Input((4,)), pf.layers.Dense(1)]).compile, optimizer="sgd", loss="mse",
                 metric=["mae"])}
    # What TF 2.11-2.15 did with SGD(lr=0.1): the keyword is dropped and the default rate is used.
    return train(seed, pf.optimizers.SGD(), "SGD(lr=0.1) with lr dropped: SGD() at its default 0.01", texts)


def fixed(seed):
    return train(seed, pf.optimizers.SGD(learning_rate=INTENDED_LR), f"SGD(learning_rate={INTENDED_LR})")


def signature(broken, fixed):
    lr_error = broken.texts["SGD(lr=0.1)"]
    typo_error = broken.texts["Dense(64, kernel_initalizer=...)"]
    compile_error = broken.texts["model.compile(..., metric=[...])"]
    final = f"loss after epoch {EPOCHS}"
    return [
        check("broken", "the engine rejects lr= with a TypeError suggesting 'learning_rate'",
              lr_error.split(":")[0] or "accepted",
              lr_error.startswith("TypeError") and "'lr'" in lr_error and "'learning_rate'" in lr_error),
        check("broken", "a misspelt layer keyword is rejected, suggesting 'kernel_initializer'",
              typo_error.split(":")[0] or "accepted",
              typo_error.startswith("TypeError") and "'kernel_initializer'" in typo_error),
        check("broken", "compile(metric=...) is rejected, naming Model.compile and suggesting 'metrics'",
              compile_error.split(":")[0] or "accepted",
              compile_error.startswith("TypeError") and "Model.compile()" in compile_error
              and "metrics=" in compile_error),
        check("broken", f"with lr dropped, the rate in effect is Keras's default {KERAS_SGD_DEFAULT_LR}",
              broken.values["learning rate in effect"],
              abs(broken.values["learning rate in effect"] - KERAS_SGD_DEFAULT_LR) < 1e-9),
        check("broken", f"after {EPOCHS} epochs the loss is still > 1.3x the intended run's",
              broken.values[final] / fixed.values[final], broken.values[final] > 1.3 * fixed.values[final]),
        check("fixed", f"the rate in effect is the intended {INTENDED_LR}", fixed.values["learning rate in effect"],
              abs(fixed.values["learning rate in effect"] - INTENDED_LR) < 1e-9),
        check("fixed", "after 2 epochs it is below where the dropped-keyword run ends",
              fixed.curves["loss"][1], fixed.curves["loss"][1] < broken.values[final]),
        check("fixed", "higher test accuracy than the dropped-keyword run", fixed.values["test accuracy"],
              fixed.values["test accuracy"] > broken.values["test accuracy"]),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
