"""What `gen-model port --write` writes besides the ported SQL, without an engine: the
contract's per-engine types (edited in place, inert), and the `+enabled` switches that keep
an enclosing folder's own expression."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from generator.port.model import PortedModel
from generator.port.prove import Proof, RowSet
from generator.port.write import PortWriteError, contract_types, enabled_on, enabled_only_on, project_config
from generator.write.engine_types import TypeNameError, is_type_switch, parse_type_switch, type_switch
from generator.write.inert import yaml_problems

SPARK_COLUMNS = (("account_id", "string"), ("month", "date"), ("mrr", "decimal(28,2)"), ("n", "bigint"))

PROPERTIES = """\
version: 2

models:
  - name: account_mrr
    latest_version: 1
    config:
      contract:
        enforced: true   # a comment that stays
    versions:
      - v: 1
        columns:
          - name: account_id
            data_type: varchar  # the key
            description: 'The account: varchar, decimal(38,2)'
          - name: month
            data_type: date
          - {name: mrr, data_type: 'decimal(38,2)', description: x}
          - name: n
            data_type: bigint
"""


def ported(tmp_path: Path, text: str = PROPERTIES, columns=SPARK_COLUMNS, version: int | None = 1) -> PortedModel:
    (tmp_path / "models").mkdir(exist_ok=True)
    (tmp_path / "models" / "account_mrr.yml").write_text(text)
    proof = Proof("spark", {"duckdb": "x", "spark": "y"}, (RowSet("sample", 3, True, target_columns=columns),))
    return PortedModel(
        "account_mrr",
        "models/account_mrr_v1.sql",
        "spark",
        "select 1\n",
        proof,
        version,
        "0" * 64,
        "models/account_mrr.yml",
        True,
    )


def test_type_switch_is_fixed_text_of_plain_type_names():
    text = type_switch({"spark": "decimal(28,2)"}, "decimal(38,2)")
    assert text == "{{ 'decimal(28,2)' if target.type == 'spark' else 'decimal(38,2)' }}"
    assert parse_type_switch(text) == ({"spark": "decimal(28,2)"}, "decimal(38,2)")
    both = type_switch({"spark": "string", "databricks": "string"}, "timestamp with time zone")
    assert parse_type_switch(both) == ({"databricks": "string", "spark": "string"}, "timestamp with time zone")
    assert type_switch({}, "varchar") == "varchar"
    for hostile in ("string' }}{{ env_var('X') }}{{ '", "varchar)", "a{b}", "x'"):
        with pytest.raises(TypeNameError):
            type_switch({"spark": hostile}, "varchar")
    assert not is_type_switch("{{ env_var('X') if target.type == 'spark' else 'varchar' }}")


def test_inert_passes_the_switch_at_data_type_only():
    switch = type_switch({"spark": "string"}, "varchar")
    at_type = f'models:\n  - name: a\n    columns:\n      - name: x\n        data_type: "{switch}"\n'
    assert yaml_problems(at_type, "a.yml") == []
    elsewhere = at_type.replace("data_type:", "description:")
    assert [problem.rule for problem in yaml_problems(elsewhere, "a.yml")] == ["jinja"]
    forged = at_type.replace("'string'", "env_var('SECRET')")
    assert [problem.rule for problem in yaml_problems(forged, "a.yml")] == ["jinja"]


def test_contract_types_edit_only_the_differing_data_types(tmp_path):
    model = ported(tmp_path)
    text = contract_types(SimpleNamespace(project_dir=tmp_path), model)
    expected = PROPERTIES.replace(
        "data_type: varchar  # the key",
        "data_type: \"{{ 'string' if target.type == 'spark' else 'varchar' }}\"  # the key",
    ).replace(
        "data_type: 'decimal(38,2)', description",
        "data_type: \"{{ 'decimal(28,2)' if target.type == 'spark' else 'decimal(38,2)' }}\", description",
    )
    assert text == expected
    assert yaml_problems(text, "models/account_mrr.yml") == []
    columns = yaml.safe_load(text)["models"][0]["versions"][0]["columns"]
    assert [column["data_type"] for column in columns][2:] == [
        "{{ 'decimal(28,2)' if target.type == 'spark' else 'decimal(38,2)' }}",
        "bigint",
    ]
    # ported again: nothing left to change
    (tmp_path / "models" / "account_mrr.yml").write_text(text)
    assert contract_types(SimpleNamespace(project_dir=tmp_path), model) is None


def test_contract_types_refuse_a_contract_column_the_port_does_not_have(tmp_path):
    model = ported(tmp_path, columns=SPARK_COLUMNS[:2])
    with pytest.raises(PortWriteError, match="contract column mrr is not a column of the ported model"):
        contract_types(SimpleNamespace(project_dir=tmp_path), model)


def test_contract_types_leave_an_unenforced_contract_alone(tmp_path):
    model = ported(tmp_path)
    unenforced = dataclasses.replace(model, contract=False)
    assert contract_types(SimpleNamespace(project_dir=tmp_path), unenforced) is None


def test_the_switches_keep_an_enclosing_folders_own_enabled_expression(tmp_path):
    (tmp_path / "dbt_project.yml").write_text(
        "name: gen_model\nmodels:\n  gen_model:\n"
        "    +enabled: \"{{ target.profile_name == 'gen_model' }}\"  # own profile only\n"
        "    marts:\n      +materialized: table\n"
    )
    project = SimpleNamespace(project_dir=tmp_path, name="gen_model", model_paths=["models"])
    text = project_config(project, "models/marts/account_mrr_v1.sql", "account_mrr_v1", ["spark"], "spark")
    marts = yaml.safe_load(text)["models"]["gen_model"]["marts"]
    inherited = "target.profile_name == 'gen_model'"
    assert marts["account_mrr_v1"]["+enabled"] == enabled_on(["spark"], inherited)
    assert (
        marts["account_mrr_v1"]["+enabled"] == "{{ (target.profile_name == 'gen_model') and target.type != 'spark' }}"
    )
    assert marts["spark"]["account_mrr_v1"]["+enabled"] == enabled_only_on("spark", inherited)
    assert "# own profile only" in text
    # a second port (another engine) rewrites gen-model's own switch, never a person's
    (tmp_path / "dbt_project.yml").write_text(text)
    again = project_config(
        project, "models/marts/account_mrr_v1.sql", "account_mrr_v1", ["databricks", "spark"], "databricks"
    )
    marts = yaml.safe_load(again)["models"]["gen_model"]["marts"]
    assert marts["account_mrr_v1"]["+enabled"] == (
        "{{ (target.profile_name == 'gen_model') and target.type not in ('databricks', 'spark') }}"
    )


def test_a_folder_disabled_outright_is_not_ported(tmp_path):
    (tmp_path / "dbt_project.yml").write_text("name: p\nmodels:\n  p:\n    marts:\n      +enabled: false\n")
    project = SimpleNamespace(project_dir=tmp_path, name="p", model_paths=["models"])
    with pytest.raises(PortWriteError, match="not built on any target"):
        project_config(project, "models/marts/orders.sql", "orders", ["spark"], "spark")


def test_also_on_counts_time_zones_as_pinned_only_when_both_targets_pin_the_same_one(tmp_path):
    from generator.port.also_on import same_time_zone

    def profiles(duckdb_zone, spark_zone) -> SimpleNamespace:
        outputs = {
            "dev": {"type": "duckdb", "settings": {"TimeZone": duckdb_zone} if duckdb_zone else {}},
            "spark": {"type": "spark", "server_side_parameters": {"spark.sql.session.timeZone": spark_zone}},
        }
        (tmp_path / "profiles.yml").write_text(yaml.safe_dump({"p": {"target": "dev", "outputs": outputs}}))
        return SimpleNamespace(profiles_dir=tmp_path, profile_name="p", target=None)

    assert same_time_zone(profiles("UTC", "UTC"), "spark")
    assert not same_time_zone(profiles("UTC", "Europe/Berlin"), "spark")
    assert not same_time_zone(profiles(None, "UTC"), "spark")
    assert not same_time_zone(profiles("{{ env_var('TZ') }}", "{{ env_var('TZ') }}"), "spark")
    assert not same_time_zone(profiles("UTC", "UTC"), "databricks")  # no such output
