"""shop_project (a project we did not write) builds on Spark and gives DuckDB's rows.

Real Spark, as clusters run it: dbt-spark in session mode on a local Spark (one JVM for
this module, reused by every dbt invocation in this process), with the settings of
profiles.yml.example's `spark` target. This is the ground the Spark work stands on: if the
JDK, pyspark or dbt-spark are missing or drift, this fails first and says so.
"""

from __future__ import annotations

import decimal
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO_ROOT, SHOP_PROJECT, dbt_build, missing_shared

pytestmark = pytest.mark.spark

MARTS = ("customers", "orders")


def spark_profile(profile_name: str) -> dict:
    """profiles.yml.example's `spark` target, under the project's own profile name."""
    example = yaml.safe_load((REPO_ROOT / "profiles.yml.example").read_text())
    target = dict(example["gen_model"]["outputs"]["spark"], schema="shop")
    return {profile_name: {"target": "spark", "outputs": {"spark": target}}}


@pytest.fixture(scope="module")
def shop_on_spark(tmp_path_factory) -> Path:
    if shutil.which("java") is None:
        pytest.fail("no JDK on PATH: Spark needs one (.ci/run installs openjdk-17-jre-headless from apt)")
    if not (SHOP_PROJECT / "dbt_project.yml").is_file():
        missing_shared("the shared shop project")
    root = tmp_path_factory.mktemp("shop_on_spark") / "project"
    shutil.copytree(SHOP_PROJECT, root)
    for path in (root, *root.rglob("*")):
        path.chmod(path.stat().st_mode | 0o200)
    (root / "profiles.yml").write_text(yaml.safe_dump(spark_profile("shop")))
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
