"""Seeds and thread counts: same seed -> same numbers across processes; 1 vs 2 threads bitwise equal."""
import random
import subprocess
import sys

import numpy as np
import pytest

import pitfall as pf

DRAW = ("import sys, pitfall as pf; pf.utils.set_random_seed(1234); "
        "sys.stdout.buffer.write(pf.random.normal((64,), dtype='float64').numpy().tobytes() + "
        "pf.random.uniform((16,)).numpy().tobytes())")


def test_set_random_seed_reproduces_across_processes():
    runs = [subprocess.run([sys.executable, "-c", DRAW], check=True, capture_output=True).stdout for _ in range(2)]
    assert len(runs[0]) == 64 * 8 + 16 * 4
    assert runs[0] == runs[1]


def test_set_random_seed_seeds_python_and_numpy():
    pf.utils.set_random_seed(7)
    first = (random.random(), np.random.rand(), pf.random.normal((4,)).numpy())
    pf.utils.set_random_seed(7)
    second = (random.random(), np.random.rand(), pf.random.normal((4,)).numpy())
    assert first[:2] == second[:2]
    np.testing.assert_array_equal(first[2], second[2])


def test_int_seed_repeats_and_none_advances():
    a = pf.random.uniform((5,), seed=3).numpy()
    b = pf.random.uniform((5,), seed=3).numpy()
    np.testing.assert_array_equal(a, b)
    c, d = pf.random.normal((5,)).numpy(), pf.random.normal((5,)).numpy()
    assert not np.array_equal(c, d)
    gen = pf.random.SeedGenerator(5)
    assert not np.array_equal(pf.random.normal((5,), seed=gen).numpy(), pf.random.normal((5,), seed=gen).numpy())


def test_random_distributions_look_right():
    u = pf.random.uniform((20000,), minval=-2.0, maxval=3.0, seed=1).numpy()
    assert u.dtype == np.float32 and u.min() >= -2.0 and u.max() < 3.0 and abs(u.mean() - 0.5) < 0.05
    n = pf.random.normal((20000,), mean=1.0, stddev=2.0, dtype="float64", seed=2).numpy()
    assert abs(n.mean() - 1.0) < 0.05 and abs(n.std() - 2.0) < 0.05
    t = pf.random.truncated_normal((20000,), stddev=1.0, seed=3).numpy()
    assert np.abs(t).max() <= 2.0
    p = pf.random.permutation(10, seed=4).numpy()
    assert sorted(p.tolist()) == list(range(10))
    kept = pf.random.dropout(pf.tensor(np.ones(10000, np.float32)), 0.25, seed=5).numpy()
    assert set(np.unique(kept).tolist()) <= {0.0, np.float32(1 / 0.75)}


def _matmul_softmax_sum():
    a = pf.random.normal((257, 129), dtype="float32", seed=10)
    b = pf.random.normal((129, 300), dtype="float32", seed=11)
    out = pf.ops.sum(pf.ops.softmax(a @ b, axis=-1) * pf.ops.log_softmax(a @ b, axis=0), axis=0)
    return out.numpy().tobytes() + pf.ops.sum(out).numpy().tobytes()


def test_one_and_two_threads_are_bitwise_identical():
    saved = pf.config.get_num_threads()
    try:
        pf.config.set_num_threads(1)
        assert pf.config.get_num_threads() == 1
        single = _matmul_softmax_sum()
        pf.config.set_num_threads(2)
        double = _matmul_softmax_sum()
    finally:
        pf.config.set_num_threads(saved)
    assert single == double


def test_set_num_threads_rejects_nonsense():
    with pytest.raises(ValueError):
        pf.config.set_num_threads(0)


TRAIN = ("import sys, pitfall as pf; pf.utils.set_random_seed(99); "
         "w = pf.Variable(pf.random.normal((300, 40), stddev=0.1)); x = pf.random.uniform((513, 300)); "
         "tape = pf.GradientTape(); tape.__enter__(); "
         "loss = pf.ops.mean(pf.ops.log_softmax(pf.ops.tanh(x @ w), axis=-1)); tape.__exit__(None, None, None); "
         "g = tape.gradient(loss, w); "
         "sys.stdout.buffer.write(bytes([pf.config.get_num_threads()]) + loss.numpy().tobytes() + g.numpy().tobytes())")


def test_processes_with_1_and_2_threads_from_the_environment_agree_bitwise():
    import os
    outs = []
    for threads in ("1", "2"):
        env = dict(os.environ, PITFALL_NUM_THREADS=threads)
        outs.append(subprocess.run([sys.executable, "-c", TRAIN], check=True, capture_output=True, env=env).stdout)
    assert outs[0][0] == 1 and outs[1][0] == 2  # the variable was honoured
    assert len(outs[0]) == 1 + 4 + 300 * 40 * 4
    assert outs[0][1:] == outs[1][1:]


def test_malformed_thread_variable_is_a_clear_error():
    import os
    env = dict(os.environ, PITFALL_NUM_THREADS="lots")
    run = subprocess.run([sys.executable, "-c", "import pitfall as pf; pf.config.get_num_threads()"],
                         capture_output=True, env=env, text=True)
    assert run.returncode != 0
    assert "PITFALL_NUM_THREADS='lots'" in run.stderr and "integer" in run.stderr
