"""generator.testgen.testsql renders each test exactly as its macro does: proven against dbt itself.

A probe model in a copy of the sample project carries every test gen-model can run in its
sandbox (dbt's four and the package's seven, with `where:`, strict, exclusive and column
forms). dbt compiles them; then, on the real data and on every corruption the hollow-test
gate would apply, dbt's compiled SQL and the mirror must report the same number of
failures. A mirror that drifted from a macro would make the hollow gate lie.
"""

from __future__ import annotations

import duckdb
import pytest
import yaml

from generator.testgen.datatests import DataTest
from generator.testgen.hollow import corruptions
from generator.testgen.kinds.base import CORRUPTED_TABLE, Copy
from generator.testgen.testsql import (
    MIRRORED,
    NotMirrored,
    canonical_name,
    failing_rows_sql,
    failures_sql,
)

PROBE_SQL = """
select health.*, accounts.industry
from {{ ref('account_payment_health') }} as health
inner join {{ ref('stg_app__accounts') }} as accounts on accounts.account_id = health.account_id
"""

PROBE_TESTS = {
    "version": 2,
    "models": [
        {
            "name": "mirror_probe",
            "config": {"materialized": "table"},
            "data_tests": [
                {"gen_model.unique_combination_of_columns": {"arguments": {"combination_of_columns": ["account_id"]}}},
                {
                    "gen_model.unique_combination_of_columns": {
                        "arguments": {"combination_of_columns": ["industry", "payment_attempts"]},
                        "config": {"where": "payment_attempts > 0"},
                    }
                },
                {"gen_model.fewer_rows_than": {"arguments": {"compare_model": "ref('stg_app__accounts')"}}},
                {
                    "gen_model.fewer_rows_than": {
                        "arguments": {"compare_model": "ref('account_payment_health')", "strict": True},
                    }
                },
                {"gen_model.equal_rowcount": {"arguments": {"compare_model": "ref('account_payment_health')"}}},
                {
                    "gen_model.expression_is_true": {
                        "arguments": {"expression": "failed_payments + succeeded_payments <= payment_attempts"},
                    }
                },
                {"gen_model.row_count_between": {"arguments": {"min_value": 1, "max_value": 489}}},
                {"gen_model.row_count_between": {"arguments": {"min_value": 400}}},
            ],
            "columns": [
                {
                    "name": "account_id",
                    "data_tests": [
                        "not_null",
                        "unique",
                        {"relationships": {"arguments": {"to": "ref('stg_app__accounts')", "field": "account_id"}}},
                    ],
                },
                {
                    "name": "industry",
                    "data_tests": [
                        {"accepted_values": {"arguments": {"values": ["SaaS", "Fintech", "Retail"]}}},
                    ],
                },
                {
                    "name": "failed_payments",
                    "data_tests": [
                        {"accepted_values": {"arguments": {"values": [0, 1, 2], "quote": False}}},
                        {"gen_model.accepted_range": {"arguments": {"min_value": 0}}},
                    ],
                },
                {
                    "name": "payment_attempts",
                    "data_tests": [
                        {"gen_model.expression_is_true": {"arguments": {"expression": ">= 0"}}},
                        {
                            "gen_model.accepted_range": {
                                "arguments": {"min_value": 0, "max_value": 40, "inclusive": False},
                                "config": {"where": "failed_payments > 0"},
                            }
                        },
                    ],
                },
                {
                    "name": "failure_rate",
                    "data_tests": [
                        {"gen_model.accepted_range": {"arguments": {"min_value": 0, "max_value": 1}}},
                        {"gen_model.not_null_proportion": {"arguments": {"at_least": 0.5}}},
                    ],
                },
                {
                    "name": "last_failed_at",
                    "data_tests": [
                        {"gen_model.not_null_proportion": {"arguments": {"at_least": 0.1, "at_most": 0.9}}},
                    ],
                },
            ],
        }
    ],
}


