"""Check a DuckDB model's SQL for constructs that change meaning on the target; transpile it.

The SQL is the model file as written (`{{ ref() }}`/`{{ source() }}` are swapped for
same-length placeholders first, so every position is a position in the file). Types come
from sqlglot's annotation, with the input relations' column types when a schema is given
(`{"stg_orders": {"amount": "decimal(18,2)"}}`, keyed by the ref's model or the source's
table name); a rule whose safety hangs on a type it cannot prove refuses.
"""

from __future__ import annotations

from collections.abc import Mapping

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from generator.errors import GenModelError, Problem
from generator.port.rules import BY_NODE
from generator.sql.locate import span
from generator.sql.templating import TemplatedSQL, problem_at, untemplate

SOURCE_DIALECT = "duckdb"
TARGETS = {"spark": "spark", "databricks": "databricks"}


class PortError(GenModelError):
    """The model uses constructs whose rows would differ on the target engine."""

    exit_code = 1


def _target_dialect(target: str) -> str:
    try:
        return TARGETS[target]
    except KeyError:
        raise PortError(f"cannot port to {target!r}: supported targets are {', '.join(sorted(TARGETS))}") from None


def _parse(sql: str, file: str | None):
    templated, problems = untemplate(sql, file)
    if problems:
        raise PortError("the model's SQL has Jinja other than ref() and source(); port its compiled SQL", problems)
    try:
        tree = sqlglot.parse_one(templated.sql, read=SOURCE_DIALECT)
    except SqlglotError as error:
        raise PortError(f"the model's SQL does not parse as DuckDB: {str(error).splitlines()[0]}") from None
    return templated, tree


def _annotated(tree: exp.Expression, templated, schema: Mapping[str, Mapping[str, str]] | None) -> exp.Expression:
    """The tree with types inferred; input columns typed from `schema` where it names them.

    Qualifying first lets types flow from CTEs and subqueries to the columns that read them.
    """
    by_placeholder = {
        call.placeholder: (schema or {})[call.name] for call in templated.calls if call.name in (schema or {})
    }
    try:
        qualified = qualify(tree.copy(), schema=by_placeholder, dialect=SOURCE_DIALECT, validate_qualify_columns=False)
        return annotate_types(qualified, schema=by_placeholder, dialect=SOURCE_DIALECT)
    except SqlglotError:
        return annotate_types(tree, dialect=SOURCE_DIALECT)


def check(
    sql: str,
    target: str = "spark",
    schema: Mapping[str, Mapping[str, str]] | None = None,
    file: str | None = None,
    same_time_zone: bool = False,
) -> list[Problem]:
    """Every construct in `sql` whose rows would differ on `target`, located, with its fix.

    `same_time_zone`: both targets pin one session time zone, so what depends only on it
    is the same on both.
    """
    _target_dialect(target)
    templated, tree = _parse(sql, file)
    annotated = _annotated(tree, templated, schema)
    problems: list[Problem] = []
    seen: set[tuple[int, str]] = set()
    for node in annotated.walk():
        for rule in BY_NODE.get(type(node), ()):
            if rule.time_zone_only and same_time_zone:
                continue
            finding = rule.finding(node)
            if finding is None:
                continue
            where = span(node, templated.sql) or (0, 0)
            if (where[0], rule.name) in seen:
                continue
            seen.add((where[0], rule.name))
            problems.append(
                problem_at(
                    f"port:{rule.name}",
                    finding.message,
                    sql,
                    where[0],
                    max(where[0], where[1]),
                    identifier=node.sql(SOURCE_DIALECT)[:80],
                    suggestion=finding.fix,
                    file=file,
                )
            )
    return sorted(problems, key=lambda problem: (problem.line or 0, problem.col or 0))


def ported(
    sql: str,
    target: str = "spark",
    schema: Mapping[str, Mapping[str, str]] | None = None,
    file: str | None = None,
    same_time_zone: bool = False,
) -> tuple[TemplatedSQL, str]:
    """The model's SQL with placeholders for its inputs, and the target's SQL with the same
    placeholders; raises PortError listing every construct that would change the rows."""
    dialect = _target_dialect(target)
    problems = check(sql, target, schema, file, same_time_zone)
    if problems:
        raise PortError(f"not portable to {target}: {len(problems)} construct(s) would give different rows", problems)
    templated, tree = _parse(sql, file)
    return templated, tree.sql(dialect, pretty=True)


def transpile(
    sql: str,
    target: str = "spark",
    schema: Mapping[str, Mapping[str, str]] | None = None,
    file: str | None = None,
    same_time_zone: bool = False,
) -> str:
    """The model's SQL in the target's dialect, `ref()`/`source()` restored; raises PortError
    listing every construct that would change the rows."""
    templated, target_sql = ported(sql, target, schema, file, same_time_zone)
    return templated.restore(target_sql) + "\n"
