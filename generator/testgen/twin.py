"""The unit test on an engine without DuckDB's sandbox (Spark): searched on a DuckDB twin,
its expected rows confirmed once on the engine.

The row search (generator.testgen.unit_fixtures) runs thousands of small queries on a
DuckDB connection; on Spark each would be a job of its own. So on Spark it runs on a twin:

  1. the model's SQL, transpiled to DuckDB by sqlglot, must pass generator.port.check (with
     the inputs' types): no construct known to give other rows on Spark than on DuckDB;
  2. the rows of its inputs are copied from Spark into a scratch DuckDB file, in the DuckDB
     types that hold Spark's values exactly (a type without one, such as a session-zoned
     `timestamp`, refuses): all of them, or, for an input with more rows than
     fixture_search.SOURCE_ROW_LIMIT, a deterministic sample of that many (hash order, as the
     search samples on DuckDB), held in a Spark temp view while the twin is open;
  3. the twin passes the gates on DuckDB and must return as many rows as the model does on
     Spark over the same rows (that run, like each Spark step of the copy, under the dry
     run's time limit per query); the search chooses the fixture rows there and computes the
     expected rows;
  4. the model then runs once on Spark over exactly those given rows
     (generator.port.prove.compare), and Spark's rows must equal DuckDB's.

Any step that refuses means no unit test, and the note says which and why (a construct
located in the model's own file); the unit test's description says how its expected rows
were computed.

`gen-model mutate` on Spark (generator.testgen.modeltests.mutate_on_twin) uses steps 1 to 3
(open_twin) and instead of step 4 proves the twin's result equal to Spark's on the rows the
twin holds (proven_equal: the real inputs, or their samples); its mutants then run in the
twin's sandbox.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlglot import exp

from generator.errors import Problem
from generator.project.catalog import Relation
from generator.sql.context import GateContext
from generator.sql.locate import span
from generator.sql.templating import line_col, untemplate
from generator.testgen.kinds.base import quote

TWIN_DATABASE = "gen_model_twin"
SAMPLE_VIEW = "gen_model_twin_sample_{index}"  # an engine temp view, dropped when the twin closes
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


@dataclass(frozen=True)
class Sample:
    """An input with more rows than the twin carries: a deterministic sample of them was
    copied, and the engine holds exactly those rows in a temp view (for the proof)."""

    relation: Relation
    rows: int  # the input's rows on the engine
    kept: int  # the rows copied into the twin
    view: str
    frame: Any = field(default=None, compare=False, repr=False)  # the view's checkpointed rows

    def describe(self) -> str:
        """What was copied, for the notes."""
        return (
            f"{self.relation.display} has {self.rows:,} rows, more than the twin carries: a deterministic "
            f"sample of {self.kept:,} (hash order, not the first {self.kept:,}) was copied"
        )


@dataclass
class Twin:
    """An open twin: its gate context on DuckDB (`ctx`), the inputs it holds as samples, and,
    when there are samples, the engine's rows of the model over the same sampled rows."""

    ctx: GateContext
    samples: tuple[Sample, ...] = ()
    engine_rows: list[tuple] | None = None

    def inputs_note(self, engine: str) -> str:
        """How the twin's inputs were copied from the engine."""
        if not self.samples:
            return f"its inputs copied whole from {engine}"
        return f"its inputs copied from {engine} ({'; '.join(sample.describe() for sample in self.samples)})"


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


def _copy_inputs(ctx: GateContext, path: Path, limit: int, samples: list[Sample], timeout_s: float) -> None:
    """Each input's rows into the DuckDB file: all of them, or, when there are more than
    `limit`, a deterministic sample of `limit` (appended to `samples`, whose views the
    caller drops). Each Spark step (count, sample, copy) is cancelled past `timeout_s`
    (SandboxTimeout), as the dry run's queries are."""
    import duckdb

    spark, deadline = ctx.sandbox.spark, ctx.sandbox.deadline
    with duckdb.connect(str(path)) as connection:
        for index, relation in enumerate(_inputs(ctx)):
            columns = [(column.name, duckdb_type(column.data_type)) for column in relation.columns]
            if not columns:
                raise Refused(f"{relation.display} has no known columns")
            name = ctx.dialect.relation_name(relation)
            listed = ", ".join(f"`{column}`" for column, _ in columns)
            with deadline(f"select count(*) from {name}", timeout_s):
                count = spark.sql(f"select count(*) from {name}").first()[0]
            if count > limit:
                with deadline(f"a sample of {limit} rows of {name}", timeout_s):
                    sample = _sample(spark, relation, name, [column for column, _ in columns], count, limit, index)
                samples.append(sample)
                name = sample.view
            with deadline(f"select {listed} from {name}", timeout_s):
                rows = [tuple(row) for row in spark.sql(f"select {listed} from {name}").collect()]
            schema = quote(relation.schema)
            connection.execute(f"create schema if not exists {schema}")
            table = f"{schema}.{quote(relation.identifier)}"
            connection.execute(f"create table {table} ({', '.join(f'{quote(c)} {t}' for c, t in columns)})")
            if rows:
                marks = ", ".join("?" for _ in columns)
                connection.executemany(f"insert into {table} values ({marks})", rows)


