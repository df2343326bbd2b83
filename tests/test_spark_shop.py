"""shop_project (a project we did not write) builds on Spark and gives DuckDB's rows.

Real Spark, as clusters run it: dbt-spark in session mode on a local Spark (one JVM for
this module, reused by every dbt invocation in this process), with the settings of
profiles.yml.example's `spark` target. This is the ground the Spark work stands on: if the
JDK, pyspark or dbt-spark are missing or drift, this fails first and says so.
"""

from __future__ import annotations

import decimal
from pathlib import Path

import pytest

from tests.conftest import dbt_build
from tests.spark_support import shop_copy_on_spark

pytestmark = pytest.mark.spark

MARTS = ("customers", "orders")


@pytest.fixture(scope="module")
def shop_on_spark(tmp_path_factory) -> Path:
    root = shop_copy_on_spark(tmp_path_factory, "shop_on_spark", "shop")
    dbt_build(root)
    return root


def normalised(rows) -> list[tuple]:
    """Rows comparable across engines: decimals as exact strings, sorted."""

    def value(item):
        if isinstance(item, (decimal.Decimal, float)):
            return f"{decimal.Decimal(str(item)):.2f}"
        return None if item is None else str(item)

    return sorted(tuple(value(item) for item in row) for row in rows)


def test_shop_project_builds_on_spark_with_the_same_rows_as_on_duckdb(shop_on_spark, shop_project_built):
    import duckdb
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()  # the session dbt-spark started in this process
    with duckdb.connect(str(shop_project_built / "shop.duckdb"), read_only=True) as connection:
        for mart in MARTS:
            on_spark = [tuple(row) for row in spark.sql(f"select * from shop.{mart}").collect()]
            on_duckdb = connection.execute(f"select * from {mart}").fetchall()
            assert on_spark, f"{mart} is empty on Spark"
            assert normalised(on_spark) == normalised(on_duckdb), f"{mart} differs between Spark and DuckDB"
