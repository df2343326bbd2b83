"""binding: every column resolves unambiguously; output column names are fixed and unique."""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from generator.errors import Problem
from generator.gates.base import Rule
from generator.sql.context import GateContext
from generator.sql.locate import DIALECT, is_placeholder
from generator.sql.scope import analyze

log = logging.getLogger(__name__)


@lru_cache(maxsize=1024)
def _column_mapping(columns: tuple[tuple[str, str], ...], dialect: str = DIALECT) -> dict[str, str]:
    """One relation's columns as sqlglot's schema stores them (names read as identifiers).

    Reading the names is most of what building a schema costs, and a catalog's relations
    recur in every proposal, so it is done once per column list per process.
    """
    schema = MappingSchema(dialect=dialect, normalize=False)
    try:
        schema.add_table(_TABLE, dict(columns), dialect=dialect)
    except SqlglotError:
        schema.add_table(_TABLE, {name: "unknown" for name, _ in columns}, dialect=dialect)
    return schema.mapping[_TABLE]


_TABLE = "t"


def _schema(ctx: GateContext) -> MappingSchema:
    """The catalog's columns keyed by placeholder, as sqlglot's optimizer wants them."""
    mapping = {}
    dialect = ctx.dialect.sqlglot
    for placeholder, relation in ctx.relations.items():
        columns = tuple((column.name, column.data_type or "unknown") for column in relation.columns)
        mapping[placeholder] = dict(_column_mapping(columns, dialect))
    return MappingSchema(mapping, dialect=dialect, normalize=False)


def qualified_tree(ctx: GateContext) -> exp.Expression | None:
    """`ctx.tree` with every column qualified and every star expanded (sqlglot's optimizer).

    An unaliased `{{ ref('orders') }}` is aliased by its table name first, since that is
    the name DuckDB lets columns use (`orders.id`).
    """
    tree = ctx.tree.copy()
    for table in tree.find_all(exp.Table):
        relation = ctx.relations.get(table.name) if is_placeholder(table.name) else None
        if relation is not None and not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(relation.identifier)))
    for column in tree.find_all(exp.Column):
        relation = ctx.relations.get(column.table) if is_placeholder(column.table) else None
        if relation is not None:
            column.set("table", exp.to_identifier(relation.identifier))
    try:
        return qualify(
            tree,
            schema=_schema(ctx),
            dialect=ctx.dialect.sqlglot,
            validate_qualify_columns=False,
            identify=False,
            quote_identifiers=False,
        )
    except (SqlglotError, KeyError, ValueError, AttributeError, TypeError) as error:
        # Binding's own resolution passed; sqlglot's optimizer not knowing a DuckDB feature
        # must not reject the proposal. Later gates fall back to ctx.tree.
        log.debug("sqlglot could not qualify the proposal: %s", error)
        return None


class BindingRule(Rule):
    """Every column resolves against the catalog, unambiguously; stars expand to unique names."""

    name = "binding"
    requires = ("references",)

    def check(self, ctx: GateContext) -> list[Problem]:
        if ctx.tree is None:
            return []
        problems: list[Problem] = []
        for finding in analyze(ctx).findings:
            problem = ctx.problem(
                self.name,
                finding.message,
                identifier=finding.identifier,
                suggestion=finding.suggestion,
                span=finding.span,
            )
            # Two findings can locate to one problem (same line and column): report it once.
            if problem not in problems:
                problems.append(problem)
        problems.sort(key=lambda p: (p.line or 0, p.col or 0))
        if not problems:
            ctx.qualified = qualified_tree(ctx)
        return problems