class Direct:
    """The sandbox's execute() over a plain connection (the test owns this warehouse copy)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection = connection

    def execute(self, sql, parameters=None, timeout_s=None):
        cursor = self.connection.execute(sql, parameters)
        return cursor.fetchall() if cursor.description else []


def _data_test(node) -> DataTest:
    metadata = node.test_metadata
    name = f"{metadata.namespace}.{metadata.name}" if metadata.namespace else metadata.name
    arguments = dict(metadata.kwargs)
    column = arguments.pop("column_name", None)
    arguments.pop("model", None)
    return DataTest(canonical_name(name), column, arguments, where=node.config.where)


@pytest.mark.dbt
def test_mirror_reports_what_dbt_reports_on_good_and_corrupted_data(sample_project):
    from generator.project import load_project
    from generator.project.catalog_builder import build_catalog
    from generator.project.dbt import invoke, release_duckdb
    from generator.testgen.hollow import SandboxQueryError
    from generator.testgen.testsql import catalog_resolver

    (sample_project / "models" / "mirror_probe.sql").write_text(PROBE_SQL, encoding="utf-8")
    (sample_project / "models" / "mirror_probe.yml").write_text(yaml.safe_dump(PROBE_TESTS), encoding="utf-8")
    project = load_project(sample_project)
    assert invoke(project, ["run", "--select", "mirror_probe"]).success
    compiled = invoke(project, ["compile", "--select", "mirror_probe"])
    assert compiled.success, compiled.errors
    nodes = [r.node for r in compiled.result.results if r.node.resource_type == "test"]
    tests = [(node, _data_test(node)) for node in nodes]
    assert {canonical_name(t.name) for _, t in tests} == set(MIRRORED), "the probe must use every mirrored test"
    resolve = catalog_resolver(build_catalog(project))
    release_duckdb()

    connection = duckdb.connect(str(sample_project / "warehouse.duckdb"))
    direct = Direct(connection)
    table = '"warehouse"."main"."mirror_probe"'
    connection.execute(f"create table main.mirror_probe_original as select * from {table}")
    copy = Copy(direct, "main.mirror_probe_original", None)
    compared, failing_states = 0, {}
    try:
        for node, test in tests:
            states = [("the real data", [])] + list(corruptions(test, copy, resolve))
            for description, statements in states:
                copy.fresh()
                try:
                    for statement in statements:
                        direct.execute(statement)
                except (duckdb.Error, SandboxQueryError):
                    continue  # a corruption the column's type refuses
                connection.execute(f"create or replace table main.mirror_probe as select * from {CORRUPTED_TABLE}")
                dbt_says = connection.execute(
                    f"select {node.config.fail_calc} from ({node.compiled_code}) dbt_internal_test"
                ).fetchone()[0]
                mirror_says = direct.execute(failures_sql(test, table, resolve))[0][0]
                assert mirror_says == dbt_says, (
                    f"{node.name} on {description}: dbt says {dbt_says}, the mirror says {mirror_says}\n"
                    f"{failing_rows_sql(test, table, resolve)}"
                )
                compared += 1
                if dbt_says:
                    failing_states[node.name] = failing_states.get(node.name, 0) + 1
    finally:
        connection.close()
    assert compared >= 2 * len(tests)
    # Every test was seen failing somewhere, so agreement is not 0 == 0 throughout.
    assert set(failing_states) == {node.name for node, _ in tests}


def test_a_test_the_mirror_does_not_know_is_refused():
    with pytest.raises(NotMirrored, match="dbt_utils.at_least_one"):
        failing_rows_sql(DataTest("dbt_utils.at_least_one", "x"), "t", str)


def test_where_config_filters_the_model_only():
    test = DataTest("gen_model.equal_rowcount", None, {"compare_model": "ref('x')"}, where="amount > 0")
    sql = failing_rows_sql(test, "m", lambda text: '"db"."main"."x"')
    assert "(select * from m where amount > 0) dbt_subquery" in sql
    assert 'from "db"."main"."x"\n' in sql
