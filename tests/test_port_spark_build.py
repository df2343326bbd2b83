"""A port written by `gen-model port --write` is what `dbt build --target spark` builds.

One JVM for this module: dbt-spark's session (profiles.yml.example's `spark` target) starts
it with `dbt seed`, and the port's proof reuses it (the proof only makes temporary views).
"""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from tests.spark_support import spark_profile

pytestmark = pytest.mark.spark


def with_spark_target(project) -> None:
    """profiles.yml.example's `spark` target added to the project's own profile."""
    profiles = yaml.safe_load((project / "profiles.yml").read_text())
    profiles["shop"]["outputs"].update(spark_profile("shop", "shop")["shop"]["outputs"])
    (project / "profiles.yml").write_text(yaml.safe_dump(profiles))


def test_the_spark_target_builds_the_ported_file(shop_project):
    from pyspark.sql import SparkSession

    from generator.port.model import port_model
    from generator.port.write import write_port
    from generator.project import dbt, load_project

    if shutil.which("java") is None:
        pytest.fail("no JDK on PATH: Spark needs one (.ci/run installs openjdk-17-jre-headless from apt)")
    with_spark_target(shop_project)
    on_spark = load_project(shop_project, target="spark")
    seeded = dbt.invoke(on_spark, ["seed"])  # starts dbt-spark's session in this process
    assert seeded.success, seeded.errors

    duckdb_project = load_project(shop_project)
    ported = port_model(duckdb_project, "orders", "spark", prove=True, spark=SparkSession.builder.getOrCreate())
    write_port(duckdb_project, ported)

    # cautious: tests of what is built only (not stg_orders -> stg_customers, left unbuilt here)
    built = dbt.invoke(on_spark, ["build", "--select", "+orders", "--indirect-selection", "cautious"])
    assert built.success, built.errors
    assert {node.name for node in built.nodes if node.status == "success"} >= {"orders", "stg_orders"}
    manifest = json.loads((shop_project / "target" / "manifest.json").read_text())
    assert manifest["nodes"]["model.shop.orders"]["original_file_path"] == "models/marts/spark/orders.sql"
    rows = SparkSession.builder.getOrCreate().sql("select count(*) from shop.orders").collect()[0][0]
    assert rows == 99
