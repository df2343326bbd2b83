"""Tests on Spark: derived, checked by the hollow-test gate, unit-tested and built there.

One JVM for this module: shop_project on the `spark` target (a schema of its own), built
once. A good proposal on Spark gets the same derived tests as on DuckDB, each shown able to
fail on Spark (the hollow-test gate runs the tests' SQL in the Spark dry run, on the result
and on a corrupted copy of it), and the same unit test (rows searched on a DuckDB twin,
expected rows confirmed on Spark); `dbt build` on Spark passes them. Every test macro's
compiled SQL counts on Spark what gen-model's mirror counts. (`mutate` and `gen-model tests`
on Spark: tests/test_spark_twin.py.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.testgen.datatests import DataTest
from generator.testgen.hollow import corruptions
from generator.testgen.kinds.base import CORRUPTED_TABLE, Copy
from generator.testgen.testsql import MIRRORED, canonical_name, failures_sql
from tests.conftest import dbt_build
from tests.spark_support import shop_copy_on_spark

pytestmark = pytest.mark.spark

SCHEMA = "shop_tests"

ORDER_KINDS = {
    "name": "customer_order_kinds",
    "layer": "marts",
    "description": "Orders per customer, by status.",
    "grain": ["customer_id"],
    "sql": (
        "select\n"
        "    orders.customer_id,\n"
        "    count(*) as order_count,\n"
        "    count(case when orders.status = 'completed' then 1 end) as completed_orders,\n"
        "    count(case when orders.status = 'returned' then 1 end) as returned_orders,\n"
        "    case when count(*) > 1 then 'repeat' else 'single' end as buyer_kind\n"
        "from {{ ref('stg_orders') }} as orders\n"
        "group by orders.customer_id\n"
    ),
    "columns": [
        {"name": "customer_id", "description": "The customer."},
        {"name": "order_count", "description": "Their orders."},
        {"name": "completed_orders", "description": "Their completed orders."},
        {"name": "returned_orders", "description": "Their returned orders."},
        {"name": "buyer_kind", "description": "Repeat or single buyer."},
    ],
}


# Every test the hollow-test gate can run, on a probe model of the shop (tests/test_testsql.py
# does the same on DuckDB): dbt compiles each on Spark, and on the real data and on every
# corruption the gate applies on Spark, dbt's SQL and the mirror must count the same failures.
PROBE_SQL = """
select
    orders.order_id,
    orders.customer_id,
    orders.status,
    orders.order_date,
    case when orders.status = 'completed' then orders.order_date end as completed_on,
    count(payments.payment_id) as payment_count,
    count(case when payments.payment_method = 'coupon' then 1 end) as coupon_payments,
    coalesce(sum(payments.amount), 0) as paid
