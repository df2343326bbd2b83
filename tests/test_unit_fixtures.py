"""Unit tests for generated models: few real rows, joins that match, expected rows that are
the accepted SQL run on them, values that survive dbt's fixture casting, deterministic; and
in a real `dbt build` they pass, and fail once the model's logic changes."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml

from generator.run.accept import DRY_RUN_UNIT_TEST_NOTE, search_unit_test_rows
from generator.run.options import Options
from generator.run.report import RunReport
from generator.testgen.mutate import enumerate_mutants
from generator.testgen.unit_fixtures import MAX_ROWS_PER_INPUT, FixtureSearch, build_unit_test, ddmin
from generator.testgen.unit_runner import FixtureRunner, GivenInput, UnitTest
from generator.write.writer import dump_yaml

ROOT = Path(__file__).resolve().parents[1]
PROPOSALS = ROOT / "examples" / "proposals"
GENERATED = ("account_mrr", "account_payment_health", "monthly_revenue_by_tier")


def written_unit_test(project: Path, model: str) -> dict:
    document = yaml.safe_load((project / "models" / "marts" / f"{model}.yml").read_text(encoding="utf-8"))
    (entry,) = [entry for entry in document["unit_tests"] if entry["name"] == f"{model}_v1_logic"]  # v1's
    return entry


def as_unit_test(entry: dict) -> UnitTest:
    given = tuple(GivenInput(g["input"], tuple(g["rows"])) for g in entry["given"])
    return UnitTest(entry["name"], entry["model"], given, tuple(entry["expect"]["rows"]), 1)


@pytest.mark.parametrize("model", GENERATED)
def test_written_unit_tests_are_small_and_pin_the_versions_logic(model, sample_project_built):
    entry = written_unit_test(sample_project_built, model)
    assert entry["name"] == f"{model}_v1_logic"
    assert entry["model"] == model and entry["versions"] == {"include": [1]}
    assert entry["expect"]["rows"], "an empty expectation pins nothing"
    for given in entry["given"]:
        assert len(given["rows"]) <= MAX_ROWS_PER_INPUT, given["input"]
        assert re.fullmatch(r"(ref|source)\('[a-z_]+'(, '[a-z_]+')?\)", given["input"])


@pytest.mark.parametrize("model", GENERATED)
def test_expected_rows_are_the_accepted_sql_on_the_fixture(model, sample_project_built, gate_proposal):
    ctx = gate_proposal(PROPOSALS / f"{model}.yml")
    unit_test = as_unit_test(written_unit_test(sample_project_built, model))
    runner = FixtureRunner(ctx.sandbox, ctx, unit_test, 0)
    try:
        assert runner.check_original(ctx.tree) is None
    finally:
        runner.close()
    # ...and the comparison can fail: one expected value changed is caught.
    first = dict(unit_test.expect[0])
    column = next(name for name, value in first.items() if isinstance(value, int) and not isinstance(value, bool))
    first[column] += 1
    changed = UnitTest(unit_test.name, model, unit_test.given, (first, *unit_test.expect[1:]), 1)
    runner = FixtureRunner(ctx.sandbox, ctx, changed, 1)
    try:
        assert runner.check_original(ctx.tree) == f"unit test {unit_test.name} fails on the model itself; not used"
    finally:
        runner.close()


def test_fixture_rows_join_and_exercise_the_logic(sample_project_built):
    entry = written_unit_test(sample_project_built, "account_payment_health")
    accounts, payments = (given["rows"] for given in entry["given"])
    account_ids = {row["account_id"] for row in accounts}
    paying = {row["account_id"] for row in payments}
    assert paying & account_ids, "payments must join to the fixture's accounts"
    assert account_ids - paying, "an account without payments exercises the left join"
    assert any(row["is_deleted"] for row in accounts), "a row the where clause must drop"
    assert any(row["is_refund"] for row in payments), "a refund the attempts must not count"
    assert {row["payment_status"] for row in payments} >= {"failed", "succeeded"}
    expected = {row["account_id"] for row in entry["expect"]["rows"]}
    assert expected == {row["account_id"] for row in accounts if not row["is_deleted"]}


def test_values_are_written_in_forms_dbt_casts_back(sample_project_built):
    values = []
    for model in GENERATED:
        entry = written_unit_test(sample_project_built, model)
        for rows in [g["rows"] for g in entry["given"]] + [entry["expect"]["rows"]]:
            values += [value for row in rows for value in row.values()]
    assert None in values
    assert True in values and False in values
    assert any(isinstance(v, int) and not isinstance(v, bool) for v in values)
    assert any(isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00", v) for v in values)
    assert any(isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", v) for v in values)
    assert any(isinstance(v, str) and re.fullmatch(r"-?\d+\.\d\d", v) for v in values)  # decimal(…,2)


def test_unit_test_choice_is_deterministic(gate_proposal):
    def choose():
        ctx = gate_proposal(PROPOSALS / "monthly_revenue_by_tier.yml")
        unit_test, choice, problem = build_unit_test(ctx, enumerate_mutants(ctx), model="m", version=1)
        assert problem is None
        return dump_yaml(unit_test.to_yaml()), choice.killed

    assert choose() == choose()


@pytest.mark.parametrize("model", GENERATED)
def test_mutants_compared_as_values_are_told_apart_as_dbt_compares_them(model, gate_proposal):
    # The search compares a mutant's rows to the accepted SQL's as fetched values when their
    # columns match; every answer must be the one dbt's comparison (in SQL) gives.
    ctx = gate_proposal(PROPOSALS / f"{model}.yml")
    search = FixtureSearch(ctx)
    search.setup()
    try:
        seeds = search.seeds()
        fixtures = [search.block(seed, True) for seed in seeds[:: max(1, len(seeds) // 4)]]
        mutants = [mutant for mutant in enumerate_mutants(ctx) if not mutant.held_out]
        assert mutants and fixtures
        answers = Counter()
        for picks in fixtures:
            for mutant in mutants:
                assert search.kills(picks, mutant.tree) == search.kills_in_sql(picks, mutant.tree), mutant.label()
                answers[search.kills(picks, mutant.tree)] += 1
        assert answers[True] and answers[False], "both answers must be exercised"
    finally:
        search.teardown()


def test_a_dry_run_skips_the_unit_test_row_search_and_says_so():
    report = RunReport("apply")
    assert search_unit_test_rows(Options(dry_run=True), report) is False
    assert report.notes == [DRY_RUN_UNIT_TEST_NOTE]
    assert search_unit_test_rows(Options(), RunReport("apply")) is True
    assert search_unit_test_rows(Options(unit_test=False), RunReport("apply")) is False


def test_ddmin_finds_a_minimal_failing_subset():
    calls = []

    def failing(items):
        calls.append(list(items))
        return {3, 11} <= set(items)

    assert ddmin(list(range(16)), failing) == [3, 11]
    assert len(calls) <= 64  # far below the 2^16 subsets


@pytest.mark.dbt
def test_unit_tests_pass_in_dbt_build(sample_project_built):
    results = json.loads((sample_project_built / "target" / "run_results.json").read_text())["results"]
    unit_tests = {r["unique_id"]: r["status"] for r in results if r["unique_id"].startswith("unit_test.")}
    for model in GENERATED:
        # dbt names a versioned model's unit test <name>_v<N> in its unique_id
        statuses = [status for unique_id, status in unit_tests.items() if f".{model}_v1_logic" in unique_id]
        assert statuses == ["pass"], (model, unit_tests)


@pytest.mark.dbt
@pytest.mark.parametrize(
    "model, original, changed",
    [
        ("account_payment_health", "left join attempts", "inner join attempts"),
        ("monthly_revenue_by_tier", "'paid', 'open', 'uncollectible'", "'paid', 'uncollectible'"),
        ("account_mrr", "sum(monthly_amount) as mrr", "max(monthly_amount) as mrr"),
    ],
)
def test_unit_tests_fail_in_dbt_build_when_the_logic_changes(model, original, changed, sample_project):
    from generator.project import load_project
    from generator.project.dbt import build

    sql_file = sample_project / "models" / "marts" / f"{model}_v1.sql"
    sql = sql_file.read_text(encoding="utf-8")
    assert original in sql
    sql_file.write_text(sql.replace(original, changed), encoding="utf-8")
    outcome = build(load_project(sample_project), [f"{model}.v1"])
    statuses = {node.unique_id: node.status for node in outcome.nodes}
    unit = [status for unique_id, status in statuses.items() if f".{model}_v1_logic" in unique_id]
    assert unit == ["fail"], statuses
    assert not outcome.success


@pytest.mark.dbt
def test_a_new_version_gets_its_own_unit_test_and_keeps_the_old_ones(sample_project, tmp_path):
    from generator import Options, apply
    from generator.project import load_project

    proposal = yaml.safe_load((PROPOSALS / "monthly_revenue_by_tier.yml").read_text(encoding="utf-8"))
    proposal["sql"] = proposal["sql"].replace("'paid', 'open', 'uncollectible'", "'paid', 'uncollectible'")
    proposal["description"] = "Invoiced and collected revenue per month, tier and currency; open invoices left out."
    changed = tmp_path / "monthly_revenue_by_tier.yml"
    changed.write_text(yaml.safe_dump(proposal, sort_keys=False), encoding="utf-8")

    report = apply(load_project(sample_project), changed, Options())
    assert (report.status, report.version, report.unit_tests) == ("written", 2, 1)
    text = (sample_project / "models" / "marts" / "monthly_revenue_by_tier.yml").read_text(encoding="utf-8")
    document = yaml.safe_load(text)
    assert [(u["name"], u["versions"]) for u in document["unit_tests"]] == [
        ("monthly_revenue_by_tier_v1_logic", {"include": [1]}),
        ("monthly_revenue_by_tier_v2_logic", {"include": [2]}),
    ]
    # Rows one per line for both (the new one written as flow mappings, the old one kept).
    rows = sum(len(g["rows"]) for u in document["unit_tests"] for g in u["given"])
    rows += sum(len(u["expect"]["rows"]) for u in document["unit_tests"])
    tail = text[text.index("\nunit_tests:") :]
    assert len(re.findall(r"(?m)^ +- \{", tail)) == rows
    assert report.build["failed"] == 0
