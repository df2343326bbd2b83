"""`gen-model tests` and `gen-model mutate` from the command line: exit codes, messages, files."""

from __future__ import annotations

import json

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli

pytestmark = pytest.mark.dbt


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def marts(project) -> str:
    return (project / "models" / "marts" / "marts.yml").read_text(encoding="utf-8")


def test_tests_for_an_unknown_model_says_what_exists(sample_project):
    result = run("tests", "acount_mrr", "--project-dir", str(sample_project))
    assert result.exit_code == 2
    assert f"Error: no model named 'acount_mrr' in the project at {sample_project}. Did you mean 'account_mrr'?" in (
        result.output
    )


def test_tests_needs_the_package_in_a_foreign_project(shop_project):
    before = marts(shop_project)
    result = run("tests", "customers", "--project-dir", str(shop_project))
    assert result.exit_code == 2
    assert "does not install the gen_model dbt package" in result.output
    assert f"Run `gen-model init --project-dir {shop_project}` once" in result.output
    assert marts(shop_project) == before


def test_tests_on_a_hand_written_model_add_and_never_alter(shop_project_with_package):
    project = shop_project_with_package
    before_text = marts(project)
    before = yaml.safe_load(before_text)

    # Four: lifetime_value >= 0 holds only because no payment is negative today, and a
    # relationships test on the key read from stg_customers restates nothing (notes, no tests).
    dry = run("tests", "customers", "--project-dir", str(project), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.startswith(
        "✓ customers: would add 4 data test(s) and a unit test to models/marts/marts.yml (dry run: nothing written)\n"
    )
    assert "--- a/models/marts/marts.yml\n+++ b/models/marts/marts.yml\n" in dry.output
    assert "  = not_null(customer_id)" in dry.output and "already there (as not_null(customer_id))" in dry.output
    assert marts(project) == before_text, "--dry-run wrote"

    written = run("tests", "customers", "--project-dir", str(project))
    assert written.exit_code == 0, written.output
    assert written.output.startswith("✓ customers: added 4 data test(s) and a unit test to models/marts/marts.yml\n")
    assert "  dbt test:  " in written.output and ", 0 failed (customers)" in written.output
    after = yaml.safe_load(marts(project))
    customers = {m["name"]: m for m in after["models"]}["customers"]
    key = {c["name"]: c for c in customers["columns"]}["customer_id"]
    assert key["data_tests"][:2] == ["unique", "not_null"], "a person's tests come first, unchanged"
    assert key["data_tests"] == ["unique", "not_null"], "no relationships test to the key's own relation"
    assert {m["name"]: m for m in after["models"]}["orders"] == {m["name"]: m for m in before["models"]}["orders"]
    assert [u["name"] for u in after["unit_tests"]] == ["customers_logic"]
    assert all(body["config"]["meta"]["reason"] for t in customers["data_tests"] for body in t.values())

    again = run("tests", "customers", "--project-dir", str(project))
    assert again.exit_code == 0
    assert again.output.startswith("✓ customers: no new tests (its YAML has them already)\n")
    assert "unit test customers_logic exists already; kept as it is" in again.output

    orders = run("tests", "orders", "--project-dir", str(project), "--json")
    assert orders.exit_code == 0, orders.output
    report = json.loads(orders.output)
    added = {(t["name"], t["column"]) for t in report["added"]}
    # customer_id and status pass through unchanged: their upstream tests are inherited, not restated.
    assert ("relationships", "customer_id") not in added and ("accepted_values", "status") not in added
    assert any("inherited from ref('stg_orders').status" in note for note in report["notes"]), report["notes"]
    assert report["status"] == "written" and report["unit_test"] == "orders_logic"
    orders_yaml = {m["name"]: m for m in yaml.safe_load(marts(project))["models"]}["orders"]
    customer_id = {c["name"]: c for c in orders_yaml["columns"]}["customer_id"]
    original = {"relationships": {"arguments": {"to": "ref('customers')", "field": "customer_id"}}}
    assert customer_id["data_tests"][0] == original

    mutated = run("mutate", "customers", "--project-dir", str(project), "--json")
    assert mutated.exit_code == 0, mutated.output
    score = json.loads(mutated.output)
    assert {"model", "killed", "total", "score", "survivors"} <= set(score)
    assert score["model"] == "customers" and score["score"] >= 0.8 and score["total"] >= 5


def test_mutate_fails_under_the_threshold_with_the_bare_tests(shop_project_with_package):
    result = CliRunner().invoke(
        cli, ["mutate", "customers", "--project-dir", str(shop_project_with_package), "--fail-under", "0.8"]
    )
    assert result.exit_code == 1
    assert result.output.startswith(
        "customers: 0/15 mutants killed (score 0.00) by 2 data tests and 0 unit test(s)\n"
        "  killed by the unit test: 0, by data tests: 0, by the contract: 0\n"
        "  held out (operators the unit-test rows were not chosen for): 0/2 (score 0.00)\n"
    )
    assert "  SURVIVED  #1 join-type: left join orders_per_customer as opc -> inner join (line 29)" in result.output
    assert "mutation score 0.00 is below --fail-under 0.80: 15 mutant(s) survived" in result.output


def test_mutate_a_generated_model(sample_project):
    result = run("mutate", "account_payment_health", "--project-dir", str(sample_project))
    assert result.exit_code == 0, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("account_payment_health.v2: 25/25 mutants killed (score 1.00) by 11 data tests")
    assert result.output.splitlines()[2].endswith("6/6 (score 1.00)"), "held-out mutants are scored apart"
    # an older version, named as dbt selects it
    older = run("mutate", "account_payment_health.v1", "--project-dir", str(sample_project))
    assert older.exit_code == 0, older.output
    assert older.output.splitlines()[0].startswith("account_payment_health.v1: ")


def test_mutate_an_unknown_model(sample_project):
    result = run("mutate", "nope", "--project-dir", str(sample_project))
    assert result.exit_code == 2
    assert "Error: no model named 'nope' in the project at" in result.output


def test_tests_go_into_the_latest_version_of_a_generated_model(sample_project):
    path = sample_project / "models" / "marts" / "account_mrr.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    columns = {c["name"]: c for c in document["models"][0]["versions"][-1]["columns"]}  # v2
    columns["mrr"]["data_tests"] = [t for t in columns["mrr"]["data_tests"] if "not_null" not in t]
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    result = run("tests", "account_mrr", "--project-dir", str(sample_project))
    assert result.exit_code == 0, result.output
    assert result.output.startswith("✓ account_mrr: added 1 data test(s) to models/marts/account_mrr.yml\n")
    assert "unit test account_mrr_v2_logic exists already; kept as it is" in result.output
    after = yaml.safe_load(path.read_text(encoding="utf-8"))
    version = after["models"][0]["versions"][-1]
    mrr = {c["name"]: c for c in version["columns"]}["mrr"]
    # No accepted_range: mrr >= 0 holds today only because no upstream amount is negative.
    assert [next(iter(t)) for t in mrr["data_tests"]] == ["not_null"]
    assert "columns" not in after["models"][0], "tests of a version go into the version's entry"


def test_tests_for_sql_with_other_jinja_never_test_todays_values(sample_project):
    from generator.project import load_project
    from generator.project.dbt import invoke

    sql = "{{ config(materialized='table') }}\nselect plan_id, plan_tier from {{ ref('stg_billing__plans') }}\n"
    (sample_project / "models" / "marts" / "plan_tiers.sql").write_text(sql, encoding="utf-8")
    assert invoke(load_project(sample_project), ["run", "--select", "plan_tiers"]).success
    result = run("tests", "plan_tiers", "--project-dir", str(sample_project), "--dry-run")
    assert result.exit_code == 0, result.output
    # Analysed as dbt compiles it, so what upstream tests guarantee is known.
    # Its plan tiers pass through unchanged from an upstream that tests them: no test of today's
    # values, and the upstream test is not restated.
    assert "accepted_values" not in result.output.split("\n\n")[0].replace("note: plan_tier: accepted_values", "")
    assert (
        "  note: plan_tier: accepted_values inherited from ref('stg_billing__plans').plan_tier, passed through "
        "unchanged: not tested again here (the upstream test guarantees it)"
    ) in result.output.splitlines()
    assert (
        "  note: models/marts/plan_tiers.sql uses Jinja beyond ref() and source(); it was analysed as dbt compiles "
        "it (line numbers are those of target/compiled/), its relations turned back into ref()/source()"
    ) in result.output.splitlines()
    assert not (sample_project / "models" / "marts" / "plan_tiers.yml").exists()


def test_no_new_tests_says_which_reason_holds():
    from generator.testgen.datatests import DataTest
    from generator.testgen.hollow import Verdict
    from generator.testgen.modeltests import TestsReport

    test = DataTest("not_null", "customer_id", reason="grain column")
    covered = TestsReport("customers", status="unchanged", skipped=[(test, "as not_null(customer_id)")])
    assert covered.format_text().startswith("✓ customers: no new tests (its YAML has them already)\n")
    dropped = Verdict(test, kept=False, real_failures=3, corruption=None, corrupted_failures=None, why="fails today")
    hollow = TestsReport("customers", status="unchanged", dropped=[dropped])
    assert hollow.format_text().startswith("✓ customers: no new tests (the 1 it derived were dropped, see why below)\n")
    assert "  - not_null(customer_id)" in hollow.format_text()
    nothing = TestsReport("customers", status="unchanged", notes=["the SQL could not be analysed"])
    assert nothing.format_text().splitlines()[0] == (
        "✓ customers: no new tests (nothing the SQL and its inputs guarantee is left to test, see the notes)"
    )
