"""pitfall.report: plots of broken vs fixed runs, and the one-page HTML report of the catalog.

The report is a single HTML file: every pitfall with its explanation, its curves (PNG embedded as a
data: URI), the side-by-side values, the signature checks and the verdict. It needs no server and no
script. Files are written atomically (a temporary file in the same folder, then rename).
"""
import base64
import html
import io
import math
import os
import tempfile

from .catalog import format_summary, side_by_side

_COLORS = {"broken": "#c0392b", "fixed": "#1e8449"}


def _atomic_write(path, data):
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def _pyplot():
    import matplotlib
    if not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # files only; no display needed
    import matplotlib.pyplot as plt
    return plt


def plot_png(outcome):
    """PNG bytes of the broken vs fixed curves (one panel per curve name), or None if the pitfall has
    no curves (its signature is a set of values or an error message)."""
    runs = [r for r in (outcome.broken, outcome.fixed) if r is not None]
    names = list(dict.fromkeys(k for r in runs for k in r.curves))
    if not names:
        return None
    references = getattr(outcome.pitfall.module, "REFERENCES", {})  # curve -> [(y, label)]: analytic levels
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(names), figsize=(max(7.5, 4.2 * len(names)), 3.4), squeeze=False)
    for axis, name in zip(axes[0], names):
        for run in runs:
            values = [float(v) for v in run.curves.get(name, [])]
            if not values:
                continue
            finite = [v if math.isfinite(v) else float("nan") for v in values]
            axis.plot(range(1, len(values) + 1), finite, marker="." if len(values) < 40 else None,
                      color=_COLORS.get(run.label), label=f"{run.label}: {run.setup}"[:60])
            bad = [i + 1 for i, v in enumerate(values) if not math.isfinite(v)]
            if bad:
                axis.axvline(bad[0], color=_COLORS.get(run.label), linestyle=":", linewidth=1)
                axis.annotate(f"{run.label}: non-finite from {run.x_label} {bad[0]}", (bad[0], 0.95),
                              xycoords=("data", "axes fraction"), fontsize=7, color=_COLORS.get(run.label))
        for level, text in references.get(name, []):
            axis.axhline(level, color="#555", linestyle="--", linewidth=0.8)
            axis.annotate(text, (0.01, level), xycoords=("axes fraction", "data"), fontsize=7, color="#555",
                          va="bottom")
        axis.set_title(name, fontsize=10)
        axis.set_xlabel(runs[0].x_label)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(f"{outcome.pitfall.id} {outcome.pitfall.title}", fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, metadata={"Software": None})
    plt.close(figure)
    return buffer.getvalue()


def plot_outcome(outcome, path):
    """Writes the curves of `outcome` to `path` (PNG). Without curves, writes nothing and says so."""
    data = plot_png(outcome)
    if data is None:
        print(f"{outcome.pitfall.id} has no curves to plot (its signature is in the values above); "
              f"{path} not written")
        return False
    _atomic_write(path, data)
    print(f"wrote {path}")
    return True


_STYLE = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em} h2{font-size:1.2em;margin-top:2.2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em} td,th{border:1px solid #ddd;padding:3px 8px;
vertical-align:top;text-align:left} th{background:#f4f4f4} .ok{color:#1e8449;font-weight:600}
.fail{color:#c0392b;font-weight:600} pre{background:#f7f7f7;padding:.6em;overflow-x:auto;font-size:.85em;white-space:pre-wrap}
dt{font-weight:600;margin-top:.4em} dd{margin-left:1.2em;white-space:pre-wrap} img{max-width:100%} .muted{color:#777}
"""


def _verdict_html(outcome):
    if outcome.error:
        return '<span class="fail">error</span>'
    broken = '<span class="ok">reproduced</span>' if outcome.reproduced else '<span class="fail">not reproduced</span>'
    fixed = '<span class="ok">fix works</span>' if outcome.fix_works else '<span class="fail">fix does not work</span>'
    return f"{broken}, {fixed}"


def _section_html(outcome):
    p, e = outcome.pitfall, html.escape
    parts = [f'<h2 id="{p.id}">{p.id} {e(p.title)}</h2>', f"<p>Verdict: {_verdict_html(outcome)} "
             f'<span class="muted">(seed {outcome.seed})</span></p>', "<dl>"]
    for name in ("symptom", "cause", "fix"):
        if p.sections.get(name):
            parts.append(f"<dt>{name.capitalize()}</dt><dd>{e(p.sections[name])}</dd>")
    if p.sections.get("keras"):
        parts.append(f"<dt>In Keras</dt><dd><pre>{e(p.sections['keras'])}</pre></dd>")
    parts.append(f"<dt>Source</dt><dd>{e(p.sections.get('source', ''))}</dd></dl>")
    if outcome.error and outcome.broken is None:
        parts.append(f"<pre>{e(outcome.error)}</pre>")
        return "\n".join(parts)
    png = plot_png(outcome)
    if png:
        parts.append(f'<img alt="{p.id} broken vs fixed" src="data:image/png;base64,'
                     f'{base64.b64encode(png).decode("ascii")}">')
    runs = [r for r in (outcome.broken, outcome.fixed) if r is not None]
    rows = ["<table><tr><th></th><th>broken</th><th>fixed</th></tr>"]
    for name, broken_cell, fixed_cell in side_by_side(outcome):
        rows.append(f"<tr><td>{e(name)}</td><td>{e(broken_cell)}</td><td>{e(fixed_cell)}</td></tr>")
    rows.append("</table>")
    parts.extend(rows)
    for r in runs:
        for name, text in r.texts.items():
            parts.append(f"<p>{r.label}, {e(name)}:</p><pre>{e(str(text))}</pre>")
        for w in dict.fromkeys(r.warnings):
            parts.append(f"<p>{r.label} warned:</p><pre>{e(w)}</pre>")
    if outcome.checks:
        parts.append("<table><tr><th></th><th>variant</th><th>claim</th><th>measured</th></tr>")
        for c in outcome.checks:
            mark = '<span class="ok">ok</span>' if c.ok else '<span class="fail">FAIL</span>'
            measured = e(c.measured) + (' <span class="muted">(wall clock)</span>' if c.timing else "")
            parts.append(f"<tr><td>{mark}</td><td>{c.variant}</td><td>{e(c.claim)}</td><td>{measured}</td></tr>")
        parts.append("</table>")
    if outcome.error:
        parts.append(f"<pre>{e(outcome.error)}</pre>")
    return "\n".join(parts)


def report_html(outcomes):
    """The whole report as a string."""
    e = html.escape
    index = ["<table><tr><th>id</th><th>pitfall</th><th>verdict</th></tr>"]
    for o in outcomes:
        index.append(f'<tr><td><a href="#{o.pitfall.id}">{o.pitfall.id}</a></td><td>{e(o.pitfall.title)}</td>'
                     f"<td>{_verdict_html(o)}</td></tr>")
    index.append("</table>")
    summary = format_summary(outcomes).strip().splitlines()[-1]
    body = "\n".join(_section_html(o) for o in outcomes)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>pitfall catalog report</title>'
            f"<style>{_STYLE}</style></head><body>\n<h1>pitfall catalog report</h1>\n"
            f"<p>Each pitfall runs twice with the same seed: as users write it (broken) and with the fix. "
            f"The signature checks are the numbers that show it. {e(summary)}.</p>\n"
            + "\n".join(index) + "\n" + body + "\n</body></html>\n")


def write_report(outcomes, path):
    _atomic_write(path, report_html(outcomes).encode("utf-8"))
