"""P27 Seeding the wrong random generator

Symptom: The script calls np.random.seed(42) at the top, yet every run starts from different initial
weights and ends with a different loss; the results cannot be reproduced, not even on the same machine.
Cause: A deep-learning engine draws its initializers, dropout masks and shuffles from its OWN generator,
not from NumPy's. np.random.seed fixes the NumPy draws (those do repeat) and leaves the engine's
generator seeded from the operating system, so each new process initializes differently. (Inside one
process the symptom can hide: code that happens to seed the engine elsewhere looks reproducible until it
runs in a fresh process.)
Fix: Seed the engine: pf.utils.set_random_seed(seed) seeds the engine's counter-based generator, Python's
random and NumPy at once (keras.utils.set_random_seed in Keras 3; tf.random.set_seed plus NumPy and
random in TF 2). Then two fresh processes produce bitwise-identical weights, dropout masks and losses.
Keras:
    import numpy as np
    np.random.seed(42)                     # only NumPy
    model = build_model()                  # initial weights come from TensorFlow's generator
    model.fit(x, y, epochs=1)              # different loss every run
Source: seed 003 ("Why do TensorFlow and Keras produce different results for the same neural network?",
which seeds NumPy and TensorFlow separately); keras.utils.set_random_seed documentation.
"""
import json
import os
import subprocess
import sys

import pitfall as pf
from pitfall.catalog import Run, check, main

PROCESSES = 3

# What each fresh Python process runs: seed, build a small model with Dropout, train one epoch
# (shuffled), and report digests of the initial and final weights.
CHILD = r"""
import hashlib, json, sys
import numpy as np
SEED, HOW = int(sys.argv[1]), sys.argv[2]
import pitfall as pf
if HOW == "numpy":
    np.random.seed(SEED)
else:
    pf.utils.set_random_seed(SEED)
digest = lambda arrays: hashlib.sha256(b"".join(np.ascontiguousarray(a).tobytes() for a in arrays)).hexdigest()
x = np.random.normal(size=(256, 8)).astype(np.float32)
y = (x[:, 0] > 0).astype(np.int32)
model = pf.Sequential([pf.Input((8,)), pf.layers.Dense(16, activation="relu"), pf.layers.Dropout(0.3),
                       pf.layers.Dense(2)])
model.compile(optimizer="adam", loss=pf.losses.SparseCategoricalCrossentropy(from_logits=True))
initial = digest(model.get_weights())
history = model.fit(x, y, epochs=2, batch_size=32, shuffle=True, verbose=0)
print(json.dumps({"numpy data": digest([x]), "initial weights": initial, "trained weights": digest(model.get_weights()),
                  "final loss": float(history.history["loss"][-1]).hex()}))
"""


def run_process(seed, how):
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(pf.__file__)))
    env["PYTHONPATH"] = package_parent + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    done = subprocess.run([sys.executable, "-c", CHILD, str(seed), how], env=env, capture_output=True, text=True,
                          timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"the child process ({how} seeding) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(seed, how):
    runs = [run_process(seed, how) for _ in range(PROCESSES)]
    distinct = {key: len({r[key] for r in runs}) for key in runs[0]}
    setup = ("np.random.seed(seed) only, " if how == "numpy" else "pf.utils.set_random_seed(seed), ") + \
        f"{PROCESSES} fresh processes"
    values = {f"distinct NumPy data among {PROCESSES} processes": distinct["numpy data"],
              f"distinct initial weights among {PROCESSES} processes": distinct["initial weights"],
              f"distinct trained weights among {PROCESSES} processes": distinct["trained weights"],
              f"distinct final losses among {PROCESSES} processes": distinct["final loss"]}
    if distinct["trained weights"] == 1:   # only a reproducible result is worth printing
        values["trained weights sha256 (first 16 hex)"] = runs[0]["trained weights"][:16]
    return Run(setup=setup, values=values)


def broken(seed):
    return compare(seed, "numpy")


def fixed(seed):
    return compare(seed, "engine")


def signature(broken, fixed):
    def value(run, what):
        return run.values[f"distinct {what} among {PROCESSES} processes"]
    return [
        check("broken", "NumPy's draws do repeat in every process (1 distinct)", value(broken, "NumPy data"),
              value(broken, "NumPy data") == 1),
        check("broken", f"the initial weights differ in every process ({PROCESSES} distinct)",
              value(broken, "initial weights"), value(broken, "initial weights") == PROCESSES),
        check("broken", f"so do the trained weights ({PROCESSES} distinct)", value(broken, "trained weights"),
              value(broken, "trained weights") == PROCESSES),
        check("fixed", "initial weights bitwise equal in every process (1 distinct)", value(fixed, "initial weights"),
              value(fixed, "initial weights") == 1),
        check("fixed", "trained weights and final loss bitwise equal (1 distinct each)",
              max(value(fixed, "trained weights"), value(fixed, "final losses")),
              value(fixed, "trained weights") == 1 and value(fixed, "final losses") == 1),
    ]


if __name__ == "__main__":
    raise SystemExit(main(globals()))
