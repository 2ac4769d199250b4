#!/usr/bin/env python3
"""Training benchmark: pitfall (C++ API and Python API) against PyTorch on Fashion-MNIST, in one run.

    /usr/bin/python3 bench/train.py [--build-dir build] [--threads 2] [--epochs 2] [--json out.json]
                                    [--check] [--quick]
                                    [--only mlp,cnn,mlp-infer,cnn-infer,gemm,pipeline,import]
                                    [--device cpu|gpu]

Workloads (identical hyperparameters on every side; bench/README.md says what each row measures):
  mlp        one epoch of a 784-256-128-10 ReLU MLP, Adam(1e-3, 0.9, 0.999, eps 1e-7), sparse softmax
             cross-entropy from logits, batch 128, reshuffled each epoch
  cnn        the same for Conv(32,3x3)-MaxPool2-Conv(64,3x3)-MaxPool2-Flatten-Dense(128)-Dense(10)
  mlp-infer  predict on the test images, batch 1000, best of 3 (cnn-infer: the CNN)
  gemm       float32 matmul at 1024^3 and at the MLP's first-layer training shapes: pitfall::matmul,
             OpenBLAS cblas_sgemm and torch.matmul at the same thread count
  pipeline   one shuffled epoch of uint8 Fashion-MNIST batches converted to float32 / 255
  pitfall-py+doctor  the mlp and cnn Python rows once more, one model trained epoch by epoch with and
             without a pf.callbacks.Doctor() (its defaults: the first 4 steps and every 50th sampled) in
             the order ABBA (at least 4 x --epochs of each, and 120 s) after a warm-up epoch; its seconds are the median
             epoch with the Doctor, its ratio the median over the blocks of (with) / (without)
  import     `import pitfall` / `import torch` in a fresh interpreter (NumPy included on both sides):
             seconds (best of --import-repeats) and the resident memory right after it
Every (framework, workload) runs in its own subprocess (this script in worker mode, or
build/bench/bench_train), so each reports its own peak RSS (getrusage ru_maxrss). The headline time of
a training row is its last epoch (the steady state, once --epochs >= 2).

--check exits 1 and names each missed target: MLP epoch <= 0.5x PyTorch's, CNN epoch <= 0.7x, peak
RSS <= 0.45x PyTorch's for MLP and CNN (pitfall-py and pitfall-cpp each), GEMM 1024^3 >= 0.85x
OpenBLAS, a Doctor attached costs <= 5% of an epoch (pitfall-py+doctor / pitfall-py, MLP and CNN),
`import pitfall` <= 0.35 s and <= 80 MiB resident (no CUDA library mapped without a GPU). A worker that fails makes the command exit 2, its stderr shown.

--device gpu trains and infers on the GPU on all three sides (bench_train --device gpu, models built
under pf.device('gpu'), torch on CUDA): mlp, cnn, mlp-infer and cnn-infer only, no targets judged.
"""
import argparse
import gzip
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(BENCH_DIR)
DATA_DIR = os.environ.get("PITFALL_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
DATA_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")

WORKLOADS = ("mlp", "cnn", "mlp-infer", "cnn-infer", "gemm", "pipeline", "import")
GPU_WORKLOADS = ("mlp", "cnn", "mlp-infer", "cnn-infer")  # what --device gpu runs
# Which frameworks run each workload (gemm's OpenBLAS column comes out of bench_train's process).
FRAMEWORKS = {
    "mlp": ("pitfall-cpp", "pitfall-py", "pitfall-py+doctor", "torch"),
    "cnn": ("pitfall-cpp", "pitfall-py", "pitfall-py+doctor", "torch"),
    "mlp-infer": ("pitfall-cpp", "pitfall-py", "torch"),
    "cnn-infer": ("pitfall-cpp", "pitfall-py", "torch"),
    "gemm": ("pitfall-cpp", "torch"),
    "pipeline": ("pitfall-py", "torch"),
    "import": ("pitfall-py", "torch"),
}
BATCH_SIZE = 128
INFER_BATCH_SIZE = 1000
QUICK = dict(samples=4096, test_samples=2000, epochs=2, repeats=1)

# Acceptance: epoch time pitfall/torch per training workload; peak RSS pitfall/torch for both.
TIME_TARGETS = {"mlp": 0.5, "cnn": 0.7}
RSS_TARGET = 0.45
GEMM_TARGET = 0.85  # pitfall 1024^3 GFLOP/s / OpenBLAS's
DOCTOR_TARGET = 1.05  # epoch with a pf.callbacks.Doctor attached / the same epoch without it
DOCTOR_SECONDS = 120.0  # the doctor's cost is measured over at least this long (whole ABBA blocks)
IMPORT_TARGETS = {"seconds": 0.35, "rss_mib": 80.0}  # `import pitfall`, absolute


class WorkerError(RuntimeError):
    """A benchmark subprocess failed; the message carries its command, exit status and stderr."""


# ---------------------------------------------------------------- shared by the Python workers

def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def read_idx_gz(path):
    """uint8 IDX (MNIST family) file -> NumPy array, without pitfall (the torch workers must not load
    the engine: it would count in their RSS)."""
    import numpy as np
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not a uint8 IDX file (magic {raw[:4].hex()})")
    rank = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load_numpy(args, subsets=True):
    arrays = [read_idx_gz(os.path.join(DATA_DIR, name)) for name in DATA_FILES]
    return cut(args, *arrays) if subsets else arrays


def cut(args, x, y, x_test, y_test):
    """The --samples / --test-samples subsets (first rows)."""
    if args.samples:
        x, y = x[:args.samples], y[:args.samples]
    if args.test_samples:
        x_test, y_test = x_test[:args.test_samples], y_test[:args.test_samples]
    return x, y, x_test, y_test


def best_of(fn, repeats):
    fn()  # warm-up: first-touch allocations, thread pools
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


# ---------------------------------------------------------------- import

IMPORT_PROBE = """
import time
start = time.perf_counter()
import {module}
seconds = time.perf_counter() - start
with open("/proc/self/status") as f:
    rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
with open("/proc/self/maps") as f:
    cuda = sorted({{line.split()[-1] for line in f if any(n in line for n in ("libcudart", "libcublas", "libcudnn"))}})
print(seconds, rss_kib, len(cuda))
"""


def import_worker(module, args):
    """`import <module>` in fresh interpreters: the best time of --import-repeats and the resident
    memory right after the import (the same in every run), and whether CUDA libraries were mapped."""
    runs = []
    for _ in range(args.import_repeats + 1):  # the first run warms the page cache
        done = subprocess.run([sys.executable, "-c", IMPORT_PROBE.format(module=module)], capture_output=True,
                              text=True, env=os.environ)
        if done.returncode != 0:
            raise RuntimeError(f"import {module} failed: {done.stderr.strip()}")
        seconds, rss_kib, cuda = done.stdout.split()
        runs.append((float(seconds), int(rss_kib) / 1024.0, int(cuda)))
    best = min(runs[1:])
    return {"seconds": best[0], "samples_per_second": 1.0 / best[0], "peak_rss_mib": best[1],
            "cuda_libraries_mapped": best[2], "import_seconds_all": [r[0] for r in runs[1:]]}


# ---------------------------------------------------------------- pitfall-py worker

def pitfall_worker(args):
    if args.workload == "import":
        return dict({"framework": "pitfall-py", "workload": "import", "threads": args.threads},
                    **import_worker("pitfall", args))
    sys.path.insert(0, os.path.join(os.path.abspath(args.build_dir), "python"))
    import numpy as np

    import pitfall as pf
    pf.config.set_num_threads(args.threads)
    result = {"framework": args.worker, "workload": args.workload, "threads": pf.config.get_num_threads()}
    if args.workload == "pipeline":
        return dict(result, **pitfall_pipeline(pf, np, args))
    (x, y), (x_test, y_test) = pf.datasets.fashion_mnist.load_data()
    x, y, x_test, y_test = cut(args, x, y, x_test, y_test)
    conv = args.workload.startswith("cnn")

    def layout(images):  # uint8 views: (N, 784) for the MLP, NHWC for the CNN
        return images.reshape(len(images), 28, 28, 1) if conv else images.reshape(len(images), 784)

    if args.device == "gpu" and not pf.config.list_physical_devices("GPU"):
        raise SystemExit("pitfall sees no GPU (pf.config.list_physical_devices('GPU') is empty); run without "
                         "--device gpu, or on a machine with a GPU and a CUDA build")

    def make_model():
        pf.utils.set_random_seed(args.seed)
        if conv:
            layers = [pf.Input((28, 28, 1)), pf.layers.Conv2D(32, 3, activation="relu"), pf.layers.MaxPooling2D(2),
                      pf.layers.Conv2D(64, 3, activation="relu"), pf.layers.MaxPooling2D(2), pf.layers.Flatten(),
                      pf.layers.Dense(128, activation="relu"), pf.layers.Dense(10)]
        else:
            layers = [pf.Input((784,)), pf.layers.Dense(256, activation="relu"),
                      pf.layers.Dense(128, activation="relu"), pf.layers.Dense(10)]
        with pf.device(args.device):  # the weights live there; fit copies each batch over
            built = pf.Sequential(layers)
        built.compile(optimizer=pf.optimizers.Adam(learning_rate=1e-3, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
                      loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
        return built

    model = make_model()
    rescale = pf.data.transforms.Rescale(1 / 255)  # the images (first component), per batch

    def test_dataset():
        return pf.data.Dataset.from_tensor_slices(layout(x_test)).batch(INFER_BATCH_SIZE).map(rescale)

    if args.workload.endswith("-infer"):
        test = test_dataset()
        seconds = best_of(lambda: model.predict(test, verbose=0), 3)
        return dict(result, samples=len(x_test), batch_size=INFER_BATCH_SIZE, seconds=seconds,
                    samples_per_second=len(x_test) / seconds, peak_rss_mib=peak_rss_mib())
    train = (pf.data.Dataset.from_tensor_slices((layout(x), y)).shuffle(len(x), seed=args.seed)
             .batch(BATCH_SIZE).map(rescale))
    if args.worker == "pitfall-py+doctor":
        cost = doctor_cost(pf, args, model, train)
        return dict(result, samples=len(x), samples_per_second=len(x) / cost["seconds"], **cost)
    # from_tensor_slices copies the arrays (as tf.data does); the NumPy ones are not needed again.
    samples = len(x)
    del x, y
    epoch_seconds, started = [], []
    clock = pf.callbacks.LambdaCallback(
        on_epoch_begin=lambda epoch, logs: started.append(time.perf_counter()),
        on_epoch_end=lambda epoch, logs: epoch_seconds.append(time.perf_counter() - started[-1]))
    history = model.fit(train, epochs=args.epochs, verbose=0, callbacks=[clock])
    training_rss = peak_rss_mib()  # loading + training; the scoring below is not training
    predicted = np.argmax(model.predict(test_dataset(), verbose=0), axis=-1)
    loss = [float(v) for v in history.history["loss"]]
    return dict(result, samples=samples, epochs=args.epochs, epoch_seconds=epoch_seconds, seconds=epoch_seconds[-1],
                samples_per_second=samples / epoch_seconds[-1], loss=loss, final_loss=loss[-1],
                test_accuracy=float(np.mean(predicted == y_test)), peak_rss_mib=training_rss,
                peak_rss_with_scoring_mib=peak_rss_mib())


def _median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def doctor_ratio(with_doctor, without):
    """The median over the A B B A blocks of (the block's two epochs with the Doctor) / (its two
    without): the epochs compared are neighbours in time, so a drift of the machine's speed cancels,
    and the median ignores a block that other work disturbed. The lists are in the order run."""
    blocks = [sum(with_doctor[i:i + 2]) / sum(without[i:i + 2]) for i in range(0, min(len(with_doctor),
                                                                                    len(without)) - 1, 2)]
    return _median(blocks)


def doctor_cost(pf, args, model, data):
    """What a pf.callbacks.Doctor() (its defaults) costs a fit: one model trained in this process, epoch
    by epoch, with and without one Doctor in the order ABBA BAAB ... after a warm-up epoch, so that a
    drift of the machine's speed hits both alike, and both conditions run on the same buffers (two
    model instances can differ in speed by several percent on their own). The
    Doctor instance persists across its epochs (its samples continue: the first 4 steps, then every
    50th), as it would in one fit(epochs=...) call."""
    doctor = pf.callbacks.Doctor()
    seconds, losses = {"plain": [], "doctor": []}, []
    pattern = ("plain", "doctor", "doctor", "plain")
    rounds, epoch, started = 4 * max(args.epochs, 2), 0, time.perf_counter()
    # At least 4 x --epochs measured epochs, and whole ABBA blocks until 120 s have passed (not with
    # --quick): a short
    # epoch (the MLP's is ~1 s) gets many repeats, so its best is not one lucky epoch.
    budget = 0.0 if args.quick else DOCTOR_SECONDS  # --quick: see that it works, not how much it costs
    while epoch <= rounds or (epoch - 1) % 4 or time.perf_counter() - started < budget:
        name = "plain" if epoch == 0 else pattern[(epoch - 1) % 4]
        start = time.perf_counter()
        history = model.fit(data, epochs=epoch + 1, initial_epoch=epoch, verbose=0,
                            callbacks=[doctor] if name == "doctor" else [])
        elapsed = time.perf_counter() - start
        losses.append(float(history.history["loss"][-1]))
        if epoch:  # the first epoch includes one-time warm-up
            seconds[name].append(elapsed)
        epoch += 1
    ratio = doctor_ratio(seconds["doctor"], seconds["plain"])
    return dict(epochs=epoch, epoch_seconds=seconds["doctor"], seconds=_median(seconds["doctor"]),
                plain_epoch_seconds=seconds["plain"], loss=losses, final_loss=losses[-1], doctor_ratio=ratio,
                doctor_findings=[f"[{f.severity}] {f.id} {f.category}" for f in doctor.findings],
                peak_rss_mib=peak_rss_mib())


def pitfall_pipeline(pf, np, args):
    """The training input path (from_tensor_slices+shuffle+batch+Rescale), plus bench/pipeline.py's
    throughput variants (run with torch hidden: its DataLoader row is the torch worker's)."""
    sys.path.insert(0, BENCH_DIR)
    import pipeline
    (x, y), _ = pf.datasets.fashion_mnist.load_data()
    rescale = pf.data.transforms.Rescale(1 / 255)

    def epoch():
        ds = pf.data.Dataset.from_tensor_slices((x, y)).shuffle(len(x), seed=args.seed).batch(BATCH_SIZE).map(rescale)
        for _ in ds:
            pass

    seconds = best_of(epoch, args.repeats)
    sys.modules["torch"] = None  # pipeline.throughput_benchmark then skips its torch row
    _, variants = pipeline.throughput_benchmark(pf, np, args.threads, args.repeats)
    return dict(samples=len(x), seconds=seconds, samples_per_second=len(x) / seconds,
                variants_seconds=variants, peak_rss_mib=peak_rss_mib())


# ---------------------------------------------------------------- torch worker

def torch_worker(args):
    if args.workload == "import":
        return dict({"framework": "torch", "workload": "import", "threads": args.threads},
                    **import_worker("torch", args))
    import numpy as np
    import torch
    from torch import nn
    torch.set_num_threads(args.threads)
    result = {"framework": "torch", "workload": args.workload, "threads": torch.get_num_threads(),
              "versions": {"torch": torch.__version__, "numpy": np.__version__}}
    if args.workload == "gemm":
        return dict(result, **torch_gemm(args))
    if args.workload == "pipeline":  # always the whole training set, as pipeline.py's rows
        return dict(result, **torch_pipeline(torch, *load_numpy(args, subsets=False)[:2], args))
    x, y, x_test, y_test = load_numpy(args)
    conv = args.workload.startswith("cnn")
    # uint8 as read; float32 only per batch. NCHW for the CNN, as torch's convolutions want.
    shape = (1, 28, 28) if conv else (784,)
    images = torch.from_numpy(x.copy()).reshape(len(x), *shape)
    labels = torch.from_numpy(y.astype(np.int64))
    test_images = torch.from_numpy(x_test.copy()).reshape(len(x_test), *shape)
    del x, y  # the read-only file bytes; images holds the (writable) copy torch wants

    if args.device == "gpu" and not torch.cuda.is_available():
        raise SystemExit("torch sees no CUDA device (torch.cuda.is_available() is False); run without --device gpu")
    device = torch.device("cuda" if args.device == "gpu" else "cpu")
    if args.device == "gpu":
        result["gpu"] = torch.cuda.get_device_name(device)  # for the machine line
    torch.manual_seed(args.seed)
    if conv:
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                              nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    # Keras's defaults (glorot_uniform kernels, zero biases), so both sides start from the same
    # distribution; torch's own default (kaiming_uniform(a=sqrt(5))) would be a different problem.
    for module in model:
        if isinstance(module, (nn.Linear, nn.Conv2d)):
            nn.init.xavier_uniform_(module.weight)
            nn.init.zeros_(module.bias)
    model.to(device)

    def predict():
        with torch.inference_mode():
            out = torch.cat([model(test_images[i:i + INFER_BATCH_SIZE].to(device).float().div_(255))
                             for i in range(0, len(test_images), INFER_BATCH_SIZE)]).cpu()
        return out  # .cpu() waits for the GPU: the time covers the work

    if args.workload.endswith("-infer"):
        model.eval()
        seconds = best_of(predict, 3)
        return dict(result, samples=len(x_test), batch_size=INFER_BATCH_SIZE, seconds=seconds,
                    samples_per_second=len(x_test) / seconds, peak_rss_mib=peak_rss_mib())

    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(args.seed)
    n = len(images)
    epoch_seconds, losses = [], []
    model.train()
    for _ in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for first in range(0, n, BATCH_SIZE):
            index = order[first:first + BATCH_SIZE]
            batch = images[index].to(device).float().div_(255)
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(batch), labels[index].to(device))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(index)  # .item() waits for the step, as fit's loss log does
        epoch_seconds.append(time.perf_counter() - start)
        losses.append(total / n)  # the mean over the epoch's samples, as fit's "loss" log
    training_rss = peak_rss_mib()  # loading + training; the scoring below is not training
    model.eval()
    predicted = predict().argmax(dim=1).numpy()
    return dict(result, samples=n, epochs=args.epochs, epoch_seconds=epoch_seconds, seconds=epoch_seconds[-1],
                samples_per_second=n / epoch_seconds[-1], loss=losses, final_loss=losses[-1],
                test_accuracy=float(np.mean(predicted == y_test)), peak_rss_mib=training_rss,
                peak_rss_with_scoring_mib=peak_rss_mib())


def torch_pipeline(torch, x, y, args):
    """The training loop's input path (randperm + index + float / 255) and DataLoader(TensorDataset)."""
    from torch.utils.data import DataLoader, TensorDataset
    images, labels = torch.from_numpy(x.copy()), torch.from_numpy(y.astype("int64"))
    generator = torch.Generator().manual_seed(args.seed)

    def epoch():
        order = torch.randperm(len(images), generator=generator)
        for first in range(0, len(images), BATCH_SIZE):
            index = order[first:first + BATCH_SIZE]
            images[index].float().div_(255), labels[index]

    def data_loader_epoch():
        for batch, _ in DataLoader(TensorDataset(images, labels), batch_size=BATCH_SIZE, shuffle=True):
            batch.float().div_(255)

    seconds = best_of(epoch, args.repeats)
    return dict(samples=len(images), seconds=seconds, samples_per_second=len(images) / seconds,
                variants_seconds={"torch DataLoader(TensorDataset, shuffle=True) + float/255":
                                  best_of(data_loader_epoch, args.repeats)},
                peak_rss_mib=peak_rss_mib())


def torch_gemm(args):
    """torch.matmul on bench_train's GEMM shapes, through bench/run_gemm.py's timing (best of 5 rounds
    of >= 20 ms, the same rule as bench_train)."""
    sys.path.insert(0, BENCH_DIR)
    import run_gemm
    import torch
    cases = json.loads(args.cases)
    rows = []
    gen = torch.Generator().manual_seed(0)
    for c in cases:
        a, b = run_gemm.torch_operands(torch, c, gen)
        with torch.no_grad():
            seconds = run_gemm.seconds_per_call(lambda: torch.matmul(a, b))
        rows.append(dict(c, torch_gflops=2.0 * c["m"] * c["k"] * c["n"] / seconds * 1e-9))
    return {"cases": rows, "peak_rss_mib": peak_rss_mib()}


# ---------------------------------------------------------------- driver

def worker_env(args, build_dir):
    env = dict(os.environ)
    # Every library's pool at the same size, set before any of them loads (OpenBLAS reads its
    # variable once; torch.set_num_threads does not reach it).
    for name in ("PITFALL_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(args.threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [os.path.join(build_dir, "python"), env.get("PYTHONPATH")]))
    return env


def run_worker(cmd, env):
    """Runs one worker; returns its JSON result (the last stdout line that is a JSON object)."""
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise WorkerError(f"`{' '.join(cmd)}` exited with status {proc.returncode}"
                          f"{'' if lines else ' and printed no result'}:\n{proc.stderr.strip() or proc.stdout.strip()}")
    return json.loads(lines[-1])


def worker_command(framework, workload, args, build_dir, gemm_cases=None):
    common = ["--threads", str(args.threads), "--seed", str(args.seed)]
    if framework == "pitfall-cpp":
        cmd = [os.path.join(build_dir, "bench", "bench_train"), workload, "--epochs", str(args.epochs)] + common
        if args.samples:
            cmd += ["--samples", str(args.samples)]
        if args.test_samples:
            cmd += ["--test-samples", str(args.test_samples)]
        return cmd + ["--device", args.device]
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", framework, "--workload", workload,
           "--build-dir", build_dir, "--epochs", str(args.epochs), "--samples", str(args.samples or 0),
           "--test-samples", str(args.test_samples or 0), "--repeats", str(args.repeats),
           "--device", args.device, "--import-repeats", str(args.import_repeats)] + common
    if gemm_cases is not None:
        cmd += ["--cases", json.dumps(gemm_cases)]
    return cmd


def gemm_label(c):
    a = f"{c['m']}x{c['k']}" + ("ᵀ" if c["trans_a"] else "")
    b = f"{c['k']}x{c['n']}" + ("ᵀ" if c["trans_b"] else "")
    return f"gemm {a} @ {b}"


def gemm_rows(cpp, torch_result):
    """Table rows (seconds per product, GFLOP/s in the throughput column) from the two GEMM results."""
    rows = []
    torch_cases = {(c["m"], c["k"], c["n"], c["trans_a"], c["trans_b"]): c for c in
                   (torch_result or {}).get("cases", [])}
    for c in cpp["cases"]:
        flops = 2.0 * c["m"] * c["k"] * c["n"]
        key = (c["m"], c["k"], c["n"], c["trans_a"], c["trans_b"])
        shape = dict(m=c["m"], k=c["k"], n=c["n"], trans_a=c["trans_a"], trans_b=c["trans_b"])
        for framework, gflops in (("pitfall-cpp", c["pitfall_gflops"]), ("openblas", c.get("openblas_gflops")),
                                  ("torch", torch_cases.get(key, {}).get("torch_gflops"))):
            if gflops:
                rows.append(dict(workload=gemm_label(c), framework=framework, seconds=flops / (gflops * 1e9),
                                 gflops=gflops, shape=shape))
    return rows


def find_row(rows, workload, framework):
    return next((r for r in rows if r["workload"] == workload and r["framework"] == framework), None)


def add_ratios(rows):
    """Time and peak-RSS ratios of each pitfall row to the torch row of the same workload."""
    for row in rows:
        if not row["framework"].startswith("pitfall"):
            continue
        torch_row = find_row(rows, row["workload"], "torch")
        if torch_row and torch_row.get("seconds"):
            row["time_ratio_vs_torch"] = row["seconds"] / torch_row["seconds"]
        if torch_row and row.get("peak_rss_mib") and torch_row.get("peak_rss_mib"):
            row["rss_ratio_vs_torch"] = row["peak_rss_mib"] / torch_row["peak_rss_mib"]


def missed_targets(results):
    """The acceptance targets the results miss, one sentence each (empty: all met). Targets whose rows
    were not measured (--only) are not judged."""
    rows = results["rows"]
    missed = []
    for workload, limit in TIME_TARGETS.items():
        torch_row = find_row(rows, workload, "torch")
        if torch_row is None:
            continue
        for framework in ("pitfall-py", "pitfall-cpp"):
            row = find_row(rows, workload, framework)
            if row is None:
                continue
            ratio = row["seconds"] / torch_row["seconds"]
            if not ratio <= limit:
                missed.append(f"{workload} epoch, {framework}: {row['seconds']:.3f} s is {ratio:.2f}x PyTorch's "
                              f"{torch_row['seconds']:.3f} s (target <= {limit}x)")
            rss = row["peak_rss_mib"] / torch_row["peak_rss_mib"]
            if not rss <= RSS_TARGET:
                missed.append(f"{workload} peak RSS, {framework}: {row['peak_rss_mib']:.0f} MiB is {rss:.2f}x "
                              f"PyTorch's {torch_row['peak_rss_mib']:.0f} MiB (target <= {RSS_TARGET}x)")
    for workload in TIME_TARGETS:
        doctor = find_row(rows, workload, "pitfall-py+doctor")
        if doctor and not doctor["doctor_ratio"] <= DOCTOR_TARGET:
            missed.append(f"{workload} epochs with a Doctor: {doctor['doctor_ratio']:.3f}x the same epochs without "
                          f"it (target <= {DOCTOR_TARGET}x)")
    square = [r for r in rows if r.get("shape") == dict(m=1024, k=1024, n=1024, trans_a=False, trans_b=False)]
    pitfall = next((r for r in square if r["framework"] == "pitfall-cpp"), None)
    openblas = next((r for r in square if r["framework"] == "openblas"), None)
    if pitfall and openblas:
        ratio = pitfall["gflops"] / openblas["gflops"]
        if not ratio >= GEMM_TARGET:
            missed.append(f"GEMM 1024^3: pitfall {pitfall['gflops']:.1f} GFLOP/s is {ratio:.2f}x OpenBLAS's "
                          f"{openblas['gflops']:.1f} (target >= {GEMM_TARGET}x)")
    elif pitfall:
        missed.append("GEMM 1024^3: no OpenBLAS column (bench_train was built without OpenBLAS)")
    imported = find_row(rows, "import", "pitfall-py")
    if imported:
        if not imported["seconds"] <= IMPORT_TARGETS["seconds"]:
            missed.append(f"import pitfall: {imported['seconds']:.3f} s (target <= {IMPORT_TARGETS['seconds']} s)")
        if not imported["peak_rss_mib"] <= IMPORT_TARGETS["rss_mib"]:
            missed.append(f"import pitfall: {imported['peak_rss_mib']:.0f} MiB resident "
                          f"(target <= {IMPORT_TARGETS['rss_mib']:.0f} MiB)")
        if imported["cuda_libraries_mapped"] and args_device_is_cpu(results):
            missed.append(f"import pitfall mapped {imported['cuda_libraries_mapped']} CUDA libraries")
    return missed


def args_device_is_cpu(results):
    return results.get("settings", {}).get("device", "cpu") == "cpu"


def command_output(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info(args, rows):
    cpu = None
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), None)
    except OSError:
        pass
    openblas = None
    try:
        import ctypes
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        openblas = lib.openblas_get_config().decode()
    except (OSError, AttributeError):
        pass
    torch_versions = next((r["versions"] for r in rows if r.get("versions")), {})
    gpu = next((r["gpu"] for r in rows if r.get("gpu")), None)  # named by the torch worker under --device gpu
    commit = command_output(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    if commit and command_output(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]):
        commit += " (with uncommitted changes)"
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": args.threads, "python": platform.python_version(),
            "torch": torch_versions.get("torch"), "numpy": torch_versions.get("numpy"), "openblas": openblas,
            "gxx": command_output(["g++", "-dumpfullversion"]), "commit": commit, "gpu": gpu}


