"""The hollow-test gate: a derived test is kept only if it passes on the real result and
fails on a corrupted copy of it; everything else is dropped and reported, with why."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from generator.testgen.datatests import DataTest
from generator.testgen.derive import derive_tests
from generator.testgen.hollow import check_test, hollow_gate
from generator.testgen.testsql import catalog_resolver

ROOT = Path(__file__).resolve().parents[1]
# The SQL examples: an enrich proposal's tests come from its spec (tests/test_enrich_flow.py).
PROPOSALS = sorted(p for p in (ROOT / "examples" / "proposals").glob("*.yml") if "\nsql: |" in p.read_text())
HOLLOW = Path(__file__).parent / "fixtures" / "hollow" / "account_failed_payments.yml"

# The corruption each kind of test must be caught by (the start of its description).
CORRUPTION = {
    "not_null": "set {column} to null in one row",
    "gen_model.unique_combination_of_columns": "duplicate a row",
    "accepted_values": "set {column} to '__gen_model_unexpected__' in one row",
    "relationships": "set {column} to '__gen_model_orphan__' (no parent) in one row",
    "gen_model.accepted_range": "set {column} below the lower bound",
    "gen_model.fewer_rows_than": "duplicate rows until there are",
    "gen_model.equal_rowcount": "delete one row",
    "gen_model.expression_is_true": "",  # one of several perturbations
}


@pytest.mark.parametrize("proposal", PROPOSALS, ids=lambda p: p.stem)
def test_every_derived_test_fails_on_its_corruption(proposal, gate_proposal, sample_catalog):
    ctx = gate_proposal(proposal)
    tests = derive_tests(ctx).tests
    kept, verdicts = hollow_gate(ctx.sandbox, tests, catalog_resolver(sample_catalog))
    assert kept == tests, [v.why for v in verdicts if not v.kept]
    for verdict in verdicts:
        assert verdict.real_failures == 0 and verdict.corrupted_failures > 0, verdict
        expected = CORRUPTION[verdict.test.name].format(column=verdict.test.column)
        assert verdict.corruption.startswith(expected), (verdict.test.describe(), verdict.corruption)


def test_tests_that_cannot_fail_are_dropped_with_the_reason(gate_proposal, sample_catalog):
    ctx = gate_proposal(ROOT / "examples" / "proposals" / "account_payment_health.yml")
    resolve = catalog_resolver(sample_catalog)
    tautology = DataTest(
        "gen_model.expression_is_true", None, {"expression": "payment_attempts >= 0 or payment_attempts < 0"}
    )
    no_bound = DataTest("gen_model.not_null_proportion", "failure_rate", {"at_least": 0})
    real = DataTest("not_null", "account_name")
    kept, verdicts = hollow_gate(ctx.sandbox, [tautology, no_bound, real], resolve)
    assert kept == [real]
    by_test = {v.test.describe(): v for v in verdicts}
    tautology_verdict = by_test["gen_model.expression_is_true"]
    assert not tautology_verdict.kept
    assert tautology_verdict.why == (
        "cannot fail: raise payment_attempts above its largest absolute value in one row (still passes); "
        "lower payment_attempts below minus its largest absolute value in one row (still passes)"
    )
    assert by_test["gen_model.not_null_proportion(failure_rate)"].why == (
        "cannot fail: no defect in the result can break it"
    )
    assert by_test["not_null(account_name)"].corruption == "set account_name to null in one row"


def test_a_test_that_fails_on_the_real_data_is_dropped(gate_proposal, sample_catalog):
    ctx = gate_proposal(ROOT / "examples" / "proposals" / "account_mrr.yml")
    verdict = check_test(
        ctx.sandbox, DataTest("accepted_values", "plan_tier", {"values": ["growth"]}), catalog_resolver(sample_catalog)
    )
    assert not verdict.kept
    assert verdict.why == "fails on the real data (2 failures)"  # starter and enterprise


def test_a_derived_test_the_column_type_makes_hollow_is_dropped(gate_proposal, sample_catalog):
    ctx = gate_proposal(HOLLOW)
    tests = derive_tests(ctx).tests
    assert "gen_model.accepted_range(failed_payments)" in [t.describe() for t in tests]
    kept, verdicts = hollow_gate(ctx.sandbox, tests, catalog_resolver(sample_catalog))
    dropped = [v for v in verdicts if not v.kept]
    assert [v.test.describe() for v in dropped] == ["gen_model.accepted_range(failed_payments)"]
    assert dropped[0].why == (
        "cannot fail: set failed_payments below the lower bound ((0) - 1) in one row (impossible: Conversion Error)"
    )
    assert len(kept) == len(tests) - 1


@pytest.mark.dbt
def test_apply_reports_the_dropped_test_and_does_not_write_it(sample_project):
    from generator import Options, apply
    from generator.project import load_project

    report = apply(load_project(sample_project), HOLLOW, Options())
    assert report.status == "written"
    assert [d["test"] for d in report.dropped_tests] == ["gen_model.accepted_range(failed_payments)"]
    assert report.dropped_tests[0]["why"].startswith("cannot fail:")
    assert "dropped:     1 derived test(s) the hollow-test gate refused" in report.format_text()
    written = yaml.safe_load((sample_project / "models" / "marts" / "account_failed_payments.yml").read_text())
    columns = {c["name"]: c for c in written["models"][0]["versions"][0]["columns"]}
    names = [next(iter(t)) if isinstance(t, dict) else t for t in columns["failed_payments"]["data_tests"]]
    assert names == ["not_null"]
    assert report.build["failed"] == 0


def test_a_row_count_test_checked_first_plans_its_corruption_from_the_result(gate_proposal, sample_catalog):
    # Row-count kinds plan their corruption before the corrupted copy exists: a
    # fewer_rows_than checked first once failed with "gen_model_corrupted does not exist".
    ctx = gate_proposal(ROOT / "examples" / "proposals" / "monthly_revenue_by_tier.yml")
    test = DataTest("gen_model.fewer_rows_than", None, {"compare_model": "ref('invoices')"})
    verdict = check_test(ctx.sandbox, test, catalog_resolver(sample_catalog))
    assert verdict.kept, verdict.why
    assert verdict.corruption.startswith("duplicate rows until there are")
