"""What the unit-test row search knows about a model's inputs, read from the SQL and the catalog.

Which columns the SQL reads of each input, its keys, the joins between inputs (`join_edges`),
which input is whose parent (`parent_links`), the columns it compares with text literals
(`categorical_columns`), truncates or compares as dates (`temporal_columns`) or passes
through, and whether given rows could really occur (`constraint_violations`: a fixture must
break no test of its inputs). Shared analysis for `fixture_search` and `fixture_chooser`; it
runs no query and chooses nothing (the overview is `generator.testgen.unit_fixtures`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from sqlglot import exp

from generator.sql.context import GateContext

_INPUT_CALL = re.compile(
    r"^\s*(?:ref\(\s*'(?P<ref>[^']+)'\s*(?:,\s*v(?:ersion)?\s*=\s*(?P<v>\d+)\s*)?\)"
    r"|source\(\s*'(?P<src>[^']+)'\s*,\s*'(?P<table>[^']+)'\s*\))\s*$"
)


def relation_of_input(catalog, text: str):
    """The catalog relation a unit test's `input:` (`ref('x')`, `source('a', 'b')`) names."""
    found = _INPUT_CALL.match(text)
    if found is None:
        return None
    if found.group("ref"):
        return catalog.ref(found.group("ref"), int(found.group("v")) if found.group("v") else None)
    return catalog.source(found.group("src"), found.group("table"))


def _get(row: dict, column: str) -> tuple[bool, object]:
    for key, value in row.items():
        if str(key).lower() == column.lower():
            return True, value
    return False, None


def constraint_violations(given, relations: dict[str, object]) -> list[str]:
    """What in a unit test's given rows no warehouse that passes the inputs' tests could hold:
    a repeated unique key (or a repeated row of an input that has one), a null in a not_null
    column, a value outside accepted_values, a child row whose parent (an input of the same
    test) is missing. `relations` maps each given input's text to its catalog relation."""
    problems: list[str] = []
    by_id = {getattr(relation, "unique_id", None): text for text, relation in relations.items() if relation}
    rows_of = {item.input: list(item.rows) for item in given}
    for item in given:
        relation = relations.get(item.input)
        if relation is None:
            continue
        rows = list(item.rows)
        keys = unique_keys(relation)
        if keys:
            seen = Counter(repr(sorted((str(k).lower(), repr(v)) for k, v in row.items())) for row in rows)
            if any(count > 1 for count in seen.values()):
                problems.append(f"{item.input}: a row is given twice, but {relation.name} has a unique key")
        for key in keys:
            values = [tuple(_get(row, column) for column in key) for row in rows]
            if not all(all(present for present, _ in value) for value in values):
                continue
            counted = Counter(
                tuple(repr(v) for _, v in value) for value in values if all(v is not None for _, v in value)
            )
            for value, count in counted.items():
                if count > 1:
                    shown = f"{', '.join(key)} = {', '.join(value)}"
                    problems.append(f"{item.input}: {shown} is given {count} times (unique)")
        for column in relation.columns:
            for position, row in enumerate(rows, start=1):
                present, value = _get(row, column.name)
                # An absent column is null to dbt: as impossible in a not_null column as a null given.
                if value is None and (column.not_null or (column.name,) == tuple(relation.primary_key)):
                    null = "is null" if present else "is not given (null to dbt)"
                    problems.append(f"{item.input}: row {position}: {column.name} {null} (not_null)")
                if value is not None and column.accepted_values and str(value) not in column.accepted_values:
                    problems.append(f"{item.input}: row {position}: {column.name} = {value!r} is not an accepted value")
        for key in relation.foreign_keys:
            parent_text = by_id.get(key.to)
            if parent_text is None or parent_text == item.input:
                continue
            found = (_get(row, key.to_column) for row in rows_of.get(parent_text, []))
            parents = {str(value) for present, value in found if present}
            for position, row in enumerate(rows, start=1):
                present, value = _get(row, key.column)
                if present and value is not None and str(value) not in parents:
                    problems.append(
                        f"{item.input}: row {position}: {key.column} = {value!r} has no row in {parent_text} "
                        f"(relationships to {key.to_column})"
                    )
    return problems


# -- choosing the rows -----------------------------------------------------------------------


