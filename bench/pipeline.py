#!/usr/bin/env python3
"""Input-pipeline benchmark: what prefetch buys, and pf.data throughput against PyTorch's DataLoader.

    /usr/bin/python3 bench/pipeline.py [--build-dir build] [--threads 2] [--json out.json] [--check]

1. Prefetch (pitfall P26). Each batch passes through a map that costs ~2 ms (a simulated read, like
   the ArtificialDataset of the tf.data performance guide) and feeds a training step calibrated to
   ~2 ms (a real Dense model's train step). Without prefetch the two costs add up; with
   .prefetch(AUTOTUNE) the map of batch k+1 runs while batch k trains. Printed: epoch seconds for
   both, their ratio (target <= 0.6) and the input-wait fraction fit() reports in History.timing.
2. Throughput on Fashion-MNIST (Debian's dataset-fashion-mnist): one epoch of
   from_tensor_slices((x, y)).shuffle(60000).batch(128) against torch.utils.data.DataLoader(
   TensorDataset(x, y), batch_size=128, shuffle=True) on the same arrays, in the same process run.
   Also fit()'s own array path (from_array_batches: one gather per batch).

--check exits with status 1 when the prefetch ratio misses its target.
"""
import argparse
import json
import os
import statistics
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", default="build")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--json", help="write the results here")
    p.add_argument("--check", action="store_true", help="exit 1 if the prefetch ratio misses 0.6")
    p.add_argument("--repeats", type=int, default=3)
    return p.parse_args()


def calibrate_step(pf, np, target_seconds):
    """A Dense model and a batch size whose train step inside fit() takes about target_seconds
    (measured with fit's own History.timing["step_seconds"])."""
    rng = np.random.default_rng(0)
    best = None
    for batch in (16, 24, 32, 48, 64, 96, 128, 192, 256, 512):
        pf.utils.set_random_seed(0)
        model = pf.Sequential([pf.Input((784,)), pf.layers.Dense(256, activation="relu"), pf.layers.Dense(10)])
        model.compile("sgd", pf.losses.SparseCategoricalCrossentropy(from_logits=True))
        x = rng.normal(size=(20 * batch, 784)).astype(np.float32)
        y = rng.integers(0, 10, 20 * batch)
        model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0)
        seconds = history.timing["step_seconds"][0] / 20
        best = (batch, seconds)
        if seconds >= target_seconds:
            break
    return best


def prefetch_benchmark(pf, np, repeats):
    step_target = 0.002
    map_seconds = 0.002
    batch, step_seconds = calibrate_step(pf, np, step_target)
    steps = 100
    rng = np.random.default_rng(1)
    x = rng.normal(size=(steps * batch, 784)).astype(np.float32)
    y = rng.integers(0, 10, steps * batch)

    def simulated_read(features, labels):
        time.sleep(map_seconds)
        return features, labels

    def epoch(prefetch):
        pf.utils.set_random_seed(0)
        model = pf.Sequential([pf.Input((784,)), pf.layers.Dense(256, activation="relu"), pf.layers.Dense(10)])
        model.compile("sgd", pf.losses.SparseCategoricalCrossentropy(from_logits=True))
        ds = pf.data.Dataset.from_tensor_slices((x, y)).batch(batch).map(simulated_read)
        if prefetch:
            ds = ds.prefetch(pf.data.AUTOTUNE)
        model.train_on_batch(x[:batch], y[:batch])  # build outside the timed epoch
        history = model.fit(ds, epochs=1, verbose=0)
        return history.timing["epoch_seconds"][0], history.timing["input_wait_fraction"][0]

    without = [epoch(False) for _ in range(repeats)]
    with_prefetch = [epoch(True) for _ in range(repeats)]
    t0 = statistics.median(t for t, _ in without)
    t1 = statistics.median(t for t, _ in with_prefetch)
    return {
        "batch_size": batch, "steps": steps, "map_ms": map_seconds * 1e3, "step_ms": step_seconds * 1e3,
        "epoch_seconds_without_prefetch": t0, "epoch_seconds_with_prefetch": t1, "ratio": t1 / t0,
        "input_wait_fraction_without_prefetch": statistics.median(f for _, f in without),
        "input_wait_fraction_with_prefetch": statistics.median(f for _, f in with_prefetch),
    }


