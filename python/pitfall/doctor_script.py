"""`pitfall doctor [--json FILE] [--report FILE.html] SCRIPT.py [ARGS...]`: runs an unmodified script
as its own ``__main__`` with a Doctor attached to every model it trains (fit) and every custom loop it
runs, then prints the findings and writes the JSON and the HTML report. The exit status is the
script's; an exception the script raises becomes a finding too (when the doctor knows its kind). A
path that is not a Python script exits 2; a script that exits cleanly without training anything
exits 3 (the JSON's "script_exit_status" keeps the script's own 0)."""
import html
import math
import os
import runpy
import sys
import traceback

from . import doctor as _doctor

__all__ = ["run_script", "write_html"]

NOTHING_TRAINED = 3  # the exit status when the script ran cleanly but trained nothing (2: not a script)


def run_script(script, argv=(), json_path=None, report_path=None, out=None, sample_every=50):
    """Runs `script` under a doctor Session; returns (exit_status, result dict)."""
    out = out or sys.stdout
    result = None
    if not os.path.exists(script):
        return _refuse(f"{script}: no such file", script, json_path, out)
    if os.path.isdir(script):
        return _refuse(f"{script}: is a directory; give the Python script that trains", script, json_path, out)
    try:
        with open(script, "rb") as f:
            compile(f.read(), script, "exec")
    except (SyntaxError, ValueError) as error:
        return _refuse(f"{script}: not a Python script ({type(error).__name__}: {error})", script, json_path, out)
    session = _doctor.Session(sample_every=sample_every)
    error_text, exit_status = None, 0
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [script] + list(argv)
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    error_finding = None
    try:
        with session:
            runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        code = stop.code
        exit_status = code if isinstance(code, int) else (0 if code is None else 1)
        if not isinstance(code, int) and code is not None:
            print(code, file=sys.stderr)
    except BaseException as error:  # the script's failure is a result here, not the doctor's
        exit_status = 1
        error_text = "".join(traceback.format_exception_only(type(error), error)).strip()
        traceback.print_exc()
        error_finding = _doctor.classify_error(error)
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path
    # The error that stopped the script leads: it is what the user saw first.
    findings = ([error_finding] if error_finding is not None else []) + session.findings
    script_status = exit_status
    if not session.doctors and exit_status == 0:
        # Nothing was diagnosed: say so, and do not let a clean exit pass for a clean bill of health.
        error_text = error_text or (f"{script} trained no model (no fit(), train_on_batch() or optimizer step "
                                    "ran): nothing to diagnose")
        exit_status = NOTHING_TRAINED
    runs = [{"run": label, "findings": [f.to_dict() for f in d.findings], "curves": d.curves()}
            for label, d in session.doctors]
    result = _doctor.findings_json(findings, script=script, exit_status=exit_status, error=error_text,
                                   extra={"runs": runs, "script_exit_status": script_status})
    _print(findings, session, script, exit_status, out)
    if json_path:
        _doctor.write_json(json_path, result)
        print(f"wrote {json_path}", file=out)
    if report_path:
        write_html(result, report_path)
        print(f"wrote {report_path}", file=out)
    return exit_status, result


def _refuse(message, script, json_path, out):
    print(f"pitfall doctor: {message}", file=sys.stderr)
    result = _doctor.findings_json([], script=script, exit_status=2, error=message)
    if json_path:
        _doctor.write_json(json_path, result)
    return 2, result


def _print(findings, session, script, exit_status, out):
    runs = len(session.doctors)
    if not runs:
        print(f"pitfall doctor: {script} trained no model (no fit() and no optimizer step ran); nothing to "
              "diagnose", file=out)
    else:
        print(f"pitfall doctor: {script}: {runs} training run(s), {len(findings)} finding(s)", file=out)
    for finding in findings:
        print(str(finding), file=out)
    if exit_status:
        print(f"the script exited with status {exit_status}", file=out)


