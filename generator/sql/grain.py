"""Grain from the SQL: whether a query guarantees one row per grain, and if not, what repeats rows.

The grain gate checks the dry run's data; data only shows that a grain holds *today*. A grain
the SQL implies (GROUP BY keys, DISTINCT, `qualify row_number() ... = 1`, upstream unique keys
carried through joins that cannot fan out) holds on every day's data. This module answers the
second question from the shared analysis (`sql/scope.py`): which output keys the query has, and,
for a grain that is not one of them, the join, grouping or relation that can repeat a row;
what the grain determines is followed into CTEs and upstream models (`sql/dependencies.py`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from generator.sql.dependencies import dependencies
from generator.sql.locate import display_sql
from generator.sql.scope import Analysis
from generator.sql.shapes import SelectInfo


@dataclass(frozen=True)
class GrainEvidence:
    """What the SQL says about a grain: implied, or why not and where."""

    implied: bool
    reason: str = ""
    node: exp.Expression | None = None
    fix: str = ""


IMPLIED = GrainEvidence(True)


def grain_evidence(analysis: Analysis, tree: exp.Expression | None, grain: list[str]) -> GrainEvidence:
    """Whether the query `tree` (as `analysis` resolved it) guarantees one row per `grain`.

    Anything the analysis could not resolve counts as implied: binding reports unresolved
    names, and a grain the data shows unique is not refused on a guess.
    """
    wanted = {name.lower() for name in grain}
    if isinstance(tree, exp.Subquery):
        tree = tree.unnest()
    if isinstance(tree, exp.SetOperation):
        return _set_operation(tree, wanted, grain)
    info = next((i for i in analysis.selects if i.node is tree), None)
    if info is None or any(o.expression is None for o in info.outputs):
        return IMPLIED
    if any(key <= wanted for key in analysis.output_keys(info)):
        return IMPLIED
    by_name = {o.name.lower(): o.expression for o in info.outputs}
    expressions = [by_name[name] for name in wanted if name in by_name]
    if len(expressions) < len(wanted):
        return IMPLIED  # a grain column the result lacks: the grain gate names it
    return _why_not(analysis, info, expressions, grain)


def _set_operation(tree: exp.SetOperation, wanted: set[str], grain: list[str]) -> GrainEvidence:
    names = {select.alias_or_name.lower() for select in tree.selects}
    if isinstance(tree, exp.Union) and tree.args.get("distinct") and names <= wanted:
        return IMPLIED  # UNION (not ALL) removes repeated rows: the whole row is a key
    operator = "UNION ALL" if isinstance(tree, exp.Union) and not tree.args.get("distinct") else tree.key.upper()
    return GrainEvidence(
        False,
        f"the branches of its {operator} may return the same ({', '.join(grain)})",
        tree,
        "Aggregate over the union, or add to the grain a column that tells the branches apart.",
    )


def _why_not(analysis: Analysis, info: SelectInfo, keys: list[exp.Expression], grain: list[str]) -> GrainEvidence:
    """The first thing that can give two rows one grain value: a grouping expression the grain
    does not determine, or an input whose rows the grain does not identify.

    What the grain determines follows CTEs, subqueries and upstream models
    (`sql/dependencies.py`): grouping by `plan_tier` next to `plan_id` is fine when the
    model it comes from joins plans on their unique `plan_id`.
    """
    search = dependencies(analysis)
    closure = search.closure(analysis, info, search.key_atoms(analysis, info, keys))
    shown = ", ".join(grain)
    if info.aggregated:
        for group in info.group or ():
            if search.determined(analysis, info, group, closure):
                continue
            written = display_sql(group, analysis.ctx.templated)
            return GrainEvidence(
                False,
                f"grouped by {written}, which ({shown}) does not determine",
                group,
                f"Add {written} to the grain, or group by the grain alone and aggregate {written}; if "
                f"({shown}) does determine it through a key, add the unique test upstream that says so.",
            )
        return IMPLIED
    for position, source in enumerate(info.visible_sources):
        if analysis.keyed(source, closure):
            continue
        relation = source.relation.display if source.relation is not None else source.label
        if position and source.join not in ("semi", "anti"):
            return GrainEvidence(
                False,
                f"the join to {relation} can repeat rows: it is not joined on a unique key of {relation}",
                source.node,
                f"Join {relation} on a key with a unique test, aggregate it first, or add its key to the grain.",
            )
        return GrainEvidence(
            False,
            f"no unique test of {relation} makes ({shown}) identify its rows",
            source.node,
            f"If ({shown}) is a key of {relation}, add a unique (or unique_combination_of_columns) test "
            "to it upstream; otherwise declare the grain that identifies a row.",
        )
    return IMPLIED
