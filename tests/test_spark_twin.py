"""`gen-model mutate` and `gen-model tests MODEL` on Spark, through the model's DuckDB twin.

One JVM for this module: shop_project on the `spark` target (a schema of its own), built
once. The mutants of a shop model run on its DuckDB twin (generator.testgen.twin), which is
first proven equal to Spark on the real inputs, and the CLI reports the score DuckDB gives;
`gen-model tests MODEL` derives and checks tests on Spark, its unit test searched on the
twin. A model whose SQL has a construct the port check refuses has no twin: mutate exits 2
naming it.
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


def added_then_mutated(root: Path) -> tuple[dict, dict]:
    """`gen-model tests customers` (written), then `gen-model mutate customers`: both reports."""
    added = CliRunner().invoke(cli, ["tests", "customers", "--project-dir", str(root), "--json"])
    assert added.exit_code == 0, added.output
    mutated = CliRunner().invoke(cli, ["mutate", "customers", "--project-dir", str(root), "--json"])
    assert mutated.exit_code == 0, mutated.output
    return json.loads(added.stdout), json.loads(mutated.stdout)


def test_tests_and_mutate_on_spark_run_on_a_duckdb_twin_and_score_as_on_duckdb(
    shop_on_spark, shop_project_with_package
):
    added, mutated = added_then_mutated(shop_on_spark)
    on_duckdb_added, on_duckdb_mutated = added_then_mutated(shop_project_with_package)
    # `tests`: derived and checked on Spark, the unit test searched on the twin, confirmed on
    # Spark and built there by `dbt test`; the same tests as on DuckDB.
    assert added["status"] == "written" and added["build"]["failed"] == 0, added
    assert added["unit_test"] == on_duckdb_added["unit_test"] is not None, added["notes"]
    assert [t["name"] for t in added["added"]] == [t["name"] for t in on_duckdb_added["added"]]
    # `mutate`: the model's own tests (the unit test just written among them) kill the same
    # mutants on the twin as on DuckDB.
    assert mutated["unit_tests"] == 1 and mutated["killed"] > 0, mutated
    keys = ("killed", "total", "score", "data_tests", "unit_tests", "killed_by")
    assert {key: mutated[key] for key in keys} == {key: on_duckdb_mutated[key] for key in keys}
    proven = [note for note in mutated["notes"] if note.startswith("mutants run on a DuckDB twin, proven equal on")]
    assert proven and re.match(r"mutants run on a DuckDB twin, proven equal on [1-9][\d,]* rows", proven[0])


def test_mutate_on_spark_exits_2_naming_the_construct_the_port_refuses(shop_on_spark):
    from generator.project import load_project
    from generator.project.dbt import invoke

    (shop_on_spark / "models/marts/status_prefixes.sql").write_text(
        "select orders.order_id, substring(orders.status, 0, 3) as status_prefix\n"
        "from {{ ref('stg_orders') }} as orders\n",
        encoding="utf-8",
    )
    try:
        assert invoke(load_project(shop_on_spark), ["run", "--select", "status_prefixes"]).success
        result = CliRunner().invoke(cli, ["mutate", "status_prefixes", "--project-dir", str(shop_on_spark)])
    finally:
        (shop_on_spark / "models/marts/status_prefixes.sql").unlink()
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "gen-model mutate on Spark runs the mutants of status_prefixes on a DuckDB twin" in result.stderr
    assert "port:substring_start" in result.stderr
    # Located in the twin's SQL (the model's, transpiled to DuckDB).
    assert "at `SUBSTRING(" in result.stderr, result.stderr
