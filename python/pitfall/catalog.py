"""pitfall.catalog: the bundled pitfall examples, run broken and fixed side by side.

Every example (examples/pitfalls/pNN_name.py, installed as the package ``pitfall.pitfalls``) is one
module of the same shape:

    \"\"\"P07 Softmax output + from_logits=True (double softmax)

    Symptom: ...        what you see in Keras
    Cause: ...          why it happens
    Fix: ...            what to change
    Keras: ...          the code that shows it (optional, indented lines)
    Source: ...         where it is documented publicly
    \"\"\"
    def broken(seed) -> Run        the pitfall, as a user writes it
    def fixed(seed) -> Run         the same run with the fix, same seed
    def signature(broken, fixed) -> [Check]   the numbers that prove both

A pitfall is *reproduced* when every check on the broken run holds, and *fixed* when every check on
the fixed run holds. Both runs start from the same state: the engine seeded with `seed`, a fresh
session, float32, no mixed policy, dtype mode "warn"; engine warnings are recorded into the run.

    pitfall list | pitfall run P07 [--plot out.png] | pitfall run --all | pitfall report out.html
"""
import dataclasses
import importlib.util
import io
import math
import os
import re
import sys
import time
import traceback
import warnings

__all__ = ["Run", "Check", "Outcome", "Pitfall", "entries", "find", "run_pitfall", "format_outcome",
           "format_summary", "check", "curve_from_history", "error_message", "main"]

DEFAULT_SEED = 0


# ---------------------------------------------------------------- the records an example returns
@dataclasses.dataclass
class Run:
    """What one variant did: a one-line setup, curves over steps or epochs, named values, and texts
    (error messages, excerpts). `timing` holds wall-clock measurements (seconds, ratios): they are
    never printed as values, only through checks marked timing=True, so the printed numbers of two
    runs stay identical. `warnings` is filled by the runner with the engine's warnings."""
    setup: str
    curves: dict = dataclasses.field(default_factory=dict)   # name -> [float] (per step/epoch)
    values: dict = dataclasses.field(default_factory=dict)   # name -> number or short text
    texts: dict = dataclasses.field(default_factory=dict)    # name -> longer text (error messages)
    x_label: str = "epoch"
    timing: dict = dataclasses.field(default_factory=dict)   # name -> wall-clock number (not printed)
    warnings: list = dataclasses.field(default_factory=list)
    label: str = ""
    findings: list = None   # the doctor's findings (pitfall.doctor.Finding), when run with the doctor


@dataclasses.dataclass
class Check:
    """One claim about one variant ("broken" or "fixed"), the value measured, and whether it held.
    `timing` marks wall-clock measurements: the only numbers that differ between two runs."""
    variant: str
    claim: str
    measured: str
    ok: bool
    timing: bool = False


def check(variant, claim, measured, ok, timing=False):
    """A Check; `measured` may be a number (printed with 6 significant digits) or text."""
    if variant not in ("broken", "fixed"):
        raise ValueError(f"check variant must be 'broken' or 'fixed', got {variant!r}")
    return Check(variant, claim, fmt(measured), bool(ok), timing)


