#!/usr/bin/env python3
"""Conv2D benchmark driver: pitfall::conv2d (bench_conv, bench/conv.cpp) vs torch.nn.functional.conv2d.

Same shapes, same thread count, float32, 3x3 kernels with "same" padding, stride 1; forward alone and
forward + backward (input and kernel gradients). Timings are best of 5 rounds of >= 50 ms each.
PyTorch runs in NCHW, its native layout; pitfall in NHWC.

    cmake --build build --target bench_conv && /usr/bin/python3 bench/conv.py [--build-dir build] [--threads N]
"""
import argparse
import os
import subprocess
import time

CASES = [  # name, (N, H, W, C), out channels
    ("32x28x28x1->32_3x3_same", (32, 28, 28, 1), 32),
    ("32x14x14x32->64_3x3_same", (32, 14, 14, 32), 64),
]


def best_ms(fn):
    fn()
    best = float("inf")
    for _ in range(5):
        calls, start = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            elapsed = (time.perf_counter() - start) * 1e3
            if elapsed >= 50.0:
                break
        best = min(best, elapsed / calls)
    return best


def torch_times(threads):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(threads)
    out = {}
    for name, (n, h, w, c), o in CASES:
        x = (torch.rand(n, c, h, w) * 2 - 1).requires_grad_(True)
        k = ((torch.rand(o, c, 3, 3) * 2 - 1) * 0.1).requires_grad_(True)

        def forward():
            with torch.no_grad():
                F.conv2d(x, k, padding=1)

        def both():
            y = F.conv2d(x, k, padding=1)
            torch.autograd.grad(y, (x, k), torch.ones_like(y))

        out[name] = (best_ms(forward), best_ms(both))
    return out


def pitfall_times(build_dir, threads):
    exe = os.path.join(build_dir, "bench", "bench_conv")
    proc = subprocess.run([exe, str(threads)], capture_output=True, text=True, check=True)
    out = {}
    for line in proc.stdout.splitlines():
        name, fwd, both = line.split()
        out[name] = (float(fwd), float(both))
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default="build")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    for threads in sorted({1, args.threads}):
        pf = pitfall_times(args.build_dir, threads)
        th = torch_times(threads)
        print(f"\n{threads} thread(s), ms (best of 5); pf/torch = torch time / pitfall time (> 1: pitfall faster)")
        print(f"{'case':28s} {'pf fwd':>9s} {'torch fwd':>10s} {'pf/torch':>9s} {'pf f+b':>9s} {'torch f+b':>10s} {'pf/torch':>9s}")
        for name, _, _ in CASES:
            pf_f, pf_b = pf[name]
            th_f, th_b = th[name]
            print(f"{name:28s} {pf_f:9.3f} {th_f:10.3f} {th_f / pf_f:9.2f} {pf_b:9.3f} {th_b:10.3f} {th_b / pf_b:9.2f}")


if __name__ == "__main__":
    main()