from {{ ref('stg_orders') }} as orders
left join {{ ref('stg_payments') }} as payments on payments.order_id = orders.order_id
group by orders.order_id, orders.customer_id, orders.status, orders.order_date
"""

PROBE_TESTS = {
    "version": 2,
    "models": [
        {
            "name": "mirror_probe",
            "config": {"materialized": "table"},
            "data_tests": [
                {"gen_model.unique_combination_of_columns": {"arguments": {"combination_of_columns": ["order_id"]}}},
                {
                    "gen_model.unique_combination_of_columns": {
                        "arguments": {"combination_of_columns": ["customer_id", "status"]},
                        "config": {"where": "payment_count > 0"},
                    }
                },
                {"gen_model.fewer_rows_than": {"arguments": {"compare_model": "ref('stg_orders')"}}},
                {"gen_model.fewer_rows_than": {"arguments": {"compare_model": "ref('stg_orders')", "strict": True}}},
                {"gen_model.equal_rowcount": {"arguments": {"compare_model": "ref('stg_orders')"}}},
                {"gen_model.expression_is_true": {"arguments": {"expression": "coupon_payments <= payment_count"}}},
                {"gen_model.row_count_between": {"arguments": {"min_value": 1, "max_value": 99}}},
                {"gen_model.row_count_between": {"arguments": {"min_value": 50}}},
            ],
            "columns": [
                {
                    "name": "order_id",
                    "data_tests": [
                        "not_null",
                        "unique",
                        {"relationships": {"arguments": {"to": "ref('stg_orders')", "field": "order_id"}}},
                    ],
                },
                {
                    "name": "status",
                    "data_tests": [
                        {"accepted_values": {"arguments": {"values": ["placed", "shipped", "completed"]}}},
                    ],
                },
                {
                    "name": "order_date",
                    "data_tests": [
                        {"gen_model.accepted_range": {"arguments": {"min_value": "cast('2018-01-01' as date)"}}},
                    ],
                },
                {
                    "name": "completed_on",
                    "data_tests": [
                        {"gen_model.not_null_proportion": {"arguments": {"at_least": 0.1, "at_most": 0.9}}},
                    ],
                },
                {
                    "name": "payment_count",
                    "data_tests": [
                        {"accepted_values": {"arguments": {"values": [0, 1, 2], "quote": False}}},
                        {
                            "gen_model.accepted_range": {
                                "arguments": {"min_value": 0, "max_value": 3, "inclusive": False},
                                "config": {"where": "coupon_payments > 0"},
                            }
                        },
                    ],
                },
                {
                    "name": "paid",
                    "data_tests": [
                        {"gen_model.expression_is_true": {"arguments": {"expression": ">= 0"}}},
                        {"gen_model.accepted_range": {"arguments": {"min_value": 0}}},
                        {"gen_model.not_null_proportion": {"arguments": {"at_least": 0.5}}},
                    ],
                },
            ],
        }
    ],
}


@pytest.fixture(scope="module")
def shop_on_spark(tmp_path_factory) -> Path:
    root = shop_copy_on_spark(tmp_path_factory, "shop_tests_on_spark", SCHEMA)
    initialised = CliRunner().invoke(cli, ["init", "--project-dir", str(root)])
    assert initialised.exit_code == 0, initialised.output
    dbt_build(root)
    return root


def apply(root: Path, tmp_path: Path, proposal: dict, *options: str):
    path = tmp_path / f"{proposal['name']}.yml"
    path.write_text(yaml.safe_dump(proposal, sort_keys=False))
    return CliRunner().invoke(cli, ["apply", str(path), "--project-dir", str(root), "--json", *options])


def data_tests(root: Path, name: str) -> dict:
    """The data tests of version 1 of model `name`: per column, and the model's own."""
    model = yaml.safe_load((root / f"models/marts/{name}.yml").read_text())["models"][0]
    version = model["versions"][0]
    tests = {column["name"]: column.get("data_tests", []) for column in version["columns"]}
    tests[None] = version.get("data_tests", [])
    return tests


def unit_tests(root: Path, name: str) -> dict:
    """The one unit test in model `name`'s YAML."""
    (unit_test,) = yaml.safe_load((root / f"models/marts/{name}.yml").read_text())["unit_tests"]
    return unit_test


def test_a_good_proposal_gets_the_tests_it_gets_on_duckdb_checked_and_built_on_spark(
    shop_on_spark, shop_project_with_package, tmp_path
):
    on_duckdb = apply(shop_project_with_package, tmp_path, ORDER_KINDS)
    assert on_duckdb.exit_code == 0, on_duckdb.output
    result = apply(shop_on_spark, tmp_path, ORDER_KINDS)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "written"
    assert report["build"]["failed"] == 0
    derived = data_tests(shop_on_spark, ORDER_KINDS["name"])
    assert derived == data_tests(shop_project_with_package, ORDER_KINDS["name"])
    assert {name for tests in derived.values() for test in tests for name in test} >= {
        "not_null",
        "accepted_values",
        "gen_model.accepted_range",
        "gen_model.unique_combination_of_columns",
        "gen_model.fewer_rows_than",
    }
    assert report["dropped_tests"] == []
    # The unit test: its rows searched on a DuckDB twin of the Spark inputs, the same rows the
    # search picks on DuckDB; its expected rows computed once on Spark, and dbt built it there.
    assert report["unit_tests"] == 1, report["notes"]
    assert {"name": "customer_order_kinds_v1_logic_v1", "status": "pass"} in report["build"]["nodes"]
    unit_test = unit_tests(shop_on_spark, ORDER_KINDS["name"])
    on_duckdb_unit_test = unit_tests(shop_project_with_package, ORDER_KINDS["name"])
    assert (unit_test["given"], unit_test["expect"]) == (on_duckdb_unit_test["given"], on_duckdb_unit_test["expect"])
    assert "computed once on Spark from these given rows and equal DuckDB's" in unit_test["description"]


