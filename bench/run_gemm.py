#!/usr/bin/env python3
"""GEMM benchmark driver: pitfall::matmul vs Eigen vs OpenBLAS vs PyTorch, in one run.

Runs the bench_gemm* executables (bench/gemm.cpp, built by the normal CMake build) and PyTorch on the
same float32 shapes in this process, then prints GFLOP/s per backend and the ratios of pitfall to
OpenBLAS and to PyTorch, once single-threaded and once with --threads threads.

    cmake --build build && /usr/bin/python3 bench/run_gemm.py [--build-dir build] [--threads N]
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time


def run_executable(path, threads, env_extra=None):
    return run_executable_cmd([path, "--threads", str(threads)], env_extra)


def run_executable_cmd(cmd, env_extra=None):
    """Runs a benchmark process and parses its `RESULT backend threads M K N tA tB gflops` lines."""
    env = dict(os.environ, **(env_extra or {}))
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    results = []
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            _, backend, t, m, k, n, ta, tb, gflops = line.split()
            results.append(dict(backend=backend, threads=int(t), m=int(m), k=int(k), n=int(n),
                                trans_a=ta == "1", trans_b=tb == "1", gflops=float(gflops)))
        elif line.startswith("SKIP "):
            print("  " + line, file=sys.stderr)
    if proc.returncode != 0:
        name = " ".join(os.path.basename(part) for part in cmd[:3])
        print(f"{name} exited with {proc.returncode}:\n{proc.stderr}", file=sys.stderr)
    return results


def seconds_per_call(fn):
    fn()
    calls = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - t0 >= 0.02:
            break
        calls *= 2
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - t0) / calls)
    return best


def torch_operands(torch, c, gen):
    """The two operands of case c, uniform in [-0.5, 0.5); a transposed operand is a view."""
    a = torch.rand((c["k"], c["m"]) if c["trans_a"] else (c["m"], c["k"]), generator=gen) - 0.5
    b = torch.rand((c["n"], c["k"]) if c["trans_b"] else (c["k"], c["n"]), generator=gen) - 0.5
    return (a.t() if c["trans_a"] else a), (b.t() if c["trans_b"] else b)


def torch_worker(threads, cases):
    """Runs in a subprocess whose BLAS thread variables were set before torch (and the OpenBLAS it
    calls for matmul) loaded: torch.set_num_threads alone does not reach OpenBLAS's own pool."""
    import torch
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    for c in cases:
        a, b = torch_operands(torch, c, gen)
        with torch.no_grad():
            s = seconds_per_call(lambda: torch.matmul(a, b))
        gflops = 2.0 * c["m"] * c["k"] * c["n"] / s * 1e-9
        print(f"RESULT torch {threads} {c['m']} {c['k']} {c['n']} {int(c['trans_a'])} {int(c['trans_b'])} {gflops:.2f}",
              flush=True)


def run_torch(cases, thread_counts):
    if importlib.util.find_spec("torch") is None:
        print("PyTorch not installed (python3-torch): its column is left empty", file=sys.stderr)
        return []
    results = []
    for threads in thread_counts:
        env = {name: str(threads) for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        cmd = [sys.executable, os.path.abspath(__file__), "--torch-worker", str(threads), "--cases", json.dumps(cases)]
        results += run_executable_cmd(cmd, env)
    return results


def shape_label(c):
    a = f"{c['m']}x{c['k']}" + ("ᵀ" if c["trans_a"] else "")
    b = f"{c['k']}x{c['n']}" + ("ᵀ" if c["trans_b"] else "")
    return f"{a} @ {b}"


def print_table(title, cases, columns, lookup):
    print(f"\n{title}")
    header = f"{'shape (M x K @ K x N)':<24}" + "".join(f"{name:>14}" for name, _, _ in columns)
    header += f"{'pf/openblas':>13}{'pf/torch':>10}"
    print(header)
    print("-" * len(header))
    for c in cases:
        values = [lookup(backend, threads, c) for _, backend, threads in columns]
        row = f"{shape_label(c):<24}" + "".join(f"{v:>14.1f}" if v else f"{'-':>14}" for v in values)
        pf = values[0]
        blas = next((v for (name, _, _), v in zip(columns, values) if name.startswith("openblas")), None)
        tor = next((v for (name, _, _), v in zip(columns, values) if name.startswith("torch")), None)
        row += f"{pf / blas:>13.2f}" if pf and blas else f"{'-':>13}"
        row += f"{pf / tor:>10.2f}" if pf and tor else f"{'-':>10}"
        print(row)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build-dir", default=os.environ.get("BUILD_DIR", "build"))
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="multi-threaded column (default: all cores)")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--torch-worker", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--cases", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.torch_worker:
        torch_worker(args.torch_worker, json.loads(args.cases))
        return

    bench_dir = os.path.join(args.build_dir, "bench")
    main_exe = os.path.join(bench_dir, "bench_gemm")
    if not os.path.exists(main_exe):
        sys.exit(f"{main_exe} not found: build first (cmake --build {args.build_dir})")

    results = run_executable(main_exe, args.threads)
    for variant in ("native", "generic"):
        results += run_executable(os.path.join(bench_dir, f"bench_gemm_eigen_{variant}"), args.threads)
    # Eigen+BLAS threads are OpenBLAS's: pin to one so that the column compares like with like.
    results += run_executable(os.path.join(bench_dir, "bench_gemm_eigen_blas"), 1, {"OPENBLAS_NUM_THREADS": "1"})

    cases, seen = [], set()
    for r in results:
        key = (r["m"], r["k"], r["n"], r["trans_a"], r["trans_b"])
        if key not in seen:
            seen.add(key)
            cases.append(dict(m=r["m"], k=r["k"], n=r["n"], trans_a=r["trans_a"], trans_b=r["trans_b"]))
    thread_counts = sorted({1, args.threads})
    results += run_torch(cases, thread_counts)

    def lookup(backend, threads, c):
        for r in results:
            if (r["backend"] == backend and r["threads"] == threads and r["m"] == c["m"] and r["k"] == c["k"]
                    and r["n"] == c["n"] and r["trans_a"] == c["trans_a"] and r["trans_b"] == c["trans_b"]):
                return r["gflops"]
        return None

    print(f"float32 GEMM, GFLOP/s (best of 5), {os.cpu_count()} cores; ᵀ = operand is a transposed view")
    print_table("1 thread", cases, [("pitfall", "pitfall", 1), ("eigen", "eigen", 1),
                                    ("eigen-native", "eigen-native", 1), ("eigen-generic", "eigen-generic", 1),
                                    ("eigen+blas", "eigen+blas", 1), ("openblas", "openblas", 1),
                                    ("torch", "torch", 1)], lookup)
    if args.threads > 1:
        t = args.threads
        print_table(f"{t} threads", cases, [(f"pitfall", "pitfall", t), (f"openblas", "openblas", t),
                                            (f"torch", "torch", t)], lookup)
    print("\neigen: as built into bench_gemm (project flags); eigen-native/-generic: -march=native / x86-64;"
          "\neigen+blas: Eigen with EIGEN_USE_BLAS (OpenBLAS sgemm underneath)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
