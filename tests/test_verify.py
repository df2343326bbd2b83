"""`gen-model verify` and `gen-model adopt` on copies of the sample project (real dbt parse,
real warehouse), through the CLI as CI runs them: exit codes and exact messages."""

from __future__ import annotations

import hashlib
import json
import re
import time

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from generator.ci.verify import verify
from generator.cli import cli
from generator.project import load_project

pytestmark = pytest.mark.dbt

MARTS = ("account_mrr", "account_payment_health", "monthly_revenue_by_tier")


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_the_locked_sample_project_verifies_in_seconds(locked_sample_project):
    started = time.monotonic()
    result = run("verify", "--project-dir", str(locked_sample_project))
    elapsed = time.monotonic() - started
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "gen-model verify: 5 generated model version(s), gen_model.lock, warehouse warehouse.duckdb",
        "  ✓ account_mrr v1",
        "  ✓ account_mrr v2",
        "  ✓ account_payment_health v1",
        "  ✓ account_payment_health v2",
        "  ✓ monthly_revenue_by_tier v1",
        "✓ verify passed: 0 problem(s), 0 edited, 0 warning(s)",
    ]
    assert elapsed < 30  # parse + one catalog query; nothing is built
    assert not (locked_sample_project / ".gen_model.run.lock").exists()


def test_generated_models_without_a_lock_entry_fail(sample_project):
    (sample_project / "gen_model.lock").unlink()  # as if the marts were generated before locking
    result = run("verify", "--project-dir", str(sample_project))
    assert result.exit_code == 1
    for model in MARTS:
        assert (
            f"      ✗ models/marts/{model}_v1.sql: [lock] {model} v1 is generated (meta.gen_model) but not in "
            f"gen_model.lock. Run `gen-model adopt {model}` to record it as it is"
        ) in result.output.splitlines()
    assert result.output.splitlines()[0].endswith("gen_model.lock (missing), warehouse warehouse.duckdb")

    # adopt records a model as it is; the others still fail.
    result = run("adopt", "account_mrr", "--project-dir", str(sample_project))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "adopted account_mrr into gen_model.lock:",
        "  v1: was not in the lockfile; recorded as it is "
        "(models/marts/account_mrr_v1.sql, models/marts/account_mrr.yml)",
        "  v2: was not in the lockfile; recorded as it is "
        "(models/marts/account_mrr_v2.sql, models/marts/account_mrr.yml)",
        "  models/marts/account_mrr.yml: unchanged",
        "  models/marts/account_mrr_v1.sql: unchanged",
        "  models/marts/account_mrr_v2.sql: unchanged",
    ]
    report = verify(load_project(sample_project))
    assert [(f.model, f.check) for f in report.problems] == [
        ("account_payment_health", "lock"),
        ("account_payment_health", "lock"),  # v1 and v2
        ("monthly_revenue_by_tier", "lock"),
    ]


def test_missing_files_fail_until_adopt_forgets_the_version(locked_sample_project):
    project = locked_sample_project
    for name in ("account_payment_health_v1.sql", "account_payment_health_v2.sql", "account_payment_health.yml"):
        (project / "models" / "marts" / name).unlink()
    result = run("verify", "--project-dir", str(project))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    # the YAML is the newest version's (v2 rewrote it)
    for path, version in (
        ("models/marts/account_payment_health.yml", 2),
        ("models/marts/account_payment_health_v1.sql", 1),
        ("models/marts/account_payment_health_v2.sql", 2),
    ):
        assert (
            f"      ✗ {path}: [files] named in gen_model.lock (account_payment_health v{version}) but missing. "
            "Restore it from git, or run `gen-model adopt account_payment_health` to record that it is gone"
        ) in lines
    result = run("adopt", "account_payment_health", "--project-dir", str(project))
    assert result.output.splitlines()[1:3] == [
        "  v1: its files are gone; removed from the lockfile",
        "  v2: its files are gone; removed from the lockfile",
    ]
    assert run("verify", "--project-dir", str(project)).exit_code == 0
    assert "account_payment_health" not in (project / "gen_model.lock").read_text()


def test_contract_tests_and_provenance_are_required(locked_sample_project):
    project = locked_sample_project
    path = project / "models" / "marts" / "account_mrr.yml"
    text = path.read_text()
    text = text.replace("        enforced: true\n", "        enforced: false\n", 1)
    text = re.sub(r"              proposal_sha256: [0-9a-f]+\n", "", text)
    # Drop the not_null test of grain column `month` (the block under `- name: month`).
    text = re.sub(
        r"(          - name: month\n            data_type: date\n            description: [^\n]*\n)"
        r"            data_tests:\n(              .*\n)+?(?=          - name: plan_id)",
        r"\1",
        text,
    )
    path.write_text(text)
    report = verify(load_project(project))
    # The edits hit both versions' blocks; the YAML file is v2's in the lock (v2 rewrote it),
    # so its change is v2's.
    assert [(f.check, f.message) for f in report.problems] == [
        ("contract", "account_mrr v1 does not enforce its contract"),
        ("provenance", "meta.gen_model of account_mrr v1 lacks proposal_sha256"),
        ("tests", "account_mrr v1 has no not_null test on grain column(s) month"),
        ("contract", "account_mrr v2 does not enforce its contract"),
        ("files", "changed since gen_model.lock (account_mrr v2) and not adopted"),
        ("provenance", "meta.gen_model of account_mrr v2 lacks proposal_sha256"),
        ("tests", "account_mrr v2 has no not_null test on grain column(s) month"),
    ]
    assert {f.file for f in report.problems} == {
        "models/marts/account_mrr_v1.sql",
        "models/marts/account_mrr_v2.sql",
        "models/marts/account_mrr.yml",
    }
    # Adopting the edit does not make the missing test or contract acceptable.
    assert run("adopt", "account_mrr", "--project-dir", str(project)).exit_code == 0
    assert {f.check for f in verify(load_project(project)).problems} == {"contract", "provenance", "tests"}