def print_table(results):
    header = (f"{'workload':<28}{'framework':<19}{'seconds':>10}{'samples/s':>12}{'peak RSS MiB':>14}"
              f"{'time pf/torch':>15}{'RSS pf/torch':>14}")
    print(header)
    print("-" * len(header))
    for r in results["rows"]:
        throughput = f"{r['gflops']:.1f} GF/s" if "gflops" in r else f"{r['samples_per_second']:.0f}"
        rss = f"{r['peak_rss_mib']:.0f}" if r.get("peak_rss_mib") else "-"
        time_ratio = f"{r['time_ratio_vs_torch']:.2f}" if "time_ratio_vs_torch" in r else "-"
        rss_ratio = f"{r['rss_ratio_vs_torch']:.2f}" if "rss_ratio_vs_torch" in r else "-"
        print(f"{r['workload']:<28}{r['framework']:<19}{r['seconds']:>10.4g}{throughput:>12}{rss:>14}"
              f"{time_ratio:>15}{rss_ratio:>14}")
    s = results["settings"]
    print(f"\nmlp/cnn seconds: epoch {s['epochs']} of {s['epochs']} (the steady state; all epochs in the JSON), "
          f"{s['samples'] or 60000} training images, batch {BATCH_SIZE}; accuracy on {s['test_samples'] or 10000} "
          "test images:")
    for r in results["rows"]:
        if "test_accuracy" in r:
            losses = " -> ".join(f"{v:.4f}" for v in r["loss"])
            print(f"  {r['workload']:<4} {r['framework']:<18} loss {losses}   test accuracy {r['test_accuracy']:.4f}")
    for workload in TIME_TARGETS:
        doctor = find_row(results["rows"], workload, "pitfall-py+doctor")
        if doctor:
            with_, without = (" ".join(f"{v:.3f}" for v in doctor[k]) for k in ("epoch_seconds",
                                                                                 "plain_epoch_seconds"))
            print(f"  {workload} with a Doctor: {doctor['doctor_ratio']:.3f}x the epochs without it (one model, "
                  f"epochs alternating ABBA; s with: {with_}; without: {without}); findings: "
                  f"{doctor['doctor_findings'] or 'none'}")
    for r in results["rows"]:
        for name, seconds in r.get("variants_seconds", {}).items():
            print(f"  pipeline variant {name}: {seconds:.4f} s")
    m = results["machine"]
    print(f"\nmachine: {m['cpu']}, {m['cores']} cores, {m['threads']} threads used"
          f"{'; GPU ' + m['gpu'] if m.get('gpu') else ''}; torch {m['torch']}, "
          f"numpy {m['numpy']}, {m['openblas']}, g++ {m['gxx']}, Python {m['python']}; commit {m['commit']}; "
          f"1-minute load average before the run {m['load_average'][0]:.1f}"
          + (" (well above 0: other work shared the cores and slowed the rows)" if m["load_average"][0] >= 0.5
             else ""))