def _sample(spark, relation: Relation, name: str, columns: list[str], rows: int, limit: int, index: int) -> Sample:
    """`limit` rows of a large input, as the row search samples on DuckDB: a deterministic
    spread (hash order, ties broken by every column), not the first rows. Checkpointed into a
    temp view, so the rows copied and the rows the engine's proof reads are the same."""
    listed = ", ".join(f"`{column}`" for column in columns)
    order = ", ".join([f"xxhash64({listed})", *(f"`{column}` nulls first" for column in columns)])
    frame = spark.sql(f"select {listed} from {name} order by {order} limit {int(limit)}").localCheckpoint(eager=True)
    view = SAMPLE_VIEW.format(index=index)
    frame.createOrReplaceTempView(view)
    return Sample(relation, int(rows), int(limit), view, frame)


def _drop_samples(spark, samples: list[Sample]) -> None:
    """The samples' temp views and checkpointed rows out of the engine's session."""
    for sample in samples:
        with contextlib.suppress(Exception):
            spark.catalog.dropTempView(sample.view)
        with contextlib.suppress(Exception):
            sample.frame.unpersist()


def rows_on_engine(ctx: GateContext, sql: str, what: str, timeout_s: float | None = None) -> list[tuple]:
    """The rows of `sql` (in the engine's SQL) on the engine of `ctx`, its jobs cancelled past
    `timeout_s` (default: the dry run's limit per query), as the dry run's queries are.
    Refused past the limit, or when the engine fails, saying `what` ran: one line, no trace."""
    from generator.project.sandbox import SandboxQueryError, SandboxTimeout

    engine = ctx.dialect.engine
    try:
        with ctx.sandbox.deadline(sql, timeout_s):
            return [tuple(row) for row in ctx.sandbox.spark.sql(sql).collect()]
    except SandboxTimeout as late:
        raise Refused(
            f"{what} on {engine} ran past {late.timeout_s:g} s, the dry run's time limit per query "
            f"({ctx.proposal.sql_file})"
        ) from None
    except SandboxQueryError as error:
        first = (error.summary.strip().splitlines() or ["no message"])[0]
        raise Refused(f"{what} failed on {engine}: {first}") from None


