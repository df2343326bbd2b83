"""gen-model port: DuckDB constructs whose rows differ on Spark are refused, located.

Fixture-driven (tests/fixtures/port.sql, port__invalid.sql). The refusals are checked
against real engines: on a local Spark session (one JVM for this module) the transpiled
SQL of every refused case gives other rows than DuckDB, or fails, and every accepted case
gives DuckDB's rows exactly.
"""

from __future__ import annotations

import datetime
import decimal
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import sqlglot

from generator.port import PortError, check, transpile
from generator.port.prove import local_spark

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Case:
    title: str
    sql: str
    expect: tuple[tuple[str, str], ...]
    same_time_zone: bool
    spark_skip: str | None


def cases(name: str) -> list[Case]:
    found = []
    for block in re.split(r"^-- case: ", (FIXTURES / name).read_text(), flags=re.M)[1:]:
        title, _, body = block.partition("\n")
        sql = "\n".join(line for line in body.splitlines() if not line.startswith("--")).strip()
        expect = tuple(
            tuple(line[len("-- expect: ") :].split()[:2])
            for line in body.splitlines()
            if line.startswith("-- expect: ")
        )
        skip = next(
            (line[len("-- spark: skip ") :] for line in body.splitlines() if line.startswith("-- spark: skip")), None
        )
        found.append(Case(title.strip(), sql, expect, "-- same-time-zone: yes" in body, skip))
    return found


REFUSED = cases("port__invalid.sql")
ACCEPTED = cases("port.sql")


@pytest.mark.parametrize("case", REFUSED, ids=lambda case: case.title)
def test_refused(case):
    problems = check(case.sql, same_time_zone=case.same_time_zone)
    assert [(problem.rule, f"{problem.line}:{problem.col}") for problem in problems] == list(case.expect)
    assert all(problem.suggestion and problem.highlight for problem in problems)
    with pytest.raises(PortError) as raised:
        transpile(case.sql, same_time_zone=case.same_time_zone)
    assert raised.value.problems == tuple(problems)


@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.title)
def test_accepted(case):
    assert check(case.sql, same_time_zone=case.same_time_zone) == []


def test_refs_survive_the_transpile_and_types_come_from_the_schema():
    sql = "select order_id, round(amount, 2) as amount from {{ ref('stg_orders') }}\n"
    assert [problem.rule for problem in check(sql)] == ["port:round"]
    schema = {"stg_orders": {"order_id": "int", "amount": "decimal(18,2)"}}
    assert transpile(sql, schema=schema) == (
        "SELECT\n  order_id,\n  ROUND(amount, 2) AS amount\nFROM {{ ref('stg_orders') }}\n"
    )


def test_an_unknown_target_names_the_supported_ones():
    with pytest.raises(PortError, match="cannot port to 'snowflake': supported targets are databricks, spark"):
        check("select 1 as x", target="snowflake")


def test_the_location_is_in_the_model_file():
    [problem] = check("select\n    {{ ref('x') }}.a,\n    substring(b, 0, 1) as c\nfrom {{ ref('x') }}", file="m.sql")
    assert problem.location() == "m.sql:3:5"


def test_the_series_fix_can_be_pasted_into_the_model():
    # account_mrr v2's filter is v1's refusal's suggestion as it reads here
    sql = (
        "select unnest(generate_series(date_trunc('month', s.started_at), coalesce(s.\"Ended At\", s.stop_at),"
        " interval 1 month)) as m\nfrom {{ ref('subs') }} as s"
    )
    [problem] = check(sql)
    assert problem.suggestion == (
        "Keep only the rows where the series is not empty: where date_trunc('MONTH', s.started_at) <= "
        'coalesce(s."ended at", s.stop_at) (the same rows on both engines).'
    )


# --- real engines ---------------------------------------------------------------------