def test_a_missing_grain_uniqueness_test_is_named(locked_sample_project):
    path = locked_sample_project / "models" / "marts" / "monthly_revenue_by_tier.yml"
    document = yaml.safe_load(path.read_text())
    document["models"][0]["versions"][0].pop("data_tests")
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    problems = verify(load_project(locked_sample_project)).problems
    assert [f.message for f in problems if f.check == "tests"] == [
        "monthly_revenue_by_tier v1 has no test that its grain (revenue_month, plan_tier, currency) is unique"
    ]


def test_a_column_dropped_in_the_warehouse_is_drift_even_when_only_a_filter_uses_it(locked_sample_project):
    project = locked_sample_project
    with duckdb.connect(str(project / "warehouse.duckdb")) as connection:
        # int_subscriptions_joined_to_plans loses subscription_status, which account_mrr only
        # uses in its where clause (lineage alone would never notice).
        connection.execute(
            "create table main.int_subs_copy as select * exclude (subscription_status) "
            "from main.int_subscriptions_joined_to_plans"
        )
        kind = connection.execute(
            "select count(*) from duckdb_views() where view_name = 'int_subscriptions_joined_to_plans'"
        ).fetchone()[0]
        connection.execute(f"drop {'view' if kind else 'table'} main.int_subscriptions_joined_to_plans")
        connection.execute("alter table main.int_subs_copy rename to int_subscriptions_joined_to_plans")
    result = run("verify", "--project-dir", str(project))
    assert result.exit_code == 1
    assert (
        "      ✗ models/marts/account_mrr_v1.sql: [drift] ref('int_subscriptions_joined_to_plans') no longer has "
        "column subscription_status, which account_mrr v1 uses (in a filter, join or grouping). Restore "
        "subscription_status in ref('int_subscriptions_joined_to_plans'), or fix the proposal and `gen-model "
        "apply` it again (account_mrr.yml)"
    ) in result.output.splitlines()
    assert (
        "      ✗ models/marts/account_mrr_v2.sql: [drift] ref('int_subscriptions_joined_to_plans') no longer has "
        "column subscription_status, which account_mrr v2 uses (in a filter, join or grouping). Restore "
        "subscription_status in ref('int_subscriptions_joined_to_plans'), or fix the proposal and `gen-model "
        "apply` it again (account_mrr_v2.yml)"
    ) in result.output.splitlines()
    assert result.output.splitlines()[-1] == "✗ verify failed: 2 problem(s), 0 edited, 0 warning(s)"


def test_no_warehouse_is_a_warning_not_a_failure(locked_sample_project):
    (locked_sample_project / "warehouse.duckdb").unlink()
    result = run("verify", "--project-dir", str(locked_sample_project), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True and report["warehouse"] == {"path": "warehouse.duckdb", "found": False}
    assert report["warnings"] == [
        {
            "check": "warehouse",
            "severity": "warning",
            "message": "the warehouse warehouse.duckdb does not exist: schema drift was not checked",
            "suggestion": "Run `dbt build` (or load the warehouse), then `gen-model verify` again",
        }
    ]
    assert [m["status"] for m in report["models"]] == ["ok"] * 5
    assert not (locked_sample_project / "warehouse.duckdb").exists()  # verify created nothing


def test_an_input_not_built_is_said(locked_sample_project):
    with duckdb.connect(str(locked_sample_project / "warehouse.duckdb")) as connection:
        connection.execute("drop table main.invoices")
    report = verify(load_project(locked_sample_project))
    assert report.ok
    assert [f.message for f in report.warnings] == [
        "ref('invoices') is not built in the warehouse: drift of the models reading it was not checked"
    ]


def test_adopt_names_an_unknown_model(locked_sample_project):
    result = CliRunner().invoke(cli, ["adopt", "acount_mrr", "--project-dir", str(locked_sample_project)])
    assert result.exit_code == 2
    assert result.output == (
        "Error: no generated model named 'acount_mrr' in this project or gen_model.lock. Did you mean 'account_mrr'?\n"
    )


def test_verify_without_a_dbt_project_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["verify", "--project-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "is not a dbt project (no dbt_project.yml)" in result.output


def test_the_repositorys_lockfile_matches_its_models():
    # The committed lock must describe the committed generated models (CI runs verify).
    from tests.conftest import REPO_ROOT

    lock = yaml.safe_load((REPO_ROOT / "gen_model.lock").read_text())
    for model, entries in lock["models"].items():
        for path, digest in entries[-1]["files"].items():
            assert hashlib.sha256((REPO_ROOT / path).read_bytes()).hexdigest() == digest, (model, path)
    assert sorted(lock["models"]) == sorted(MARTS)


def test_a_project_we_did_not_write_verifies_with_nothing_generated(shop_project):
    result = run("verify", "--project-dir", str(shop_project), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["ok"], report["models"], report["problems"], report["lockfile"]) == (
        True,
        [],
        [],
        "gen_model.lock (missing)",
    )