def _over_samples(ctx: GateContext, samples: list[Sample], timeout_s: float) -> list[tuple]:
    """The model's rows on the engine with each sampled input read from its sample (the
    others whole): what the twin must return. It runs under the dry run's time limit: the
    model over large inputs' samples may be as slow as the model itself."""
    views = {sample.relation.unique_id: sample.view for sample in samples}
    tree = ctx.tree.copy()
    for table in list(tree.find_all(exp.Table)):
        relation = ctx.relations.get(table.name)
        if relation is None:
            continue
        name = views.get(relation.unique_id) or ctx.dialect.relation_name(relation)
        replacement = exp.to_table(name, dialect=ctx.dialect.sqlglot)
        # Unaliased, a ref() is known to its columns by the relation's identifier.
        replacement.set("alias", exp.TableAlias(this=exp.to_identifier(table.alias or relation.identifier)))
        table.replace(replacement)
    for column in tree.find_all(exp.Column):
        relation = ctx.relations.get(column.table)
        if relation is not None:
            column.set("table", exp.to_identifier(relation.identifier))
    what = "the model's run over the sampled inputs"
    return rows_on_engine(ctx, tree.sql(dialect=ctx.dialect.sqlglot), what, timeout_s)


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
    construct that gives other rows on Spark (located in the model's own SQL)."""
    from generator.port.check import check

    sql = ctx.templated.restore(ctx.tree.sql(dialect="duckdb", pretty=True)) + "\n"
    problems = check(sql, ctx.dialect.name, schema)
    if problems:
        found = problems[0]
        first = _in_model(ctx, sql, found)
        if first is None:
            first = replace(found, file="its DuckDB twin's SQL")
            shown = f"`{found.identifier}`"
        else:
            # The rule judged the twin's spelling (sqlglot may have rewritten the construct): show both.
            shown = f"`{first.identifier}` (in its DuckDB twin `{first.details['twin']}`)"
        raise Refused(
            f"its SQL may give other rows on DuckDB than on {ctx.dialect.engine} ({first.location()}: "
            f"[{first.rule}] at {shown}: {first.message}" + (f"; {first.suggestion}" if first.suggestion else "") + ")"
        )
    return sql


def _in_model(ctx: GateContext, sql: str, problem: Problem) -> Problem | None:
    """`problem`, found in the twin's SQL (`sql`: the model's, transpiled to DuckDB), moved
    to the model's own SQL: the construct is the node of the same kind, the same occurrence
    of that kind, in the tree parsed in the engine's dialect (transpiling keeps the order of
    a kind's nodes). None when no such node is found."""
    from generator.port.rules import RULES

    kinds = next((rule.nodes for rule in RULES if f"port:{rule.name}" == problem.rule), ())
    twin_node, node = _counterpart(ctx, sql, problem, kinds) if kinds and problem.line else (None, None)
    where = span(node, ctx.templated.sql, ctx.dialect.sqlglot) if node is not None else None
    if where is None:
        return None
    shown = ctx.templated.restore(node.sql(dialect=ctx.dialect.sqlglot))
    located = ctx.problem(problem.rule, problem.message, span=where, identifier=shown)
    if not ctx.proposal.sql_file.endswith(".sql"):
        located = ctx.proposal.locate(located)  # a proposal file: where its SQL sits in it
    twin = ctx.templated.restore(twin_node.sql(dialect="duckdb"))
    return replace(located, suggestion=problem.suggestion, details={"twin": twin})


def _counterpart(ctx: GateContext, sql: str, problem: Problem, kinds: tuple[type, ...]) -> tuple:
    """(the construct at `problem`'s line:col of the twin's SQL, the node of `ctx.tree` it
    was transpiled from), or (None, None)."""
    import sqlglot

    templated, _ = untemplate(sql)
    try:
        twin_tree = sqlglot.parse_one(templated.sql, read="duckdb")
    except sqlglot.errors.SqlglotError:
        return None, None
    lines = templated.sql.split("\n")
    offset = sum(len(line) + 1 for line in lines[: problem.line - 1]) + (problem.col or 1) - 1
    for found in twin_tree.walk():
        if isinstance(found, kinds) and (span(found, templated.sql) or (-1,))[0] == offset:
            in_twin = [node for node in twin_tree.walk() if type(node) is type(found)]
            in_model = [node for node in ctx.tree.walk() if type(node) is type(found)]
            if len(in_model) != len(in_twin):
                return None, None  # the transpile made or merged nodes of this kind: no one-to-one order
            return found, in_model[next(index for index, node in enumerate(in_twin) if node is found)]
    return None, None


def _gated_twin(ctx: GateContext, catalog, sql: str, sandbox, rules=None, rows: int | None = None) -> GateContext:
    """The twin proposal through the gates on DuckDB (by default the same rules as any
    proposal); it must return `rows` rows (by default as many as the model's dry run)."""
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
    rows, twin_rows = ctx.result.row_count if rows is None else rows, twin.result.row_count
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
            timeout_s=ctx.timeout_s,
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
def open_twin(ctx: GateContext, timeout_s: float | None = None, *, rules=None):
    """The DuckDB twin of the model in `ctx` (its dry run on the engine open), gated on DuckDB,
    its result in the twin sandbox's RESULT_TABLE (steps 1 to 3 of the module); Refused if a
    step refuses. The engine's temp views of sampled inputs live as long as the block."""
    from generator.project.sandbox import SandboxTimeout, open_sandbox
    from generator.testgen import fixture_search

    samples: list[Sample] = []
    limit = fixture_search.SOURCE_ROW_LIMIT
    with tempfile.TemporaryDirectory(prefix="gen-model-twin-") as scratch:
        try:
            path = Path(scratch) / f"{TWIN_DATABASE}.duckdb"
            try:
                _copy_inputs(ctx, path, limit, samples, timeout_s or ctx.timeout_s)
            except SandboxTimeout as late:
                raise Refused(
                    f"copying its inputs from {ctx.dialect.engine} (all rows, or a sample of {limit:,} of an input "
                    f"with more) ran past {late.timeout_s:g} s, the dry run's time limit per query"
                ) from None
            catalog = _twin_catalog(ctx.catalog, path)
            sql = _portable_sql(ctx, _input_types(ctx))
            engine_rows = _over_samples(ctx, samples, timeout_s or ctx.timeout_s) if samples else None
            with open_sandbox(catalog, timeout_s or ctx.timeout_s) as sandbox:
                rows = None if engine_rows is None else len(engine_rows)
                twin = _gated_twin(ctx, catalog, sql, sandbox, rules, rows)
                yield Twin(twin, tuple(samples), engine_rows)
        finally:
            _drop_samples(ctx.sandbox.spark, samples)


def proven_equal(ctx: GateContext, twin: Twin) -> int:
    """The number of rows when the twin's result equals the engine's on the rows the twin
    holds (the real inputs: the engine's RESULT_TABLE; or their samples), else Refused
    naming rows that differ."""
    from generator.port.prove import comparable
    from generator.project.sandbox import RESULT_TABLE

    engine = ctx.dialect.engine
    if twin.engine_rows is None:
        on_engine = comparable(ctx.sandbox.execute(f"select * from {RESULT_TABLE}"))
    else:
        on_engine = comparable(twin.engine_rows)
    on_twin = comparable(twin.ctx.sandbox.execute(f"select * from {RESULT_TABLE}"))
    if on_engine != on_twin:
        only_twin = [row for row in on_twin if row not in on_engine][:2]
        only_engine = [row for row in on_engine if row not in on_twin][:2]
        rows_of = "the real inputs" if not twin.samples else "the rows it holds"
        raise Refused(
            f"on {rows_of} its DuckDB twin returns other rows than {engine} "
            f"(DuckDB only: {only_twin}; {engine} only: {only_engine})"
        )
    return len(on_engine)


def mutation_note(ctx: GateContext, twin: Twin, rows: int) -> str:
    """The mutation report's note on where its mutants ran."""
    engine = ctx.dialect.engine
    return (
        f"mutants run on a DuckDB twin, proven equal on {rows:,} rows: its SQL transpiled to DuckDB (no "
        f"construct known to differ between the engines), {twin.inputs_note(engine)}; the SQL shown is the "
        f"twin's in {engine} SQL, the line numbers are the model's"
    )


def model_lines(ctx: GateContext, twin: GateContext) -> dict[int, int]:
    """Line of the twin's SQL -> line of the model's SQL (in `ctx`). Nodes are paired by kind
    and occurrence, as for a refused construct (a kind the transpile made more or fewer of is
    left out); each twin line maps to the model line of its first positioned node."""
    by_kind: dict[type, tuple[list, list]] = {}
    for side, tree in enumerate((twin.tree, ctx.tree)):
        for node in tree.walk():
            by_kind.setdefault(type(node), ([], []))[side].append(node)
    first: dict[int, tuple[int, int]] = {}  # twin line -> (offset in the twin's SQL, model line)
    for in_twin, in_model in by_kind.values():
        if len(in_twin) != len(in_model):
            continue
        for twin_node, model_node in zip(in_twin, in_model, strict=True):
            if "start" not in (twin_node.meta or {}) or "start" not in (model_node.meta or {}):
                continue
            offset = twin_node.meta["start"]
            line = line_col(twin.templated.sql, offset)[0]
            if line not in first or offset < first[line][0]:
                first[line] = (offset, line_col(ctx.templated.sql, model_node.meta["start"])[0])
    return {line: model_line for line, (_, model_line) in first.items()}


def in_model_lines(ctx: GateContext, twin: Twin, report):
    """The mutation report with each mutant's line moved from the twin's SQL to the model's
    (model_lines; a twin line without a positioned node takes the nearest one above it)."""
    lines = model_lines(ctx, twin.ctx)
    for outcome in report.outcomes:
        line = outcome.mutant.line
        known = [twin_line for twin_line in lines if line is not None and twin_line <= line]
        outcome.mutant = replace(outcome.mutant, line=lines[max(known)] if known else None)
    return report


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
        with open_twin(ctx, timeout_s) as opened:
            twin = opened.ctx
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