# ---------------------------------------------------------------- the HTML page
def _svg(series, title, width=420, height=160, log=False):
    """A polyline chart of named series [(x, y)] (inline SVG, no dependencies)."""
    points = [(x, y) for values in series.values() for x, y in values
              if isinstance(y, (int, float)) and math.isfinite(y) and (not log or y > 0)]
    if not points:
        return ""
    tr = (lambda v: math.log10(v)) if log else (lambda v: v)
    xs, ys = [p[0] for p in points], [tr(p[1]) for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    x1, y1 = (x1 if x1 > x0 else x0 + 1), (y1 if y1 > y0 else y0 + 1)
    colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    parts = [f'<svg width="{width}" height="{height + 30}" xmlns="http://www.w3.org/2000/svg">',
             f'<text x="4" y="14" font-size="12">{html.escape(title)}{" (log10)" if log else ""}: '
             f'{y0:.3g} .. {y1:.3g}</text>']
    for k, (name, values) in enumerate(series.items()):
        pts = [(x, tr(y)) for x, y in values if isinstance(y, (int, float)) and math.isfinite(y) and (not log or y > 0)]
        if not pts:
            continue
        coords = " ".join(f"{4 + (x - x0) / (x1 - x0) * (width - 8):.1f},{20 + (1 - (y - y0) / (y1 - y0)) * height:.1f}"
                          for x, y in pts)
        colour = colours[k % len(colours)]
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{coords}"/>')
        parts.append(f'<text x="{width - 150}" y="{32 + 12 * k}" font-size="10" fill="{colour}">'
                     f'{html.escape(str(name))[:28]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_html(result, path):
    """One self-contained page: the findings with their evidence and fix, links to the catalog
    entries, and the curves of each run (loss and metrics per epoch, monitored statistics per step)."""
    from .report import _atomic_write
    esc = html.escape
    rows = []
    for f in result["findings"]:
        evidence = "<br>".join(f"{esc(str(k))}: {esc(str(v))}" for k, v in f["evidence"].items())
        where = ", ".join(f"{k} {f[k]}" for k in ("layer", "epoch", "step") if f.get(k) is not None)
        rows.append(f'<tr class="{esc(f["severity"])}"><td>{esc(f["severity"])}</td>'
                    f'<td><a href="#catalog-{esc(f["id"])}">{esc(f["id"])}</a></td><td>{esc(f["category"])}</td>'
                    f'<td><b>{esc(f["title"])}</b><br><small>{esc(where)}</small></td><td><small>{evidence}</small></td>'
                    f'<td>{esc(f["fix"])}</td></tr>')
    runs = []
    for run in result.get("runs", []):
        curves = run.get("curves", {})
        epochs = {k: list(enumerate(v)) for k, v in curves.get("epochs", {}).items()}
        charts = [_svg({k: v for k, v in epochs.items() if "loss" in k}, "loss per epoch"),
                  _svg({k: v for k, v in epochs.items() if "loss" not in k}, "metrics per epoch"),
                  _svg({"loss": curves.get("step_loss", [])}, "loss of sampled steps"),
                  _svg({k[len("gradient norm "):]: v for k, v in curves.get("steps", {}).items()
                        if k.startswith("gradient norm ")}, "gradient norm per layer", log=True),
                  _svg({k[len("dead fraction "):]: v for k, v in curves.get("steps", {}).items()
                        if k.startswith("dead fraction ")}, "dead ReLU fraction per layer")]
        runs.append(f"<h2>{esc(run['run'])}</h2>" + "".join(c for c in charts if c))
    ids = sorted({f["id"] for f in result["findings"]})
    catalog_rows = []
    try:
        from . import catalog
        entries = {e.id: e for e in catalog.entries()}
    except Exception:
        entries = {}
    for ident in ids:
        entry = entries.get(ident)
        title = esc(entry.title) if entry is not None else ""
        summary = esc(getattr(entry, "summary", "") or "") if entry is not None else ""
        catalog_rows.append(f'<li id="catalog-{esc(ident)}"><b>{esc(ident)}</b> {title}: {summary} '
                            f'<code>pitfall run {esc(ident)}</code> shows it broken and fixed.</li>')
    status = result.get("exit_status")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>pitfall doctor: {esc(str(result.get('script')))}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}}
tr.error td:first-child{{color:#b00}}tr.warning td:first-child{{color:#b60}}tr.info td:first-child{{color:#06b}}</style></head><body>
<h1>pitfall doctor: {esc(str(result.get('script')))}</h1>
<p>exit status {esc(str(status))}{(': ' + esc(result['error'])) if result.get('error') else ''}; {len(result['findings'])} finding(s)</p>
<table><tr><th>severity</th><th>id</th><th>category</th><th>finding</th><th>evidence</th><th>fix</th></tr>{''.join(rows)}</table>
<h2>Catalog entries</h2><ul>{''.join(catalog_rows)}</ul>
{''.join(runs)}
</body></html>
"""
    _atomic_write(path, page.encode())
