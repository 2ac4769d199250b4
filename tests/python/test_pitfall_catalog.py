"""The pitfall catalog as a whole: every entry of the specification exists and is reproduced and fixed,
the `pitfall list/run/report` command, determinism of the printed numbers, and failure reporting."""
import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import pytest

from pitfall_outcomes import EXAMPLES, catalog_entries, outcome

# The entries of the catalog specification (reference/pitfalls.md): P04, P15, P20, P23, P24 do not exist;
# P37 (TensorFloat-32 matmuls) follows the specification's last entry, and P38-P45 are the training-run
# pitfalls the doctor names (pitfall/doctor.py CATALOG).
SPECIFIED = ["P01", "P02", "P03", "P05", "P06", "P07", "P08", "P09", "P10", "P11", "P12", "P13", "P14", "P16",
             "P17", "P18", "P19", "P21", "P22", "P25", "P26", "P27", "P28", "P29", "P30", "P31", "P32", "P33",
             "P34", "P35", "P36", "P37", "P38", "P39", "P40", "P41", "P42", "P43",
             "P44", "P45"]
ROOT = pathlib.Path(__file__).resolve().parents[2]


def pitfall_command(*args, env=None, check=False):
    environment = dict(os.environ, MPLBACKEND="Agg", **(env or {}))
    result = subprocess.run([sys.executable, "-m", "pitfall", *args], capture_output=True, text=True, env=environment,
                            timeout=600)
    if check and result.returncode != 0:
        raise AssertionError(f"pitfall {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def test_every_specified_pitfall_has_an_example():
    assert sorted(catalog_entries()) == SPECIFIED


@pytest.mark.parametrize("ident", SPECIFIED)
def test_pitfall_is_reproduced_and_fixed(ident):
    result = outcome(ident)
    assert result.checks_for("broken"), f"{ident} has no check on the broken run"
    assert result.checks_for("fixed"), f"{ident} has no check on the fixed run"
    failing = [f"{c.variant}: {c.claim}: {c.measured}" for c in result.checks if not c.ok]
    assert not failing, f"{ident} signature checks failed: {failing}"
    assert result.reproduced and result.fix_works


@pytest.mark.parametrize("ident", SPECIFIED)
def test_pitfall_reads_as_a_teaching_text(ident):
    pitfall = catalog_entries()[ident]
    for section in ("symptom", "cause", "fix", "source"):
        assert len(pitfall.sections.get(section, "")) > 20, f"{ident}: the {section} section is missing or too short"
    assert pitfall.path.endswith(".py") and os.path.basename(pitfall.path).startswith(ident.lower())


def test_list_prints_one_line_per_pitfall():
    lines = pitfall_command("list", check=True, env={"PITFALL_PITFALLS_DIR": str(EXAMPLES)}).stdout.splitlines()
    assert [line.split()[0] for line in lines] == SPECIFIED
    assert all(len(line) < 160 for line in lines)


def test_run_rejects_unknown_ids_and_missing_arguments():
    unknown = pitfall_command("run", "P99", env={"PITFALL_PITFALLS_DIR": str(EXAMPLES)})
    assert unknown.returncode == 2 and "no pitfall P99" in unknown.stderr and "P07" in unknown.stderr
    nothing = pitfall_command("run")
    assert nothing.returncode == 2 and "--all" in nothing.stderr
    malformed = pitfall_command("run", "softmax", env={"PITFALL_PITFALLS_DIR": str(EXAMPLES)})
    assert malformed.returncode == 2 and "not a pitfall id" in malformed.stderr


def test_run_prints_both_variants_and_writes_the_plot(tmp_path):
    plot = tmp_path / "p07.png"
    result = pitfall_command("run", "p7", "--plot", str(plot), check=True, env={"PITFALL_PITFALLS_DIR": str(EXAMPLES)})
    assert "broken" in result.stdout and "fixed" in result.stdout
    assert "verdict: reproduced, fix works" in result.stdout
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and plot.stat().st_size > 10000


def test_printed_numbers_are_identical_across_two_runs():
    subset = ["P02", "P07", "P13", "P14", "P21", "P29", "P35"]
    env = {"PITFALL_PITFALLS_DIR": str(EXAMPLES)}
    first = pitfall_command("run", *subset, "--quiet", check=True, env=env).stdout
    second = pitfall_command("run", *subset, "--quiet", check=True, env=env).stdout
    assert first == second
    assert first.count("verdict: reproduced, fix works") == len(subset)


def test_an_example_runs_as_a_script():
    result = subprocess.run([sys.executable, str(EXAMPLES / "p07_double_softmax.py")], capture_output=True, text=True,
                            timeout=300, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert "verdict: reproduced, fix works" in result.stdout


def write_fake_catalog(folder):
    """Three tiny entries: one good, one whose fix fails, one that raises."""
    body = textwrap.dedent('''\
        """{ident} {title}

        Symptom: a symptom long enough to read. Cause: none.
        Cause: a cause long enough to read here.
        Fix: a fix long enough to read here too.
        Source: nowhere in particular, a test.
        """
        from pitfall.catalog import Run, check

        def broken(seed):
            {raise_line}
            return Run(setup="broken", values={{"x": 1.0}})

        def fixed(seed):
            return Run(setup="fixed", values={{"x": {fixed_value}}})

        def signature(broken, fixed):
            return [check("broken", "x is 1", broken.values["x"], broken.values["x"] == 1.0),
                    check("fixed", "x is 2", fixed.values["x"], fixed.values["x"] == 2.0)]
        ''')
    entries = {"p01_good.py": ("P01", "Good", "", 2.0), "p02_fix_fails.py": ("P02", "Fix fails", "", 3.0),
               "p03_raises.py": ("P03", "Raises", "raise RuntimeError('example bug')", 2.0)}
    for name, (ident, title, raise_line, fixed_value) in entries.items():
        (folder / name).write_text(body.format(ident=ident, title=title, raise_line=raise_line or "pass",
                                               fixed_value=fixed_value))


def test_run_all_fails_when_a_fix_fails_or_an_example_raises(tmp_path):
    write_fake_catalog(tmp_path)
    result = pitfall_command("run", "--all", env={"PITFALL_PITFALLS_DIR": str(tmp_path)})
    assert result.returncode == 1
    summary = result.stdout.splitlines()
    assert any(line.startswith("P01") and "reproduced" in line and "fix works" in line for line in summary)
    assert any(line.startswith("P02") and "FIX FAILS" in line for line in summary)
    assert any(line.startswith("P03") and "error" in line for line in summary)
    assert "RuntimeError: example bug" in result.stdout
    assert "3 pitfalls: 2 reproduced, 1 fixed, 2 failing" in result.stdout
    good_only = pitfall_command("run", "P01", env={"PITFALL_PITFALLS_DIR": str(tmp_path)})
    assert good_only.returncode == 0


def test_report_is_one_self_contained_page(tmp_path):
    report = tmp_path / "report.html"
    pitfall_command("report", str(report), "P07", "P14", check=True, env={"PITFALL_PITFALLS_DIR": str(EXAMPLES)})
    page = report.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert 'id="P07"' in page and 'id="P14"' in page and 'href="#P14"' in page
    assert page.count("data:image/png;base64,") == 2
    assert "src=\"http" not in page and "<script" not in page  # opens without a server or network
    assert "Symptom" in page and "reproduced" in page
    assert oct(report.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (tools/report-screenshot.sh installs it)")
def test_report_renders_in_headless_chromium(tmp_path):
    report = tmp_path / "report.html"
    pitfall_command("report", str(report), "P07", check=True, env={"PITFALL_PITFALLS_DIR": str(EXAMPLES)})
    shot = tmp_path / "report.png"
    result = subprocess.run(["bash", str(ROOT / "tools" / "report-screenshot.sh"), str(report), str(shot)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
