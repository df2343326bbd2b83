"""The dry run on Spark, in the session dbt-spark runs in (session mode: in this process).

There is no sandbox: Spark has no read-only, offline mode a query cannot leave. The static
safety gate (generator.dialects.spark) is the wall; what runs here has passed it. What this
module adds is the dry run's shape on a real engine:

  * the result's schema comes from the analysed plan (`spark.sql(q).schema` analyses, it
    does not execute): names and Spark's own types, exactly what dbt-spark's contract
    check reads (its cursor describes a DataFrame by `dataType.simpleString()`);
  * the query then runs once, completely (`localCheckpoint(eager=True)`: every column of
    every row, so a failing cast fails here and not in `dbt build`), under a time budget:
    a timer cancels the run's job group;
  * the result is a temp view, RESULT_TABLE, which the grain gate queries. gen-model's own
    helper SQL is written in DuckDB's spelling and transpiled to Spark by sqlglot;
  * the helper SQL's temp tables (the hollow-test gate's corrupted copy) are temp views of
    checkpointed rows: `create [or replace] temp table t as select ...` computes the rows
    first (so the select may read `t` itself) and then names them `t`; `drop table t` drops
    only such a temp view, never a table of the metastore. Spark cannot UPDATE or DELETE a
    temp view, so the helpers rewrite a copy instead (`updates_in_place` is False).

The session is the one dbt-spark created in this process if there is one, else a new one
with the profile's `server_side_parameters` (the catalog's session settings), started in
the project directory because those settings hold paths relative to it.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from generator.limits import QUERY_TIMEOUT_S
from generator.project.sandbox import RESULT_TABLE, Materialised, SandboxQueryError, SandboxTimeout

_JOB_GROUPS = itertools.count(1)


def spark_session(project_dir: Path, settings: Sequence[tuple[str, str]] = ()) -> Any:
    """The process's Spark session: dbt-spark's if it started one, else one configured as
    dbt-spark would configure it (Hive support, the profile's server_side_parameters)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from generator.project.dbt import in_directory

    builder = SparkSession.builder.enableHiveSupport()
    for name, value in settings:
        builder = builder.config(name, value)
    with in_directory(Path(project_dir)):
        return builder.getOrCreate()


def to_spark(sql: str) -> str:
    """gen-model's helper SQL (DuckDB's spelling: double-quoted names) in Spark SQL."""
    import sqlglot

    return sqlglot.transpile(sql, read="duckdb", write="spark")[0]


def _temporary(statement: Any) -> bool:
    """Whether a parsed CREATE is of a temporary table."""
    from sqlglot import exp

    properties = statement.args.get("properties")
    return bool(properties and properties.find(exp.TemporaryProperty))


def _message(error: BaseException) -> str:
    """Spark's message without the JVM stack trace."""
    text = str(getattr(error, "getMessage", lambda: None)() or error)
    text = text.split("\n\tat ", 1)[0]
    text = re.sub(r"\nJVM stacktrace:.*", "", text, flags=re.S)
    return text.strip()


@contextlib.contextmanager
def job_deadline(spark: Any, sql: str, limit: float) -> Iterator[None]:
    """A block of Spark work on `sql` (named in the errors) whose jobs are cancelled past
    `limit` seconds: SandboxTimeout then, SandboxQueryError on any other failure. A timer
    cancels the block's job group, as Spark offers no per-query timeout."""
    context = spark.sparkContext
    group = f"gen-model-dry-run-{next(_JOB_GROUPS)}"
    context.setJobGroup(group, "gen-model dry run", interruptOnCancel=True)
    fired = threading.Event()

    def fire() -> None:
        fired.set()
        context.cancelJobGroup(group)

    timer = threading.Timer(limit, fire)
    timer.daemon = True
    timer.start()
    try:
        yield
    except Exception as error:
        if fired.is_set():
            raise SandboxTimeout(limit, sql) from None
        message = _message(error)
        raise SandboxQueryError(message, message, sql) from None
    finally:
        timer.cancel()
        timer.join()
        context.setLocalProperty("spark.jobGroup.id", None)


class SparkQueries:
    """gen-model's own read-only queries (Spark SQL) in a Spark session, read as DB-API's
    `execute(sql).fetchone()` / `.fetchall()` read DuckDB's: the data diff, profiling."""

    def __init__(self, spark: Any):
        self.spark = spark
        self._rows: list = []

    def execute(self, sql: str) -> SparkQueries:
        """Run `sql` (Spark SQL) to completion; its rows wait for fetchone()."""
        self._rows = self.spark.sql(sql).collect()
        return self

    def fetchone(self) -> tuple | None:
        """The first row, as a tuple (struct values stay pyspark Rows: they index by name)."""
        return tuple(self._rows[0]) if self._rows else None

    def fetchall(self) -> list[tuple]:
        """Every row, as tuples."""
        return [tuple(row) for row in self._rows]


class SparkDryRun:
    """The dry run's interface (as generator.project.sandbox.Sandbox offers it), on Spark."""

    # Relations are named by schema and table in the one metastore: no databases to attach.
    database_names: tuple[str, ...] = ()
    # Temp tables are rewritten whole, never updated (see the module).
    updates_in_place = False

    def __init__(self, catalog: Any, timeout_s: float = QUERY_TIMEOUT_S):
        self.project_dir = Path(catalog.project_dir)
        self.settings = tuple(catalog.session_settings)
        self.timeout_s = float(timeout_s)
        self._spark: Any = None
        self._checkpoint: Any = None
        self._temp_tables: dict[str, Any] = {}  # name -> its checkpointed rows

    def __enter__(self) -> SparkDryRun:
        self.open()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def open(self) -> None:
        """Take the session (see the module)."""
        if self._spark is None:
            self._spark = spark_session(self.project_dir, self.settings)

    def close(self) -> None:
        """Drop the result view and its checkpointed rows; the session stays for dbt."""
        if self._spark is None:
            return
        for name in list(self._temp_tables):
            self._drop_temp_table(name)
        with contextlib.suppress(Exception):
            self._spark.catalog.dropTempView(RESULT_TABLE)
        if self._checkpoint is not None:
            with contextlib.suppress(Exception):
                self._checkpoint.unpersist()
            self._checkpoint = None
        self._spark = None

    @property
    def spark(self) -> Any:
        if self._spark is None:
            raise RuntimeError("the Spark dry run is not open; use it as a context manager")
        return self._spark

    def deadline(self, sql: str, timeout_s: float | None = None) -> contextlib.AbstractContextManager[None]:
        """A block of Spark work on `sql` (named in the errors) whose jobs are cancelled past
        `timeout_s` (default: the dry run's limit): SandboxTimeout then, SandboxQueryError on
        any other failure."""
        return self._deadline(sql, timeout_s)

    def _deadline(self, sql: str, timeout_s: float | None) -> contextlib.AbstractContextManager[None]:
        return job_deadline(self.spark, sql, self.timeout_s if timeout_s is None else float(timeout_s))

    def _analysed(self, sql: str) -> Any:
        """The DataFrame of `sql`, analysed (Spark resolves names and types) but not run."""
        try:
            return self.spark.sql(sql)
        except Exception as error:
            message = _message(error)
            raise SandboxQueryError(message, message, sql) from None

    def describe(self, sql: str, timeout_s: float | None = None) -> tuple[tuple[str, str], ...]:
        """(name, Spark type) of each column `sql` (Spark SQL) returns, from the analysed plan."""
        frame = self._analysed(sql)
        return tuple((field.name, field.dataType.simpleString()) for field in frame.schema.fields)

    def execute(self, sql: str, parameters: Sequence[Any] | None = None, timeout_s: float | None = None) -> list[tuple]:
        """Run gen-model's own helper SQL (DuckDB's spelling, transpiled) and fetch its rows.

        A temp table's create or drop is the dry run's own (see the module)."""
        if parameters:
            raise ValueError("the Spark dry run takes no query parameters")
        import sqlglot
        from sqlglot import exp

        try:
            statement = sqlglot.parse_one(sql, read="duckdb")
        except sqlglot.errors.ParseError:
            statement = None
        if isinstance(statement, exp.Create) and statement.kind == "TABLE" and _temporary(statement):
            self._create_temp_table(statement.this.name, statement.expression.sql(dialect="spark"), timeout_s)
            return []
        if isinstance(statement, exp.Drop):
            # Only the dry run's own temp tables: a table of the metastore is never dropped here.
            for table in statement.args.get("tables") or []:
                if table.name in self._temp_tables:
                    self._drop_temp_table(table.name)
            return []
        spark_sql = statement.sql(dialect="spark") if statement is not None else to_spark(sql)
        frame = self._analysed(spark_sql)
        with self._deadline(spark_sql, timeout_s):
            return [tuple(row) for row in frame.collect()]

    def _create_temp_table(self, name: str, spark_sql: str, timeout_s: float | None) -> None:
        """`name` as a temp view of the rows `spark_sql` gives now (it may read `name`)."""
        frame = self._analysed(spark_sql)
        with self._deadline(spark_sql, timeout_s):
            rows = frame.localCheckpoint(eager=True)
        previous = self._temp_tables.get(name)
        rows.createOrReplaceTempView(name)
        self._temp_tables[name] = rows
        if previous is not None:
            with contextlib.suppress(Exception):
                previous.unpersist()

    def _drop_temp_table(self, name: str) -> None:
        rows = self._temp_tables.pop(name, None)
        with contextlib.suppress(Exception):
            self.spark.catalog.dropTempView(name)
        if rows is not None:
            with contextlib.suppress(Exception):
                rows.unpersist()

    def materialise(self, sql: str, timeout_s: float | None = None) -> Materialised:
        """Schema from the analysed plan, then one complete, timed run into RESULT_TABLE."""
        frame = self._analysed(sql)
        columns = tuple((field.name, field.dataType.simpleString()) for field in frame.schema.fields)
        started = time.perf_counter()
        with self._deadline(sql, timeout_s):
            checkpoint = frame.localCheckpoint(eager=True)
            row_count = checkpoint.count()
        elapsed = time.perf_counter() - started
        self._checkpoint = checkpoint
        checkpoint.createOrReplaceTempView(RESULT_TABLE)
        return Materialised(RESULT_TABLE, columns, int(row_count), elapsed)