def is_temporal(relation, name: str) -> bool:
    column = relation.column(name)
    return column is not None and (column.data_type or "").lower().startswith(("timestamp", "date"))


# Types whose values a sum or an average adds (DuckDB's names, lower case, by prefix).
NUMERIC_TYPES = ("int", "bigint", "smallint", "tinyint", "hugeint", "decimal", "numeric", "double", "float", "real")


@dataclass
class FixtureInput:
    index: int
    text: str  # ref('x') as the SQL writes it
    placeholders: list[str]
    relation: object
    read: list[str]  # the columns given: those the SQL reads, the key, the not_null and unique ones
    # Column sets the input's tests make unique (its primary key, unique columns): a row is
    # never repeated in a fixture of such an input, since its key would be repeated too.
    keys: list[tuple[str, ...]] = field(default_factory=list)
    # The columns the SQL reads and the key (the relation's order): the rows are numbered and
    # seeded by these, so a column given only to keep a row possible moves no choice.
    searched: list[str] = field(default_factory=list)
    source: str = ""
    view: str = ""
    select: str = ""
    rows: int = 0


@dataclass(frozen=True)
class ParentLink:
    """A relationships test between two inputs of the model: each non-null `column` of the
    child input is a `parent_column` value of the parent input."""

    child: int
    column: str
    parent: int
    parent_column: str


def unique_keys(relation) -> list[tuple[str, ...]]:
    """The column sets a relation's tests (or its primary key) make unique."""
    keys: list[tuple[str, ...]] = []
    if relation.primary_key:
        keys.append(tuple(relation.primary_key))
    for column in relation.columns:
        if column.unique and (column.name,) not in keys:
            keys.append((column.name,))
    return keys


def bounded_columns(relation) -> set[str]:
    """The columns (lower case) whose values a test of `relation` bounds: an accepted_values
    list, or a relationships test (each value must be a parent's key). A fresh value invented
    for one (a twin's key `'credit_card' || '_2'`) would make a fixture no warehouse that
    passes the relation's tests could hold."""
    bounded = {fk.column.lower() for fk in relation.foreign_keys}
    return bounded | {column.name.lower() for column in relation.columns if column.accepted_values}


def nullable(relation, name: str) -> bool:
    """Whether no test of `relation` (not_null, its primary key) keeps column `name` from null."""
    column = relation.column(name)
    primary = {c.lower() for c in relation.primary_key}
    return column is not None and not column.not_null and name.lower() not in primary


@dataclass(frozen=True)
class JoinEdge:
    left: int
    left_column: str
    right: int
    right_column: str


def read_columns(ctx: GateContext) -> dict[str, set[str]]:
    """placeholder -> lowercase names of the columns the SQL reads from it (all of them
    when that cannot be told)."""
    from generator.sql.columns import columns_read

    read = columns_read(ctx)
    if read is None:
        return {p: {c.name.lower() for c in r.columns} for p, r in ctx.relations.items()}
    return {p: {c.lower() for c in read.get(p, ())} for p in ctx.relations}


def _select_scopes(facts) -> list:
    """Every SELECT scope of the query `facts` answers for (none if it did not qualify)."""
    if facts.root is None:
        return []
    return [scope for scope in facts.root.traverse() if isinstance(scope.expression, exp.Select)]


def pass_through(ctx: GateContext) -> bool:
    """Whether each output row is one input row's alone: no aggregate, join, distinct, window,
    limit or set operation anywhere in the query (False when it did not qualify)."""
    from generator.sql.facts import Facts
    from generator.sql.shapes import is_aggregate

    root = Facts(ctx).root
    if root is None:
        return False
    for scope in root.traverse():
        select = scope.expression
        if not isinstance(select, exp.Select):
            return False
        if any(select.args.get(k) for k in ("joins", "laterals", "group", "having", "distinct", "limit", "qualify")):
            return False
        if any(isinstance(node, exp.Window) or is_aggregate(node, "") for node in select.walk()):
            return False
    return True


