"""Compiled enrichment models under real dbt-duckdb, in a temporary copy of a minimal project.

The project holds the sample project's four compiled staging models (and, for the lookup,
the snapshot spec's model plus a SQL accounts model); the raw dir is a copy of the
contract-shaped fixtures. dbt runs in-process through `generator.project.dbt`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from generator.project import load_project
from generator.project.dbt import invoke
from generator.write.package import init_project

pytestmark = pytest.mark.dbt

REPO = Path(__file__).resolve().parents[1]
RAW = REPO / "tests" / "fixtures" / "raw"
SOURCES = ("crm", "firmographics", "fx", "events")

DBT_PROJECT = """\
name: enrich_test
version: "0.1.0"
config-version: 2
profile: enrich_test
model-paths: ["models"]
flags:
  send_anonymous_usage_stats: false
  version_check: false
  partial_parse: true
vars:
  gen_model_raw_path: raw
models:
  enrich_test:
    staging:
      +materialized: view
"""

PROFILES = """\
enrich_test:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: warehouse.duckdb
      threads: 2
"""

# A stand-in for the sample's stg_app__accounts, which the CRM contacts look up.
ACCOUNTS_SQL = """\
select id, id as account_id, domain from (
    values
        ('acc_00001', 'https://www.ACME.com/'),
        ('acc_00002', 'globex.com'),
        ('acc_00003', 'initech.io'),
        ('acc_00033', 'INITECH.IO'),
        ('acc_00004', 'umbrella-corp.com'),
        ('acc_00005', null)
) as accounts (id, domain)
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A minimal dbt project with the compiled staging models and a copy of the raw fixtures."""
    monkeypatch.delenv("GEN_MODEL_RAW_PATH", raising=False)
    (tmp_path / "dbt_project.yml").write_text(DBT_PROJECT)
    (tmp_path / "profiles.yml").write_text(PROFILES)
    for source in SOURCES:
        shutil.copytree(REPO / "models" / "staging" / source, tmp_path / "models" / "staging" / source)
        shutil.copytree(RAW / source, tmp_path / "raw" / source)
    (tmp_path / "models" / "staging" / "app").mkdir()
    (tmp_path / "models" / "staging" / "app" / "stg_app__accounts.sql").write_text(ACCOUNTS_SQL)
    project = load_project(tmp_path, profiles_dir=tmp_path)
    # Composite keys are tested with the package's unique_combination_of_columns: install
    # it as any project would (`gen-model init`: vendored, no network).
    init_project(project)
    return project


def build(project, *args: str):
    return invoke(project, ["build", *args])


def query(project, sql: str) -> list[tuple]:
    with duckdb.connect(str(project.project_dir / "warehouse.duckdb"), read_only=True) as con:
        return con.sql(sql).fetchall()


def statuses(outcome) -> dict[str, str]:
    return {node.name: node.status for node in outcome.nodes}


def test_compiled_models_build_and_match_their_declared_types(project):
    outcome = build(project)
    assert outcome.success, "\n".join(outcome.errors)
    assert set(statuses(outcome).values()) == {"success", "pass"}
    counts = {
        "stg_crm__contacts": 30,
        "stg_firmographics__companies": 9,
        "stg_fx__rates": 40,
        "stg_events__events": 30,
        "stg_crm__contacts__quarantine": 0,
        "stg_fx__rates__quarantine": 0,
    }
    for name, count in counts.items():
        assert query(project, f"select count(*) from {name}") == [(count,)], name
    # The model YAML's data types are exactly what DuckDB stored (the contract the
    # generated code checks before returning).
    for path in sorted((project.project_dir / "models").rglob("*.yml")):
        if path.name.endswith(".enrich.yml"):
            continue
        (entry,) = yaml.safe_load(path.read_text())["models"]
        declared = [(c["name"], c["data_type"]) for c in entry["columns"]]
        described = query(project, f"select column_name, lower(column_type) from (describe {entry['name']})")
        assert described == declared, entry["name"]
    assert query(
        project,
        "select email, email_domain, account_id from stg_crm__contacts where contact_id = '1001'",
    ) == [("john.doe@acme.com", "acme.com", "acc_00001")]
    # A domain two accounts share (initech.io, INITECH.IO) links to neither.
    assert query(
        project,
        "select distinct account_id from stg_crm__contacts where email_domain = 'initech.io'",
    ) == [(None,)]


def test_quarantine_mode_loads_the_good_rows_and_keeps_the_bad_ones(project):
    vars_ = json.dumps({"gen_model_raw_path": str(RAW / "malformed")})
    outcome = build(project, "--select", "+stg_crm__contacts+", "stg_crm__contacts__quarantine+", "--vars", vars_)
    assert outcome.success, "\n".join(outcome.errors)
    found = statuses(outcome)
    assert found["stg_crm__contacts"] == "success"
    assert found["stg_crm__contacts__quarantine_is_empty"] == "warn", "bad rows never pass silently"
    assert any("3 bad row(s) in crm/contacts.ndjson were set aside" in w for w in outcome.warnings)
    assert query(project, "select count(*) from stg_crm__contacts") == [(30,)]
    rows = query(
        project,
        "select source_file, source_row, error from stg_crm__contacts__quarantine order by source_row",
    )
    assert [(file, row) for file, row, _ in rows] == [
        ("crm/contacts.ndjson", 5),
        ("crm/contacts.ndjson", 13),
        ("crm/contacts.ndjson", 41),
    ]
    assert rows[1][2] == "created_at: cannot parse 'yesterday' as timestamp with time zone"


def test_fail_mode_fails_the_build_and_loads_nothing(project, monkeypatch):
    first = build(project, "--select", "stg_firmographics__companies")
    assert first.success, "\n".join(first.errors)
    before = query(project, "select * from stg_firmographics__companies order by domain")
    assert len(before) == 9

    monkeypatch.setenv("GEN_MODEL_RAW_PATH", str(RAW / "malformed"))
    second = build(project, "--select", "stg_firmographics__companies")
    assert not second.success
    (node,) = [n for n in second.nodes if n.name == "stg_firmographics__companies"]
    assert node.status == "error"
    assert "firmographics/companies.json record 3: not a JSON object" in node.message
    assert "nothing was loaded (on_error: fail)" in node.message
    # Nothing loaded half: the previous table is intact and no intermediate is left behind.
    assert query(project, "select * from stg_firmographics__companies order by domain") == before
    tables = {name for (name,) in query(project, "select table_name from information_schema.tables")}
    assert not {name for name in tables if "__dbt_tmp" in name or "__dbt_backup" in name}


def test_schema_drift_is_an_error_and_new_fields_a_warning(project, monkeypatch):
    monkeypatch.setenv("GEN_MODEL_RAW_PATH", str(RAW / "drift"))
    outcome = build(project, "--select", "+stg_crm__contacts")
    assert not outcome.success
    # The input is read by stg_crm__contacts__checked, for the model and its quarantine.
    (node,) = [n for n in outcome.nodes if n.name == "stg_crm__contacts__checked"]
    assert "crm/contacts.ndjson: schema drift, missing field(s): updatedAt" in node.message
    assert any("new field(s): updated_at, source" in warning for warning in outcome.warnings)
    assert query(
        project,
        "select count(*) from information_schema.tables where table_name = 'stg_crm__contacts'",
    ) == [(0,)]


def test_lookup_attaches_columns_from_a_dbt_model(project):
    models = project.project_dir / "models" / "staging"
    linked = models / "crm_linked"
    linked.mkdir()
    for path in (RAW / "snapshot").iterdir():
        shutil.copy(path, linked / path.name)
    outcome = build(project, "--select", "+stg_crm__contacts_linked")
    assert outcome.success, "\n".join(outcome.errors)
    assert [n.name for n in outcome.nodes].index("stg_app__accounts") < [n.name for n in outcome.nodes].index(
        "stg_crm__contacts_linked"
    ), "dbt.ref() puts the lookup model first in the DAG"
    rows = dict(
        query(
            project,
            "select email_domain, list(distinct account_id) from stg_crm__contacts_linked group by 1",
        )
    )
    assert rows["acme.com"] == ["acc_00001"], "www., scheme, path and case are normalised away"
    assert rows["globex.com"] == ["acc_00002"]
    assert rows["initech.io"] == [None], "a domain two accounts share links to neither"
    assert rows["hooli.xyz"] == [None], "no account with that domain"
    archived = query(project, "select count(*) from stg_crm__contacts_linked where is_archived")
    assert archived == [(0,)], "the filter dropped archived contacts"
    types = dict(query(project, "select column_name, column_type from (describe stg_crm__contacts_linked)"))
    assert types["contact_id"] == "BIGINT" and types["created_on"] == "DATE"


def test_a_missing_runtime_fails_the_build_saying_what_to_run(project, monkeypatch):
    import sys

    for folder in ("vendor/gen_model/python", "dbt_packages/gen_model/python"):
        shutil.rmtree(project.project_dir / folder, ignore_errors=True)
    # dbt runs in this process: a runtime another test loaded must not stand in for the file.
    monkeypatch.delitem(sys.modules, "gen_model_runtime_v1", raising=False)
    outcome = build(project, "--select", "stg_events__events")
    assert not outcome.success
    (node,) = [n for n in outcome.nodes if n.name == "stg_events__events"]
    assert node.status == "error"
    assert "gen-model runtime v1 not found at" in node.message
    assert str(project.project_dir / "vendor" / "gen_model" / "python" / "gen_model_runtime_v1.py") in node.message
    assert "run gen-model init / dbt deps" in node.message
