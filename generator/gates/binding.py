"""binding: every column resolves unambiguously; output column names are fixed and unique."""

from __future__ import annotations

import logging

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.qualify import qualify
from sqlglot.schema import MappingSchema

from generator.errors import Problem
from generator.gates.base import GateContext, Rule
from generator.gates.locate import DIALECT, is_placeholder
from generator.gates.scope import RULE, analyze

log = logging.getLogger(__name__)


def _schema(ctx: GateContext) -> MappingSchema:
    """The catalog's columns keyed by placeholder, as sqlglot's optimizer wants them."""
    schema = MappingSchema(dialect=DIALECT, normalize=False)
    for placeholder, relation in ctx.relations.items():
        columns = {}
        for column in relation.columns:
            columns[column.name] = column.data_type or "unknown"
        try:
            schema.add_table(placeholder, columns, dialect=DIALECT)
        except SqlglotError:
            schema.add_table(placeholder, {name: "unknown" for name in columns}, dialect=DIALECT)
    return schema


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
            dialect=DIALECT,
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

    name = RULE
    requires = ("references",)

    def check(self, ctx: GateContext) -> list[Problem]:
        if ctx.tree is None:
            return []
        analysis = analyze(ctx)
        problems = sorted(analysis.problems, key=lambda p: (p.line or 0, p.col or 0))
        if not problems:
            ctx.qualified = qualified_tree(ctx)
        return problems
