"""Catalog entries P38-P45, the training-run pitfalls the doctor names: each is reproduced and fixed,
and run under the doctor the broken run gets a finding with the entry's own id and the doctor's
category for it, while the fixed run gets nothing of severity warning or error."""
import pytest

from pitfall_outcomes import diagnosed

ENTRIES = {"P38": "missing_hidden_activation", "P39": "api_misuse", "P40": "class_imbalance",
           "P41": "too_few_epochs", "P42": "overfitting", "P43": "saturated_activation",
           "P44": "data_pipeline", "P45": "wrong_output_activation"}


def describe(findings):
    return [f"[{f.severity}] {f.id} {f.category}" for f in findings]


@pytest.mark.parametrize("ident", sorted(ENTRIES))
def test_entry_is_reproduced_and_fixed(ident):
    result = diagnosed(ident)
    failing = [f"{c.variant}: {c.claim}: {c.measured}" for c in result.checks if not c.ok]
    assert result.checks_for("broken") and result.checks_for("fixed")
    assert not failing, f"{ident} signature checks failed: {failing}"
    assert result.reproduced and result.fix_works


@pytest.mark.parametrize("ident", sorted(ENTRIES))
def test_doctor_names_the_entry_on_the_broken_run(ident):
    findings = diagnosed(ident).broken.findings
    mine = [f for f in findings if f.id == ident and f.category == ENTRIES[ident]]
    assert mine, f"{ident}: no {ENTRIES[ident]} finding on the broken run: {describe(findings)}"
    if ident != "P41":  # too few epochs is reported as information
        assert any(f.severity in ("warning", "error") for f in mine), describe(findings)


@pytest.mark.parametrize("ident", sorted(ENTRIES))
def test_doctor_finds_nothing_serious_on_the_fixed_run(ident):
    findings = diagnosed(ident).fixed.findings
    assert findings is not None
    serious = [f for f in findings if f.severity in ("warning", "error")]
    assert not serious, f"{ident}: the fixed run still gets {describe(serious)}"


def test_class_weight_and_restored_weights_turn_the_finding_into_information():
    """The fix the finding asks for, applied: class_weight balances count x weight (P40), and
    EarlyStopping restored the best epoch's weights (P42); the doctor says so instead of warning."""
    imbalance = next(f for f in diagnosed("P40").fixed.findings if f.category == "class_imbalance")
    assert imbalance.severity == "info" and imbalance.evidence["weighted_largest_to_smallest"] == pytest.approx(1.0)
    assert imbalance.evidence["largest_to_smallest"] >= 10
    overfit = next(f for f in diagnosed("P42").fixed.findings if f.category == "overfitting")
    assert overfit.severity == "info" and overfit.evidence["restored_best_weights"] is True
