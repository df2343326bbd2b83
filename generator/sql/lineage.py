"""Column-level lineage of an accepted proposal: a thin wrapper over `sqlglot.lineage`.

For each output column: the upstream relation columns it reads, and how it is made from
them (a pass-through, a rename, an aggregate, or some other expression). Test derivation
and the review artifact read this; the YAML carries it in `meta.gen_model.lineage`.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage

from generator.project.catalog import Relation
from generator.sql.context import GateContext


@dataclass(frozen=True)
class Upstream:
    """One upstream column an output column reads."""

    relation: Relation
    column: str

    def display(self) -> str:
        return f"{self.relation.display}.{self.column}"


@dataclass(frozen=True)
class ColumnLineage:
    """Where one output column comes from."""

    column: str
    upstream: tuple[Upstream, ...]
    transform: str  # pass-through | renamed | aggregate:<fn> | expression | constant | unknown
    expression: str  # the select expression as written in the final select

    @property
    def aggregate(self) -> str | None:
        return self.transform.split(":", 1)[1] if self.transform.startswith("aggregate:") else None


def _schema(ctx: GateContext) -> dict:
    return {
        placeholder: {column.name: column.data_type or "varchar" for column in relation.columns}
        for placeholder, relation in ctx.relations.items()
    }


def _unwrap(expression: exp.Expression) -> exp.Expression:
    return expression.this if isinstance(expression, exp.Alias) else expression


def _core(expression: exp.Expression) -> exp.Expression:
    """Strip casts and coalesce-with-default wrappers: `coalesce(sum(x), 0)` is a sum."""
    while True:
        if isinstance(expression, (exp.Cast, exp.TryCast, exp.Paren, exp.Filter)):
            expression = expression.this
        elif isinstance(expression, exp.Coalesce) and expression.this is not None:
            expression = expression.this
        else:
            return expression


def _transform(root: Node, output: str) -> str:
    """How the output is made: the first link in the chain that is more than a column."""
    chain = [node for node in root.walk()]
    expressions = [_unwrap(node.expression) for node in chain if not isinstance(node.expression, exp.Table)]
    if not expressions:
        return "unknown"
    for expression in expressions:
        core = _core(expression)
        if isinstance(core, exp.Column):
            continue  # a pass-through link (through a CTE, a subquery, a coalesce default)
        if isinstance(core, exp.AggFunc):
            return f"aggregate:{core.key}"
        if not list(core.find_all(exp.Column)):
            return "constant"
        return "expression"
    leaves = [node for node in chain if not node.downstream]
    names = {node.name.split(".")[-1].lower() for node in leaves}
    return "pass-through" if names == {output.lower()} else "renamed"


def _leaf_upstream(node: Node, ctx: GateContext) -> Upstream | None:
    if not isinstance(node.source, exp.Table):
        return None
    relation = ctx.relations.get(node.source.name)
    if relation is None:
        return None
    column = node.name.split(".")[-1]
    known = relation.column(column)
    return Upstream(relation, known.name if known else column)


def column_lineage(ctx: GateContext) -> list[ColumnLineage]:
    """Lineage of every output column, in output order (needs the binding gate's tree)."""
    tree = ctx.qualified
    if tree is None or not isinstance(tree, exp.Query):
        return []
    schema = _schema(ctx)
    result = []
    for output in tree.named_selects:
        try:
            root = lineage(output, tree, schema=schema, dialect=ctx.dialect.sqlglot, trim_selects=False)
        except (SqlglotError, KeyError, ValueError, AttributeError):
            result.append(ColumnLineage(output, (), "unknown", ""))
            continue
        upstream: dict[str, Upstream] = {}
        for node in root.walk():
            if not node.downstream:
                found = _leaf_upstream(node, ctx)
                if found:
                    upstream.setdefault(found.display(), found)
        expression = _unwrap(root.expression)
        result.append(
            ColumnLineage(
                column=output,
                upstream=tuple(upstream[key] for key in sorted(upstream)),
                transform=_transform(root, output),
                expression=ctx.templated.restore(expression.sql(dialect=ctx.dialect.sqlglot)) if ctx.templated else "",
            )
        )
    return result


def lineage_meta(lineages: list[ColumnLineage]) -> dict:
    """The YAML form: `{column: {from: [ref('x').col, ...], transform: ...}}`, in output order."""
    return {
        item.column: {"from": [upstream.display() for upstream in item.upstream], "transform": item.transform}
        for item in lineages
    }
