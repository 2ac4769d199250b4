"""P22 Shuffle buffer smaller than the data set

Symptom: The data set is stored sorted (by class, by date, by file), the pipeline has a .shuffle(), and
yet batches are not mixed: the first batches hold only the first classes, the loss curve shows a
periodic pattern, and training behaves as if the data were barely shuffled.
Cause: shuffle(buffer_size) keeps a buffer of buffer_size elements and outputs a uniformly random one,
refilling from the input. Output element k (counting from 0) is drawn from a buffer that has seen only
input elements 0 .. buffer_size - 1 + k. With range(10000).shuffle(1000).batch(32) every index in the
first batch is at most 1000 - 1 + 31 = 1030 (< 1032), and batch b never holds an index above
999 + 32 b + 31: the order is only shuffled locally, over a window of about 1000 elements.
Fix: A buffer at least as large as the data set (shuffle(10000), or shuffle(len(dataset))) for a
uniform permutation; for data that does not fit in memory, shuffle the file order / interleave files
and then use a large buffer.
Keras:
    ds = tf.data.Dataset.from_tensor_slices((x_sorted, y_sorted)).shuffle(1000).batch(32)
    model.fit(ds, epochs=10)
Source: tf.data.Dataset.shuffle documentation ("For perfect shuffling, a buffer size greater than or equal
to the full size of the dataset is required"); the TensorFlow guide "tf.data: Build TensorFlow input
pipelines", section "Randomly shuffling input data".
"""
import numpy as np

import pitfall as pf
from pitfall.catalog import Run, check, main

SIZE, BATCH, SMALL_BUFFER = 10000, 32, 1000
PER_LABEL = 1000          # label = index // 1000: ten "classes" stored in order
REFERENCES = {"mean index in the batch": [((SIZE - 1) / 2, "mean of a uniform permutation = 4999.5")]}


def batches(seed, buffer_size):
    ds = pf.data.Dataset.range(SIZE).shuffle(buffer_size, seed=seed).batch(BATCH)
    return [np.asarray(b, dtype=np.int64) for b in ds.as_numpy_iterator()]


def measure(seed, buffer_size):
    out = batches(seed, buffer_size)
    first = out[0]
    means = [float(b.mean()) for b in out]
    # The bound of the cause, for every batch b: no index above buffer_size - 1 + BATCH * b + (BATCH - 1).
    excess = max(int(b.max()) - (buffer_size - 1 + BATCH * i + BATCH - 1) for i, b in enumerate(out))
    every = np.concatenate(out)
    return Run(setup=f"Dataset.range(10000).shuffle({buffer_size}).batch(32)", x_label="batch",
               curves={"mean index in the batch": means},
               values={"batches": len(out),
                       "largest index in the first batch": int(first.max()),
                       "labels (index // 1000) in the first batch": len(np.unique(first // PER_LABEL)),
                       "largest index minus the buffer bound, over all batches": excess,
                       "correlation of batch number and batch mean": float(np.corrcoef(np.arange(len(out)), means)[0, 1]),
                       "every index exactly once": bool(np.array_equal(np.sort(every), np.arange(SIZE)))})


def broken(seed):
    return measure(seed, SMALL_BUFFER)


def fixed(seed):
    return measure(seed, SIZE)


def signature(broken, fixed):
    bound = SMALL_BUFFER - 1 + BATCH - 1      # 1030: largest index output element 31 can have
    b, f = broken.values, fixed.values
    return [
        check("broken", f"every index of the first batch is <= {bound} (= 1000 - 1 + 31)",
              b["largest index in the first batch"], b["largest index in the first batch"] <= bound),
        check("broken", "the first batch holds at most 2 of the 10 labels",
              b["labels (index // 1000) in the first batch"], b["labels (index // 1000) in the first batch"] <= 2),
        check("broken", "batch b never exceeds 999 + 32 b + 31 (max excess <= 0)",
              b["largest index minus the buffer bound, over all batches"],
              b["largest index minus the buffer bound, over all batches"] <= 0),
        check("broken", "batch means follow the stored order (correlation > 0.95)",
              b["correlation of batch number and batch mean"], b["correlation of batch number and batch mean"] > 0.95),
        check("broken", "still a permutation: every index exactly once", b["every index exactly once"],
              b["every index exactly once"]),
        check("fixed", f"the first batch reaches beyond {bound}", f["largest index in the first batch"],
              f["largest index in the first batch"] > bound),
        check("fixed", "the first batch holds at least 6 of the 10 labels (expected 10 (1 - 0.9^32) = 9.7)",
              f["labels (index // 1000) in the first batch"], f["labels (index // 1000) in the first batch"] >= 6),
        check("fixed", "batch means do not follow the stored order (|correlation| < 0.3)",
              f["correlation of batch number and batch mean"], abs(f["correlation of batch number and batch mean"]) < 0.3),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