def fmt(value):
    """Numbers as the catalog prints them: 6 significant digits, exact for ints and special values."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.6g}"
    try:  # NumPy / engine scalars
        return fmt(float(value)) if not isinstance(value, str) else value
    except (TypeError, ValueError):
        return str(value)


# ---------------------------------------------------------------- catalog entries
@dataclasses.dataclass
class Pitfall:
    id: str            # "P07"
    title: str
    sections: dict     # "symptom", "cause", "fix", "keras", "source" -> text
    module: object
    path: str

    @property
    def summary(self):
        return self.sections.get("symptom", "").split(". ")[0].rstrip(".")


_SECTION = re.compile(r"^(Symptom|Cause|Fix|Keras|Source|Note):\s*(.*)$")


def _parse_docstring(doc, path):
    lines = (doc or "").strip("\n").splitlines()
    if not lines:
        raise ValueError(f"{path}: a pitfall example needs a docstring 'PNN Title' with Symptom/Cause/Fix/Source")
    head = re.match(r"^(P\d\d)\s+(.*)$", lines[0].strip())
    if not head:
        raise ValueError(f"{path}:1: the docstring must start with 'PNN Title', got {lines[0]!r}")
    # Prose lines of a section join into paragraphs; indented lines (formulas, code) stay lines of
    # their own, kept with a 4-space indent. The Keras section is code: kept as written.
    parts, current = {}, None
    for line in lines[1:]:
        found = _SECTION.match(line.strip()) if not line.startswith("    ") else None
        if found:
            current = found.group(1).lower()
            parts[current] = [found.group(2).strip()] if found.group(2).strip() else []
        elif current == "keras":
            parts[current].append(line.rstrip())
        elif current and line.startswith("    ") and line.strip():
            parts[current].append("    " + " ".join(line.split()))
        elif current and line.strip():
            if parts[current] and not parts[current][-1].startswith("    "):
                parts[current][-1] += " " + " ".join(line.split())
            else:
                parts[current].append(" ".join(line.split()))
    sections = {k: "\n".join(v).strip("\n") for k, v in parts.items()}
    missing = [name for name in ("symptom", "cause", "fix", "source") if not sections.get(name)]
    if missing:
        raise ValueError(f"{path}: docstring lacks {', '.join(s.capitalize() + ':' for s in missing)}")
    return head.group(1), head.group(2).strip(), sections


def examples_dir():
    """Where the examples are: $PITFALL_PITFALLS_DIR, else the installed package pitfall.pitfalls."""
    override = os.environ.get("PITFALL_PITFALLS_DIR")
    if override:
        return override
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "pitfalls")


def _load(path):
    name = "pitfall.pitfalls." + os.path.splitext(os.path.basename(path))[0]
    if name in sys.modules and getattr(sys.modules[name], "__file__", None) == path:
        module = sys.modules[name]
    else:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    ident, title, sections = _parse_docstring(module.__doc__, path)
    for function in ("broken", "fixed", "signature"):
        if not callable(getattr(module, function, None)):
            raise ValueError(f"{path}: a pitfall example must define {function}()")
    return Pitfall(ident, title, sections, module, path)


def entries():
    """Every catalog entry, in id order."""
    folder = examples_dir()
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"the pitfall examples folder {folder} does not exist; build the package "
                                f"(cmake --build build) or set PITFALL_PITFALLS_DIR=examples/pitfalls")
    paths = sorted(os.path.join(folder, f) for f in os.listdir(folder) if re.match(r"^p\d\d_\w+\.py$", f))
    return [_load(path) for path in paths]


def normalize_id(text):
    found = re.match(r"^[pP]?0*(\d{1,2})$", str(text).strip())
    if not found:
        raise KeyError(f"{text!r} is not a pitfall id; ids look like P07 (see `pitfall list`)")
    return f"P{int(found.group(1)):02d}"


def find(ident, catalog=None):
    wanted = normalize_id(ident)
    catalog = entries() if catalog is None else catalog
    for pitfall in catalog:
        if pitfall.id == wanted:
            return pitfall
    known = ", ".join(p.id for p in catalog)
    raise KeyError(f"no pitfall {wanted} in the catalog; known: {known}")


# ---------------------------------------------------------------- running
def _reset_engine(seed):
    import pitfall as pf
    pf.backend.clear_session()
    pf.backend.set_floatx("float32")
    pf.mixed_precision.set_global_policy(None)
    pf.config.set_dtype_mode("warn")
    pf.utils.set_random_seed(seed)


def _run_variant(pitfall, variant, seed, doctor=False):
    function = getattr(pitfall.module, variant)
    _reset_engine(seed)
    session = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if doctor:
                from .doctor import Session
                with Session(sample_every=DOCTOR_SAMPLE_EVERY) as session:
                    result = function(seed)
            else:
                result = function(seed)
        finally:
            _reset_engine(seed)
    if not isinstance(result, Run):
        raise TypeError(f"{pitfall.path}: {variant}() must return a catalog.Run, got {type(result).__name__}")
    result.label = variant
    if session is not None:
        result.findings = _doctor_findings(session, result)
    result.warnings = [str(w.message) for w in caught if not issubclass(w.category, DeprecationWarning)]
    return result


@dataclasses.dataclass
class Outcome:
    pitfall: Pitfall
    seed: int
    broken: Run = None
    fixed: Run = None
    checks: list = dataclasses.field(default_factory=list)
    error: str = ""          # the traceback if the example itself failed
    seconds: float = 0.0

    def checks_for(self, variant):
        return [c for c in self.checks if c.variant == variant]

    @property
    def reproduced(self):
        mine = self.checks_for("broken")
        return not self.error and bool(mine) and all(c.ok for c in mine)

    @property
    def fix_works(self):
        mine = self.checks_for("fixed")
        return not self.error and bool(mine) and all(c.ok for c in mine)

    @property
    def ok(self):
        return self.reproduced and self.fix_works

    @property
    def verdict(self):
        if self.error:
            return "error"
        return ("reproduced" if self.reproduced else "not reproduced") + ", " + \
               ("fix works" if self.fix_works else "fix does not work")


def _doctor_findings(session, run):
    """The doctor's findings on one variant: its sessions' findings, and the errors the example caught
    and kept as texts (in a user's script they would have stopped the run: classified the same way)."""
    from .doctor import classify_error, _ordered
    findings = list(session.findings)
    for text in run.texts.values():
        head = str(text).strip().splitlines()[0] if str(text).strip() else ""
        match = re.match(r"^([A-Za-z_][A-Za-z0-9_.]*(Error|Exception|Warning)): (.*)", head)
        if not match:
            continue
        finding = classify_error(_TextError(head))
        if finding is not None and not any(f.id == finding.id and f.category == finding.category for f in findings):
            findings.append(finding)
    return _ordered(findings)


class _TextError(Exception):
    """An error kept as text ('Type: message'), classified like the exception it was."""

    def __str__(self):
        return self.args[0]


DOCTOR_SAMPLE_EVERY = 10


def run_pitfall(pitfall, seed=DEFAULT_SEED, doctor=False):
    """Runs broken and fixed with the same seed and measures the signature; never raises for a
    failing example (the Outcome carries the traceback). doctor=True runs each variant under the
    doctor (pitfall.doctor.Session): its findings land in run.findings."""
    outcome = Outcome(pitfall, seed)
    start = time.perf_counter()
    try:
        outcome.broken = _run_variant(pitfall, "broken", seed, doctor)
        outcome.fixed = _run_variant(pitfall, "fixed", seed, doctor)
        checks = list(pitfall.module.signature(outcome.broken, outcome.fixed))
        bad = [c for c in checks if not isinstance(c, Check)]
        if bad:
            raise TypeError(f"{pitfall.path}: signature() must return catalog.Check items, got {bad[0]!r}")
        outcome.checks = checks
    except Exception:  # noqa: BLE001  (an example failing is reported, never fatal to `run --all`)
        outcome.error = traceback.format_exc()
    outcome.seconds = time.perf_counter() - start
    return outcome


# ---------------------------------------------------------------- helpers the examples share
def curve_from_history(history, name="loss"):
    """A Keras History's per-epoch values as plain floats."""
    return [float(v) for v in history.history.get(name, [])]


def error_message(function, *args, **kwargs):
    """Calls `function` and returns 'ExceptionType: message' if it raised, else '' (no error)."""
    try:
        function(*args, **kwargs)
    except Exception as error:  # noqa: BLE001
        return f"{type(error).__name__}: {error}"
    return ""


def fashion_mnist_subset(train=6000, test=2000, seed=0):
    """A class-balanced-by-chance subset of Debian's Fashion-MNIST: (x_train, y_train), (x_test, y_test)
    as uint8 images (N, 28, 28) and uint8 labels, chosen by a NumPy generator seeded with `seed`."""
    import numpy as np
    import pitfall as pf
    (x, y), (x_test, y_test) = pf.datasets.fashion_mnist.load_data()
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(x))[:train]
    pick_test = rng.permutation(len(x_test))[:test]
    return (x[pick], y[pick]), (x_test[pick_test], y_test[pick_test])