def normalised(rows) -> list[tuple]:
    def value(item):
        if isinstance(item, (decimal.Decimal, float)):
            return f"{decimal.Decimal(str(item)).normalize():f}"
        if isinstance(item, datetime.datetime) and item.tzinfo is not None:
            return item.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat()
        if isinstance(item, (datetime.date, datetime.datetime)):
            return item.isoformat()
        return None if item is None else str(item)

    return sorted(
        (tuple(value(item) for item in row) for row in rows), key=lambda row: [(v is None, v or "") for v in row]
    )


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    """One local Spark for the module, configured as profiles.yml.example's `spark` target."""
    if shutil.which("java") is None:
        pytest.fail("no JDK on PATH: Spark needs one (.ci/run installs openjdk-17-jre-headless from apt)")
    # The JVM keeps the directory it starts in; a Hive session a later test opens in it puts
    # Derby's metastore there. Started from the checkout, two xdist workers would both boot
    # <checkout>/target/metastore_db, and the second fails ("Another instance of Derby").
    started_in = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("spark_cwd"))
    try:
        session = local_spark()
    finally:
        os.chdir(started_in)
    yield session
    session.stop()


def on_duckdb(sql: str) -> list[tuple]:
    with duckdb.connect(":memory:") as connection:
        connection.execute("set TimeZone = 'UTC'")  # after connecting: icu loads with the first use
        return normalised(connection.execute(sql).fetchall())


def on_spark(spark, sql: str) -> list[tuple]:
    return normalised(tuple(row) for row in spark.sql(sql).collect())


@pytest.mark.spark
@pytest.mark.parametrize("case", [case for case in REFUSED if not case.spark_skip], ids=lambda case: case.title)
def test_what_is_refused_really_differs_on_spark(spark, case):
    naive = sqlglot.transpile(case.sql, read="duckdb", write="spark")[0]  # what sqlglot alone would ship
    try:
        spark_rows = on_spark(spark, naive)
    except Exception:  # noqa: BLE001 - Spark failing the query is one way of differing
        return
    assert spark_rows != on_duckdb(case.sql), f"Spark gave DuckDB's rows for {naive}"


@pytest.mark.spark
@pytest.mark.parametrize("case", ACCEPTED, ids=lambda case: case.title)
def test_what_is_accepted_gives_the_same_rows_on_spark(spark, case):
    ported = transpile(case.sql, same_time_zone=case.same_time_zone)
    assert on_spark(spark, ported) == on_duckdb(case.sql), ported


# --- through the CLI, on a project we did not write ------------------------------------


