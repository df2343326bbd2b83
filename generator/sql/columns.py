"""Which columns of each input relation a query reads.

One answer for everyone who asks: the lockfile records these columns as what the model
uses upstream, and unit-test fixtures give rows only these columns (the rest are null).

Reading counts wherever a column appears: outputs, filters, joins, group by, windows.
Columns are followed through CTEs and subqueries by demand: an import CTE's `select *`
(expanded by the binding gate) reads only the columns something downstream uses from it,
while its filters and joins always count, even when no column of it is used
(`count(*)` over a filtered CTE still reads the filter column).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.optimizer.scope import Scope

from generator.sql.context import GateContext, qualified_scope

# The demand for a source read without naming any of its columns (count(*) over a CTE):
# no projection matches it, but the source's filters and joins still read their columns.
_ROWS_ONLY = "\0"


def columns_read(ctx: GateContext) -> dict[str, set[str]] | None:
    """placeholder -> the columns the query reads from that input, spelled as the catalog does.

    Only inputs something is read from appear. None when it cannot be told: the binding
    gate left no qualified tree, or sqlglot cannot build scopes over it.
    """
    root = qualified_scope(ctx)
    if root is None:
        return None
    found: dict[str, set[str]] = {}
    seen: set[tuple[int, str | None]] = set()

    def add(table: exp.Table, column: str) -> None:
        relation = ctx.relations.get(table.name)
        if relation is None:
            return
        known = relation.column(column)
        found.setdefault(table.name, set()).add(known.name if known else column)

    def visit(scope: Scope, demanded: str | None) -> None:
        key = (id(scope), demanded)
        if key in seen:
            return
        seen.add(key)
        if scope.set_operation_scopes:
            for branch in scope.set_operation_scopes:
                visit(branch, None)
            return
        select = scope.expression
        for column in scope.columns:
            if demanded is not None:
                projection = _projection_of(column, select)
                if projection is not None and projection != demanded:
                    continue
            source = scope.sources.get(column.table)
            if isinstance(source, exp.Table):
                add(source, column.name)
            elif isinstance(source, Scope):
                visit(source, column.name.lower())
        for child in [*scope.subquery_scopes, *scope.udtf_scopes]:
            visit(child, None)
        for source in scope.sources.values():
            if isinstance(source, Scope):
                visit(source, _ROWS_ONLY)

    visit(root, None)
    return found


def _projection_of(column: exp.Column, select: exp.Expression) -> str | None:
    """The (lowercase) output name of the select item `column` sits in; None outside them."""
    node = column
    while node is not None and node.parent is not select:
        node = node.parent
    if node is not None and node.arg_key == "expressions":
        return node.alias_or_name.lower()
    return None
