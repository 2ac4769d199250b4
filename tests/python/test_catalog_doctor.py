"""The doctor over the whole catalog (`pitfall run ID --doctor` for every entry): each broken run is
named with the entry's own id and the category the doctor gives that pitfall, first among the
findings of its severity or above; no fixed run gets a warning or an error. The entries that no
single run can show are listed, with the reason, in docs/doctor.md; a new entry must land in one
table or the other."""
import pathlib
import re

import pytest

from pitfall_outcomes import catalog_entries, diagnosed

# The category each broken run is diagnosed with.
DIAGNOSED = {
    "P01": "bad_initialization", "P02": "bad_initialization", "P03": "dtype_precision", "P05": "dtype_precision",
    "P06": "unnormalized_input", "P07": "wrong_output_activation", "P08": "wrong_label_encoding",
    "P09": "numerical_instability", "P10": "numerical_instability", "P11": "wrong_output_activation",
    "P12": "learning_rate_too_high", "P13": "api_misuse", "P14": "api_misuse", "P16": "exploding_gradient",
    "P17": "api_misuse", "P18": "api_misuse", "P19": "api_misuse", "P21": "data_pipeline", "P22": "data_pipeline",
    "P26": "data_pipeline", "P29": "wrong_loss", "P30": "api_misuse", "P31": "vanishing_gradient",
    "P32": "dying_relu", "P33": "api_misuse", "P34": "api_misuse", "P37": "dtype_precision",
    "P38": "missing_hidden_activation", "P39": "api_misuse", "P40": "class_imbalance", "P41": "too_few_epochs",
    "P42": "overfitting", "P43": "saturated_activation", "P44": "data_pipeline", "P45": "wrong_output_activation",
}
# Reported as information: the run is not wrong, the user should know (TF32 turned on; the loss
# still falling at the last epoch).
INFORMATION = {"P37", "P41"}
DOCS = pathlib.Path(__file__).resolve().parents[2] / "docs" / "doctor.md"


def describe(findings):
    return [f"[{f.severity}] {f.id} {f.category}: {f.title}" for f in findings]


def not_from_one_run():
    """The ids docs/doctor.md lists under 'Not visible in one run'."""
    text = DOCS.read_text()
    section = text.split("## Not visible in one run", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| (P\d\d) \|", section, flags=re.M))


def test_every_catalog_entry_is_diagnosed_or_explained():
    entries = set(catalog_entries())
    excluded = not_from_one_run()
    assert not (excluded & set(DIAGNOSED)), "an entry cannot be both diagnosed and not visible"
    assert entries == set(DIAGNOSED) | excluded, (
        f"catalog entries without a diagnosis or a reason: {sorted(entries - set(DIAGNOSED) - excluded)}; "
        f"stale: {sorted((set(DIAGNOSED) | excluded) - entries)}")


@pytest.mark.parametrize("ident", sorted(DIAGNOSED))
def test_the_broken_run_is_named(ident):
    findings = diagnosed(ident).broken.findings
    assert findings is not None
    mine = [f for f in findings if f.id == ident and f.category == DIAGNOSED[ident]]
    assert mine, f"{ident}: no {DIAGNOSED[ident]} finding on the broken run: {describe(findings)}"
    if ident in INFORMATION:
        return
    assert mine[0].severity in ("warning", "error"), describe(findings)
    # The diagnosis leads: nothing more severe, and it is the first of its severity or names the
    # same pitfall as the first (a broken run may show a second fault of its own, e.g. P08's shape).
    rank = {"error": 0, "warning": 1, "info": 2}
    top = min(rank[f.severity] for f in findings)
    assert rank[mine[0].severity] == top, describe(findings)


@pytest.mark.parametrize("ident", sorted(catalog_entries()))
def test_the_fixed_run_gets_no_warning(ident):
    findings = diagnosed(ident).fixed.findings
    assert findings is not None
    serious = [f for f in findings if f.severity in ("warning", "error")]
    assert not serious, f"{ident}: the fixed run still gets {describe(serious)}"


@pytest.mark.parametrize("ident", sorted(not_from_one_run()))
def test_entries_not_visible_in_one_run_get_no_false_diagnosis(ident):
    """The doctor does not invent a serious diagnosis where a single run cannot show the pitfall."""
    serious = [f for f in diagnosed(ident).broken.findings if f.severity in ("warning", "error")]
    assert not serious, describe(serious)
