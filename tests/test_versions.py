"""Change classification at the contract level, the widening table, and deprecation dates."""

from __future__ import annotations

import datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from generator.write.versions import (
    BREAKING,
    NON_BREAKING,
    Contract,
    classify,
    deprecation_date,
    normalize_type,
    widens,
)

FIXTURES = yaml.safe_load((Path(__file__).parent / "fixtures" / "versions.yml").read_text())


def contract(data: dict) -> Contract:
    return Contract(
        columns=tuple((name, data_type) for name, data_type in data["columns"]),
        grain=tuple(data.get("grain") or ()),
        lineage=data.get("lineage") or {},
        sql=data.get("sql"),
    )


@pytest.mark.parametrize("case", FIXTURES, ids=[case["name"] for case in FIXTURES])
def test_classification_fixtures(case):
    change = classify(contract(case["old"]), contract(case["new"]), previous_version=3)
    assert (change.kind, list(change.reasons)) == (case["class"], case["reasons"])
    assert change.breaking == (case["class"] == BREAKING)


def test_change_meta_is_what_the_yaml_and_lockfile_record():
    change = classify(contract(FIXTURES[1]["old"]), contract(FIXTURES[1]["new"]), previous_version=1)
    assert change.to_meta() == {"class": "breaking", "from_version": 1, "reasons": ["column currency removed"]}


WIDENINGS = [
    ("tinyint", "smallint"),
    ("smallint", "integer"),
    ("integer", "bigint"),
    ("bigint", "hugeint"),
    ("integer", "double"),
    ("float", "double"),
    ("uinteger", "bigint"),
    ("integer", "decimal(10,0)"),
    ("integer", "decimal(12,2)"),
    ("decimal(18,2)", "decimal(20,3)"),
]
NOT_WIDENINGS = [
    ("bigint", "integer"),
    ("bigint", "double"),  # 2**53 + 1 does not survive
    ("integer", "decimal(9,0)"),
    ("decimal(18,2)", "decimal(18,3)"),  # one integer digit fewer
    ("decimal(18,2)", "double"),
    ("double", "float"),
    ("date", "timestamp"),
    ("varchar", "integer"),
    ("integer", "varchar"),
    ("ubigint", "bigint"),
]


@pytest.mark.parametrize(("old", "new"), WIDENINGS)
def test_widenings_hold_every_value_in_duckdb(old, new):
    assert widens(old, new)
    # The table is a claim about DuckDB: the extremes of the old type survive a cast intact.
    with duckdb.connect() as connection:
        base = old.split("(")[0]
        extremes = {
            "tinyint": ["-128", "127"],
            "smallint": ["-32768", "32767"],
            "integer": ["-2147483648", "2147483647"],
            "bigint": ["-9223372036854775808", "9223372036854775807"],
            "uinteger": ["0", "4294967295"],
            "float": ["3.4028235e38", "-1.1754944e-38"],
            "decimal": ["9999999999999999.99", "-0.01"],
        }[base]
        for value in extremes:
            same = connection.execute(
                f"select cast(cast({value} as {old}) as {new}) = cast({value} as {old})"
            ).fetchone()[0]
            assert same, f"{value} :: {old} -> {new} changed"


@pytest.mark.parametrize(("old", "new"), NOT_WIDENINGS)
def test_not_widenings(old, new):
    assert not widens(old, new)


def test_type_spellings_normalise():
    assert normalize_type("DECIMAL(38, 2)") == "decimal(38,2)"
    assert normalize_type("int8") == "bigint"
    assert normalize_type("TIMESTAMPTZ") == "timestamp with time zone"
    assert normalize_type("numeric") == "decimal(18,3)"
    assert normalize_type("varchar(20)") == "varchar"


def test_deprecation_date_counts_days_from_today():
    assert deprecation_date(90, today=datetime.date(2026, 1, 31)) == "2026-05-01"
    assert deprecation_date(0, today=datetime.date(2026, 1, 31)) == "2026-01-31"


YAML_TWO_VERSIONS = """\
version: 2

models:
  - name: orders_summary
    description: One row per order.
    latest_version: 2
    config:
      contract:
        enforced: true
    versions:
      - v: 1
        description: One row per order.
        # a person's comment stays
        columns:
          - name: order_id
            data_type: integer
      - v: 2
        description: One row per order.
        columns:
          - name: order_id
            data_type: bigint
"""


def test_non_breaking_is_what_the_pipeline_records_for_additions():
    change = classify(contract(FIXTURES[0]["old"]), contract(FIXTURES[0]["new"]))
    assert change.kind == NON_BREAKING and not change.breaking


def test_deprecation_days_come_from_the_flag_then_the_environment_then_the_config(monkeypatch, tmp_path):
    from generator.errors import ConfigError
    from generator.project import Project
    from generator.run.finish import deprecation_days
    from generator.run.options import Options

    project = Project(project_dir=tmp_path, profiles_dir=tmp_path, name="p", profile_name="p")
    monkeypatch.delenv("GEN_MODEL_DEPRECATION_DAYS", raising=False)
    monkeypatch.delenv("GEN_MODEL_CONFIG", raising=False)
    assert deprecation_days(Options(), project) == 90
    (tmp_path / ".gen-model.yml").write_text("deprecation_days: 30\n")
    assert deprecation_days(Options(), project) == 30
    monkeypatch.setenv("GEN_MODEL_DEPRECATION_DAYS", "14")
    assert deprecation_days(Options(), project) == 14
    assert deprecation_days(Options(deprecation_days=7), project) == 7
    monkeypatch.setenv("GEN_MODEL_DEPRECATION_DAYS", "two weeks")
    with pytest.raises(
        ConfigError, match="GEN_MODEL_DEPRECATION_DAYS: deprecation_days must be a whole number, got 'two weeks'"
    ):
        deprecation_days(Options(), project)
