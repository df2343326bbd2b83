"""The sample project's generated marts, ported with `gen-model port --write`, build on Spark.

All three: `account_mrr`, `account_payment_health` and `monthly_revenue_by_tier`, each at its
latest version, with DuckDB's rows.

`account_mrr` v1 is not portable: its months come from a `generate_series` up to the last
billed month, empty on DuckDB and an error on Spark when a subscription starts after it
(`port:series_bounds`); it is refused, located. Its v2 (examples/proposals/account_mrr_v2.yml)
keeps only the subscriptions whose series is not empty, the same rows on both engines: it is
ported, and v1 stays off on Spark with its unit test.

The marts are versioned and contracted (`account_mrr_v1.sql`, YAML with `versions:` and an
enforced contract in DuckDB's types). One JVM for this module: dbt-spark's session
(profiles.yml.example's `spark` target) starts it, the sample's raw tables are loaded into
it from the DuckDB warehouse, the ports' proofs reuse it, and `dbt build --target spark`
builds the marts with their contracts enforced and their unit tests run. The DuckDB target
still builds the whole project afterwards.

`account_payment_health` v1 is not portable: it rounds a double (`round(failed / attempts, 4)`),
which DuckDB and Spark round differently in the last digit for some ratios (`port:round`); the
port refuses it, located, and writes nothing. Its v2 (examples/proposals/
account_payment_health_v2.yml) keeps the division unrounded, correctly rounded IEEE arithmetic
on both engines: it is ported, and v1 stays off on Spark (its SQL is unproven there), with its
unit test; `ref('account_payment_health')` is v2 on both engines.
"""

from __future__ import annotations

import decimal
import json
import shutil
from pathlib import Path

import pytest
import yaml

from generator.dialects.spark_session import spark_session
from tests.conftest import copy_project, dbt_build
from tests.spark_support import spark_profile

pytestmark = pytest.mark.spark

RAW_TABLES = {
    "raw_app": ("accounts", "users"),
    "raw_billing": ("invoices", "payments", "plans", "subscriptions"),
}
# `invoices` is the hand-written mart monthly_revenue_by_tier reads: as written in DuckDB it
# does not parse on Spark, so it is ported too (unversioned, contracted).
PORTED = ("invoices", "monthly_revenue_by_tier", "account_payment_health", "account_mrr")
# each generated mart and the version of it Spark builds (its latest)
MARTS = {"monthly_revenue_by_tier": 1, "account_payment_health": 2, "account_mrr": 2}
SCHEMA = "analytics"


@pytest.fixture(scope="module")
def sample_on_spark(sample_project_built: Path, tmp_path_factory) -> Path:
    """A copy of the built sample project with a `spark` target whose session holds the raw tables."""

    from generator.project import dbt, load_project

    if shutil.which("java") is None:
        pytest.fail("no JDK on PATH: Spark needs one (.ci/run installs openjdk-17-jre-headless from apt)")
    root = copy_project(sample_project_built, tmp_path_factory.mktemp("sample_on_spark") / "project")
    profiles = yaml.safe_load((root / "profiles.yml").read_text())
    profiles["gen_model"]["outputs"].update(spark_profile("gen_model", SCHEMA)["gen_model"]["outputs"])
    (root / "profiles.yml").write_text(yaml.safe_dump(profiles))
    started = dbt.invoke(load_project(root, target="spark"), ["debug"])
    assert started.success, started.errors
    # `dbt debug` does not start dbt-spark's session: start it as dbt-spark would, with the
    # target's settings, so its warehouse is this copy's target/ and not the working directory
    # (where a second run of the suite would find the tables' locations taken).
    settings = profiles["gen_model"]["outputs"]["spark"]["server_side_parameters"]
    spark = spark_session(root, tuple(settings.items()))
    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        for schema, tables in RAW_TABLES.items():
            spark.sql(f"create database if not exists {schema}")
            for table in tables:
                parquet = root / "target" / f"{schema}.{table}.parquet"
                connection.execute(f"copy {schema}.{table} to '{parquet}' (format parquet)")
                spark.read.parquet(str(parquet)).write.mode("overwrite").saveAsTable(f"{schema}.{table}")
    return root


def normalised(rows) -> list[tuple]:
    """Rows comparable across engines: numbers as exact text, times in UTC, sorted."""
    import datetime

    def value(item):
        if isinstance(item, (decimal.Decimal, float, int)) and not isinstance(item, bool):
            return f"{decimal.Decimal(str(item)).normalize():f}"
        if isinstance(item, datetime.datetime):  # Spark's are naive, in the session's UTC
            if item.tzinfo is not None:
                item = item.astimezone(datetime.timezone.utc).replace(tzinfo=None)
            return item.isoformat()
        return None if item is None else str(item)

    return sorted((tuple(value(item) for item in row) for row in rows), key=repr)


