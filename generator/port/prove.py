"""Row-equality proof: the same inputs through DuckDB and the target engine, rows compared.

Inputs are (a) the rows of each of the model's dbt unit tests and (b) a sample of each real
input relation from the warehouse. Both engines read exactly the same typed rows: they are
loaded into DuckDB first (the model's own engine, with the catalog's column types), and the
target receives what DuckDB holds. A proof holds only when every set gives identical rows.
"""

from __future__ import annotations

import atexit
import datetime
import decimal
import functools
import re
import shutil
import tempfile
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import duckdb

from generator.errors import ConfigError, GenModelError
from generator.limits import QUERY_TIMEOUT_S

SAMPLE_ROWS = 1000

# DuckDB type -> Spark DDL type. Anything else (lists, structs, maps, intervals) is refused:
# a proof over types we do not map faithfully would prove nothing.
_SPARK_TYPES = {
    "varchar": "string",
    "text": "string",
    "string": "string",
    "boolean": "boolean",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "integer": "int",
    "int": "int",
    "bigint": "bigint",
    "hugeint": "decimal(38,0)",
    "float": "float",
    "real": "float",
    "double": "double",
    "date": "date",
    "timestamp": "timestamp_ntz",
    "timestamp with time zone": "timestamp",
    "timestamptz": "timestamp",
}
_DECIMAL = re.compile(r"^(?:decimal|numeric)\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


class ProofError(GenModelError):
    """The rows could not be compared (a type the proof cannot carry, an engine failing)."""

    exit_code = 1


@dataclass(frozen=True)
class InputRows:
    """One input relation's columns (name, DuckDB type) and rows (dicts; missing keys are NULL)."""

    columns: tuple[tuple[str, str], ...]
    rows: tuple[Mapping, ...]


@dataclass(frozen=True)
class RowSet:
    """One comparison: what the inputs were, how many rows came out, whether they agree."""

    name: str
    rows: int
    equal: bool
    only_duckdb: tuple[tuple, ...] = ()
    only_target: tuple[tuple, ...] = ()
    # The result's columns on the target as its analysed plan types them (name, Spark's
    # simpleString): what a contract on that engine must declare.
    target_columns: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Proof:
    """Every comparison made, and the engines that made them."""

    target: str
    engines: Mapping[str, str]
    sets: tuple[RowSet, ...] = field(default_factory=tuple)

    @property
    def holds(self) -> bool:
        return bool(self.sets) and all(row_set.equal for row_set in self.sets)

    @property
    def target_columns(self) -> tuple[tuple[str, str], ...]:
        """The ported model's columns and types on the target, from the last row set compared
        (the sample of the real inputs when there is one: typed as the warehouse types them)."""
        return self.sets[-1].target_columns if self.sets else ()


def spark_type(duckdb_type: str) -> str:
    """The Spark type that holds a DuckDB type's values exactly; ProofError if none does."""
    kind = " ".join(duckdb_type.lower().split())
    match = _DECIMAL.match(kind)
    if match:
        return f"decimal({match[1]},{match[2]})"
    try:
        return _SPARK_TYPES[kind]
    except KeyError:
        raise ProofError(f"cannot carry a {duckdb_type} column to Spark for the proof") from None


def comparable(rows: Sequence[Sequence]) -> list[tuple]:
    """Rows comparable across engines: exact decimals without trailing zeros, UTC times, sorted."""

    def value(item):
        if isinstance(item, bool) or item is None:
            return item
        if isinstance(item, (decimal.Decimal, float, int)):
            return f"{decimal.Decimal(str(item)).normalize():f}"
        if isinstance(item, datetime.datetime) and item.tzinfo is not None:
            return item.astimezone(datetime.timezone.utc).replace(tzinfo=None).isoformat()
        if isinstance(item, (datetime.date, datetime.datetime)):
            return item.isoformat()
        return str(item)

    converted = [tuple(value(item) for item in row) for row in rows]
    return sorted(converted, key=lambda row: [(item is None, str(item)) for item in row])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _load_duckdb(connection, table: str, data: InputRows) -> None:
    columns = ", ".join(f"{_quote(name)} {kind}" for name, kind in data.columns)
    connection.execute(f"create temp table {table} ({columns})")
    if data.rows:
        marks = ", ".join("?" for _ in data.columns)
        values = [[row.get(name) for name, _ in data.columns] for row in data.rows]
        connection.executemany(f"insert into {table} values ({marks})", values)


def _substitute(sql: str, tables: Mapping[str, str]) -> str:
    for placeholder, table in tables.items():
        sql = re.sub(rf"\b{re.escape(placeholder)}\b", table, sql)
    return sql


def _run_both(name, duckdb_sql, target_sql, inputs, tables, spark, time_zone, timeout_s):
    """The model's rows on DuckDB; its columns and rows on Spark (the inputs as temp views
    named `tables`); each engine's run stopped past `timeout_s`."""
    from generator.dialects.spark_session import job_deadline
    from generator.project.sandbox import SandboxTimeout

    with duckdb.connect(":memory:") as connection:
        connection.execute(f"set TimeZone = '{time_zone}'")
        for placeholder, data in inputs.items():
            _load_duckdb(connection, tables[placeholder], data)
        timer = threading.Timer(timeout_s, connection.interrupt)
        timer.start()
        try:
            expected = connection.execute(_substitute(duckdb_sql, tables)).fetchall()
        except duckdb.InterruptException:
            raise ProofError(f"{name}: the model ran past {timeout_s:g} s on DuckDB over these inputs") from None
        except duckdb.Error as error:
            raise ProofError(f"{name}: the model fails on DuckDB over these inputs: {error}") from None
        finally:
            timer.cancel()
        for placeholder, data in inputs.items():
            held = connection.execute(f"select * from {tables[placeholder]}").fetchall()
            schema = ", ".join(f"`{column}` {spark_type(kind)}" for column, kind in data.columns)
            spark.createDataFrame(held, schema).createOrReplaceTempView(tables[placeholder])
    try:
        with job_deadline(spark, target_sql, timeout_s):
            frame = spark.sql(_substitute(target_sql, tables))
            columns = tuple((item.name, item.dataType.simpleString()) for item in frame.schema.fields)
            got = [tuple(row) for row in frame.collect()]
    except SandboxTimeout:
        raise ProofError(f"{name}: the ported model ran past {timeout_s:g} s on Spark over these inputs") from None
    except Exception as error:  # noqa: BLE001 - any Spark failure is a failed proof, said in one line
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ProofError(f"{name}: the ported model fails on Spark over these inputs: {first}") from None
    return expected, columns, got


def compare(
    name: str,
    duckdb_sql: str,
    target_sql: str,
    inputs: Mapping[str, InputRows],
    spark,
    time_zone: str = "UTC",
    timeout_s: float = QUERY_TIMEOUT_S,
) -> RowSet:
    """Run the model on both engines over `inputs` (keyed by the SQL's placeholder) and
    compare; each engine's run is a failed proof past `timeout_s` (the dry run's limit)."""
    tables = {placeholder: f"port_input_{index}" for index, placeholder in enumerate(sorted(inputs))}
    try:
        expected, columns, got = _run_both(name, duckdb_sql, target_sql, inputs, tables, spark, time_zone, timeout_s)
    finally:
        # The session outlives the proof (dbt-spark's, the dry run's): leave no input views in it.
        for table in tables.values():
            spark.catalog.dropTempView(table)
    left, right = comparable(expected), comparable(got)
    only_left = tuple(row for row in left if row not in right)[:5]
    only_right = tuple(row for row in right if row not in left)[:5]
    return RowSet(name, len(left), left == right, only_left, only_right, columns)


@functools.cache
def _scratch_warehouse() -> str:
    """A warehouse directory of this process's own, removed when it exits."""
    directory = tempfile.mkdtemp(prefix="gen-model-spark-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    return directory


def local_spark():
    """A local Spark session configured as profiles.yml.example's `spark` target (UTC, loopback).

    Its warehouse is a scratch directory: the proof only reads temp views, and Spark's default
    (`spark-warehouse/` in the working directory) would leave tables in the user's checkout,
    where a later session naming the same database fails on the existing location."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError("proving on Spark needs pyspark: pip install 'gen-model[spark]' (and a JDK 17)") from None
    try:
        return (
            SparkSession.builder.master("local[2]")
            .appName("gen-model port")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.warehouse.dir", _scratch_warehouse())
            # As profiles.yml.example's target: should dbt-spark reuse this JVM with Hive on,
            # Derby's log goes to target/, not the working directory.
            .config("spark.driver.extraJavaOptions", "-Dderby.system.home=target")
            .getOrCreate()
        )
    except Exception as error:  # noqa: BLE001 - no JVM, no Java: say what to install
        raise ConfigError(
            f"could not start a local Spark ({str(error).splitlines()[0]}); is a JDK 17 on PATH?"
        ) from None
