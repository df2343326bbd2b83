"""The proposal as SQL DuckDB can run: placeholders swapped for the relations they stand for.

Pure rewriting, no connection: `executable` keeps the proposal's own text (so DuckDB's
error positions map back to it), `runnable_sql` prints a (possibly rewritten) tree, with
each placeholder reading its relation or a table of the caller's choosing. The sandbox
(`generator.project.sandbox`) runs what these return.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp


@dataclass(frozen=True)
class ExecutableSQL:
    """The proposal's SQL with placeholders swapped for relation names, and a way back.

    `edits` are (start, end, replacement) in the templated SQL (end exclusive), sorted.
    `positions_map` is false when the SQL had to be regenerated from the tree, so offsets
    in it say nothing about the proposal's text.
    """

    sql: str
    templated: str
    edits: tuple[tuple[int, int, str], ...]
    positions_map: bool = True

    def original_offset(self, offset: int) -> int:
        """The offset in the proposal's SQL that an offset in `sql` comes from."""
        shift = 0
        for start, end, replacement in self.edits:
            new_start = start + shift
            if offset < new_start:
                break
            if offset < new_start + len(replacement):
                return start  # inside a relation name: point at the ref() call
            shift += len(replacement) - (end - start)
        return max(0, offset - shift)

    def offset_of(self, line: int, col: int) -> int:
        """Character offset in `sql` of a 1-based line and column."""
        lines = self.sql.split("\n")
        line = max(1, min(line, len(lines)))
        return sum(len(text) + 1 for text in lines[: line - 1]) + max(0, col - 1)


def executable(ctx: Any) -> ExecutableSQL:
    """Build the SQL DuckDB runs from `ctx.templated`, `ctx.tree` and `ctx.relations`.

    Every identifier in the parsed tree that is a placeholder becomes its relation's quoted
    `relation_name`, exactly what dbt renders `ref()`/`source()` to. The swap is made at the
    identifiers' token offsets, which the tree gives us: a placeholder-like word inside a
    string literal or a comment is not an identifier and is left alone, and everything
    else (layout, comments) stays as written, so DuckDB executes the proposal's own text
    and its error positions map back to the proposal line by line.
    """
    templated = ctx.templated.sql
    edits: dict[int, tuple[int, int, str]] = {}
    unpositioned = False
    for identifier in ctx.tree.find_all(exp.Identifier):
        relation = ctx.relations.get(identifier.name)
        if relation is None:
            continue
        meta = identifier.meta
        if "start" not in meta or "end" not in meta:
            unpositioned = True
            break
        edits[meta["start"]] = (meta["start"], meta["end"] + 1, ctx.dialect.relation_name(relation))
    if unpositioned:
        return _regenerated(ctx)
    ordered = tuple(edits[start] for start in sorted(edits))
    pieces, last = [], 0
    for start, end, replacement in ordered:
        pieces += [templated[last:start], replacement]
        last = end
    pieces.append(templated[last:])
    sql = _without_final_semicolon("".join(pieces))
    return ExecutableSQL(sql=sql, templated=templated, edits=ordered)


def executable_sql(ctx: Any) -> str:
    """The proposal as SQL DuckDB can run: placeholders replaced by quoted relation names."""
    return executable(ctx).sql


def _regenerated(ctx: Any) -> ExecutableSQL:
    """Fallback for trees built without token positions: rewrite the tree and print it."""

    def swap(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Identifier) and node.name in ctx.relations:
            relation = ctx.relations[node.name]
            parts = [relation.database, relation.schema, relation.identifier]
            return exp.Dot.build([exp.to_identifier(part, quoted=True) for part in parts])
        return node

    tree = ctx.tree.copy().transform(swap)
    return ExecutableSQL(
        sql=tree.sql(dialect=ctx.dialect.sqlglot), templated=ctx.templated.sql, edits=(), positions_map=False
    )


def _without_final_semicolon(sql: str) -> str:
    """Drop a trailing `;` so the query can be wrapped; comments after it are kept."""
    from sqlglot.dialects.duckdb import DuckDB
    from sqlglot.errors import TokenError

    try:
        tokens = DuckDB().tokenize(sql)
    except TokenError:
        return sql
    while tokens and tokens[-1].token_type.name == "SEMICOLON":
        last = tokens.pop()
        sql = sql[: last.start] + " " + sql[last.end + 1 :]
    return sql


def runnable_sql(tree: exp.Expression, relations: dict, tables: dict[str, str] | None = None) -> str:
    """DuckDB SQL for a tree with placeholders: each reads its relation, or `tables[placeholder]`."""
    copy = tree.copy()
    for table in list(copy.find_all(exp.Table)):
        relation = relations.get(table.name)
        if relation is None:
            continue
        alias = table.alias or relation.identifier
        if tables and table.name in tables:
            replacement = exp.Table(this=exp.to_identifier(tables[table.name], quoted=True))
        else:
            replacement = exp.Table(
                this=exp.to_identifier(relation.identifier, quoted=True),
                db=exp.to_identifier(relation.schema, quoted=True),
                catalog=exp.to_identifier(relation.database, quoted=True),
            )
        replacement.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        table.replace(replacement)
    for column in copy.find_all(exp.Column):
        relation = relations.get(column.table)
        if relation is not None:
            column.set("table", exp.to_identifier(relation.identifier))
    return copy.sql(dialect="duckdb")