def write_json_atomically(path, data):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".train-", suffix=".json", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__[__doc__.index("Workloads"):],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", default=os.environ.get("PITFALL_BUILD_DIR", "build"))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--epochs", type=int, help="training epochs (default 2; the last one is the headline)")
    p.add_argument("--samples", type=int, help="first N training images only (default: all 60000)")
    p.add_argument("--test-samples", type=int, help="first N test images only (default: all 10000)")
    p.add_argument("--repeats", type=int, help="best-of count for pipeline epochs (default 3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--import-repeats", type=int, default=5, help="best-of count for the import row (default 5)")
    p.add_argument("--json", help="write every measurement here")
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    p.add_argument("--quick", action="store_true",
                   help=f"a small run to see that everything works: {QUICK['samples']} training and "
                        f"{QUICK['test_samples']} test images, {QUICK['epochs']} epochs, 1 repeat")
    p.add_argument("--only", help=f"comma-separated workloads (default: all of {','.join(WORKLOADS)})")
    p.add_argument("--device", choices=("cpu", "gpu"), default="cpu",
                   help="gpu: train and infer on the GPU, pitfall's C++ API (bench_train --device gpu) and Python "
                        "API (models built under pf.device('gpu')) against PyTorch's CUDA; only the mlp, cnn, "
                        "mlp-infer and cnn-infer workloads, no targets")
    p.add_argument("--worker", choices=("pitfall-py", "pitfall-py+doctor", "torch"), help=argparse.SUPPRESS)
    p.add_argument("--workload", help=argparse.SUPPRESS)
    p.add_argument("--cases", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    defaults = QUICK if args.quick else dict(samples=0, test_samples=0, epochs=2, repeats=3)
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if args.epochs < 1 or args.threads < 1:
        p.error("--epochs and --threads must be >= 1")
    args.workloads = WORKLOADS if not args.only else tuple(w.strip() for w in args.only.split(",") if w.strip())
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        p.error(f"--only: unknown workload(s) {', '.join(unknown)}; choose from {', '.join(WORKLOADS)}")
    if args.device == "gpu" and not args.worker:
        args.workloads = tuple(w for w in args.workloads if w in GPU_WORKLOADS)
        if not args.workloads:
            p.error("--device gpu: none of the chosen workloads runs on the GPU; choose from "
                    f"{', '.join(GPU_WORKLOADS)} (gemm and pipeline are CPU-only)")
    return args


def run_all(args):
    """Runs every selected (framework, workload) in its own process; returns (results, failures)."""
    build_dir = os.path.abspath(args.build_dir)
    exe = os.path.join(build_dir, "bench", "bench_train")
    if not os.path.exists(exe):
        raise WorkerError(f"{exe} not found: build it first "
                          f"(cmake --build {args.build_dir} --target bench_train _pitfall)")
    env = worker_env(args, build_dir)
    load_before = os.getloadavg()[0]  # other work on the machine skews every row; say how much
    rows, raw, failures = [], [], []
    for workload in args.workloads:
        if workload == "gemm":
            print("  running gemm / pitfall-cpp + openblas, torch ...", file=sys.stderr, flush=True)
            try:
                cpp = run_worker(worker_command("pitfall-cpp", "gemm", args, build_dir), env)
                raw.append(cpp)
                cases = [{k: c[k] for k in ("m", "k", "n", "trans_a", "trans_b")} for c in cpp["cases"]]
                tor = run_worker(worker_command("torch", "gemm", args, build_dir, cases), env)
                raw.append(tor)
                rows += gemm_rows(cpp, tor)
            except WorkerError as e:
                failures.append(str(e))
            continue
        for framework in FRAMEWORKS[workload]:
            print(f"  running {workload} / {framework} ...", file=sys.stderr, flush=True)
            try:
                result = run_worker(worker_command(framework, workload, args, build_dir), env)
            except WorkerError as e:
                failures.append(str(e))
                continue
            raw.append(result)
            rows.append(result)
    add_ratios(rows)
    results = {"settings": {"device": args.device, "threads": args.threads, "epochs": args.epochs,
                            "samples": args.samples,
                            "test_samples": args.test_samples, "repeats": args.repeats, "seed": args.seed,
                            "quick": args.quick, "workloads": list(args.workloads), "batch_size": BATCH_SIZE,
                            "infer_batch_size": INFER_BATCH_SIZE},
               "rows": rows}
    results["machine"] = dict(machine_info(args, raw), load_average=[load_before, os.getloadavg()[0]])
    return results, failures


def main(argv=None):
    args = parse_args(argv)
    if args.worker:
        result = (torch_worker if args.worker == "torch" else pitfall_worker)(args)
        print(json.dumps(result), flush=True)
        return 0
    try:
        results, failures = run_all(args)
    except WorkerError as e:
        print(f"bench/train.py: {e}", file=sys.stderr)
        return 2
    print(f"pitfall vs PyTorch, {args.threads} threads{', on the GPU' if args.device == 'gpu' else ''}"
          f"{' (--quick)' if args.quick else ''}\n")
    print_table(results)
    results["missed_targets"] = missed_targets(results) if args.device == "cpu" else []  # CPU targets
    results["failures"] = failures
    if args.json:
        write_json_atomically(args.json, results)
    for failure in failures:
        print(f"\nworker failed: {failure}", file=sys.stderr)
    if results["missed_targets"]:
        print("\ntargets missed:\n  " + "\n  ".join(results["missed_targets"]))
    elif not failures:
        print("\nall targets met" if args.device == "cpu" else "\nno targets judged: they are for --device cpu")
    return exit_status(results["missed_targets"], failures, args.check)


def exit_status(missed, failures, check):
    """2 when a worker failed (its measurements are missing), else 1 when --check finds a missed
    target, else 0."""
    if failures:
        return 2
    return 1 if check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