def join_edges(ctx: GateContext, index_of: dict[str, int]) -> list[JoinEdge]:
    """Equalities between columns of two inputs (join keys), followed through CTEs."""
    from generator.sql.facts import BaseColumn, Definition, Facts, conjuncts, unwrap

    facts = Facts(ctx)

    def base(scope, column) -> BaseColumn | None:
        target = facts.resolve(scope, column)
        if isinstance(target, Definition):
            found, _ = facts.pass_through(target)
            return found
        return target if isinstance(target, BaseColumn) else None

    edges: list[JoinEdge] = []
    for scope in _select_scopes(facts):
        select = scope.expression
        conditions = []
        for join in select.args.get("joins") or []:
            conditions += conjuncts(join.args.get("on"))
        where = select.args.get("where")
        conditions += conjuncts(where.this if where is not None else None)
        for condition in conditions:
            if not isinstance(condition, exp.EQ):
                continue
            left, right = unwrap(condition.this), unwrap(condition.expression)
            if not isinstance(left, exp.Column) or not isinstance(right, exp.Column):
                continue
            a, b = base(scope, left), base(scope, right)
            if a is None or b is None or a.placeholder not in index_of or b.placeholder not in index_of:
                continue
            edge = JoinEdge(index_of[a.placeholder], a.column, index_of[b.placeholder], b.column)
            if (edge.left, edge.left_column.lower()) == (edge.right, edge.right_column.lower()):
                continue
            if edge not in edges:
                edges.append(edge)
        # A grouping key read from an input links the rows of that input that share it:
        # aggregates only show their logic on groups of more than one row.
        group = select.args.get("group")
        keys = []
        if group is not None and group.args.get("all"):
            keys = [
                unwrap(e) for e in select.selects if not any(isinstance(n, (exp.AggFunc, exp.Window)) for n in e.walk())
            ]
        elif group is not None:
            keys = [unwrap(k) for k in group.expressions]
        # Rows in one window partition are related the same way (which one row_number keeps).
        for window in select.find_all(exp.Window):
            keys += [unwrap(k) for k in window.args.get("partition_by") or []]
        for key in keys:
            if not isinstance(key, exp.Column):
                continue
            found = base(scope, key)
            if found is None or found.placeholder not in index_of:
                continue
            index = index_of[found.placeholder]
            edge = JoinEdge(index, found.column, index, found.column)
            if edge not in edges:
                edges.append(edge)
    return edges


def categorical_columns(ctx: GateContext, index_of: dict[str, int]) -> list[tuple[int, str]]:
    """(input index, column) of every input column the SQL compares with text literals
    (`=`, `<>`, `in`, `not in`): the values it names and its siblings it does not are
    what a wrong value set in a filter gets wrong. A boolean column the SQL tests bare
    (`filter (where trips.is_shared_match)`, `a or b`) is one too: its values are true and
    false, and a fixture with only false rows tells no such filter from another."""
    from generator.sql.facts import BaseColumn, Definition, Facts, unwrap

    facts = Facts(ctx)
    found: list[tuple[int, str]] = []

    def add(scope, column: exp.Column) -> None:
        target = facts.resolve(scope, column)
        if isinstance(target, Definition):
            target, _ = facts.pass_through(target)
        if isinstance(target, BaseColumn) and target.placeholder in index_of:
            key = (index_of[target.placeholder], target.column)
            if key not in found:
                found.append(key)

    for scope in _select_scopes(facts):
        for node in scope.expression.find_all(exp.EQ, exp.NEQ, exp.In):
            if isinstance(node, exp.In):
                column, literals = unwrap(node.this), [unwrap(e) for e in node.expressions]
            else:
                left, right = unwrap(node.this), unwrap(node.expression)
                column, literals = (left, [right]) if isinstance(left, exp.Column) else (right, [left])
            if not isinstance(column, exp.Column) or not literals:
                continue
            if all(isinstance(literal, exp.Literal) and literal.is_string for literal in literals):
                add(scope, column)
        for column in scope.expression.find_all(exp.Column):
            if is_bare_predicate(column):
                add(scope, column)
    return found


# Where an expression stands as a condition of its own: parent type -> the argument that
# holds the condition (None: any of them).
_CONDITIONS: dict[type, str | None] = {
    exp.Where: "this",
    exp.Having: "this",
    exp.If: "this",
    exp.Not: "this",
    exp.And: None,
    exp.Or: None,
}


