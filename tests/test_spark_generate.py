"""gen-model generates on Spark: shop_project with the `spark` target, end to end.

One JVM for this module: the project is initialised and built once on a local Spark in
session mode (profiles.yml.example's `spark` target, under a schema of its own so that
another Spark module in the same process keeps its tables), then proposals are applied
through the CLI. A good proposal is written as a versioned, contracted model whose
contract types are Spark's own and `dbt build --select` passes on Spark; hostile ones
(files, Java, the clock, randomness, DDL) are refused and nothing is written.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.gates import GATES
from tests.conftest import dbt_build
from tests.shop_support import ORDER_COUNTS
from tests.spark_support import shop_copy_on_spark

pytestmark = pytest.mark.spark

SCHEMA = "shop_generated"

PAYMENTS = {
    "name": "customer_payments",
    "layer": "marts",
    "description": "Payments per customer.",
    "grain": ["customer_id"],
    "sql": (
        "select\n"
        "    orders.customer_id,\n"
        "    cast(orders.customer_id as string) as customer_key,\n"
        "    sum(cast(payments.amount as decimal(18, 2))) as paid\n"
        "from {{ ref('stg_orders') }} as orders\n"
        "join {{ ref('stg_payments') }} as payments on payments.order_id = orders.order_id\n"
        "group by orders.customer_id\n"
    ),
    "columns": [
        {"name": "customer_id", "description": "The customer."},
        {"name": "customer_key", "description": "The customer, as text."},
        {"name": "paid", "description": "What they paid."},
    ],
}

HOSTILE = {
    "file": ("select * from parquet.`/etc/passwd`", "[safety]", "reads the file '/etc/passwd' directly"),
    "java": (
        "select reflect('java.lang.System', 'getenv', 'HOME') as customer_id",
        "[safety]",
        "reflect() calls Java code from SQL",
    ),
    "clock": (
        "select customer_id, current_timestamp() as loaded_at from {{ ref('stg_customers') }}",
        "[safety]",
        "current_timestamp() reads the Spark session or the clock",
    ),
    "random": (
        "select customer_id, rand() as score from {{ ref('stg_customers') }}",
        "[determinism]",
        "rand() returns different values on every run",
    ),
    "ddl": ("drop table stg_customers", "[parse]", "expected one select statement, got DROP"),
}


@pytest.fixture(scope="module")
def shop_on_spark(tmp_path_factory) -> Path:
    root = shop_copy_on_spark(tmp_path_factory, "shop_generate_on_spark", SCHEMA)
    initialised = CliRunner().invoke(cli, ["init", "--project-dir", str(root)])
    assert initialised.exit_code == 0, initialised.output
    dbt_build(root)
    return root


def files(root: Path) -> dict[str, bytes]:
    """What gen-model could write: models, their YAML and the lockfile."""
    found = {str(p.relative_to(root)): p.read_bytes() for p in (root / "models").rglob("*") if p.is_file()}
    lock = root / "gen_model.lock"
    if lock.is_file():
        found["gen_model.lock"] = lock.read_bytes()
    return found


def apply(root: Path, tmp_path: Path, proposal: dict):
    path = tmp_path / f"{proposal['name']}.yml"
    path.write_text(yaml.safe_dump(proposal, sort_keys=False))
    return CliRunner().invoke(cli, ["apply", str(path), "--project-dir", str(root), "--json"])


def spark_types(table: str) -> list[str]:
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # the session dbt-spark started in this process
    return [field.dataType.simpleString() for field in spark.table(f"{SCHEMA}.{table}").schema.fields]


def test_a_good_proposal_is_written_contracted_in_sparks_types_and_builds_on_spark(shop_on_spark, tmp_path):
    result = apply(shop_on_spark, tmp_path, ORDER_COUNTS)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "written"
    assert [gate["status"] for gate in report["gates"]] == ["passed"] * len(GATES)
    assert report["build"]["failed"] == 0 and report["build"]["passed"] >= 1
    assert report["unit_tests"] == 1, report["notes"]
    model = yaml.safe_load((shop_on_spark / "models/marts/customer_order_counts.yml").read_text())["models"][0]
    assert model["config"]["contract"] == {"enforced": True}
    assert model["latest_version"] == 1
    version = model["versions"][0]
    assert [c["data_type"] for c in version["columns"]] == ["bigint", "bigint"]
    assert spark_types("customer_order_counts_v1") == ["bigint", "bigint"]


def test_contract_types_are_sparks_own_names_and_precisions(shop_on_spark, tmp_path):
    result = apply(shop_on_spark, tmp_path, PAYMENTS)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["build"]["failed"] == 0
    model = yaml.safe_load((shop_on_spark / "models/marts/customer_payments.yml").read_text())["models"][0]
    types = [c["data_type"] for c in model["versions"][0]["columns"]]
    assert types == spark_types("customer_payments_v1")
    assert types[1:] == ["string", "decimal(28,2)"]  # a sum widens by 10 digits on Spark (DuckDB: to 38)


def test_a_grain_spark_finds_duplicated_is_refused(shop_on_spark, tmp_path):
    before = files(shop_on_spark)
    duplicated = dict(
        ORDER_COUNTS,
        name="orders_by_customer",
        sql="select orders.customer_id, orders.order_id from {{ ref('stg_orders') }} as orders\n",
        columns=[{"name": "customer_id", "description": "x"}, {"name": "order_id", "description": "y"}],
    )
    result = apply(shop_on_spark, tmp_path, duplicated)
    assert result.exit_code == 1
    assert "[grain] the grain (customer_id) is not unique" in result.stderr
    assert files(shop_on_spark) == before


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_proposals_are_refused_with_nothing_written(shop_on_spark, tmp_path, kind):
    sql, rule, message = HOSTILE[kind]
    before = files(shop_on_spark)
    proposal = dict(
        ORDER_COUNTS,
        name=f"hostile_{kind}",
        sql=sql + "\n",
        columns=[{"name": "customer_id", "description": "x"}],
    )
    result = apply(shop_on_spark, tmp_path, proposal)
    assert result.exit_code == 1, result.output
    assert rule in result.stderr and message in result.stderr
    assert files(shop_on_spark) == before