# ---------------------------------------------------------------- text output
def _curve_summary(values):
    if not values:
        return "-"
    first, last = fmt(float(values[0])), fmt(float(values[-1]))
    finite = [v for v in values if math.isfinite(v)]
    low = fmt(min(finite)) if finite else "none finite"
    return f"{first} -> {last} (min {low}, {len(values)} pts)"


def _wrap(text, width, indent):
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        lines.append(line)
    return ("\n" + " " * indent).join(lines)


def side_by_side(outcome):
    """Rows (name, broken cell, fixed cell) of the setup, each curve's summary and each value, as
    both the text output and the HTML report show them."""
    runs = [outcome.broken, outcome.fixed]
    cell = lambda run, text: "-" if run is None or text is None else text  # noqa: E731
    rows = [("setup", *(cell(r, r and r.setup) for r in runs))]
    present = [r for r in runs if r is not None]
    for name in dict.fromkeys(k for r in present for k in r.curves):
        rows.append((f"{name} per {present[0].x_label}",
                     *(cell(r, r and _curve_summary(r.curves.get(name, []))) for r in runs)))
    for name in dict.fromkeys(k for r in present for k in r.values):
        rows.append((name, *(cell(r, r and (fmt(r.values[name]) if name in r.values else None)) for r in runs)))
    return rows