def test_the_sample_marts_ported_with_write_build_on_spark_and_duckdb(sample_on_spark: Path):
    from pyspark.sql import SparkSession

    from generator.port.check import PortError
    from generator.port.model import port_model
    from generator.port.write import write_port
    from generator.project import dbt, load_project

    root = sample_on_spark
    spark = SparkSession.builder.getOrCreate()
    # account_payment_health v1 rounds a double: refused, located, nothing written
    config_before = (root / "dbt_project.yml").read_bytes()
    with pytest.raises(PortError) as refused:
        port_model(load_project(root), "account_payment_health.v1", "spark", same_time_zone=True)
    assert [(problem.rule, problem.line) for problem in refused.value.problems] == [("port:round", 36)]
    assert (root / "dbt_project.yml").read_bytes() == config_before
    # account_mrr v1 counts months with generate_series up to the last billed month: a
    # subscription that starts after it gives no rows on DuckDB and fails the query on Spark
    # (its unit test holds one). Refused, located; v2 filters those rows and is ported below.
    with pytest.raises(PortError) as refused:
        port_model(load_project(root), "account_mrr.v1", "spark", same_time_zone=True)
    assert [(problem.rule, problem.line) for problem in refused.value.problems] == [("port:series_bounds", 33)]
    assert (root / "dbt_project.yml").read_bytes() == config_before

    written = {}
    for name in PORTED:
        ported = port_model(load_project(root), name, "spark", same_time_zone=True, prove=True, spark=spark)
        assert ported.proof.holds, ported.proof
        written[name] = write_port(load_project(root), ported)
    config = yaml.safe_load((root / "dbt_project.yml").read_text())
    off = "{{ (target.profile_name == 'gen_model') and target.type != 'spark' }}"
    for name in ("account_payment_health", "account_mrr"):  # v2 ported, v1 off on Spark
        assert not (root / f"models/marts/spark/{name}_v1.sql").exists()
        assert written[name].file == f"models/marts/spark/{name}_v2.sql"
        assert written[name].off == (f"{name}.v1",)
        assert config["models"]["gen_model"]["marts"][name]["v1"] == {"+enabled": off}
        unit_tests = config["unit_tests"]["gen_model"]["marts"][name]
        assert unit_tests == {f"{name}_v1_logic": {"+enabled": off}}
    # each version's proof is its own in the lockfile
    from generator.write import lockfile

    lock = lockfile.load(root)
    assert sorted(lock.ports) == [
        "account_mrr.v2",
        "account_payment_health.v2",
        "invoices",
        "monthly_revenue_by_tier.v1",
    ]
    assert lock.ported("account_payment_health", 2)["spark"]["source"] == "models/marts/account_payment_health_v2.sql"

    # the versioned mart's contract names each engine's own types
    properties = (root / "models/marts/monthly_revenue_by_tier.yml").read_text()
    assert "data_type: \"{{ 'decimal(28,2)' if target.type == 'spark' else 'decimal(38,2)' }}\"" in properties
    assert "data_type: \"{{ 'string' if target.type == 'spark' else 'varchar' }}\"" in properties

    on_spark = load_project(root, target="spark")
    selected = [f"+{name}" for name in MARTS]
    built = dbt.invoke(on_spark, ["build", "--select", *selected, "--indirect-selection", "cautious"])
    assert built.success, built.errors
    statuses = {node.name: node.status for node in built.nodes}
    for name in (*MARTS, "invoices"):
        assert statuses.get(name) == "success", statuses
    unit_tests = {name: status for name, status in statuses.items() if "_logic" in name}
    for name, version in MARTS.items():
        assert any(test.startswith(f"{name}_v{version}_logic") for test in unit_tests), unit_tests
    for name in ("account_payment_health", "account_mrr"):
        assert not any(test.startswith(f"{name}_v1_") for test in unit_tests), unit_tests
    assert set(unit_tests.values()) == {"pass"}, unit_tests

    manifest = json.loads((root / "target" / "manifest.json").read_text())
    for name, version in MARTS.items():
        node = manifest["nodes"][f"model.gen_model.{name}.v{version}"]
        assert node["original_file_path"] == f"models/marts/spark/{name}_v{version}.sql"
        assert node["contract"]["enforced"] is True
    for name in ("account_payment_health", "account_mrr"):
        assert f"model.gen_model.{name}.v1" not in manifest["nodes"]  # off on Spark
    revenue_types = {
        column["name"]: column["data_type"]
        for column in manifest["nodes"]["model.gen_model.monthly_revenue_by_tier.v1"]["columns"].values()
    }
    assert revenue_types["billed_amount"] == "decimal(28,2)" and revenue_types["plan_tier"] == "string"

    import duckdb

    with duckdb.connect(str(root / "warehouse.duckdb"), read_only=True) as connection:
        for name in (f"{name}_v{version}" for name, version in MARTS.items()):
            on_duckdb = connection.execute(f"select * from {name}").fetchall()
            rows = [tuple(row) for row in spark.sql(f"select * from {SCHEMA}.{name}").collect()]
            assert rows, f"{name} is empty on Spark"
            assert normalised(rows) == normalised(on_duckdb), f"{name} differs between Spark and DuckDB"

    # the DuckDB target builds the whole project as before: each person's file, DuckDB's types
    dbt_build(root)
    manifest = json.loads((root / "target" / "manifest.json").read_text())
    for version in (1, 2):  # both versions of each, from the person's files
        node = manifest["nodes"][f"model.gen_model.account_mrr.v{version}"]
        assert node["original_file_path"] == f"models/marts/account_mrr_v{version}.sql"
        assert {column["name"]: column["data_type"] for column in node["columns"].values()}["mrr"] == "decimal(38,2)"
        node = manifest["nodes"][f"model.gen_model.account_payment_health.v{version}"]
        assert node["original_file_path"] == f"models/marts/account_payment_health_v{version}.sql"
