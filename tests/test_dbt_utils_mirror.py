"""A project's dbt_utils tests run in the sandbox exactly as dbt runs them: proven against dbt.

generator.project.dbt_utils renders the dbt_utils tests gen-model knows (the ones dbt_utils
stands in for gen_model's with) as dbt_utils' macros do, so that `gen-model mutate` counts
their kills. As tests/test_testsql.py does for dbt's and the package's tests: a probe model
in a copy of the shop project, with dbt_utils installed as a `local:` package
(tests/fixtures/dbt_utils, dbt_utils 1.x's SQL), carries every one of them; dbt compiles
them, and on the real data and on every corruption the hollow-test gate applies to the
gen_model test of the same meaning, dbt's compiled SQL and the mirror report the same
number of failures.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.project import dbt, load_project
from generator.project.dbt_utils import RENDERERS, SAME_TESTS, as_gen_model, fail_calc, mirrors
from generator.testgen.datatests import DataTest
from generator.testgen.hollow import corruptions
from generator.testgen.kinds.base import CORRUPTED_TABLE, Copy
from generator.testgen.testsql import NotMirrored, failing_rows_sql, failures_sql, is_mirrored

REPO = Path(__file__).resolve().parents[1]
DBT_UTILS = REPO / "tests" / "fixtures" / "dbt_utils"

PROBE_SQL = """
select
    orders.order_id,
    orders.customer_id,
    orders.status,
    orders.amount,
    nullif(orders.coupon_amount, 0) as coupon_amount,
    customers.order_count
from {{ ref('orders') }} as orders
inner join {{ ref('customers') }} as customers on customers.customer_id = orders.customer_id
"""


def _test(name: str, arguments: dict, where: str | None = None) -> dict:
    body: dict = {"arguments": arguments}
    if where:
        # dbt names a test by its arguments, not its config: a second one needs a name of its own.
        body["name"] = f"utils_probe_{name}_where"
        body["config"] = {"where": where}
    return {f"dbt_utils.{name}": body}


PROBE_TESTS = {
    "version": 2,
    "models": [
        {
            "name": "utils_probe",
            "config": {"materialized": "table"},
            "data_tests": [
                _test("unique_combination_of_columns", {"combination_of_columns": ["order_id"]}),
                _test(
                    "unique_combination_of_columns",
                    {"combination_of_columns": ["customer_id", "status"], "quote_columns": True},
                    where="status <> 'returned'",
                ),
                _test("equal_rowcount", {"compare_model": "ref('stg_orders')"}),
                _test("equal_rowcount", {"compare_model": "ref('stg_orders')"}, where="status = 'completed'"),
                # 99 orders, 100 customers: fewer; as many as stg_orders: dbt_utils fails on equal counts.
                _test("fewer_rows_than", {"compare_model": "ref('stg_customers')"}),
                _test("fewer_rows_than", {"compare_model": "ref('stg_orders')"}),
                _test("expression_is_true", {"expression": "amount >= coalesce(coupon_amount, 0)"}),
            ],
            "columns": [
                {
                    "name": "amount",
                    "data_tests": [
                        _test("accepted_range", {"min_value": 0}),
                        _test("expression_is_true", {"expression": ">= 0"}),
                    ],
                },
                {
                    "name": "order_count",
                    "data_tests": [
                        _test("accepted_range", {"min_value": 1, "max_value": 5}),
                        _test(
                            "accepted_range",
                            {"min_value": 1, "max_value": 3, "inclusive": False},
                            where="status = 'completed'",
                        ),
                    ],
                },
                {
                    "name": "coupon_amount",
                    "data_tests": [_test("not_null_proportion", {"at_least": 0.05, "at_most": 0.9})],
                },
                {
                    "name": "customer_id",
                    "data_tests": [
                        _test("not_null_proportion", {"at_least": 0.99}),
                        # No row is negative: an empty model, whose proportion is null.
                        _test("not_null_proportion", {"at_least": 0.5}, where="amount < 0"),
                    ],
                },
            ],
        }
    ],
}


@pytest.fixture
def shop_with_dbt_utils(shop_project: Path) -> Path:
    """The built shop project with dbt_utils installed (`dbt deps` of a `local:` package)."""
    (shop_project / "packages.yml").write_text(f"packages:\n  - local: {DBT_UTILS}\n")
    outcome = dbt.invoke(load_project(shop_project), ["deps"])
    assert outcome.success, outcome.errors
    return shop_project


class Direct:
    """The sandbox's execute() over a plain connection (the test owns this warehouse copy)."""

    def __init__(self, connection: duckdb.DuckDBPyConnection):
        self.connection = connection

    def execute(self, sql, parameters=None, timeout_s=None):
        cursor = self.connection.execute(sql, parameters)
        return cursor.fetchall() if cursor.description else []


def _data_test(node) -> DataTest:
    metadata = node.test_metadata
    arguments = dict(metadata.kwargs)
    column = arguments.pop("column_name", None)
    arguments.pop("model", None)
    return DataTest(f"{metadata.namespace}.{metadata.name}", column, arguments, where=node.config.where)