def format_outcome(outcome, explain=True):
    """The side-by-side text `pitfall run PNN` prints."""
    p, out = outcome.pitfall, io.StringIO()
    out.write(f"{p.id}  {p.title}   (seed {outcome.seed})\n")
    if explain:
        for name in ("symptom", "cause", "fix"):
            for number, paragraph in enumerate(p.sections.get(name, "").splitlines()):
                label = name + ":" if number == 0 else ""
                text = paragraph if paragraph.startswith("    ") else _wrap(paragraph, 88, 11)
                out.write(f"  {label:9}{text}\n")
    if outcome.error and outcome.broken is None:
        out.write("  the example failed:\n    " + outcome.error.strip().replace("\n", "\n    ") + "\n")
        return out.getvalue()
    rows = side_by_side(outcome)
    runs = [r for r in (outcome.broken, outcome.fixed) if r is not None]
    width = max(len(r[0]) for r in rows) + 2
    column = max(36, max(len(str(r[1])) for r in rows) + 2)
    out.write(f"  {'':{width}}{'broken':{column}}fixed\n")
    for row in rows:
        out.write(f"  {row[0]:{width}}{row[1]:{column}}{row[2]}\n")
    for r in runs:
        for name, text in r.texts.items():
            out.write(f"  {r.label} {name}:\n    " + str(text).strip().replace("\n", "\n    ") + "\n")
        for w in dict.fromkeys(r.warnings):
            out.write(f"  {r.label} warned: {_wrap(w, 84, 4)}\n")
    if outcome.checks:
        out.write("  signature:\n")
        for c in outcome.checks:
            mark = "ok  " if c.ok else "FAIL"
            measured = f"~{c.measured} [time]" if c.timing else c.measured
            out.write(f"    {mark} {c.variant:7}{c.claim}: {measured}\n")
    for r in runs:
        if r.findings is None:
            continue
        out.write(f"  doctor, {r.label}: " + ("no findings" if not r.findings else "") + "\n")
        for f in r.findings:
            out.write(f"    [{f.severity}] {f.id} {f.category}: {f.title}" + (f" ({f.layer})" if f.layer else "") + "\n")
    if outcome.error:
        out.write("  the example failed:\n    " + outcome.error.strip().replace("\n", "\n    ") + "\n")
    out.write(f"  verdict: {outcome.verdict}\n")
    return out.getvalue()


def format_summary(outcomes):
    out = io.StringIO()
    out.write(f"{'id':4} {'pitfall':58} {'broken':16} {'fixed':18}\n")
    for o in outcomes:
        broken = "error" if o.error else ("reproduced" if o.reproduced else "NOT reproduced")
        fixed = "error" if o.error else ("fix works" if o.fix_works else "FIX FAILS")
        title = o.pitfall.title if len(o.pitfall.title) <= 58 else o.pitfall.title[:55] + "..."
        out.write(f"{o.pitfall.id:4} {title:58} {broken:16} {fixed:18}\n")
    good = sum(o.ok for o in outcomes)
    out.write(f"{len(outcomes)} pitfall{'s' if len(outcomes) != 1 else ''}: {sum(o.reproduced for o in outcomes)} reproduced, "
              f"{sum(o.fix_works for o in outcomes)} fixed, {len(outcomes) - good} failing\n")
    return out.getvalue()


def main(namespace):
    """Entry point of an example run as a script: `python3 examples/pitfalls/p07_....py [--seed N]
    [--plot out.png]`. Runs it like `pitfall run` and exits non-zero unless reproduced and fixed."""
    import argparse
    path = namespace["__file__"]
    parser = argparse.ArgumentParser(description=(namespace.get("__doc__") or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--plot", metavar="OUT.png", help="write the broken vs fixed curves to a PNG")
    args = parser.parse_args()
    pitfall = _load(os.path.abspath(path))
    outcome = run_pitfall(pitfall, args.seed)
    sys.stdout.write(format_outcome(outcome))
    if args.plot:
        from .report import plot_outcome
        plot_outcome(outcome, args.plot)
    return 0 if outcome.ok else 1
