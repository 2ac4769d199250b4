"""Runs catalog entries once per test session, from the source tree's examples/pitfalls, so every test
of a pitfall reads the same broken and fixed runs: `outcome("P07").broken.values[...]`. Each run is
made under the doctor (`pitfall run ID --doctor`): its findings are in `.broken.findings`, and since the
doctor only reads, every value the catalog tests check is the value computed without it."""
import functools
import os
import pathlib

EXAMPLES = pathlib.Path(__file__).resolve().parents[2] / "examples" / "pitfalls"
os.environ["PITFALL_PITFALLS_DIR"] = str(EXAMPLES)


@functools.lru_cache(maxsize=None)
def catalog_entries():
    from pitfall import catalog
    return {p.id: p for p in catalog.entries()}


@functools.lru_cache(maxsize=None)
def outcome(ident, seed=0):
    """The Outcome of one pitfall (broken run, fixed run, checks); fails loudly if the example broke."""
    from pitfall import catalog
    result = catalog.run_pitfall(catalog_entries()[catalog.normalize_id(ident)], seed, doctor=True)
    assert not result.error, f"{ident} failed to run:\n{result.error}"
    return result
