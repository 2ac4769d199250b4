"""Runs catalog entries once per test session, from the source tree's examples/pitfalls, so every test
of a pitfall reads the same broken and fixed runs: `outcome("P07").broken.values[...]`. Each run is
made under the doctor (`pitfall run ID --doctor`): its findings are in `.broken.findings`, and since the
doctor only reads, every value the catalog tests check is the value computed without it (except the
entries in TIMED, whose wall-clock checks run unobserved; diagnosed() gives their doctor run)."""
import functools
import os
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "pitfalls"
os.environ["PITFALL_PITFALLS_DIR"] = str(EXAMPLES)


@functools.lru_cache(maxsize=None)
def catalog_entries():
    from pitfall import catalog
    return {p.id: p for p in catalog.entries()}


# Entries whose checks read wall-clock time: their outcome() runs without observers (the doctor's
# per-batch callbacks take the GIL that P26's Python map needs on its prefetch thread), and
# diagnosed() runs them once more under the doctor.
TIMED = {"P26"}


def diagnosed(ident, seed=0):
    """The outcome of a run made under the doctor (its findings in .broken.findings / .fixed.findings)."""
    return outcome(ident, seed) if ident not in TIMED else _run(ident, seed, doctor=True)


def outcome(ident, seed=0):
    """The Outcome of one pitfall (broken run, fixed run, checks); fails loudly if the example broke."""
    from pitfall import catalog
    return _run(catalog.normalize_id(ident), seed, doctor=catalog.normalize_id(ident) not in TIMED)


@functools.lru_cache(maxsize=None)
def _run(ident, seed, doctor):
    from pitfall import catalog
    result = catalog.run_pitfall(catalog_entries()[ident], seed, doctor=doctor)
    assert not result.error, f"{ident} failed to run:\n{result.error}"
    return result
