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


def session_temp_views() -> list[str]:
    """The temp views of this process's Spark session (dbt-spark's, which gen-model shares)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession()
    return sorted(table.name for table in spark.catalog.listTables() if table.isTemporary) if spark else []


def mutant_lines(report: dict) -> dict[int, tuple[str, int | None]]:
    """Each mutant's operator and line in a `mutate --json` report, by number."""
    outcomes = [o for key in ("killed_mutants", "survivors", "equivalent", "invalid") for o in report[key]]
    return {o["index"]: (o["operator"], o["line"]) for o in outcomes}


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
    assert "its inputs copied whole from Spark" in proven[0], proven[0]
    # Each mutant's line is moved from the twin's SQL to the model's file: the lines DuckDB gives.
    assert mutant_lines(mutated) == mutant_lines(on_duckdb_mutated)
    assert len({line for _, line in mutant_lines(mutated).values()}) > 3
    # What the SQL analysis profiles upstream (facts: lifetime_value is a sum of amounts that
    # are all >= 0 today) it profiles on Spark too: the same note as on DuckDB.
    today = [note for note in added["notes"] if ">= 0 today" in note]
    assert today and today == [note for note in on_duckdb_added["notes"] if ">= 0 today" in note], added["notes"]
    # The unit test's comparison (port_input_*) and the twin leave no temp views behind.
    assert not [name for name in session_temp_views() if name.startswith(("port_input_", "gen_model_twin"))]


def test_mutate_on_spark_samples_an_input_larger_than_the_twin_carries(shop_on_spark, monkeypatch):
    """Over fixture_search.SOURCE_ROW_LIMIT rows (200,000; 60 here), an input is sampled as the
    row search samples on DuckDB, and the twin is proven equal to Spark on the sample."""
    from generator.testgen import fixture_search

    monkeypatch.setattr(fixture_search, "SOURCE_ROW_LIMIT", 60)
    # The model's tests, as the first test of the module writes them: pytest-xdist may run
    # this test on another worker, on a copy the first test never touched ("unchanged" if it did).
    added = CliRunner().invoke(cli, ["tests", "customers", "--project-dir", str(shop_on_spark)])
    assert added.exit_code == 0, added.output
    result = CliRunner().invoke(cli, ["mutate", "customers", "--project-dir", str(shop_on_spark), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["total"] > 0 and report["killed"] > 0, report
    assert report["notes"][0] == (
        "mutants run on a DuckDB twin, proven equal on 60 rows: its SQL transpiled to DuckDB (no construct known "
        "to differ between the engines), its inputs copied from Spark ("
        "ref('stg_customers') has 100 rows, more than the twin carries: a deterministic sample of 60 (hash order, "
        "not the first 60) was copied; "
        "ref('stg_orders') has 99 rows, more than the twin carries: a deterministic sample of 60 (hash order, "
        "not the first 60) was copied; "
        "ref('stg_payments') has 113 rows, more than the twin carries: a deterministic sample of 60 (hash order, "
        "not the first 60) was copied); the SQL shown is the twin's in Spark SQL, the line numbers are the model's"
    ), report["notes"]
    assert not [name for name in session_temp_views() if name.startswith("gen_model_twin")]


def test_mutate_on_spark_stops_copying_its_inputs_at_the_time_limit(shop_on_spark, monkeypatch):
    """Each Spark step of the copy into the twin (count, sample, rows) runs under the dry run's
    time limit; past it, mutate exits 2 saying so, and no sample is left in the session."""
    from generator.dialects.spark_session import SparkDryRun
    from generator.project.sandbox import SandboxTimeout
    from generator.testgen import fixture_search

    monkeypatch.setattr(fixture_search, "SOURCE_ROW_LIMIT", 60)
    limited = SparkDryRun.deadline

    def slow_sample(self, sql, timeout_s=None):
        if sql.startswith("a sample of"):  # as if the sample's job ran past the limit
            raise SandboxTimeout(timeout_s, sql)
        return limited(self, sql, timeout_s)

    monkeypatch.setattr(SparkDryRun, "deadline", slow_sample)
    result = CliRunner().invoke(cli, ["mutate", "customers", "--project-dir", str(shop_on_spark)])
    assert result.exit_code == 2, result.output
    assert (
        "and there is none proven equal: copying its inputs from Spark (all rows, or a sample of 60 of an input "
        "with more) ran past 60 s, the dry run's time limit per query. Run `gen-model mutate customers --target "
        "<a duckdb target>`"
    ) in result.stderr, result.stderr
    assert not [name for name in session_temp_views() if name.startswith("gen_model_twin")]


def test_mutate_on_spark_stops_the_models_run_over_the_samples_at_the_time_limit(shop_on_spark, monkeypatch):
    """The model's run on Spark over its inputs' samples (what the twin must return) runs under
    the dry run's time limit too: past it, mutate exits 2 naming the model's file, no trace."""
    from generator.dialects.spark_session import SparkDryRun
    from generator.project.sandbox import SandboxTimeout
    from generator.testgen import fixture_search

    monkeypatch.setattr(fixture_search, "SOURCE_ROW_LIMIT", 60)
    limited = SparkDryRun.deadline

    def slow_model(self, sql, timeout_s=None):
        if "gen_model_twin_sample_" in sql and not sql.startswith("select `"):  # the model, not a copy
            raise SandboxTimeout(timeout_s, sql)
        return limited(self, sql, timeout_s)

    monkeypatch.setattr(SparkDryRun, "deadline", slow_model)
    result = CliRunner().invoke(cli, ["mutate", "customers", "--project-dir", str(shop_on_spark)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert (
        "and there is none proven equal: the model's run over the sampled inputs on Spark ran past 60 s, the dry "
        "run's time limit per query (models/marts/customers.sql). Run `gen-model mutate customers --target"
    ) in result.stderr, result.stderr
    assert not [name for name in session_temp_views() if name.startswith("gen_model_twin")]


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
    # Found in its DuckDB twin's SQL (line 3 there, rewritten by sqlglot), located in the
    # model's own file and shown as written there.
    assert result.stderr == (
        "Error: gen-model mutate on Spark runs the mutants of status_prefixes on a DuckDB twin of it, and there is "
        "none proven equal: its SQL may give other rows on DuckDB than on Spark "
        "(models/marts/status_prefixes.sql:1:25: [port:substring_start] at `SUBSTRING(orders.status, 0, 3)` "
        "(in its DuckDB twin `SUBSTRING(orders.status, CASE WHEN 0 = 0 THEN 1 ELSE 0 END, CASE WHEN 3 < 0 THEN 0 "
        "ELSE 3 END)`): substring with a start that is not a literal: positions below 1 differ (DuckDB counts "
        "position 0 before the first character, Spark treats it as 1); Start at 1 (substring(s, 1, n)), or use "
        "left(s, n).). Run `gen-model mutate status_prefixes --target <a duckdb target>` on a DuckDB copy of the "
        "project instead.\n"
    ), result.stderr