def test_no_unit_test_on_spark_for_sql_whose_duckdb_twin_could_differ(shop_on_spark, tmp_path):
    proposal = dict(
        ORDER_KINDS,
        name="customer_status_prefixes",
        sql=(
            "select orders.order_id, substring(orders.status, 0, 3) as status_prefix\n"
            "from {{ ref('stg_orders') }} as orders\n"
        ),
        grain=["order_id"],
        columns=[{"name": "order_id", "description": "x"}, {"name": "status_prefix", "description": "y"}],
    )
    result = apply(shop_on_spark, tmp_path, proposal)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["unit_tests"] == 0
    # Located in the proposal file (not in its DuckDB twin's SQL), shown as written there.
    assert any(
        re.match(
            r"on Spark: no unit test: its SQL may give other rows on DuckDB than on Spark \(\S+\.(yml|yaml|json)"
            r"(#sql)?:\d+:\d+: \[port:substring_start\] at `SUBSTRING\(orders\.status, 0, 3\)` \(in its DuckDB twin",
            note,
        )
        for note in report["notes"]
    ), report["notes"]


def _data_test(node) -> DataTest:
    metadata = node.test_metadata
    name = f"{metadata.namespace}.{metadata.name}" if metadata.namespace else metadata.name
    arguments = dict(metadata.kwargs)
    column = arguments.pop("column_name", None)
    arguments.pop("model", None)
    return DataTest(canonical_name(name), column, arguments, where=node.config.where)


def test_every_test_macro_runs_on_spark_and_the_mirror_counts_what_dbt_counts(shop_on_spark):
    from generator.dialects.spark_session import SparkDryRun, spark_session
    from generator.project import load_project
    from generator.project.catalog_builder import build_catalog
    from generator.project.dbt import invoke
    from generator.project.sandbox import SandboxQueryError
    from generator.testgen.testsql import catalog_resolver

    (shop_on_spark / "models/mirror_probe.sql").write_text(PROBE_SQL, encoding="utf-8")
    (shop_on_spark / "models/mirror_probe.yml").write_text(yaml.safe_dump(PROBE_TESTS), encoding="utf-8")
    project = load_project(shop_on_spark)
    assert invoke(project, ["run", "--select", "mirror_probe"]).success
    compiled = invoke(project, ["compile", "--select", "mirror_probe"])
    assert compiled.success, compiled.errors
    nodes = [r.node for r in compiled.result.results if r.node.resource_type == "test"]
    tests = [(node, _data_test(node)) for node in nodes]
    assert {canonical_name(t.name) for _, t in tests} == set(MIRRORED), "the probe must use every mirrored test"
    catalog = build_catalog(project)
    resolve = catalog_resolver(catalog)
    probe = re.compile(rf"`?{SCHEMA}`?\.`?mirror_probe`?")
    compared, failing_states = 0, {}
    with SparkDryRun(catalog) as dry_run:
        spark = spark_session(shop_on_spark)
        dry_run.execute(f'create temp table mirror_probe_rows as select * from "{SCHEMA}"."mirror_probe"')
        copy = Copy(dry_run, "mirror_probe_rows", None)
        assert not copy.in_place
        for node, test in tests:
            on_copy = probe.sub(CORRUPTED_TABLE, node.compiled_code)
            assert on_copy != node.compiled_code
            states = [("the real data", [])] + list(corruptions(test, copy, resolve))
            for description, statements in states:
                copy.fresh()
                try:
                    for statement in statements:
                        dry_run.execute(statement)
                except SandboxQueryError:
                    continue  # a corruption the column's type refuses
                dbt_says = spark.sql(f"select {node.config.fail_calc} from ({on_copy}) dbt_internal_test").first()[0]
                mirror_says = dry_run.execute(failures_sql(test, CORRUPTED_TABLE, resolve))[0][0]
                assert mirror_says == dbt_says, (
                    f"{node.name} on {description}: dbt says {dbt_says}, the mirror {mirror_says}"
                )
                compared += 1
                if dbt_says:
                    failing_states[node.name] = failing_states.get(node.name, 0) + 1
    assert compared >= 2 * len(tests)
    # Every test was seen failing somewhere, so agreement is not 0 == 0 throughout.
    assert set(failing_states) == {node.name for node, _ in tests}