def best_seconds(fn, repeats):
    fn()  # warm up
    return min(_timed(fn) for _ in range(repeats))


def _timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def throughput_benchmark(pf, np, threads, repeats):
    (x, y), _ = pf.datasets.fashion_mnist.load_data()
    n = len(x)
    results = {}

    def pitfall_epoch():
        ds = pf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=0).batch(128)
        batches = 0
        for _ in ds:
            batches += 1
        assert batches == (n + 127) // 128

    def pitfall_prefetch_epoch():
        ds = pf.data.Dataset.from_tensor_slices((x, y)).shuffle(n, seed=0).batch(128).prefetch(pf.data.AUTOTUNE)
        for _ in ds:
            pass

    def pitfall_array_path_epoch():
        # The source fit(x, y) uses: a permutation per epoch, one gather per batch.
        ds = pf.data.Dataset._from_array_batches([x, y], 128, True)
        for _ in ds:
            pass

    results["pitfall from_tensor_slices+shuffle+batch"] = best_seconds(pitfall_epoch, repeats)
    results["pitfall ... + prefetch(AUTOTUNE)"] = best_seconds(pitfall_prefetch_epoch, repeats)
    results["pitfall fit's array path"] = best_seconds(pitfall_array_path_epoch, repeats)
    try:
        import torch
        from torch.utils.data import DataLoader, TensorDataset
    except ImportError:
        torch = None
    if torch is not None:
        torch.set_num_threads(threads)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
        torch.manual_seed(0)

        def torch_epoch():
            for _ in DataLoader(TensorDataset(tx, ty), batch_size=128, shuffle=True):
                pass

        results["torch DataLoader(TensorDataset, shuffle=True)"] = best_seconds(torch_epoch, repeats)
    return n, results


def main():
    args = parse_args()
    os.environ.setdefault("PITFALL_NUM_THREADS", str(args.threads))
    sys.path.insert(0, os.path.join(args.build_dir, "python"))
    import numpy as np

    import pitfall as pf

    print(f"pitfall input pipeline benchmark ({args.threads} threads, median/best of {args.repeats})\n")
    prefetch = prefetch_benchmark(pf, np, args.repeats)
    print(f"1. prefetch: map ~{prefetch['map_ms']:.1f} ms per batch, train step ~{prefetch['step_ms']:.2f} ms "
          f"(batch {prefetch['batch_size']}), {prefetch['steps']} steps")
    print(f"   {'':24}{'epoch s':>10}{'input wait':>12}")
    print(f"   {'without prefetch':24}{prefetch['epoch_seconds_without_prefetch']:>10.3f}"
          f"{prefetch['input_wait_fraction_without_prefetch']:>11.0%}")
    print(f"   {'with prefetch(AUTOTUNE)':24}{prefetch['epoch_seconds_with_prefetch']:>10.3f}"
          f"{prefetch['input_wait_fraction_with_prefetch']:>11.0%}")
    met = prefetch["ratio"] <= 0.6
    print(f"   ratio with/without: {prefetch['ratio']:.2f} (target <= 0.60: {'met' if met else 'NOT met'})\n")

    n, throughput = throughput_benchmark(pf, np, args.threads, args.repeats)
    print(f"2. one epoch of Fashion-MNIST ({n} samples, batch 128, shuffled)")
    torch_seconds = throughput.get("torch DataLoader(TensorDataset, shuffle=True)")
    print(f"   {'':48}{'seconds':>9}{'samples/s':>12}{'vs torch':>10}")
    for name, seconds in throughput.items():
        ratio = f"{torch_seconds / seconds:>9.1f}x" if torch_seconds else ""
        print(f"   {name:48}{seconds:>9.3f}{n / seconds:>12.0f}{ratio}")
    print("   (vs torch: PyTorch's epoch time / this one; > 1 means faster than the DataLoader)")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"threads": args.threads, "prefetch": prefetch,
                       "throughput_seconds": throughput, "samples": n}, f, indent=2)
    if args.check and not met:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