@pytest.mark.dbt
def test_mirror_reports_what_dbt_reports_for_dbt_utils_tests(shop_with_dbt_utils):
    from generator.project.catalog_builder import build_catalog
    from generator.project.dbt import invoke, release_duckdb
    from generator.testgen.hollow import SandboxQueryError
    from generator.testgen.testsql import catalog_resolver

    project_dir = shop_with_dbt_utils
    (project_dir / "models" / "utils_probe.sql").write_text(PROBE_SQL, encoding="utf-8")
    (project_dir / "models" / "utils_probe.yml").write_text(yaml.safe_dump(PROBE_TESTS), encoding="utf-8")
    project = load_project(project_dir)
    assert invoke(project, ["run", "--select", "utils_probe"]).success
    compiled = invoke(project, ["compile", "--select", "utils_probe"])
    assert compiled.success, compiled.errors
    nodes = [r.node for r in compiled.result.results if r.node.resource_type == "test"]
    tests = [(node, _data_test(node)) for node in nodes]
    assert len(tests) == 14
    assert all(mirrors(test) and is_mirrored(test) for _, test in tests)
    assert {test.macro for _, test in tests} == set(RENDERERS), "the probe must use every mirrored dbt_utils test"
    resolve = catalog_resolver(build_catalog(project))
    release_duckdb()

    connection = duckdb.connect(str(project_dir / "shop.duckdb"))
    direct = Direct(connection)
    table = '"shop"."main"."utils_probe"'
    connection.execute(f"create table main.utils_probe_original as select * from {table}")
    copy = Copy(direct, "main.utils_probe_original", None)
    compared, failing_states = 0, {}
    try:
        for node, test in tests:
            assert node.config.fail_calc == fail_calc(test), node.name
            # The corruptions of the gen_model test that means the same (a strict fewer_rows_than).
            states = [("the real data", [])] + list(corruptions(as_gen_model(test), copy, resolve))
            for description, statements in states:
                copy.fresh()
                try:
                    for statement in statements:
                        direct.execute(statement)
                except (duckdb.Error, SandboxQueryError):
                    continue  # a corruption the column's type refuses
                connection.execute(f"create or replace table main.utils_probe as select * from {CORRUPTED_TABLE}")
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
    assert compared >= 2 * len(tests) - 3
    # Agreement is not 0 == 0 throughout: every test but the empty model's fails somewhere.
    assert {node.name for node, _ in tests} - set(failing_states) == {"utils_probe_not_null_proportion_where"}


def test_every_test_dbt_utils_stands_in_for_is_mirrored():
    assert set(RENDERERS) == set(SAME_TESTS)


def test_a_dbt_utils_test_with_arguments_the_mirror_does_not_know_is_refused():
    # group_by_columns counts per group: not what the renderer prints.
    grouped = DataTest("dbt_utils.equal_rowcount", None, {"compare_model": "ref('x')", "group_by_columns": ["a"]})
    assert not mirrors(grouped) and not is_mirrored(grouped)
    with pytest.raises(NotMirrored, match="dbt_utils.equal_rowcount"):
        failing_rows_sql(grouped, "t", str)
    assert not mirrors(DataTest("dbt_utils.at_least_one", "x"))


def test_dbt_utils_fewer_rows_than_fails_on_equal_counts_unlike_gen_models():
    test = DataTest("dbt_utils.fewer_rows_than", None, {"compare_model": "ref('x')"})
    connection = duckdb.connect()
    connection.execute("create table m as select range as id from range(3)")
    direct = Direct(connection)
    assert direct.execute(failures_sql(test, "m", lambda text: "m"))[0][0] == 1
    gen_model = DataTest("gen_model.fewer_rows_than", None, {"compare_model": "ref('x')"})
    assert direct.execute(failures_sql(gen_model, "m", lambda text: "m"))[0][0] == 0


# -- gen-model mutate ------------------------------------------------------------------------


@pytest.mark.dbt
def test_mutate_counts_the_kills_of_dbt_utils_tests(shop_with_dbt_utils):
    project = shop_with_dbt_utils
    marts = project / "models" / "marts" / "marts.yml"
    nothing_null = "          - dbt_utils.not_null_proportion:\n              arguments: {at_least: 1}\n"
    marts.write_text(
        marts.read_text()
        .replace(
            "    description: One row per customer with order history facts.\n",
            "    description: One row per customer with order history facts.\n"
            "    data_tests:\n"
            "      - dbt_utils.equal_rowcount:\n"
            "          arguments: {compare_model: \"ref('stg_customers')\"}\n",
        )
        .replace(
            "        data_tests: [unique, not_null]\n",
            "        data_tests: [unique, not_null]\n"
            f"      - name: order_count\n        data_tests:\n{nothing_null}"
            f"      - name: lifetime_value\n        data_tests:\n{nothing_null}",
            1,
        )
    )
    result = CliRunner().invoke(cli, ["mutate", "customers", "--project-dir", str(project)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("customers: 4/15 mutants killed (score 0.27) by 5 data tests and 0 unit test(s)\n")
    assert "not a test gen-model can run" not in result.output
    for killed in (
        "#1 join-type: left join orders_per_customer as opc -> inner join (line 29) by dbt_utils.equal_rowcount",
        "#2 join-type: left join paid_per_customer as ppc -> inner join (line 30) by dbt_utils.equal_rowcount",
        "#3 coalesce: `coalesce(opc.order_count, 0)` -> `opc.order_count` (line 26) by "
        "dbt_utils.not_null_proportion(order_count)",
        "#4 coalesce: `coalesce(ppc.lifetime_value, 0)` -> `ppc.lifetime_value` (line 27) by "
        "dbt_utils.not_null_proportion(lifetime_value)",
    ):
        assert f"  killed    {killed}\n" in result.output, result.output
