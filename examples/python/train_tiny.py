"""A 2-layer MLP fitted to y = sin(3x) with pitfall's GradientTape and hand-written SGD.

Exits non-zero unless the loss drops below a threshold, so it doubles as a smoke test:
    PYTHONPATH=build/python /usr/bin/python3 examples/python/train_tiny.py
"""
import sys

import numpy as np

import pitfall as pf

pf.utils.set_random_seed(0)
x = pf.random.uniform((256, 1), minval=-1.0, maxval=1.0)
y = pf.tensor(np.sin(3.0 * np.asarray(x)))  # NumPy arrays in and out

hidden = 32
w1 = pf.Variable(pf.random.normal((1, hidden), stddev=1.0), name="w1")
b1 = pf.Variable(np.zeros(hidden, np.float32), name="b1")
w2 = pf.Variable(pf.random.normal((hidden, 1), stddev=1.0 / np.sqrt(hidden)), name="w2")
b2 = pf.Variable(np.zeros(1, np.float32), name="b2")
params = [w1, b1, w2, b2]

learning_rate = 0.1
for step in range(1001):
    with pf.GradientTape() as tape:
        h = pf.ops.tanh(pf.ops.matmul(x, w1) + b1)
        loss = pf.ops.mean(pf.ops.square(pf.ops.matmul(h, w2) + b2 - y))
    grads = tape.gradient(loss, params)
    for p, g in zip(params, grads):
        p.assign_sub(learning_rate * g)
    if step % 200 == 0:
        print(f"step {step:4d}  loss {float(loss):.5f}")

final = float(loss)
if not final < 0.02:
    sys.exit(f"train_tiny: final loss {final:.5f} is not below 0.02")
print("train_tiny: ok")
