"""Two input-pipeline pitfalls, measured on Fashion-MNIST with pf.data.

1. A shuffle buffer smaller than the data only shuffles locally (P22). Fashion-MNIST sorted by
   label, then .shuffle(1000): the first batches hold one class only, so early training sees one
   label and the loss jumps around. A buffer as large as the data fixes it.
2. A slow input without prefetch leaves the training step waiting (P26). fit() reports the time it
   waited for input in History.timing; .prefetch(AUTOTUNE) overlaps reading with training.
"""
import time

import numpy as np

import pitfall as pf

(x, y), _ = pf.datasets.fashion_mnist.load_data()
x, y = x[:12000], y[:12000]
order = np.argsort(y, kind="stable")  # a file written class by class
x_sorted, y_sorted = x[order], y[order]

print("1. shuffle buffer size (P22): classes in the first 4 batches of 32")
for buffer in (1000, len(y_sorted)):
    ds = pf.data.Dataset.from_tensor_slices((x_sorted, y_sorted)).shuffle(buffer, seed=0).batch(32)
    classes = [len(np.unique(labels)) for _, labels in ds.take(4).as_numpy_iterator()]
    print(f"   shuffle({buffer:>5}): distinct labels per batch {classes}")

print("\n2. input wait without and with prefetch (P26): a ~3 ms read per batch")


def slow_read(images, labels):
    time.sleep(0.003)  # stands for decoding files from disk
    return images, labels


T = pf.data.transforms
for prefetch in (False, True):
    pf.utils.set_random_seed(0)
    model = pf.Sequential([pf.Input((28, 28)), pf.layers.Flatten(), pf.layers.Dense(128, activation="relu"),
                           pf.layers.Dense(10)])
    model.compile("adam", pf.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    ds = (pf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(y), seed=0).batch(128)
          .map(slow_read).map(T.Rescale(1 / 255, component=0)))
    if prefetch:
        ds = ds.prefetch(pf.data.AUTOTUNE)
    history = model.fit(ds, epochs=1, verbose=0)
    t = history.timing
    print(f"   prefetch={str(prefetch):5}  epoch {t['epoch_seconds'][0]:.2f} s, waited for input "
          f"{t['input_wait_seconds'][0]:.2f} s ({t['input_wait_fraction'][0]:.0%}), "
          f"accuracy {history.history['accuracy'][0]:.3f}")