def test_port_prints_a_portable_model_in_spark_sql(shop_project):
    from click.testing import CliRunner

    from generator.cli import cli

    result = CliRunner().invoke(cli, ["port", "customers", "--to", "spark", "--project-dir", str(shop_project)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("-- customers (models/marts/customers.sql) for spark: no construct")
    assert "FROM {{ ref('stg_customers') }} AS c" in result.output
    assert "COALESCE(ppc.lifetime_value, 0) AS lifetime_value" in result.output


def test_port_refuses_a_model_with_a_known_difference_and_says_where(shop_project):
    from click.testing import CliRunner

    from generator.cli import cli

    orders = shop_project / "models" / "marts" / "orders.sql"
    orders.write_text(
        orders.read_text().replace("o.status,", "o.status,\n    substring(o.status, 0, 3) as status_prefix,")
    )
    before = {path: path.read_bytes() for path in shop_project.rglob("*.sql")}
    result = CliRunner().invoke(cli, ["port", "orders", "--to", "spark", "--project-dir", str(shop_project)])
    assert result.exit_code == 1, result.output
    assert "not portable to spark: 1 construct(s) would give different rows" in result.output
    assert "models/marts/orders.sql:15:5: [port:substring_start] substring with start 0" in result.output
    assert "Traceback" not in result.output
    assert {path: path.read_bytes() for path in shop_project.rglob("*.sql")} == before  # writes nothing


@pytest.mark.spark
def test_prove_runs_the_real_inputs_on_both_engines(spark, shop_project):
    from generator.port.model import port_model
    from generator.project import load_project

    ported = port_model(load_project(shop_project), "customers", "spark", prove=True, spark=spark)
    assert ported.proof is not None and ported.proof.holds
    [sample] = ported.proof.sets  # shop_project has no unit tests: the sample is the proof
    assert sample.name == "a sample of the real inputs (up to 1000 rows each)"
    assert sample.rows == 100 and sample.equal
    assert set(ported.proof.engines) == {"duckdb", "spark"}


@pytest.mark.spark
def test_prove_catches_a_difference_no_rule_knows(spark, shop_project):
    # The rules list the differences we know; the proof finds the ones we do not (each engine
    # has its own hash function, and sqlglot keeps the name).
    from generator.port.model import port_model
    from generator.project import load_project

    customers = shop_project / "models" / "marts" / "customers.sql"
    customers.write_text(
        customers.read_text().replace("c.last_name,", "c.last_name,\n    hash(c.first_name) as name_hash,")
    )
    ported = port_model(load_project(shop_project), "customers", "spark", prove=True, spark=spark)
    [sample] = ported.proof.sets
    assert not sample.equal and not ported.proof.holds
    assert sample.only_duckdb and sample.only_target


@pytest.mark.spark
def test_port_prove_through_the_cli_says_what_it_compared(spark, shop_project):
    from click.testing import CliRunner

    from generator.cli import cli

    result = CliRunner().invoke(cli, ["port", "orders", "--to", "spark", "--prove", "--project-dir", str(shop_project)])
    assert result.exit_code == 0, result.output
    assert "-- identical: a sample of the real inputs (up to 1000 rows each), 99 rows (duckdb " in result.output
    assert "FROM {{ ref('stg_orders') }} AS o" in result.output


# --- writing the proven port into the project -------------------------------------------


def port_cli(project: Path, *args: str):
    from click.testing import CliRunner

    from generator.cli import cli

    return CliRunner().invoke(cli, ["port", *args, "--project-dir", str(project)])


def snapshot(project: Path) -> dict:
    """Every file a port could touch (target/ and the warehouse are dbt's)."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in project.rglob("*")
        if path.is_file() and "target" not in path.relative_to(project).parts and path.suffix != ".duckdb"
    }


@pytest.mark.spark
def test_port_write_puts_the_proven_spark_version_beside_the_model(spark, shop_project):
    from generator.ci.review import review
    from generator.ci.verify import verify
    from generator.project import load_project
    from generator.write import lockfile
    from tests.conftest import dbt_build

    orders = shop_project / "models" / "marts" / "orders.sql"
    original = orders.read_bytes()
    result = port_cli(shop_project, "orders", "--to", "spark", "--write")
    assert result.exit_code == 0, result.output
    assert "-- wrote models/marts/spark/orders.sql; dbt_project.yml enables it on spark targets only" in result.output

    assert orders.read_bytes() == original  # the person's SQL is not touched
    ported = (shop_project / "models" / "marts" / "spark" / "orders.sql").read_text()
    assert ported.startswith("-- orders for spark, written by `gen-model port orders --to spark --write`")
    assert "FROM {{ ref('stg_orders') }} AS o" in ported
    config = (shop_project / "dbt_project.yml").read_text()
    assert config.endswith(
        "    marts:\n      +materialized: table\n"
        "      orders:\n        +enabled: \"{{ target.type != 'spark' }}\"\n"
        "      spark:\n        orders:\n          +enabled: \"{{ target.type == 'spark' }}\"\n"
    )
    assert 'model-paths: ["models"]' in config  # the rest of the person's file as it was

    port = lockfile.load(shop_project).ports["orders"]["spark"]
    assert port["source"] == "models/marts/orders.sql"
    assert port["source_sha256"] == lockfile.sha256_bytes(original)
    assert port["file"] == "models/marts/spark/orders.sql"
    assert port["sha256"] == lockfile.sha256_text(ported)
    assert set(port["engines"]) == {"duckdb", "spark"}
    assert port["row_sets"] == [{"name": "a sample of the real inputs (up to 1000 rows each)", "rows": 99}]

    # The DuckDB target still builds the person's file, with its tests; nothing else changed.
    outcome = dbt_build(shop_project)
    built = {node.name for node in outcome.nodes if node.status == "success"}
    assert "orders" in built
    project = load_project(shop_project)
    from generator.project import dbt

    manifest = dbt.parse(project)
    assert manifest.nodes["model.shop.orders"].original_file_path == "models/marts/orders.sql"

    markdown = review(project, ["orders"])
    assert "### Port to spark" in markdown
    assert "| a sample of the real inputs (up to 1000 rows each) | 99 |" in markdown
    assert [finding for finding in verify(project).findings if finding.check in ("port", "jinja")] == []

    # The model changes after the proof: verify says the port is stale and what to rerun.
    orders.write_text(orders.read_text().replace("o.status,", "o.status as order_status,"))
    [stale] = [finding for finding in verify(load_project(shop_project)).findings if finding.check == "port"]
    assert stale.severity == "error" and stale.file == "models/marts/orders.sql"
    assert "the port is stale" in stale.message
    assert stale.suggestion == "Run `gen-model port orders --to spark --write` to prove and write it again"


def test_port_write_refuses_a_known_difference_and_writes_nothing(shop_project):
    orders = shop_project / "models" / "marts" / "orders.sql"
    orders.write_text(orders.read_text().replace("o.status,", "o.status,\n    substring(o.status, 0, 3) as prefix,"))
    before = snapshot(shop_project)
    result = port_cli(shop_project, "orders", "--to", "spark", "--write")
    assert result.exit_code == 1, result.output
    assert "models/marts/orders.sql:15:5: [port:substring_start]" in result.output
    assert snapshot(shop_project) == before


@pytest.mark.spark
def test_port_write_refuses_other_rows_and_writes_nothing(spark, shop_project):
    customers = shop_project / "models" / "marts" / "customers.sql"
    customers.write_text(customers.read_text().replace("c.last_name,", "c.last_name,\n    hash(c.first_name) as h,"))
    before = snapshot(shop_project)
    result = port_cli(shop_project, "customers", "--to", "spark", "--write")
    assert result.exit_code == 1, result.output
    assert "-- DIFFERENT: a sample of the real inputs" in result.output
    assert "it is not portable as written; nothing was written" in result.output
    assert snapshot(shop_project) == before


def test_a_port_without_a_proof_is_not_written(shop_project):
    from generator.port.model import PortedModel
    from generator.port.write import PortWriteError, write_port
    from generator.project import load_project

    before = snapshot(shop_project)
    unproven = PortedModel("orders", "models/marts/orders.sql", "spark", "select 1 as order_id\n")
    with pytest.raises(PortWriteError, match="no proof that the rows are identical on spark; nothing written"):
        write_port(load_project(shop_project), unproven)
    assert snapshot(shop_project) == before


def test_a_damaged_port_record_is_a_located_lockfile_error(tmp_path):
    from generator.errors import ConfigError
    from generator.write import lockfile

    (tmp_path / "gen_model.lock").write_text(
        "version: 1\nmodels: {}\nports:\n  orders:\n    spark:\n      source: /etc/passwd\n"
    )
    with pytest.raises(ConfigError) as raised:
        lockfile.load(tmp_path)
    assert "ports.orders.spark must have exactly source, source_sha256, file, sha256, engines, row_sets" in str(
        [problem.message for problem in raised.value.problems]
    )


@pytest.mark.spark
def test_a_proof_past_the_time_limit_fails_on_either_engine_saying_which(spark):
    """Each engine's run of the model over one set of inputs is bounded as the dry run's
    queries are: past the limit the proof fails in one line, and leaves no input view."""
    from generator.port.prove import InputRows, ProofError, compare

    rows = InputRows((("n", "bigint"),), tuple({"n": n} for n in range(200)))
    fast = "select count(*) as c from __input__"
    # Two hundred rows joined with themselves five times: 3.2e11 combinations, minutes on either engine.
    slow = "select count(*) as c from __input__ as a, __input__ as b, __input__ as c, __input__ as d, __input__ as e"
    with pytest.raises(ProofError) as on_duckdb_side:
        compare("a slow model", slow, fast, {"__input__": rows}, spark, timeout_s=0.5)
    assert str(on_duckdb_side.value) == "a slow model: the model ran past 0.5 s on DuckDB over these inputs"
    with pytest.raises(ProofError) as on_spark_side:
        compare("a slow model", fast, slow, {"__input__": rows}, spark, timeout_s=2)
    assert str(on_spark_side.value) == "a slow model: the ported model ran past 2 s on Spark over these inputs"
    assert not [t.name for t in spark.catalog.listTables() if t.isTemporary and t.name.startswith("port_input_")]
    assert compare("a fast model", fast, fast, {"__input__": rows}, spark, timeout_s=30).equal
