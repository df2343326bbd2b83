"""`gen-model mutate` and `gen-model tests MODEL` on Spark, through the model's DuckDB twin.

One JVM for this module: shop_project on the `spark` target (a schema of its own), built
once. The mutants of a shop model run on its DuckDB twin (generator.testgen.twin), which is
first proven equal to Spark on the real inputs, and the CLI reports a score; a model whose
SQL has a construct the port check refuses has no twin, and mutate exits 2 naming it;
`gen-model tests MODEL` derives and checks tests on Spark, its unit test searched on the twin.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import cli
from tests.conftest import dbt_build
from tests.spark_support import shop_copy_on_spark

pytestmark = pytest.mark.spark

SCHEMA = "shop_twin"


@pytest.fixture(scope="module")
def shop_on_spark(tmp_path_factory) -> Path:
    root = shop_copy_on_spark(tmp_path_factory, "shop_twin_on_spark", SCHEMA)
    initialised = CliRunner().invoke(cli, ["init", "--project-dir", str(root)])
    assert initialised.exit_code == 0, initialised.output
    dbt_build(root)
    return root


def test_mutate_on_spark_runs_the_mutants_on_a_duckdb_twin_proven_equal(shop_on_spark):
    result = CliRunner().invoke(cli, ["mutate", "customers", "--project-dir", str(shop_on_spark), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"] > 0 and report["score"] is not None
    assert report["data_tests"] > 0
    proven = [note for note in report["notes"] if note.startswith("mutants run on a DuckDB twin, proven equal on")]
    assert proven and re.match(r"mutants run on a DuckDB twin, proven equal on [1-9][\d,]* rows", proven[0])


def test_mutate_on_spark_exits_2_naming_the_construct_the_port_refuses(shop_on_spark):
    (shop_on_spark / "models/marts/status_prefixes.sql").write_text(
        "select orders.order_id, substring(orders.status, 0, 3) as status_prefix\n"
        "from {{ ref('stg_orders') }} as orders\n",
        encoding="utf-8",
    )
    try:
        result = CliRunner().invoke(cli, ["mutate", "status_prefixes", "--project-dir", str(shop_on_spark)])
    finally:
        (shop_on_spark / "models/marts/status_prefixes.sql").unlink()
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "gen-model mutate on Spark runs the mutants of status_prefixes on a DuckDB twin" in result.stderr
    assert "port:substring_start" in result.stderr
    assert "at `SUBSTRING(orders.status, 0, 3)`" in result.stderr.replace("\n", " ") or "SUBSTRING" in result.stderr


def test_tests_on_spark_derives_checks_and_searches_the_unit_test_on_the_twin(shop_on_spark):
    result = CliRunner().invoke(cli, ["tests", "customers", "--project-dir", str(shop_on_spark), "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] in ("dry-run", "unchanged")
    assert report["added"] or report["skipped"], report
    assert report["unit_test"] or any("on Spark" in note for note in report["notes"]), report["notes"]