def is_bare_predicate(node: exp.Expression) -> bool:
    """Whether an expression is a condition by itself, not compared with anything: `where
    x`, `filter (where x)`, `case when x`, `x or y`, `not x` (parentheses aside)."""
    while isinstance(node.parent, exp.Paren):
        node = node.parent
    parent = node.parent
    if type(parent) not in _CONDITIONS:
        return False
    wanted = _CONDITIONS[type(parent)]
    return wanted is None or node.arg_key == wanted


# Expressions that truncate, compare, shift or take apart a value: a date or timestamp
# under one of them is where a month, week, day or time-zone boundary changes the result.
_TEMPORAL_USES = (
    exp.TimestampTrunc,
    exp.DateTrunc,
    exp.Extract,
    exp.Cast,
    exp.AtTimeZone,
    exp.TimeToStr,
    exp.DateDiff,
    exp.LastDay,
    exp.Year,
    exp.Month,
    exp.Day,
    exp.DayOfWeek,
    exp.Week,
    exp.Quarter,
    exp.GenerateSeries,
    exp.Add,
    exp.Sub,
    exp.GT,
    exp.GTE,
    exp.LT,
    exp.LTE,
    exp.Between,
    exp.EQ,
    exp.NEQ,
)
_TEMPORAL_FUNCTIONS = frozenset({"timezone", "date_part", "datepart", "date_diff", "datesub", "date_sub", "strftime"})


def _base_columns(facts, scope, expression: exp.Expression, depth: int = 0) -> list:
    """The input columns an expression is computed from, followed through CTEs and subqueries."""
    from generator.sql.facts import BaseColumn, Definition

    found = []
    for column in expression.find_all(exp.Column):
        target = facts.resolve(scope, column)
        if isinstance(target, BaseColumn):
            found.append(target)
        elif isinstance(target, Definition) and depth < 8:
            found += _base_columns(facts, target.scope, target.expression, depth + 1)
    return found


def temporal_columns(ctx: GateContext, index_of: dict[str, int]) -> list[tuple[int, str]]:
    """(input index, column) of every input column the SQL truncates, compares, shifts or
    takes apart (`date_trunc`, `extract`, `<`, `+ interval`...): the ones whose rows near a
    month, week or day boundary, in hours where time zones disagree, tell a boundary or
    time-zone mistake apart. The column's type is checked by the caller."""
    from generator.sql.facts import Facts

    facts = Facts(ctx)
    found: list[tuple[int, str]] = []
    for scope in _select_scopes(facts):
        for node in scope.expression.find_all(exp.Func, exp.Binary, exp.Between):
            named = isinstance(node, exp.Anonymous) and str(node.name).lower() in _TEMPORAL_FUNCTIONS
            if not (named or isinstance(node, _TEMPORAL_USES)):
                continue
            for base in _base_columns(facts, scope, node):
                key = (index_of[base.placeholder], base.column) if base.placeholder in index_of else None
                if key is not None and key not in found:
                    found.append(key)
    return found


def pass_through_columns(ctx: GateContext, index_of: dict[str, int]) -> dict[int, list[tuple[str, str]]]:
    """input index -> (output column, input column) for output columns that copy an input's."""
    from generator.sql.facts import Facts

    facts = Facts(ctx)
    copies: dict[int, list[tuple[str, str]]] = {}
    if facts.root is None or ctx.result is None:
        return copies
    for column in ctx.result.columns:
        definition = facts.output(column.name)
        if definition is None:
            continue
        base, _ = facts.pass_through(definition)
        if base is not None and base.placeholder in index_of:
            copies.setdefault(index_of[base.placeholder], []).append((column.name, base.column))
    return copies


def parent_links(relations: list, wanted: list[set[str]]) -> list[ParentLink]:
    """Relationships tests from one input to another whose child column the SQL reads
    (an unread child column is null in the fixture, which a relationships test allows)."""
    by_id = {relation.unique_id: index for index, relation in enumerate(relations)}
    found: list[ParentLink] = []
    for child, relation in enumerate(relations):
        for key in relation.foreign_keys:
            parent = by_id.get(key.to)
            if parent is None or parent == child or key.column.lower() not in wanted[child]:
                continue
            if relations[parent].column(key.to_column) is None:
                continue
            link = ParentLink(child, key.column, parent, relations[parent].column(key.to_column).name)
            if link not in found:
                found.append(link)
    return found
