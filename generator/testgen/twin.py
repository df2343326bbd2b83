"""The unit test on an engine without DuckDB's sandbox (Spark): searched on a DuckDB twin,
its expected rows confirmed once on the engine.

The row search (generator.testgen.unit_fixtures) runs thousands of small queries on a
DuckDB connection; on Spark each would be a job of its own. So on Spark it runs on a twin:

  1. the model's SQL, transpiled to DuckDB by sqlglot, must pass generator.port.check (with
     the inputs' types): no construct known to give other rows on Spark than on DuckDB;
  2. the rows of its inputs (all of them, up to unit_fixtures.SOURCE_ROW_LIMIT each) are
     copied from Spark into a scratch DuckDB file, in the DuckDB types that hold Spark's
     values exactly (a type without one, such as a session-zoned `timestamp`, refuses);
  3. the twin passes the gates on DuckDB and must return as many rows as the model did on
     Spark; the search chooses the fixture rows there and computes the expected rows;
  4. the model then runs once on Spark over exactly those given rows
     (generator.port.prove.compare), and Spark's rows must equal DuckDB's.

Any step that refuses means no unit test, and the note says which and why; the unit
test's description says how its expected rows were computed.

`gen-model mutate` on Spark (generator.testgen.modeltests.mutate_on_twin) uses steps 1 to 3
(open_twin), every input carried whole, and instead of step 4 proves the twin's result equal
to Spark's on the real inputs (proven_equal); its mutants then run in the twin's sandbox.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from dataclasses import replace
from pathlib import Path

from generator.sql.context import GateContext
from generator.testgen.kinds.base import quote

TWIN_DATABASE = "gen_model_twin"
# Spark type (simpleString) -> the DuckDB type that holds its values exactly. A Spark
# `timestamp` is an instant shown in the session's time zone: pyspark hands it over in
# the process's local time, so it is not carried (the search would see other values).
DUCKDB_TYPES = {
    "string": "varchar",
    "boolean": "boolean",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "int": "integer",
    "bigint": "bigint",
    "float": "float",
    "double": "double",
    "date": "date",
    "timestamp_ntz": "timestamp",
}
DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


class Refused(Exception):
    """A step of the twin refused: the note says why (no unit test)."""


def duckdb_type(spark_type: str) -> str:
    """The DuckDB type of a Spark column; Refused when no DuckDB type holds its values exactly."""
    kind = (spark_type or "").strip().lower()
    match = DECIMAL.fullmatch(kind.replace(" ", ""))
    if match:
        return f"decimal({match[1]},{match[2]})"
    if kind not in DUCKDB_TYPES:
        raise Refused(f"a {kind or 'untyped'} input column cannot be carried to DuckDB exactly")
    return DUCKDB_TYPES[kind]


def _inputs(ctx: GateContext) -> list:
    """The distinct input relations of the model, in the order the SQL first reads them."""
    found = []
    for relation in ctx.relations.values():
        if relation not in found:
            found.append(relation)
    return found


def _copy_inputs(ctx: GateContext, path: Path, limit: int, whole: bool = False) -> None:
    """Each input's rows (at most `limit`, in a deterministic order) into the DuckDB file;
    with `whole`, an input with more rows refuses (the twin must hold all the real data)."""
    import duckdb

    spark = ctx.sandbox.spark
    with duckdb.connect(str(path)) as connection:
        for relation in _inputs(ctx):
            columns = [(column.name, duckdb_type(column.data_type)) for column in relation.columns]
            if not columns:
                raise Refused(f"{relation.display} has no known columns")
            name = ctx.dialect.relation_name(relation)
            listed = ", ".join(f"`{column}`" for column, _ in columns)
            query = f"select {listed} from {name}"
            count = spark.sql(f"select count(*) from {name}").first()[0]
            if count > limit and whole:
                raise Refused(f"{relation.display} has {count:,} rows, more than the twin carries ({limit:,})")
            if count > limit:
                query += " order by " + ", ".join(f"`{column}` nulls first" for column, _ in columns)
                query += f" limit {int(limit)}"
            rows = [tuple(row) for row in spark.sql(query).collect()]
            schema = quote(relation.schema)
            connection.execute(f"create schema if not exists {schema}")
            table = f"{schema}.{quote(relation.identifier)}"
            connection.execute(f"create table {table} ({', '.join(f'{quote(c)} {t}' for c, t in columns)})")
            if rows:
                marks = ", ".join("?" for _ in columns)
                connection.executemany(f"insert into {table} values ({marks})", rows)


def _twin_catalog(catalog, path: Path):
    """The catalog as a DuckDB target over the twin file: every relation in the twin database,
    its columns in DuckDB's types (a column without one keeps Spark's: it is no input)."""

    def typed(column):
        with contextlib.suppress(Refused):
            return replace(column, data_type=duckdb_type(column.data_type))
        return column

    relations = tuple(
        replace(relation, database=TWIN_DATABASE, columns=tuple(typed(c) for c in relation.columns))
        for relation in catalog.relations
    )
    return replace(
        catalog,
        relations=relations,
        adapter_type="duckdb",
        database_path=path,
        database_name=TWIN_DATABASE,
        session_settings=(),
    )


def _input_types(ctx: GateContext) -> dict[str, dict[str, str]]:
    """Each input's columns in DuckDB's types, keyed as generator.port.check reads them."""
    return {
        call.name: {c.name: duckdb_type(c.data_type) for c in ctx.relations[call.placeholder].columns}
        for call in ctx.templated.calls
        if call.placeholder in ctx.relations
    }


def _portable_sql(ctx: GateContext, schema: dict) -> str:
    """The model's SQL in DuckDB's dialect, refs restored; Refused if port.check finds a
    construct that gives other rows on Spark."""
    from generator.port.check import check

    sql = ctx.templated.restore(ctx.tree.sql(dialect="duckdb", pretty=True)) + "\n"
    problems = check(sql, ctx.dialect.name, schema)
    if problems:
        first = problems[0]
        raise Refused(
            f"its SQL may give other rows on DuckDB than on {ctx.dialect.engine} ({first.rule}: {first.message}"
            + (f", at `{first.identifier}`" if first.identifier else "")
            + (f"; {first.suggestion}" if first.suggestion else "")
            + ")"
        )
    return sql


def _gated_twin(ctx: GateContext, catalog, sql: str, sandbox, rules=None) -> GateContext:
    """The twin proposal through the gates on DuckDB (by default the same rules as any proposal)."""
    from generator.gates import GATES, run_gates

    twin = GateContext(
        proposal=replace(ctx.proposal, sql=sql),
        catalog=catalog,
        allow_nondeterministic=ctx.allow_nondeterministic,
        allow_observed_grain=ctx.allow_observed_grain,
        timeout_s=ctx.timeout_s,
        sandbox=sandbox,
    )
    report = run_gates(twin, GATES if rules is None else rules)
    if not report.passed:
        problems = [problem for outcome in report.outcomes for problem in outcome.problems]
        skipped = [outcome.name for outcome in report.outcomes if outcome.status == "skipped"]
        first = problems[0].message if problems else f"skipped: {', '.join(skipped) or 'a gate'}"
        raise Refused(f"its DuckDB twin does not pass the gates: {first}")
    rows, twin_rows = ctx.result.row_count, twin.result.row_count
    if rows != twin_rows:
        raise Refused(f"its DuckDB twin returns {twin_rows:,} rows, {ctx.dialect.engine} {rows:,}")
    return twin


def _confirmed(ctx: GateContext, twin: GateContext, unit_test) -> int:
    """Run the model on the unit test's given rows on DuckDB and on the engine; the number of
    rows when they are equal, else Refused."""
    from generator.port.prove import InputRows, ProofError, compare
    from generator.testgen.unit_runner import placeholders_by_input

    given = {item.input: item.rows for item in unit_test.given}
    twin_inputs = placeholders_by_input(twin)
    # Both engines' SQL, each with its own placeholders; every placeholder gets its input's rows.
    inputs = {}
    for context in (ctx, twin):
        for text, placeholders in placeholders_by_input(context).items():
            relation = twin.relations[twin_inputs[text][0]]
            columns = tuple((column.name, column.data_type) for column in relation.columns)
            for placeholder in placeholders:
                inputs[placeholder] = InputRows(columns, tuple(given.get(text, ())))
    try:
        rows = compare(
            unit_test.name,
            twin.tree.sql(dialect="duckdb"),
            ctx.tree.sql(dialect=ctx.dialect.sqlglot),
            inputs,
            ctx.sandbox.spark,
        )
    except ProofError as error:
        raise Refused(str(error)) from None
    if not rows.equal:
        raise Refused(
            f"on its given rows {ctx.dialect.engine} returns other rows than DuckDB "
            f"(DuckDB only: {list(rows.only_duckdb[:2])}; {ctx.dialect.engine} only: {list(rows.only_target[:2])})"
        )
    return rows.rows


@contextlib.contextmanager
def open_twin(ctx: GateContext, timeout_s: float | None = None, *, whole: bool = False, rules=None):
    """The DuckDB twin of the model in `ctx` (its dry run on the engine open), gated on DuckDB,
    its result in the twin sandbox's RESULT_TABLE (steps 1 to 3 of the module); Refused if a
    step refuses. With `whole`, every input is carried whole or the twin refuses."""
    from generator.project.sandbox import open_sandbox
    from generator.testgen.unit_fixtures import SOURCE_ROW_LIMIT

    with tempfile.TemporaryDirectory(prefix="gen-model-twin-") as scratch:
        path = Path(scratch) / f"{TWIN_DATABASE}.duckdb"
        _copy_inputs(ctx, path, SOURCE_ROW_LIMIT, whole)
        catalog = _twin_catalog(ctx.catalog, path)
        sql = _portable_sql(ctx, _input_types(ctx))
        with open_sandbox(catalog, timeout_s or ctx.timeout_s) as sandbox:
            yield _gated_twin(ctx, catalog, sql, sandbox, rules)


def proven_equal(ctx: GateContext, twin: GateContext) -> int:
    """The number of rows when the twin's result equals the engine's on the real inputs
    (both results in their RESULT_TABLE), else Refused naming rows that differ."""
    from generator.port.prove import comparable
    from generator.project.sandbox import RESULT_TABLE

    engine = ctx.dialect.engine
    on_engine = comparable(ctx.sandbox.execute(f"select * from {RESULT_TABLE}"))
    on_twin = comparable(twin.sandbox.execute(f"select * from {RESULT_TABLE}"))
    if on_engine != on_twin:
        only_twin = [row for row in on_twin if row not in on_engine][:2]
        only_engine = [row for row in on_engine if row not in on_twin][:2]
        raise Refused(
            f"on the real inputs its DuckDB twin returns other rows than {engine} "
            f"(DuckDB only: {only_twin}; {engine} only: {only_engine})"
        )
    return len(on_engine)


def twin_unit_test(ctx: GateContext, *, model: str, version: int | None, timeout_s: float | None = None):
    """The unit test for the accepted SQL in `ctx` (its dry run on Spark open), searched on a
    DuckDB twin and confirmed on Spark: (UnitTest or None, a note or None)."""
    from generator.project.sandbox import SandboxQueryError
    from generator.testgen.mutate import enumerate_mutants
    from generator.testgen.unit_fixtures import build_unit_test

    engine = ctx.dialect.engine
    if ctx.tree is None or not ctx.relations or ctx.result is None:
        return None, "no parsed SQL or no inputs: no unit test"
    try:
        with open_twin(ctx, timeout_s) as twin:
            built, _, problem = build_unit_test(
                twin, enumerate_mutants(twin), model=model, version=version, timeout_s=timeout_s
            )
            if built is None:
                return None, f"on {engine}, searched on its DuckDB twin: {problem}"
            rows = _confirmed(ctx, twin, built)
    except Refused as why:
        return None, f"on {engine}: no unit test: {why}"
    except SandboxQueryError as error:
        return None, f"on {engine}: no unit test: its DuckDB twin failed: {error.summary}"
    description = (
        f"{built.description} The rows were searched on a DuckDB twin of the {engine} inputs (the SQL transpiled, "
        f"no construct known to differ between the engines); the expected rows were then computed once on "
        f"{engine} from these given rows and equal DuckDB's ({rows} rows)."
    )
    return replace(built, description=description), None
