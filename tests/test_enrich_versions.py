"""Versioned enrichment specs: `<name>_v<N>.enrich.yml` compiles to `<name>_v<N>.*`, and
one `<name>.yml` describes every version (dbt versions Python models like SQL ones)."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from generator.enrich.compiler import compile_spec, stale_files
from generator.enrich.spec import load_spec
from generator.errors import ProposalError

REPO = Path(__file__).resolve().parents[1]
CONTACTS = REPO / "models" / "staging" / "crm" / "stg_crm__contacts.enrich.yml"
RAW = REPO / "tests" / "fixtures" / "raw"


def versioned(directory: Path, version: int, on_error: str = "quarantine", extra: str = "") -> Path:
    """The sample CRM spec saved as version `version` of stg_crm__people."""
    text = CONTACTS.read_text().replace(
        "name: stg_crm__contacts\n",
        f"name: stg_crm__people\nversion: {version}\n{extra}",
    )
    text = text.replace("on_error: quarantine", f"on_error: {on_error}")
    text = text[: text.index("lookup:")]  # these projects have no accounts to look up
    path = directory / f"stg_crm__people_v{version}.enrich.yml"
    path.write_text(text)
    return path


def test_each_version_compiles_to_its_own_model_and_one_yaml_lists_them(tmp_path):
    first = versioned(tmp_path, 1, extra="provenance:\n  request: people please\n")
    compile_spec(first)
    second = versioned(tmp_path, 2, on_error="fail")
    compile_spec(second)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "stg_crm__people.yml",
        "stg_crm__people__checked_v1.py",  # v1 quarantines: its input is read once, here
        "stg_crm__people__checked_v1.yml",
        "stg_crm__people__quarantine.yml",
        "stg_crm__people__quarantine_v1.sql",
        "stg_crm__people_v1.enrich.yml",
        "stg_crm__people_v1.sql",
        "stg_crm__people_v2.enrich.yml",
        "stg_crm__people_v2.py",
    ]
    (model,) = yaml.safe_load((tmp_path / "stg_crm__people.yml").read_text())["models"]
    assert model["name"] == "stg_crm__people" and model["latest_version"] == 2
    assert [v["v"] for v in model["versions"]] == [1, 2]
    one, two = (v["config"]["meta"]["gen_model"] for v in model["versions"])
    assert one["spec"] == "stg_crm__people_v1.enrich.yml" and one["request"] == "people please"
    assert two["spec"] == "stg_crm__people_v2.enrich.yml" and "request" not in two
    (quarantine,) = yaml.safe_load((tmp_path / "stg_crm__people__quarantine.yml").read_text())["models"]
    assert [v["v"] for v in quarantine["versions"]] == [1], "v2 fails on bad rows instead"
    code = (tmp_path / "stg_crm__people__checked_v1.py").read_text()
    assert 'name="stg_crm__people_v1"' in code
    assert 'quarantine="stg_crm__people__quarantine_v1"' in code
    assert 'ref("stg_crm__people__checked_v1")' in (tmp_path / "stg_crm__people_v1.sql").read_text()
    # Compiling either spec again changes nothing: the YAML is a function of all of them.
    assert compile_spec(first) == [] and compile_spec(second) == []
    assert stale_files(first) == [] and stale_files(second) == []


def test_a_new_version_makes_the_other_versions_yaml_stale_until_recompiled(tmp_path):
    compile_spec(versioned(tmp_path, 1))
    second = versioned(tmp_path, 2)
    first = tmp_path / "stg_crm__people_v1.enrich.yml"
    assert tmp_path / "stg_crm__people.yml" in stale_files(first)
    compile_spec(second)
    assert stale_files(first) == []


def test_the_file_name_and_the_version_must_agree(tmp_path):
    path = versioned(tmp_path, 2)
    path.rename(tmp_path / "stg_crm__people_v3.enrich.yml")
    with pytest.raises(ProposalError) as error:
        load_spec(tmp_path / "stg_crm__people_v3.enrich.yml")
    (problem,) = error.value.problems
    assert problem.message == (
        "version: the spec for 'stg_crm__people' version 2 must be saved as "
        "stg_crm__people_v2.enrich.yml, not stg_crm__people_v3.enrich.yml"
    )
    assert (problem.line, problem.col) == (5, 10)
    unversioned = tmp_path / "stg_crm__people_v1.enrich.yml"
    unversioned.write_text(CONTACTS.read_text().replace("stg_crm__contacts", "stg_crm__people"))
    with pytest.raises(ProposalError) as error:
        load_spec(unversioned)
    (problem,) = error.value.problems
    assert problem.message == (
        "name: stg_crm__people_v1.enrich.yml is version 1 of 'stg_crm__people', but the spec has no `version`"
    )
    assert problem.suggestion == "Add `version: 1`."


@pytest.mark.dbt
def test_dbt_builds_every_version_and_refs_pin_one(tmp_path):
    from generator.project import load_project
    from generator.project.dbt import invoke

    (tmp_path / "dbt_project.yml").write_text(
        "name: versions\nversion: '1.0.0'\nconfig-version: 2\nprofile: versions\nvars:\n  gen_model_raw_path: raw\n"
    )
    (tmp_path / "profiles.yml").write_text(
        "versions:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: warehouse.duckdb\n"
    )
    shutil.copytree(RAW / "crm", tmp_path / "raw" / "crm")
    # The enrichment runtime, where `gen-model init` vendors it.
    shutil.copytree(REPO / "python", tmp_path / "vendor" / "gen_model" / "python")
    models = tmp_path / "models"
    models.mkdir()
    compile_spec(versioned(models, 1, extra="filter:\n  - not is_archived\n"))
    compile_spec(versioned(models, 2))
    (models / "pinned.sql").write_text(
        "select 'v1' as version, count(*) as n from {{ ref('stg_crm__people', v=1) }}\n"
        "union all select 'latest', count(*) from {{ ref('stg_crm__people') }}\n"
    )
    outcome = invoke(load_project(tmp_path, profiles_dir=tmp_path), ["build"])
    assert outcome.success, "\n".join(outcome.errors)
    built = {node.name for node in outcome.nodes if node.resource_type.endswith("model")}
    assert built == {
        "stg_crm__people",
        "stg_crm__people__quarantine",
        "stg_crm__people__checked_v1",
        "stg_crm__people__checked_v2",
        "pinned",
    }
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as connection:
        tables = {row[0] for row in connection.sql("select table_name from duckdb_tables()").fetchall()}
        counts = dict(connection.sql("select * from pinned").fetchall())
    assert {"stg_crm__people_v1", "stg_crm__people_v2"} <= tables
    assert {"stg_crm__people__quarantine_v1", "stg_crm__people__quarantine_v2"} <= tables
    assert counts["v1"] < counts["latest"] == 30, "v1 drops archived contacts, v2 keeps them"
