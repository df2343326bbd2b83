"""Unit tests for a model: a few real input rows, and the rows the accepted SQL makes of them.

A dbt unit test (`unit_tests:`) gives each input of the model a handful of rows and states
the rows the model must return for them. gen-model writes one per generated model:

  given   rows copied from the warehouse, at most 20 per input, only the columns the SQL
          reads. They are chosen deterministically, in three steps:
            1. candidate blocks: a seed row of one input (evenly spaced rows, each input
               column's minimum, maximum and first null, the first row of each value of a
               low-cardinality column, a key without a partner in the joined input, a
               key seen twice) plus the rows of the other inputs it joins to (the join
               keys are read from the SQL), so that joins match;
            2. semantic coverage, within budget, each the cheapest candidate that changes
               the expected rows: a row for every value of a column the SQL compares with
               text literals (named or not); rows at month and week boundaries, in the
               hours where time zones disagree, of every date or timestamp it truncates,
               compares or shifts; a twin (a row copied with a fresh key, its children
               in the other inputs copied with it) for an input it groups, so one group
               has two children of one kind;
            3. for each mutant of the SQL (generator.testgen.mutate: a dropped filter, another join
               type, a flipped boundary, another aggregate...), in order: if the rows
               chosen so far do not already tell it apart from the accepted SQL, the
               smallest set of candidate blocks that does (delta debugging) is added, as
               long as every input stays within its row budget; when no candidate does,
               rows that join the groups already there (a rate's 3/7, not 1/2); a sibling
               column read instead (column-swap) that the full budget has no room for
               trades one row of its input for a row where the two columns disagree;
            4. the final rows re-checked: rows added later can take the meaning of earlier
               ones away (a later invoice moves the data's end), so each mutant told apart
               and each coverage class of step 2 must still change the expected rows on the
               final rows; the fewest rows that make a class hold again are added (within
               budget, keeping every mutant told apart), and what no rows keep is not claimed.
          So the rows a filter must drop, a null, a duplicate key, an unmatched join key are
          in the fixture exactly when the logic depends on them.
  expect  the accepted SQL run in the sandbox on exactly the fixture dbt will build: each
          given value cast from its YAML text to the input column's type, the expected
          values cast to the result's types, compared as dbt compares them (as sorted
          multisets of rows).

Running a unit test (its fixtures loaded, the model or a mutant run on them, the rows
compared as dbt compares them) is generator.testgen.unit_runner's; this module searches.

Values are written as DuckDB's own text for them (cast to varchar), which casts back to
the same value: decimals, dates, timestamps with their offset, lists; integers and
booleans stay YAML numbers and booleans; null is null.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from sqlglot import exp

from generator.project.sandbox import RESULT_TABLE, SandboxQueryError
from generator.sql.context import GateContext
from generator.sql.runnable import runnable_sql
from generator.testgen.coverage import (
    bound_classes,
    disagreement,
    null_classes,
    pair_classes,
    spread_classes,
    threshold_classes,
)
from generator.testgen.unit_runner import (
    FixtureRunner,
    GivenInput,
    UnitTest,
    placeholders_by_input,
    rendered_rows,
    unit_test_name,
)

MAX_ROWS_PER_INPUT = 20
MAX_EXPECT_ROWS = 100
BLOCK_ROWS_PER_INPUT = 6
EXPANSION = 3  # rows of a joined input added per key value
EVENLY_SPACED = 8
MAX_DISTINCT_SEEDS = 12
MAX_SEEDS = 96
BASE_CANDIDATES = 16
BASE_OUTPUT_ROWS = 3
SINGLE_BLOCK_TRIES = 24
DUPLICATE_SEEDS = 4
PREFIXES = (1, 2, 4, 8, 16, 32)
SOURCE_ROW_LIMIT = 200_000
COVERAGE_CANDIDATES = 6  # rows tried for each value or boundary to cover
MATE_ROWS = 32  # rows tried to grow the fixture's groups when no candidate tells a mutant apart
CHILD_COPY_DEPTH = 2  # generations of children copied with a twin (its orders, their payments)
PREFETCH_BATCH = 64  # choices of rows one statement runs a query on (FixtureSearch.prefetch)
# A boundary row is taken within this many seconds of midnight when there is one: a shift
# of 5 hours (New York, Bogota, Lima from UTC) moves it across.
NEAR_MIDNIGHT_S = 5 * 3600
# Boundary classes of a date or timestamp the SQL truncates or compares: (what, condition
# on a timestamp read in UTC, condition on a date). Time zones west of UTC (the Americas,
# 3-10 hours behind) put the first hours of a UTC day in the day before; zones east of it
# (Europe to Asia, 1-10 hours ahead) put its last hours in the day after.
BOUNDARIES = (
    (
        "first hours of a month (UTC)",
        "extract(day from {v}) = 1 and extract(hour from {v}) < 10",
        "extract(day from {v}) = 1",
    ),
    (
        "last hours of a month (UTC)",
        "extract(day from {v} + interval '1' day) = 1 and extract(hour from {v}) >= 14",
        "extract(day from {v} + interval '1' day) = 1",
    ),
    (
        "first hours of a week (Monday, UTC)",
        "isodow({v}) = 1 and extract(hour from {v}) < 10",
        "isodow({v}) = 1",
    ),
    (
        "last hours of a week (Sunday, UTC)",
        "isodow({v}) = 7 and extract(hour from {v}) >= 14",
        "isodow({v}) = 7",
    ),
)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# DuckDB types whose values come back to Python as values that compare as DuckDB compares
# them (no float: NaN and -0.0; no interval: months are not days; no nested types).
_PLAIN_TYPE = re.compile(
    r"(varchar|boolean|date|time|timestamp|timestamp with time zone|u?(tinyint|smallint|integer|bigint)"
    r"|hugeint|decimal\(\d+,\s*\d+\))",
    re.IGNORECASE,
)


def _comparable_as_values(original: list[tuple[str, str]], actual: list[tuple[str, str]]) -> bool:
    """Whether a mutant's rows compare to the original's as fetched values: the same column
    names (one of each) in the same order, of the same plain types."""
    names = [name.lower() for name, _ in original]
    return (
        len(set(names)) == len(names)
        and names == [name.lower() for name, _ in actual]
        and [kind for _, kind in original] == [kind for _, kind in actual]
        and all(_PLAIN_TYPE.fullmatch(kind) for _, kind in original)
    )


# -- fixtures that could happen --------------------------------------------------------------

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


def _is_temporal(relation, name: str) -> bool:
    column = relation.column(name)
    return column is not None and (column.data_type or "").lower().startswith(("timestamp", "date"))


# Types whose values a sum or an average adds (DuckDB's names, lower case, by prefix).
_NUMERIC_TYPES = ("int", "bigint", "smallint", "tinyint", "hugeint", "decimal", "numeric", "double", "float", "real")


@dataclass
class _Input:
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
class _Parent:
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
class _Edge:
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


def _edges(ctx: GateContext, index_of: dict[str, int]) -> list[_Edge]:
    """Equalities between columns of two inputs (join keys), followed through CTEs."""
    from generator.sql.facts import BaseColumn, Definition, Facts, conjuncts, unwrap

    facts = Facts(ctx)

    def base(scope, column) -> BaseColumn | None:
        target = facts.resolve(scope, column)
        if isinstance(target, Definition):
            found, _ = facts.pass_through(target)
            return found
        return target if isinstance(target, BaseColumn) else None

    edges: list[_Edge] = []
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
            edge = _Edge(index_of[a.placeholder], a.column, index_of[b.placeholder], b.column)
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
            edge = _Edge(index, found.column, index, found.column)
            if edge not in edges:
                edges.append(edge)
    return edges


def _categorical_columns(ctx: GateContext, index_of: dict[str, int]) -> list[tuple[int, str]]:
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


def _temporal_columns(ctx: GateContext, index_of: dict[str, int]) -> list[tuple[int, str]]:
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


def _pass_through_columns(ctx: GateContext, index_of: dict[str, int]) -> dict[int, list[tuple[str, str]]]:
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


def _parents(relations: list, wanted: list[set[str]]) -> list[_Parent]:
    """Relationships tests from one input to another whose child column the SQL reads
    (an unread child column is null in the fixture, which a relationships test allows)."""
    by_id = {relation.unique_id: index for index, relation in enumerate(relations)}
    found: list[_Parent] = []
    for child, relation in enumerate(relations):
        for key in relation.foreign_keys:
            parent = by_id.get(key.to)
            if parent is None or parent == child or key.column.lower() not in wanted[child]:
                continue
            if relations[parent].column(key.to_column) is None:
                continue
            link = _Parent(child, key.column, parent, relations[parent].column(key.to_column).name)
            if link not in found:
                found.append(link)
    return found


@dataclass
class FixtureChoice:
    """The chosen rows (gm_row per input) and what they tell apart."""

    picks: dict[int, list[int]] = field(default_factory=dict)
    killed: list[str] = field(default_factory=list)
    unkillable: list[str] = field(default_factory=list)
    boundaries: list[str] = field(default_factory=list)  # boundary classes with a row the output depends on
    covered: list[str] = field(default_factory=list)  # coverage classes that hold on the final rows
    lost: list[str] = field(default_factory=list)  # classes covered once that no rows within budget keep


class FixtureSearch:
    """Chooses fixture rows from the warehouse for one model (see the module docstring)."""

    def __init__(self, ctx: GateContext, *, timeout_s: float | None = None):
        self.ctx = ctx
        self.sandbox = ctx.sandbox
        self.timeout_s = timeout_s
        self.inputs: list[_Input] = []
        by_input = placeholders_by_input(ctx)
        read = read_columns(ctx)
        wanted_by_index: list[set[str]] = []
        searched_by_index: list[set[str]] = []
        for placeholders in by_input.values():
            relation = ctx.relations[placeholders[0]]
            wanted = set().union(*(read.get(p, set()) for p in placeholders))
            # The primary key is given too: it shows which real row each fixture row is, and
            # lets anyone check that no row is there twice.
            wanted |= {k.lower() for k in relation.primary_key if relation.column(k) is not None}
            searched_by_index.append(set(wanted))
            # So is every column a test keeps from null or repeated: a row without it is a row
            # that could not happen (dbt fills an absent column with null), and `count(city)`
            # in place of `count(*)` would count none of them.
            wanted |= {c.name.lower() for c in relation.columns if c.not_null or c.unique}
            wanted_by_index.append(wanted)
        relations = [ctx.relations[placeholders[0]] for placeholders in by_input.values()]
        self.parents = _parents(relations, wanted_by_index)
        for parent in self.parents:
            # A parent's key is given, so that the child's rows visibly have their parent.
            wanted_by_index[parent.parent].add(parent.parent_column.lower())
        for parent in _parents(relations, searched_by_index):
            searched_by_index[parent.parent].add(parent.parent_column.lower())
        for index, (text, placeholders) in enumerate(by_input.items()):
            relation = relations[index]
            columns = [c.name for c in relation.columns if c.name.lower() in wanted_by_index[index]]
            searched = [c for c in columns if c.lower() in searched_by_index[index]]
            keys = unique_keys(relation)
            self.inputs.append(_Input(index, text, placeholders, relation, columns, keys, searched=searched))
        index_of = {p: item.index for item in self.inputs for p in item.placeholders}
        self.edges = _edges(ctx, index_of)
        self.categorical = _categorical_columns(ctx, index_of)
        self.temporal = _temporal_columns(ctx, index_of)
        self.copies = _pass_through_columns(ctx, index_of)
        self._expansions: dict[tuple, list[int]] = {}
        self._values: dict[tuple[int, int], tuple] = {}
        self._shapes: dict[int, list[tuple[str, str]] | None] = {}
        # id(tree) -> (tree, sql): the tree is kept so its id cannot be reused.
        self._sql: dict[int, tuple[exp.Expression, str]] = {}
        self._kills: dict[tuple, bool] = {}
        self._output_rows: dict[tuple, int] = {}
        self._original_rows: dict[tuple, list[tuple] | None] = {}
        # output() of each choice asked: the re-check compares the same choices hundreds of
        # times, and sorting the rows' reprs each time cost more than the queries it saves.
        self._outputs: dict[tuple, tuple] = {}
        # (choice of rows, id(tree)) -> the tree's rows on them, run ahead by prefetch().
        self._prefetched: dict[tuple, list[tuple]] = {}
        self._unbatchable: set[int] = set()  # id(tree) of queries prefetch() leaves alone
        self._fingerprinted: dict[int, bool] = {}  # id(tree) -> whether rows_of() fingerprints
        self._picked: dict[int, tuple[int, ...]] = {}
        self._twins: dict[tuple[int, int], int] = {}
        self._copies: list[tuple[int, int]] = []  # (input, gm_row) of every row copied
        # (input, what) -> the condition on a source row (and its parameters) that makes it
        # one of a class's (a value of a column, a boundary), for members().
        self._conditions: dict[tuple[int, str], tuple[str, list]] = {}
        self._members: dict[tuple[int, str, int], bool] = {}

    # -- sandbox tables --------------------------------------------------------------------

    def setup(self) -> None:
        for item in self.inputs:
            item.source = f"gm_source_{item.index}"
            item.view = f"gm_fixture_{item.index}"
            relation = item.relation
            read = [_quote(c) for c in item.read] or ["1 as gm_nothing"]
            order = ", ".join(f"{_quote(c)} nulls first" for c in item.searched) or "1"
            total = self.sandbox.execute(f"select count(*) from {relation.relation_name}", timeout_s=self.timeout_s)[0][
                0
            ]
            limited = relation.relation_name
            if total > SOURCE_ROW_LIMIT:
                # A deterministic spread of rows of a large input (hash order, not the first N).
                limited = (
                    f"(select * from {relation.relation_name} order by hash({', '.join(read)}) "
                    f"limit {SOURCE_ROW_LIMIT})"
                )
            self.sandbox.execute(
                f"create or replace temp table {item.source} as select row_number() over (order by {order}) "
                f"as gm_row, {', '.join(read)} from {limited} as gm_input",
                timeout_s=self.timeout_s,
            )
            item.rows = int(self.sandbox.execute(f"select count(*) from {item.source}")[0][0])
            wanted = {c.lower() for c in item.read}
            listed = ", ".join(
                _quote(c.name)
                if c.name.lower() in wanted
                else f"cast(null as {c.data_type or 'varchar'}) as {_quote(c.name)}"
                for c in relation.columns
            )
            item.select = f"select {listed} from {item.source}"
        self.pick({})

    def teardown(self) -> None:
        for item in self.inputs:
            with contextlib.suppress(SandboxQueryError):
                self.sandbox.execute(f"drop table if exists {item.view}")
                self.sandbox.execute(f"drop table if exists {item.source}")

    def tables(self) -> dict[str, str]:
        return {p: item.view for item in self.inputs for p in item.placeholders}

    def query(self, sql: str, parameters=None) -> list[tuple]:
        """A query on the small fixture tables, without the sandbox's per-query timer thread
        (it costs more than these queries do); errors are the sandbox's errors all the same."""
        import duckdb

        try:
            cursor = self.sandbox.connection.execute(sql, parameters)
            return cursor.fetchall() if cursor.description else []
        except duckdb.Error as error:
            raise SandboxQueryError(str(error).split("\n")[0], str(error), sql) from None

    def pick(self, picks: dict[int, list[int]]) -> None:
        """Make the fixture tables hold exactly these rows (gm_row per input)."""
        for item in self.inputs:
            rows = tuple(picks.get(item.index) or ())
            if self._picked.get(item.index) == rows:
                continue  # this input's table already holds exactly these rows
            self.query(f"create or replace temp table {item.view} as {self.rows_sql(item, rows, item.select)}")
            self._picked[item.index] = rows

    @staticmethod
    def rows_sql(item: _Input, rows, select: str) -> str:
        """`select` over the source, restricted to `rows` (a row listed twice comes twice)."""
        if not rows:
            return f"{select} where false"
        listed = ", ".join(f"({int(r)})" for r in rows)
        return f"{select} join (values {listed}) as gm_picked(gm_row) using (gm_row)"

    def sql_of(self, tree: exp.Expression) -> str:
        """The tree's SQL over the fixture tables. Their names never change during a search,
        so each tree is generated once (sqlglot's generator dominated the search's time)."""
        key = id(tree)
        if key not in self._sql:
            self._sql[key] = (tree, runnable_sql(tree, self.ctx.relations, self.tables()))
        return self._sql[key][1]

    def shape(self, tree: exp.Expression) -> list[tuple[str, str]] | None:
        """The columns a (mutant) query returns on the fixtures, or None if it does not run."""
        key = id(tree)
        if key not in self._shapes:
            try:
                rows = self.query(f"describe (select * from (\n{self.sql_of(tree)}\n) as q)")
                self._shapes[key] = [(row[0], row[1]) for row in rows]
            except SandboxQueryError:
                self._shapes[key] = None
        return self._shapes[key]

    def kills(self, picks: dict[int, list[int]], mutant_tree: exp.Expression) -> bool:
        """Would a unit test with these rows (expecting the original's output) fail on the mutant?

        Remembered per (rows, mutant): delta debugging asks the same question again and again.
        """
        key = (_picks_key(picks), id(mutant_tree))
        if key not in self._kills:
            self._kills[key] = self._kills_uncached(picks, mutant_tree)
        return self._kills[key]

    def _kills_uncached(self, picks: dict[int, list[int]], mutant_tree: exp.Expression) -> bool:
        original = self.shape(self.ctx.tree)
        actual = self.shape(mutant_tree)
        if original is None or actual is None:
            return False  # a mutant that does not run says nothing about the rows
        if _comparable_as_values(original, actual):
            # The same columns of the same plain types: the expected values' round trip
            # through text is the identity, so the multisets of rows compare as Python
            # values. The original's rows are shared with every question on these rows
            # (each mutant's, the output's size), so only the mutant runs here.
            expected, found = self.original_rows(picks), self.rows_of(picks, mutant_tree)
            if expected is not None and found is not None:
                return Counter(expected) != Counter(found)
        return self.kills_in_sql(picks, mutant_tree)

    def kills_in_sql(self, picks: dict[int, list[int]], mutant_tree: exp.Expression) -> bool:
        """kills() as one statement that compares as dbt does, whatever the columns' types:
        the expected values cast from their text to the mutant's types, rows as multisets."""
        original = self.shape(self.ctx.tree)
        actual = self.shape(mutant_tree)
        if original is None or actual is None:
            return False
        types = {name.lower(): (name, kind) for name, kind in actual}
        if any(name.lower() not in types for name, _ in original):
            return True
        listed = ", ".join(
            f"cast(cast({_quote(name)} as varchar) as {types[name.lower()][1]}) as {_quote(name)}"
            for name, _ in original
        )
        plain = ", ".join(_quote(types[name.lower()][0]) for name, _ in original)
        try:
            rows = self.query(
                f"with {self.fixture_ctes(picks)}, "
                f"expected as (select {listed} from (\n{self.sql_of(self.ctx.tree)}\n) as e), "
                f"actual as (select {plain} from (\n{self.sql_of(mutant_tree)}\n) as a) "
                "select (select count(*) from (select * from actual except all select * from expected)) + "
                "(select count(*) from (select * from expected except all select * from actual))"
            )
        except SandboxQueryError:
            return False  # a runtime error on some rows says nothing about the logic
        return rows[0][0] != 0

    def fingerprinted(self, tree: exp.Expression) -> bool:
        """Whether rows_of() gives `tree`'s rows as fingerprints: DuckDB's 64-bit hash of each
        row, for a query whose columns are all of plain types (those prefetch() batches).

        The search only counts a query's rows and compares them as multisets (a mutant's
        with the accepted SQL's, the accepted SQL's on one choice of rows with another):
        rows of the same plain types are equal exactly when their values are, and so are
        their hashes, but for a collision (2^-64 a pair). Fetched as Python tuples, the
        rows themselves cost a quarter of the search (a batch is tens of thousands of
        rows); two integers a row cost little. A collision can only make two outputs look
        alike: a mutant not told apart, a row that seems not to matter, so more rows tried;
        the unit test's expected rows are computed from the final rows, never from these."""
        key = id(tree)
        if key not in self._fingerprinted:
            shape = self.shape(tree)
            self._fingerprinted[key] = (
                self.ctx.dialect.sqlglot == "duckdb"
                and shape is not None
                and all(_PLAIN_TYPE.fullmatch(kind) for _, kind in shape)
            )
        return self._fingerprinted[key]

    def rows_of(self, picks: dict[int, list[int]], tree: exp.Expression) -> list | None:
        """A query's rows on these fixture rows (their fingerprints where `fingerprinted`), or
        None if it fails on them."""
        prefetched = self._prefetched.get((_picks_key(picks), id(tree)))
        if prefetched is not None:
            return prefetched
        try:
            if self.fingerprinted(tree):
                rows = self.query(f"with {self.fixture_ctes(picks)} select hash(q) from (\n{self.sql_of(tree)}\n) as q")
                return [row[0] for row in rows]
            return self.query(f"with {self.fixture_ctes(picks)} select * from (\n{self.sql_of(tree)}\n) as q")
        except SandboxQueryError:
            return None

    def original_rows(self, picks: dict[int, list[int]]) -> list | None:
        """The accepted SQL's rows on these fixture rows (None if it fails on them), asked
        once per choice of rows: its size, its rows and every mutant's comparison share it."""
        key = _picks_key(picks)
        if key not in self._original_rows:
            self._original_rows[key] = self.rows_of(picks, self.ctx.tree)
        return self._original_rows[key]

    def output_rows(self, picks: dict[int, list[int]]) -> int:
        """How many rows the accepted SQL returns on these fixture rows (-1 if it fails)."""
        rows = self.original_rows(picks)
        if rows is not None:
            return len(rows)
        key = _picks_key(picks)
        if key not in self._output_rows:
            # Counting may not compute a column that fails on these rows: ask as before.
            try:
                query = f"with {self.fixture_ctes(picks)} select count(*) from (\n{self.sql_of(self.ctx.tree)}\n) as q"
                self._output_rows[key] = int(self.query(query)[0][0])
            except SandboxQueryError:
                self._output_rows[key] = -1
        return self._output_rows[key]

    def output(self, picks: dict[int, list[int]]) -> tuple:
        """The accepted SQL's rows on these fixture rows, as a sorted multiset (for telling
        whether a row added changes what the unit test expects)."""
        key = _picks_key(picks)
        if key not in self._outputs:
            rows = self.original_rows(picks)
            if rows is None:
                self._outputs[key] = ()
            elif self.fingerprinted(self.ctx.tree):
                self._outputs[key] = tuple(sorted(rows))
            else:
                self._outputs[key] = tuple(sorted(repr(row) for row in rows))
        return self._outputs[key]

    def prefetch(self, tree: exp.Expression, choices: list[dict[int, list[int]]]) -> None:
        """Run `tree` on several choices of rows ahead, PREFETCH_BATCH to a statement, for
        rows_of() to answer from: the answers are the same, the statements fewer.

        On a few fixture rows DuckDB spends more time planning a query than running it, and
        the search asks about one query on many choices of rows in a row (each candidate of
        a coverage class, each block's cost, the pieces delta debugging tries). A LATERAL
        join over the choices asks them all in one statement, which DuckDB decorrelates into
        one plan. Only for a query whose columns compare as values (no floats: a sum's last
        bits may follow the order rows arrive in); if a statement fails (a row some choice
        holds makes the query fail, say), the query's choices are asked one by one, as
        without prefetching.
        """
        if id(tree) in self._unbatchable or self.ctx.dialect.sqlglot != "duckdb":
            return  # (the batched statement is DuckDB's SQL: LATERAL, unnest, list literals)
        shape = self.shape(tree)
        if shape is None or not all(_PLAIN_TYPE.fullmatch(kind) for _, kind in shape):
            self._unbatchable.add(id(tree))
            return
        keys: dict[tuple, dict[int, list[int]]] = {}
        for picks in choices:
            key = _picks_key(picks)
            if (key, id(tree)) not in self._prefetched and key not in keys:
                keys[key] = picks
        todo = list(keys.items())
        if len(todo) < 2:
            return  # one statement either way
        for start in range(0, len(todo), PREFETCH_BATCH):
            chunk = todo[start : start + PREFETCH_BATCH]
            try:
                rows = self.query(self._lateral_sql(tree, [picks for _, picks in chunk]))
            except SandboxQueryError:
                self._unbatchable.add(id(tree))
                return
            by_choice: dict[int, list[int]] = {position: [] for position in range(len(chunk))}
            for position, fingerprint in rows:
                by_choice[position].append(fingerprint)
            for position, (key, _) in enumerate(chunk):
                self._prefetched[(key, id(tree))] = by_choice[position]

    def batches(self, tree: exp.Expression) -> bool:
        """Whether prefetch() runs `tree` in batches (else each question is a statement of its
        own, and asking ahead what may not be asked costs statements)."""
        if id(tree) not in self._unbatchable and self.ctx.dialect.sqlglot == "duckdb":
            self.prefetch(tree, [])  # (a tree whose columns do not compare as values is marked)
        return id(tree) not in self._unbatchable and self.ctx.dialect.sqlglot == "duckdb"

    def prefetched(self, tree: exp.Expression, choices: list[dict[int, list[int]]]) -> bool:
        """Whether rows_of() answers `tree` on every one of these choices without a query."""
        return all((_picks_key(picks), id(tree)) in self._prefetched for picks in choices)

    def _lateral_sql(self, tree: exp.Expression, choices: list[dict[int, list[int]]]) -> str:
        """One statement: `tree` on each choice of rows, each result row's fingerprint (see
        `fingerprinted`) tagged with its choice."""
        names = ", ".join(f"gm_rows_{item.index}" for item in self.inputs)
        listed = ", ".join(
            f"({position}, "
            + ", ".join(
                f"[{', '.join(str(int(r)) for r in picks.get(item.index) or ())}]::bigint[]" for item in self.inputs
            )
            + ")"
            for position, picks in enumerate(choices)
        )
        ctes = ", ".join(
            f"{item.view} as ({item.select} join (select unnest(gm_choice.gm_rows_{item.index}) as gm_row) "
            "as gm_picked using (gm_row))"
            for item in self.inputs
        )
        return (
            f"select gm_choice.gm_position, gm_result.gm_fingerprint "
            f"from (values {listed}) as gm_choice(gm_position, {names}), "
            f"lateral (with {ctes} select hash(q) as gm_fingerprint from (\n{self.sql_of(tree)}\n) as q) as gm_result"
        )

    def prefetch_kills(self, tree: exp.Expression, choices: list[dict[int, list[int]]]) -> None:
        """prefetch() what kills() will ask about `tree` on these choices: the accepted SQL's
        rows and the mutant's, when they compare as values (else kills() asks in SQL)."""
        original, actual = self.shape(self.ctx.tree), self.shape(tree)
        if original is None or actual is None or not _comparable_as_values(original, actual):
            return
        choices = [picks for picks in choices if (_picks_key(picks), id(tree)) not in self._kills]
        self.prefetch(self.ctx.tree, [picks for picks in choices if _picks_key(picks) not in self._original_rows])
        self.prefetch(tree, choices)

    def fixture_ctes(self, picks: dict[int, list[int]]) -> str:
        """The fixture tables as CTEs of the same names (a CTE shadows a table): a search
        question is then one statement, instead of re-creating tables before each."""
        return ", ".join(
            f"{item.view} as ({self.rows_sql(item, tuple(picks.get(item.index) or ()), item.select)})"
            for item in self.inputs
        )

    # -- candidates ------------------------------------------------------------------------

    def _first(self, item: _Input, condition: str, order: str = "gm_row") -> int | None:
        rows = self.query(f"select gm_row from {item.source} where {condition} order by {order} limit 1")
        return int(rows[0][0]) if rows else None

    def seeds(self) -> list[tuple[int, int]]:
        seeds: list[tuple[int, int]] = []

        def add(index: int, row: int | None) -> None:
            if row is not None and (index, row) not in seeds:
                seeds.append((index, row))

        for item in self.inputs:
            if not item.rows:
                continue
            count = min(EVENLY_SPACED, item.rows)
            for k in range(count):
                add(item.index, 1 + (k * (item.rows - 1)) // max(1, count - 1))
            for column in item.searched:
                quoted = _quote(column)
                add(item.index, self._first(item, f"{quoted} is null"))
                add(item.index, self._first(item, f"{quoted} is not null", f"{quoted} asc, gm_row"))
                add(item.index, self._first(item, f"{quoted} is not null", f"{quoted} desc, gm_row"))
                distinct = self.query(f"select count(distinct {quoted}) from {item.source}")[0][0]
                if distinct and distinct <= MAX_DISTINCT_SEEDS:
                    for (row,) in self.query(f"select min(gm_row) from {item.source} group by {quoted} order by 1"):
                        add(item.index, int(row))
            for edge in self.edges:
                for mine, column, other, other_column in (
                    (edge.left, edge.left_column, edge.right, edge.right_column),
                    (edge.right, edge.right_column, edge.left, edge.left_column),
                ):
                    if mine != item.index:
                        continue
                    partner = self.inputs[other]
                    quoted, other_quoted = _quote(column), _quote(other_column)
                    add(
                        item.index,
                        self._first(
                            item,
                            f"{quoted} is not null and {quoted} not in "
                            f"(select {other_quoted} from {partner.source} where {other_quoted} is not null)",
                        ),
                    )
                    add(
                        item.index,
                        self._first(
                            item, f"{quoted} in (select {quoted} from {item.source} group by all having count(*) > 1)"
                        ),
                    )
        return seeds[:MAX_SEEDS] if len(seeds) > MAX_SEEDS else seeds

    def diff_seeds(self, mutant_tree: exp.Expression, result_table: str, limit: int = 3) -> list[tuple[int, int]]:
        """Seeds where the mutant's result on the real data differs from the original's:
        the input rows whose copied columns hold the values of a differing output row."""
        if not self.copies:
            return []
        try:
            self.sandbox.execute(
                "create or replace temp table gm_mutant_real as select * from (\n"
                f"{runnable_sql(mutant_tree, self.ctx.relations)}\n) as q",
                timeout_s=self.timeout_s,
            )
            names = [row[0] for row in self.sandbox.execute(f"describe {result_table}")]
            mutant_names = [row[0] for row in self.sandbox.execute("describe gm_mutant_real")]
            if [n.lower() for n in names] != [n.lower() for n in mutant_names]:
                return []
            listed = ", ".join(_quote(n) for n in names)
            rows = self.sandbox.execute(
                f"(select {listed} from (select {listed} from {result_table} except all "
                f"select {listed} from gm_mutant_real) order by all limit {limit}) union all "
                f"(select {listed} from (select {listed} from gm_mutant_real except all "
                f"select {listed} from {result_table}) order by all limit {limit})",
                timeout_s=self.timeout_s,
            )
        except SandboxQueryError:
            return []
        finally:
            with contextlib.suppress(SandboxQueryError):
                self.sandbox.execute("drop table if exists gm_mutant_real")
        position = {name.lower(): i for i, name in enumerate(names)}
        # Of a differing group, the rows the mutant's comparison and the original's disagree
        # on first (the row at 75 of `>= 75` -> `> 75`), not only the group's first rows.
        disagrees = disagreement(self, mutant_tree)
        seeds: list[tuple[int, int]] = []
        for row in rows:
            for index, columns in sorted(self.copies.items()):
                conditions, values = [], []
                for output, column in columns:
                    value = row[position[output.lower()]] if output.lower() in position else None
                    if value is not None:
                        conditions.append(f"{_quote(column)} = ?")
                        values.append(value)
                if not conditions:
                    continue
                item = self.inputs[index]
                first = f"({disagrees[1]}) desc, " if disagrees is not None and disagrees[0] == index else ""
                try:
                    found = self.query(
                        f"select gm_row from {item.source} where {' and '.join(conditions)} "
                        f"order by {first}gm_row limit 2",
                        values,
                    )
                except SandboxQueryError:
                    continue  # a comparison DuckDB cannot run on this input alone
                for (gm_row,) in found:
                    if (index, int(gm_row)) not in seeds:
                        seeds.append((index, int(gm_row)))
        return seeds

    def _value(self, index: int, row: int, column: str):
        key = (index, row)
        if key not in self._values:
            self.values_of(index, [row])
        item = self.inputs[index]
        return self._values[key][[c.lower() for c in item.read].index(column.lower())]

    def values_of(self, index: int, rows) -> None:
        """Read the read columns of these source rows of one input in one query, for
        value_of() to answer from (blocks ask about one row at a time, a query each)."""
        item = self.inputs[index]
        unknown = sorted({int(row) for row in rows if (index, int(row)) not in self._values})
        if not unknown:
            return
        listed = ", ".join(_quote(c) for c in item.read) or "1"
        found = self.query(
            f"select gm_row, {listed} from {item.source} where gm_row in ({', '.join(str(r) for r in unknown)})"
        )
        for row in found:
            self._values[(index, int(row[0]))] = tuple(row[1:])

    def _partners(self, index: int, row: int, edge: _Edge, expansion: int = EXPANSION) -> list[int]:
        if edge.left == index:
            column, other, other_column = edge.left_column, edge.right, edge.right_column
        else:
            column, other, other_column = edge.right_column, edge.left, edge.left_column
        value = self._value(index, row, column)
        if value is None:
            return []
        key = (other, other_column.lower(), repr(value))
        if key not in self._expansions:
            partner = self.inputs[other]
            # Their values come along: the block asks about each of them next.
            listed = ", ".join(_quote(c) for c in partner.read) or "1"
            found = self.query(
                f"select gm_row, {listed} from {partner.source} where {_quote(other_column)} = ? "
                f"order by gm_row limit {EXPANSION}",
                [value],
            )
            self._expansions[key] = [int(r[0]) for r in found]
            self._values.update({(other, int(r[0])): tuple(r[1:]) for r in found})
        # The first rows by gm_row, whatever the limit: a lean block's rows are a full one's.
        return self._expansions[key][:expansion]

    def block(self, seed: tuple[int, int], groups: bool = False, expansion: int = EXPANSION) -> dict[int, list[int]]:
        """A seed row and, transitively, the rows of other inputs its join keys match (and,
        with `groups`, rows of its own input in the same group): at most `expansion` per key
        value (a lean block: one ticket of a fare package, one more of that ticket's flight),
        save the seed's siblings, rows of the seed's own input, and their matches: EXPANSION
        of those, as a group's aggregates read them (a customer's other orders and their
        payments are what tells sum from sum(distinct) of equal order totals)."""
        chosen: dict[int, list[int]] = {seed[0]: [seed[1]]}
        queue = [seed]
        while queue:
            index, row = queue.pop(0)
            for edge in self.edges:
                if index not in (edge.left, edge.right):
                    continue
                if edge.left == edge.right and not groups:
                    continue
                other = edge.right if edge.left == index else edge.left
                sibling = other == seed[0] or (index == seed[0] and row != seed[1])
                for partner in self._partners(index, row, edge, EXPANSION if sibling else expansion):
                    rows = chosen.setdefault(other, [])
                    if partner in rows or len(rows) >= BLOCK_ROWS_PER_INPUT:
                        continue
                    rows.append(partner)
                    queue.append((other, partner))
        self._add_parents(chosen)
        return {index: sorted(rows) for index, rows in chosen.items()}

    def twin(self, index: int, row: int) -> int | None:
        """A copy of a row with fresh values in its unique key columns, as a new source row:
        a second child of the same kind (two subscriptions of one account to one plan), which
        tells sum from max or count(*) from count(distinct) without repeating a key. Its
        children in the other inputs (an order's payments, see children()) are copied with
        it, pointed at its new key: a twin without them would be a second order of another
        kind (one never paid), and two orders paid alike is what tells sum from sum(distinct).
        None if a key column is not text or integer, or not given."""
        if (index, row) in self._twins:
            return self._twins[(index, row)]
        if not self.inputs[index].keys:
            return None
        new_row = self._copy(index, row, {}, (index,), "'_2'")
        if new_row is not None:
            self._twins[(index, row)] = new_row
        return new_row

    def _copy(self, index: int, row: int, pointed: dict[str, object], path: tuple[int, ...], suffix: str):
        """Insert a copy of a source row with fresh unique key values (text keys get `suffix`)
        and `pointed` columns set to the given values, then copies of its children pointed at
        it; its new gm_row, or None (nothing inserted) when a key cannot be made fresh."""
        item = self.inputs[index]
        key_columns = {column.lower() for key in item.keys for column in key}
        if not key_columns <= {c.lower() for c in item.read}:
            return None
        # A key column a test bounds (accepted_values, relationships) gets no invented value:
        # null where the column may be null (a unique `previous_subscription_id`), else no copy.
        bounded = bounded_columns(item.relation) & (key_columns - {c.lower() for c in pointed})
        if any(not nullable(item.relation, column) for column in bounded):
            return None
        new_row = item.rows + 1 + len(self._copies)
        listed, values = [], []
        for column in item.read:
            kind = (item.relation.column(column).data_type or "").lower()
            quoted = _quote(column)
            if column.lower() in {c.lower() for c in pointed}:
                listed.append("?")
                values.append(next(v for c, v in pointed.items() if c.lower() == column.lower()))
            elif column.lower() not in key_columns:
                listed.append(quoted)
            elif column.lower() in bounded:
                listed.append("null")
            elif kind.startswith("varchar") or kind in ("text", "string"):
                listed.append(f"{quoted} || {suffix}")
            elif kind in ("integer", "bigint", "int", "smallint", "hugeint"):
                # Above every key there is, whatever the sign of this one.
                listed.append(f"(select max({quoted}) from {item.source}) + {new_row}")
            else:
                return None
        self.query(
            f"insert into {item.source} select {new_row}, {', '.join(listed)} from {item.source} where gm_row = {row}",
            values,
        )
        # A key the copy repeats (a real key that already ends in the suffix, a child's key
        # it was pointed at) would make an impossible fixture: no copy then.
        for key in item.keys:
            same = " and ".join(f"other.{_quote(c)} = copy.{_quote(c)}" for c in key)
            clash = self.query(
                f"select count(*) from {item.source} as other, {item.source} as copy "
                f"where copy.gm_row = {new_row} and other.gm_row <> {new_row} and {same}"
            )
            if clash[0][0]:
                self.query(f"delete from {item.source} where gm_row = {new_row}")
                return None
        self._copies.append((index, new_row))
        for child, column, key_column in self.children(index):
            if child in path or len(path) > CHILD_COPY_DEPTH:
                continue
            old, new = self._value(index, row, key_column), self._value(index, new_row, key_column)
            if old is None or old == new:
                continue
            originals = self.query(
                f"select gm_row from {self.inputs[child].source} where {_quote(column)} = ? "
                f"and gm_row <= {self.inputs[child].rows} order by gm_row limit {EXPANSION}",
                [old],
            )
            for (child_row,) in originals:
                self._copy(child, int(child_row), {column: new}, (*path, child), f"'_{new_row}'")
        return new_row

    def children(self, index: int) -> list[tuple[int, str, str]]:
        """(child input, its column, this input's key column) for every other input whose rows
        point at this input's unique key: a relationships test to it, or an equality with it
        in the SQL (`payments.order_id = orders.order_id`, order_id unique in orders)."""
        item = self.inputs[index]
        key_columns = {column.lower() for key in item.keys for column in key}
        found: list[tuple[int, str, str]] = []
        links = [(link.child, link.column, link.parent, link.parent_column) for link in self.parents]
        for edge in self.edges:
            links += [
                (edge.left, edge.left_column, edge.right, edge.right_column),
                (edge.right, edge.right_column, edge.left, edge.left_column),
            ]
        for child, column, parent, parent_column in links:
            if parent != index or child == index or parent_column.lower() not in key_columns:
                continue
            if column.lower() not in {c.lower() for c in self.inputs[child].read}:
                continue
            seen = {(c, k.lower(), p.lower()) for c, k, p in found}
            if (child, column.lower(), parent_column.lower()) not in seen:
                found.append((child, column, parent_column))
        return found

    def copied_rows(self, picks: dict[int, list[int]]) -> int:
        """How many of these rows are copies with a new key (twins and their children)."""
        return sum(1 for index, row in self._copies if row in (picks.get(index) or []))

    def value_candidates(self) -> list[tuple[int, str, list[int]]]:
        """(input, what, rows): for every value (when there are few) of every column the SQL
        compares with text literals, the named values and their unnamed siblings alike, the
        first few rows that hold it."""
        return [(index, what, rows) for index, _, what, rows in self.value_classes()]

    def value_classes(self) -> list[tuple[int, str, str, list[int]]]:
        """value_candidates() with the column of each: (input, column, what, rows)."""
        found: list[tuple[int, str, str, list[int]]] = []
        for index, column in self.categorical:
            item = self.inputs[index]
            if column.lower() not in {c.lower() for c in item.read}:
                continue
            quoted = _quote(column)
            distinct = self.query(f"select count(distinct {quoted}) from {item.source}")[0][0]
            if not distinct or distinct > MAX_DISTINCT_SEEDS:
                continue
            rows = self.query(
                f"select {quoted}, list(gm_row order by gm_row)[1:{COVERAGE_CANDIDATES}] from {item.source} "
                f"where {quoted} is not null group by 1 order by 1"
            )
            for value, picked in rows:
                what = f"{column} = {value!r}"
                self._conditions[(index, what)] = (f"{quoted} = ?", [value])
                found.append((index, column, what, [int(r) for r in picked]))
        return found

    def boundary_candidates(self) -> list[tuple[int, str, list[int]]]:
        """(input, what, rows): for every date or timestamp column the SQL truncates, compares
        or shifts, the few rows of each boundary class (see BOUNDARIES) nearest midnight: the
        chooser keeps the one that adds the fewest expected rows."""
        found: list[tuple[int, str, list[int]]] = []
        for index, column in self.temporal:
            item = self.inputs[index]
            if column.lower() not in {c.lower() for c in item.read}:
                continue
            kind = (item.relation.column(column).data_type or "").lower()
            if not kind.startswith(("timestamp", "date")):
                continue
            quoted = _quote(column)
            # Hours are read in UTC, where the warehouse's zone and the reader's disagree most.
            value = f"timezone('UTC', {quoted})" if "time zone" in kind else quoted
            # Rows nearest midnight first: the smaller the zone shift that moves a row across
            # the boundary, the more zones it tells apart (New York's 5 hours need 19:00 or later).
            seconds = f"extract(epoch from cast({value} as time))"
            nearest = f"least({seconds}, 86400 - {seconds})" if kind.startswith("timestamp") else "0"
            for label, timestamp_condition, date_condition in BOUNDARIES:
                condition = (timestamp_condition if kind.startswith("timestamp") else date_condition).format(v=value)
                rows = self.query(
                    f"select gm_row, {nearest} from {item.source} where {quoted} is not null and {condition} "
                    f"order by 2, gm_row limit {COVERAGE_CANDIDATES}"
                )
                # The chooser keeps the cheapest candidate: only those about as near as the nearest.
                reach = max(float(rows[0][1]), NEAR_MIDNIGHT_S) if rows else 0
                rows = [row for row, distance in rows if float(distance) <= reach]
                if rows:
                    self._conditions[(index, f"{column}: {label}")] = (f"{quoted} is not null and {condition}", [])
                    found.append((index, f"{column}: {label}", [int(r) for r in rows]))
        return found

    def members(self, index: int, what: str, rows) -> list[int]:
        """Those of these rows of one input that are of the class `what` (a value of a
        column, a boundary of a date) by its condition, whichever rows the search first
        offered for it; none for a class without a condition (rows of one group)."""
        if (index, what) not in self._conditions:
            return []
        condition, parameters = self._conditions[(index, what)]
        unknown = sorted({int(row) for row in rows if (index, what, int(row)) not in self._members})
        if unknown:
            found = {
                int(row)
                for (row,) in self.query(
                    f"select gm_row from {self.inputs[index].source} where gm_row in "
                    f"({', '.join(str(row) for row in unknown)}) and ({condition})",
                    parameters,
                )
            }
            self._members.update({(index, what, row): row in found for row in unknown})
        return sorted({int(row) for row in rows if self._members[(index, what, int(row))]})

    def twin_candidates(self, fixture: dict[int, list[int]]) -> list[tuple[int, str, list[int]]]:
        """(input, what, rows): for every input with a unique key whose rows the SQL groups
        or partitions, and without a twin in the fixture yet, twins of its first fixture
        rows: two children of one kind in one group (what tells sum from sum(distinct),
        count(*) from count(distinct)), which no fixture row repeated could be."""
        found: list[tuple[int, str, list[int]]] = []
        grouped = {edge.left for edge in self.edges if edge.left == edge.right}
        for item in self.inputs:
            picked = fixture.get(item.index) or []
            if item.index not in grouped or not picked:
                continue
            if not item.keys:
                # No key to make fresh: two rows the input already has, alike where it counts.
                found += self.equal_value_candidates(item.index, picked)
                continue
            twins = {row for (index, _), row in self._twins.items() if index == item.index}
            if twins & set(picked):
                continue
            originals = [row for row in picked if row not in twins][:COVERAGE_CANDIDATES]
            rows = [twin for twin in (self.twin(item.index, row) for row in originals) if twin is not None]
            if rows:
                found.append((item.index, f"two rows of one group in {item.text}", rows))
        return found

    def equal_value_candidates(self, index: int, picked: list[int]) -> list[tuple[int, str, list[int]]]:
        """(input, what, rows): for an input without a unique key (no twin can be made), and
        each numeric column the SQL sums, averages or counts, the source rows not picked yet that
        hold the value of a picked row in the same group (every grouping column equal, the
        nearest first in a grouping date): two trips of one license in one hour with one
        fare, what tells sum from sum(distinct) and count(x) from count(distinct x)."""
        item = self.inputs[index]
        read = {c.lower(): c for c in item.read}
        grouped = (read.get(e.left_column.lower()) for e in self.edges if e.left == e.right == index)
        groups = [g for g in dict.fromkeys(grouped) if g]
        # A date the SQL groups by is mostly truncated (to the hour, the month): the nearest
        # rows in it, not only equal ones.
        dates = [g for g in groups if _is_temporal(item.relation, g)]
        near = " + ".join(f"abs(epoch(b.{_quote(g)}) - epoch(a.{_quote(g)}))" for g in dates) or "0"
        aggregated = {
            column.name.lower()
            for node in (self.ctx.tree.find_all(exp.Sum, exp.Avg, exp.Count) if self.ctx.tree is not None else ())
            for column in node.find_all(exp.Column)
        }
        found: list[tuple[int, str, list[int]]] = []
        for name in sorted(aggregated & set(read)):
            kind = (item.relation.column(read[name]).data_type or "").lower()
            if not kind.startswith(_NUMERIC_TYPES):
                continue
            x = _quote(read[name])
            same = "".join(f" and b.{_quote(g)} is not distinct from a.{_quote(g)}" for g in groups if g not in dates)
            listed = ", ".join(str(row) for row in picked)
            rows = self.query(
                f"select b.gm_row from {item.source} a join {item.source} b on b.{x} = a.{x}{same} "
                f"where a.gm_row in ({listed}) and b.gm_row not in ({listed}) and a.{x} <> 0 "
                f"and b.gm_row <= {item.rows} group by b.gm_row "
                f"order by min({near}), b.gm_row limit {COVERAGE_CANDIDATES}"
            )
            if rows:
                what = f"two rows of one group with one {read[name]} in {item.text}"
                found.append((index, what, [int(row) for (row,) in rows]))
        return found

    def mate_blocks(self, fixture: dict[int, list[int]]) -> list[dict[int, list[int]]]:
        """Blocks of rows spread evenly over each input the fixture has rows of (MATE_ROWS of
        them, not in the fixture yet): where the others' groups are, to grow them."""
        found: list[dict[int, list[int]]] = []
        for item in self.inputs:
            picked = set(fixture.get(item.index) or [])
            if not picked or not item.rows:
                continue
            count = min(MATE_ROWS, item.rows)
            rows = sorted({1 + (k * (item.rows - 1)) // max(1, count - 1) for k in range(count)} - picked)
            for row in rows:
                block = self.block((item.index, row), False)
                if block not in found:
                    found.append(block)
        return found

    def value_of(self, index: int, row: int, column: str):
        """The value of one column of one source row."""
        return self._value(index, row, column)

    def _add_parents(self, chosen: dict[int, list[int]]) -> None:
        """Add, for every child row of a relationships test between inputs, its parent row:
        a fixture whose order has no customer could not happen. Every fixture is a union of
        blocks, so it has every parent when each block has its own."""
        changed = True
        while changed:
            changed = False
            for link in self.parents:
                rows = chosen.get(link.child) or []
                values = {repr(v): v for v in (self._value(link.child, r, link.column) for r in rows) if v is not None}
                have = {repr(self._value(link.parent, r, link.parent_column)) for r in chosen.get(link.parent) or []}
                for text, value in values.items():
                    if text in have:
                        continue
                    parent = self.inputs[link.parent]
                    found = self.query(
                        f"select min(gm_row) from {parent.source} where {_quote(link.parent_column)} = ?", [value]
                    )
                    if found and found[0][0] is not None:
                        chosen.setdefault(link.parent, []).append(int(found[0][0]))
                        have.add(text)
                        changed = True


def _merge(*picks: dict[int, list[int]]) -> dict[int, list[int]]:
    """Rows of several picks together; a row picked twice (a duplicate) stays twice."""
    merged: dict[int, Counter] = {}
    for pick in picks:
        for index, rows in pick.items():
            merged.setdefault(index, Counter())
            merged[index] |= Counter(rows)
    return {index: sorted(rows.elements()) for index, rows in sorted(merged.items())}


def _adding(base: dict[int, list[int]]) -> Callable[[dict[int, list[int]]], bool]:
    """`lambda block: _merge(base, block) != base` (does the block add a row?), with the work
    on `base` done once: the re-check asks it of every candidate block for every unit."""
    if _merge(base) != base:
        return lambda block: True  # (a merge is sorted: it never equals rows out of order)
    counts = {index: Counter(rows) for index, rows in base.items()}
    return lambda block: any(index not in counts or not Counter(rows) <= counts[index] for index, rows in block.items())


def _changed(output, before) -> set:
    """The expected rows in one output and not the other (both ways)."""
    return set(output) ^ set(before)


def _picks_key(picks: dict[int, list[int]]) -> tuple:
    """A hashable identity for a choice of rows (inputs without rows do not count)."""
    return tuple(sorted((index, tuple(rows)) for index, rows in picks.items() if rows))


def _rows_in(picks: dict[int, list[int]]) -> int:
    """How many source rows a choice holds, over every input."""
    return sum(len(rows) for rows in picks.values())


def _size_ok(picks: dict[int, list[int]], limit: int) -> bool:
    return all(len(rows) <= limit for rows in picks.values())


def ddmin(items: list, failing: Callable[[list], bool], ahead: Callable[[list[list]], None] | None = None) -> list:
    """Zeller's delta debugging: a 1-minimal sublist of `items` for which `failing` holds.

    `ahead`, if given, is told every sublist a round may try before the round asks
    `failing` about them (in order, stopping at the first that fails): to answer them at once.
    """
    n = 2
    while len(items) >= 2:
        chunk = max(1, len(items) // n)
        chunks = [items[i : i + chunk] for i in range(0, len(items), chunk)]
        if ahead is not None:
            ahead([*chunks, *([item for item in items if item not in piece] for piece in chunks)])
        reduced = False
        for piece in chunks:
            if failing(piece):
                items, n, reduced = piece, 2, True
                break
        if not reduced:
            for piece in chunks:
                complement = [item for item in items if item not in piece]
                if complement and failing(complement):
                    items, n, reduced = complement, max(n - 1, 2), True
                    break
        if not reduced:
            if n >= len(items):
                break
            n = min(len(items), 2 * n)
    return items


def smallest_subset(
    base: dict[int, list[int]],
    pieces: list[dict[int, list[int]]],
    holds: Callable[[dict[int, list[int]]], bool],
    ahead: Callable[[list[dict[int, list[int]]]], None],
) -> dict[int, list[int]] | None:
    """`base` with a 1-minimal sublist of the (ordered) pieces for which `holds`, or None if
    no prefix of them makes it hold. Delta debugging costs about n log n questions: it starts
    from the shortest prefix (of PREFIXES' sizes) that holds; `ahead` is told each round's
    choices first, to answer them at once."""
    sizes = (*PREFIXES, len(pieces))
    ahead([_merge(base, *pieces[:size]) for size in sizes if pieces[:size]])
    for size in sizes:
        prefix = pieces[:size]
        if prefix and holds(_merge(base, *prefix)):
            break
        if size >= len(pieces):
            return None
    else:
        return None
    subset = ddmin(
        prefix,
        lambda chosen: holds(_merge(base, *chosen)),
        lambda tries: ahead([_merge(base, *chosen) for chosen in tries]),
    )
    return _merge(base, *subset)


def _less(picks: dict[int, list[int]], index: int, rows) -> dict[int, list[int]]:
    """A choice of rows less some rows (every copy of each) of one input."""
    gone = set(rows)
    return {i: [r for r in picked if i != index or r not in gone] for i, picked in picks.items()}


class _Class(NamedTuple):
    """A coverage class the fixture was given rows for: the input, what it shows, and its
    units (one row, or the rows of one group that show it together)."""

    index: int
    what: str
    units: list[tuple[int, ...]]


class _Chooser:
    """The greedy choice of fixture rows (see choose_rows)."""

    def __init__(self, search: FixtureSearch, max_rows: int, max_expect: int, result_table: str | None):
        self.search = search
        self.max_rows = max_rows
        self.max_expect = max_expect
        self.result_table = result_table
        self.blocks: list[dict[int, list[int]]] = []
        self.everything: dict[int, list[int]] = {}
        self.fixture: dict[int, list[int]] = {}
        self.costs: dict[tuple[str, int], int] = {}
        self.current_rows = 0
        self.promised: list[_Class] = []  # the coverage classes given rows, re-checked at the end
        self.witness: dict[tuple[int, str], tuple[int, ...]] = {}  # the unit that last mattered, per class
        self.hopeless: set[tuple[int, str]] = set()  # classes no candidate rows made hold
        # (id(class), choice of rows) -> holds(): the re-check asks the same class about the
        # same rows again and again (each restoration keeps the classes before it holding).
        self._holds: dict[tuple[int, tuple], bool] = {}

    def add_block(self, block: dict[int, list[int]]) -> None:
        if block not in self.blocks:
            self.blocks.append(block)
            self.everything = _merge(self.everything, block)

    def base(self) -> None:
        """The smallest output among fixtures made of one block of each group of inputs the
        joins connect (the first, smallest, block of the others and each of the first blocks)."""
        search, blocks = self.search, self.blocks
        components: list[set[int]] = []
        for block in blocks:
            if not any(set(block) <= component for component in components):
                components.append(set(block))
        firsts = [next(b for b in blocks if set(b) <= component) for component in components]
        self.fixture = _merge(*firsts)
        best = search.output_rows(self.fixture)

        def better(rows: int, than: int) -> bool:
            # Enough output rows to read the logic in (BASE_OUTPUT_ROWS), no more than needed.
            if rows <= 0:
                return False
            if than <= 0:
                return True
            if (rows >= BASE_OUTPUT_ROWS) != (than >= BASE_OUTPUT_ROWS):
                return rows >= BASE_OUTPUT_ROWS
            return rows < than if rows >= BASE_OUTPUT_ROWS else rows > than

        candidates = []
        for block in blocks[:BASE_CANDIDATES]:
            others = [f for f, component in zip(firsts, components, strict=True) if not set(block) <= component]
            candidates.append(_merge(block, *others))
        search.prefetch(search.ctx.tree, candidates)
        for candidate in candidates:
            rows = search.output_rows(candidate)
            if better(rows, best) and _size_ok(candidate, self.max_rows):
                self.fixture, best = candidate, rows

    def cost(self, position: int) -> tuple[int, int, int]:
        """How many output rows a block adds to the fixture so far (then its size)."""
        key = (repr(self.fixture), position)
        if key not in self.costs:
            added = self.search.output_rows(_merge(self.fixture, self.blocks[position]))
            self.costs[key] = added - max(self.current_rows, 0)
        return (self.costs[key], sum(len(rows) for rows in self.blocks[position].values()), position)

    def acceptable(self, candidate: dict[int, list[int]], tree: exp.Expression) -> bool:
        # Cheapest checks first: sizes, then the output's row count, then the mutant.
        return (
            _size_ok(candidate, self.max_rows)
            and 0 < self.search.output_rows(candidate) <= self.max_expect
            and self.search.kills(candidate, tree)
        )

    def smallest_killing(self, pieces: list, tree: exp.Expression) -> dict[int, list[int]] | None:
        search = self.search
        found = smallest_subset(
            self.fixture,
            pieces,
            lambda picks: search.kills(picks, tree),
            lambda tries: search.prefetch_kills(tree, tries),
        )
        return found if found is not None and self.acceptable(found, tree) else None

    def cover(self, classes: list[tuple[int, str, list[int]]]) -> list[str]:
        """Semantic coverage beyond the mutants searched: for each class (a value of a filtered
        column, a boundary of a truncated date) without a row in the fixture, add the candidate
        row (with its block) that changes the expected rows while adding the fewest of them,
        within budget; a candidate that changes nothing (its row is filtered away, say) only
        when none does. Returns the classes covered."""
        search = self.search
        covered: list[str] = []
        for index, what, rows in classes:
            present = set(rows) & set(self.fixture.get(index) or [])
            # A row of the class already there covers it only if the output depends on it:
            # one the SQL filters away (a gift-card payment of a returned order) tests nothing.
            self._ask_without(index, sorted(present))
            if any(self._matters(index, row) for row in sorted(present)):
                covered.append(what)
                self.promised.append(_Class(index, what, [(row,) for row in rows]))
                continue
            current = search.output_rows(self.fixture)

            def rank(position, candidate, produced, current=current):
                # Another row count is another output; the same count needs a look at the rows.
                same = produced == current and search.output(candidate) == search.output(self.fixture)
                return (same, produced - current, _rows_in(candidate), position)

            if self._adopt_best([_merge(self.fixture, block) for _, block in self._class_blocks(index, rows)], rank):
                covered.append(what)
                self.promised.append(_Class(index, what, [(row,) for row in rows]))
        return covered

    def _class_blocks(self, index: int, rows: list[int]) -> list[tuple[int, dict[int, list[int]]]]:
        """(row, block) candidates for a coverage class: each row's lean block (one row of
        another input per key value of the row itself) before its full one (EXPANSION of
        them). A class row on a parent input (a fare package) otherwise brings EXPANSION
        children (tickets) for each value covered, and a few values spend a child input's
        whole row budget before the rows that matter later (a month boundary) are offered;
        the rank keeps the full block only where the lean one does not change the expected
        rows as well. A copy (a twin) gets its full block and its original's: its children
        were copied with it, and two orders are alike (what tells sum from sum(distinct))
        only with all their payments, the original's too (it may have come with a lean block)."""
        found: list[tuple[int, dict[int, list[int]]]] = []
        twins = {(i, new): original for (i, original), new in self.search._twins.items()}
        for row in rows:
            if (index, row) in twins:
                full = self.search.block((index, row), False)
                found.append((row, _merge(full, self.search.block((index, twins[(index, row)]), False))))
                continue
            lean, full = (self.search.block((index, row), False, expansion) for expansion in (1, EXPANSION))
            found += [(row, lean)] if lean == full else [(row, lean), (row, full)]
        return found

    def _adopt_best(self, candidates: list[dict[int, list[int]]], rank) -> bool:
        """Make the candidate of least `rank(position, candidate, produced rows)` the fixture,
        among those within the row budgets (a rank of None rules a candidate out); False
        if there is none. The candidates' outputs are asked of DuckDB in batches first."""
        search = self.search
        search.prefetch(search.ctx.tree, candidates)
        best: tuple | None = None
        for position, candidate in enumerate(candidates):
            produced = search.output_rows(candidate)
            if not _size_ok(candidate, self.max_rows) or not 0 < produced <= self.max_expect:
                continue
            key = rank(position, candidate, produced)
            if key is not None and (best is None or key < best[0]):
                best = (key, candidate)
        if best is None:
            return False
        self.fixture = best[1]
        return True

    def cover_apart(self, classes: list[tuple[int, str, str, list[int]]]) -> list[str]:
        """cover() for the values of filtered columns (value_classes()), preferring for each
        value a row whose expected rows are not those a row of another value of the column
        changes: two sibling values in one group cancel when a filter swaps one for the
        other (one customer lost, one gained: the count stays), in two groups they cannot."""
        search = self.search
        covered: list[str] = []
        for index, column, what, rows in classes:
            present = set(rows) & set(self.fixture.get(index) or [])
            self._ask_without(index, sorted(present))
            if any(self._matters(index, row) for row in sorted(present)):
                covered.append(what)
                self.promised.append(_Class(index, what, [(row,) for row in rows]))
                continue
            value = search.value_of(index, rows[0], column) if rows else None
            others = [
                row for row in self.fixture.get(index) or [] if search.value_of(index, row, column) not in (None, value)
            ]
            self._ask_without(index, others[:COVERAGE_CANDIDATES])
            touched = set().union(*(self._changed_by(index, row) for row in others[:COVERAGE_CANDIDATES]))
            current = search.output(self.fixture)
            blocks = self._class_blocks(index, rows)
            candidates = [_merge(self.fixture, block) for _, block in blocks]
            alone = [_less(candidate, index, (row,)) for candidate, (row, _) in zip(candidates, blocks, strict=True)]
            search.prefetch(search.ctx.tree, alone)

            def rank(position, candidate, produced, current=current, touched=touched, alone=alone):
                # The value's own row must change the expected rows, not only its block: a
                # block whose other rows do while the row is filtered away covers nothing.
                own = search.output(candidate) != search.output(alone[position])
                changed = _changed(search.output(candidate), current)
                overlap = bool(changed & touched)
                return (not own, not changed, overlap, produced - len(current), _rows_in(candidate), position)

            if self._adopt_best(candidates, rank):
                covered.append(what)
                self.promised.append(_Class(index, what, [(row,) for row in rows]))
        return covered

    def _changed_by(self, index: int, row: int) -> set:
        """The expected rows that change (before and after) without this one source row."""
        return _changed(self.search.output(self._without(index, row)), self.search.output(self.fixture))

    def cover_pairs(self, classes: list[tuple[int, str, list[tuple[int, ...]], str]]) -> list[str]:
        """Coverage by several rows (generator.testgen.coverage): for each class without such
        rows in the fixture, add the rows (with the block of each) that change the
        expected rows while adding the fewest, within budget; none if no pair changes them."""
        search = self.search
        covered: list[str] = []
        for index, what, pairs, group in classes:
            picked = set(self.fixture.get(index) or [])
            if any(set(rows) <= picked for rows in pairs):
                covered.append(what)
                self.promised.append(_Class(index, what, [tuple(rows) for rows in pairs]))
                continue
            current = search.output(self.fixture)
            groups = {repr(search.value_of(index, row, group)) for row in picked}

            def rank(
                position, candidate, produced, current=current, groups=groups, pairs=pairs, index=index, group=group
            ):
                if not _changed(search.output(candidate), current):
                    return None  # a pair the SQL filters away (or that repeats a group) tests nothing
                joins = repr(search.value_of(index, pairs[position][0], group)) in groups
                return (joins, produced - len(current), _rows_in(candidate), position)

            candidates = [_merge(self.fixture, *(search.block((index, row), False) for row in rows)) for rows in pairs]
            if self._adopt_best(candidates, rank):
                covered.append(what)
                self.promised.append(_Class(index, what, [tuple(rows) for rows in pairs]))
        return covered

    def _matters(self, index: int, row: int) -> bool:
        """Whether the fixture's expected rows change without this one source row."""
        return self.search.output(self._without(index, row)) != self.search.output(self.fixture)

    def _ask_without(self, index: int, rows: list[int]) -> None:
        """Prefetch the fixture's output without each of these rows (one statement, not one each)."""
        self.search.prefetch(self.search.ctx.tree, [self.fixture, *(self._without(index, row) for row in rows)])

    def _without(self, index: int, row: int) -> dict[int, list[int]]:
        """The fixture less one source row."""
        return {i: [r for r in picked if (i, r) != (index, row)] for i, picked in self.fixture.items()}

    # -- coverage re-checked on the final rows ----------------------------------------------

    def units_in(self, promise: _Class, picks: dict[int, list[int]]) -> list[tuple[int, ...]]:
        """The units of a class these rows hold: those the search offered for it, and any
        row of the class by its condition (another row of the value, of the boundary)."""
        picked = picks.get(promise.index) or []
        offered = [unit for unit in promise.units if set(unit) <= set(picked)]
        others = [(row,) for row in self.search.members(promise.index, promise.what, picked)]
        units = list(dict.fromkeys([*offered, *others]))
        # The unit that mattered last time first: the choices asked about mostly share rows.
        witness = self.witness.get(promise[:2])
        return sorted(units, key=lambda unit: unit != witness)

    def holds(self, promise: _Class, picks: dict[int, list[int]]) -> bool:
        """Whether these rows hold a unit of the class and the expected rows change without
        it. Rows added later (a later invoice that moves the data's end, a larger amount
        that becomes the maximum) can make a row that mattered matter no more; and a class
        given a row that never mattered (none of its candidates did) promised nothing."""
        # Keyed by the class object: two classes may share a name (and differ in units).
        key = (id(promise), _picks_key(picks))
        if key not in self._holds:
            self._holds[key] = self._holds_uncached(promise, picks)
        return self._holds[key]

    def _holds_uncached(self, promise: _Class, picks: dict[int, list[int]]) -> bool:
        output = self.search.output(picks)
        for unit in self.units_in(promise, picks):
            if self.search.output(_less(picks, promise.index, unit)) != output:
                self.witness[promise[:2]] = unit
                return True
        return False

    def _ask_holds(self, promise: _Class, choices: list[dict[int, list[int]]]) -> None:
        """Prefetch what holds() asks about these choices: each, and each less each unit."""
        self._ask_classes([promise], choices)

    def _ask_classes(self, classes: list[_Class], choices: list[dict[int, list[int]]], *, first: bool = False) -> None:
        """Prefetch what holds() asks about each of these classes on each of these choices
        (with `first`, only about the unit it asks first: the one that mattered last time)."""
        search = self.search
        for promise in classes:
            # Which rows are of the class, for every choice in one question (members() remembers).
            rows = {row for picks in choices for row in picks.get(promise.index) or []}
            search.members(promise.index, promise.what, rows)
        asked = []
        for picks in choices:
            asked.append(picks)
            for promise in classes:
                if (id(promise), _picks_key(picks)) not in self._holds:
                    units = self.units_in(promise, picks)
                    asked += [_less(picks, promise.index, unit) for unit in (units[:1] if first else units)]
        search.prefetch(search.ctx.tree, asked)

    def recheck(self, killed: list[exp.Expression]) -> list[_Class]:
        """After the last row is chosen, every coverage class given rows must still change
        the expected rows on the final fixture (see holds()). For each that does not, in the
        order they were given rows, the fewest rows that make one of its units matter again
        (a later invoice, so that a subscription started after the fixture's last one counts)
        are added: within budget, every mutant told apart still told apart, every class
        given rows before it still holding (and as many given rows after it as can). Each
        addition makes the classes that hold, read in that order, strictly better: this
        ends. Returns the classes that no such rows keep."""
        # (A mutant rows chosen later took the difference from is not this step's to keep.)
        killed = [tree for tree in killed if self.search.kills(self.fixture, tree)]
        helpers = self._helpers()
        # Every class's question about the final rows in as few statements as prefetch makes.
        self._ask_classes(self.promised, [self.fixture])
        tried: set[tuple] = set()
        restored = True
        while restored:
            restored = False
            for position, promise in enumerate(self.promised):
                key = (position, _picks_key(self.fixture))
                if key in tried or promise[:2] in self.hopeless or self.holds(promise, self.fixture):
                    continue
                tried.add(key)
                restored = self._restore(position, helpers, killed) or restored
        return [promise for promise in self.promised if not self.holds(promise, self.fixture)]

    def _helpers(self) -> list[dict[int, list[int]]]:
        """The candidate blocks not all in the fixture yet, those that add the fewest expected
        rows first (then the smallest): what may make a row matter again."""
        search = self.search
        current = search.output_rows(self.fixture)
        adds = _adding(self.fixture)
        candidates = [(p, b) for p, b in enumerate(self.blocks) if adds(b)]
        search.prefetch(search.ctx.tree, [_merge(self.fixture, b) for _, b in candidates])
        ranked = sorted(
            candidates,
            key=lambda pair: (search.output_rows(_merge(self.fixture, pair[1])) - current, _rows_in(pair[1]), pair[0]),
        )
        return [block for _, block in ranked]

    def _restore(self, position: int, helpers: list[dict[int, list[int]]], killed: list[exp.Expression]) -> bool:
        """Make the class at this position hold again (see recheck): among the rows that do,
        keeping every class before it, those that lose the fewest classes after it, then
        add the fewest expected rows, then the fewest rows. False if none do."""
        search, promise = self.search, self.promised[position]
        current = search.output_rows(self.fixture)
        self._ask_classes(self.promised, [self.fixture])  # (the fixture changes as classes are restored)
        earlier = [other for other in self.promised[:position] if self.holds(other, self.fixture)]
        later = [other for other in self.promised[position + 1 :] if self.holds(other, self.fixture)]
        found = [
            candidate
            for candidate in self._restorations(promise, helpers, earlier)
            if _size_ok(candidate, self.max_rows) and 0 < search.output_rows(candidate) <= self.max_expect
        ]

        def cost(candidate: dict[int, list[int]]) -> tuple[int, int, int]:
            lost = sum(not self.holds(other, candidate) for other in later)
            return (lost, search.output_rows(candidate) - current, _rows_in(candidate))

        if len(found) > 1:
            # Every class after this one asked about every candidate at once.
            self._ask_classes(later, found)
            ranked = sorted(found, key=cost)
        else:
            ranked = found  # (one candidate or none: nothing to rank)
        for candidate in ranked:
            if all(search.kills(candidate, tree) for tree in killed):
                self.fixture = candidate
                return True
        return False

    def _restorations(
        self, promise: _Class, helpers: list[dict[int, list[int]]], keep: list[_Class]
    ) -> list[dict[int, list[int]]]:
        """For each unit the search offered for the class: the fixture with it (and its
        block) and the fewest helper blocks that make the class hold, the classes in `keep`
        holding too."""
        search = self.search

        def holds(picks: dict[int, list[int]]) -> bool:
            return self.holds(promise, picks) and all(self.holds(other, picks) for other in keep)

        found = []
        # A class that holds neither with a unit alone nor among every candidate row (a value
        # the SQL filters away) is not searched again when the fixture grows.
        self.hopeless.add(promise[:2])
        tries = []
        for unit in promise.units[:COVERAGE_CANDIDATES]:
            base = _merge(self.fixture, *(search.block((promise.index, row), False) for row in unit))
            adds = _adding(base)
            pieces = [block for block in helpers if adds(block)]
            tries.append((base, pieces, _merge(base, *pieces)))
        # Every unit's first questions at once; then, for the units whose rows alone make
        # the class hold (a few rows more than the fixture: cheap to run on), what the
        # classes to keep ask about them.
        self._ask_holds(promise, [choice for base, _, everything in tries for choice in (base, everything)])
        if keep and search.batches(search.ctx.tree):
            self._ask_classes(keep, [base for base, _, _ in tries if self.holds(promise, base)])
            # The units whose rows alone do not: the classes to keep about every candidate row
            # (many rows, so only the unit each class asks first; the others when asked).
            wider = [everything for base, _, everything in tries if not holds(base) and self.holds(promise, everything)]
            self._ask_classes(keep, wider, first=True)
        for base, pieces, everything in tries:
            if self.holds(promise, base) or self.holds(promise, everything):
                self.hopeless.discard(promise[:2])
            if holds(base):
                found.append(base)
            elif holds(everything):
                # Not monotone (a row can matter among some rows and not among more), but
                # rows that make it matter among all of them are worth a search.
                restored = smallest_subset(base, pieces, holds, lambda tries: self._ask_holds(promise, tries))
                if restored is not None:
                    found.append(restored)
        return found

    def grow_groups(self, tree: exp.Expression) -> bool:
        """Tell a mutant apart with more rows in the groups the fixture already has: a rate
        rounded to fewer places shows only on groups of a size like 7 (3/7, not 1/2), which
        no candidate block makes, since each starts a group of its own or brings a whole
        one. The candidates are rows spread over each input (with their blocks) that add
        no output row but change one; the fewest of them that tell the mutant apart are
        added. False if none do."""
        search = self.search
        current = search.output_rows(self.fixture)
        if current <= 0:
            return False
        candidates = [_merge(self.fixture, block) for block in search.mate_blocks(self.fixture)]
        search.prefetch(search.ctx.tree, candidates)
        mates = [
            candidate
            for candidate in candidates
            if search.output_rows(candidate) == current and search.output(candidate) != search.output(self.fixture)
        ]
        found = self.smallest_killing(mates, tree) if mates else None
        if found is None:
            return False
        self.fixture = found
        return True

    def trade(self, tree: exp.Expression, killed: list[exp.Expression]) -> bool:
        """Tell a mutant apart within a full budget: a source row where the real data shows it
        (with its parents) in place of one fixture row of its input whose loss keeps every
        mutant in `killed` told apart and every coverage class that holds holding. False if
        no such trade is found (tried in a fixed order, the first that works is kept)."""
        search = self.search
        if not self.result_table:
            return False
        holding = [promise for promise in self.promised if self.holds(promise, self.fixture)]
        parents = {link.parent for link in search.parents if self.fixture.get(link.child)}
        for index, row in search.diff_seeds(tree, self.result_table):
            if index in parents or row in (self.fixture.get(index) or []):
                continue  # a parent traded away would orphan its children; a row there is no trade
            # The seed alone of its input, with the rows of the others it joins to and its parents.
            added = {i: rows for i, rows in search.block((index, row), False).items() if i != index}
            added[index] = [row]
            search._add_parents(added)
            grown = _merge(self.fixture, added)
            candidates = [_less(grown, index, (old,)) for old in self.fixture.get(index) or []]
            search.prefetch(search.ctx.tree, candidates)
            search.prefetch_kills(tree, [c for c in candidates if _size_ok(c, self.max_rows)])
            for candidate in candidates:
                if (
                    self.acceptable(candidate, tree)
                    and all(search.kills(candidate, other) for other in killed)
                    and all(self.holds(promise, candidate) for promise in holding)
                ):
                    self.fixture = candidate
                    return True
        return False

    def tell_apart(self, tree: exp.Expression) -> bool:
        """Grow the fixture so that the mutant's output differs; False if it cannot."""
        search = self.search
        if search.kills(self.fixture, tree):
            return True
        if not search.kills(_merge(self.fixture, self.everything), tree) and self.result_table:
            # No candidate shows the difference: seed from where the real data shows it.
            for seed in search.diff_seeds(tree, self.result_table):
                for groups in (False, True):
                    self.add_block(search.block(seed, groups))
        if not search.kills(_merge(self.fixture, self.everything), tree):
            return self.grow_groups(tree)
        adds = _adding(self.fixture)
        positions = sorted(
            (p for p, b in enumerate(self.blocks) if adds(b)),
            key=lambda p: (sum(len(rows) for rows in self.blocks[p].values()), p),
        )
        candidates = [self.blocks[p] for p in positions]
        # The smallest blocks first; if that makes too many expected rows, the blocks that
        # alone keep them within budget (ordered by the rows they add), then any one block.
        found = self.smallest_killing(candidates, tree)
        if found is None:
            self.current_rows = search.output_rows(self.fixture)
            budget = self.max_expect - max(self.current_rows, 0)
            search.prefetch(search.ctx.tree, [_merge(self.fixture, self.blocks[p]) for p in positions])
            by_cost = sorted(positions, key=self.cost)
            affordable = [self.blocks[p] for p in by_cost if self.cost(p)[0] <= budget]
            if len(affordable) < len(candidates):
                found = self.smallest_killing(affordable, tree)
            if found is None:
                singles = [_merge(self.fixture, b) for b in affordable[:SINGLE_BLOCK_TRIES]]
                search.prefetch(search.ctx.tree, singles)
                if search.prefetched(search.ctx.tree, singles):
                    # Their sizes are known for free now: run the mutant on the ones in budget.
                    search.prefetch_kills(
                        tree,
                        [
                            c
                            for c in singles
                            if _size_ok(c, self.max_rows) and 0 < search.output_rows(c) <= self.max_expect
                        ],
                    )
                found = next((c for c in singles if self.acceptable(c, tree)), None)
        if found is None:
            return False
        self.fixture = found
        return True


def choose_rows(
    search: FixtureSearch,
    mutants,
    *,
    max_rows: int = MAX_ROWS_PER_INPUT,
    max_expect: int = MAX_EXPECT_ROWS,
    result_table: str | None = None,
) -> FixtureChoice:
    """Pick fixture rows: a base that returns rows, then blocks that tell mutants apart."""
    choice = FixtureChoice()
    chooser = _Chooser(search, max_rows, max_expect, result_table)
    found: list[dict[int, list[int]]] = []
    duplicated: Counter = Counter()
    # Where each output row is one input row's, a second copy of a row only repeats an output
    # row: it tells nothing apart (there is no sum or count to change), so none is added.
    doubles = not pass_through(search.ctx)
    seeds = search.seeds()
    for item in search.inputs:  # every seed's values in one query per input (each block reads its seed's)
        search.values_of(item.index, [row for index, row in seeds if index == item.index])
    for seed in seeds:
        for groups in (False, True):
            block = search.block(seed, groups)
            if block not in found:
                found.append(block)
        # The seed row twice: a duplicate in the input (a double load), which is what tells
        # sum from max and count(*) from count(distinct) when the data has no such group.
        # An input with a unique key gets a twin instead (the row copied with a fresh key):
        # the same row twice could not happen there.
        if doubles and duplicated[seed[0]] < DUPLICATE_SEEDS:
            duplicated[seed[0]] += 1
            second = search.twin(*seed) if search.inputs[seed[0]].keys else seed[1]
            if second is not None:
                twice = {index: list(rows) for index, rows in search.block(seed, False).items()}
                twice[seed[0]] = sorted([*twice[seed[0]], second])
                if twice not in found:
                    found.append(twice)
    if not found:
        return choice
    # Small blocks first: delta debugging keeps the first pieces that work.
    for block in sorted(found, key=lambda b: (sum(len(rows) for rows in b.values()), found.index(b))):
        chooser.add_block(block)
    chooser.base()
    # Meaning first (the values a filter names and their siblings; rows at the month and
    # week boundaries of the dates it truncates or compares, in the hours where time zones
    # disagree, the cheapest of each), then whatever the mutants still need.
    chooser.cover_apart(search.value_classes())
    choice.boundaries = chooser.cover(search.boundary_candidates())
    # Not month or week boundaries (the description counts those): rows on either side of a
    # threshold between two dates, and nulls in the columns the SQL aggregates.
    chooser.cover(threshold_classes(search) + null_classes(search))
    chooser.cover(search.twin_candidates(chooser.fixture))
    chooser.cover_pairs(pair_classes(search) + spread_classes(search))
    searched = [mutant for mutant in mutants if not mutant.held_out]  # held out: scored by mutate only
    told = [mutant for mutant in searched if chooser.tell_apart(mutant.tree)]
    # Rows added for a later mutant can take an earlier one's difference away (a later
    # invoice moves the data's end past every start): those are searched for once more.
    for mutant in told:
        if not search.kills(chooser.fixture, mutant.tree):
            chooser.tell_apart(mutant.tree)
    # A sibling column read instead (column-swap) shows only on a row where the two disagree,
    # which the budget, full by now, may have no room for: one such row traded for another.
    for mutant in searched:
        if mutant.operator == "column-swap" and not search.kills(chooser.fixture, mutant.tree):
            chooser.trade(mutant.tree, [m.tree for m in searched if search.kills(chooser.fixture, m.tree)])
    # Rows at and either side of each number an expression of one input is compared with,
    # after the mutants: offered before them, rows a filter drops (a payment of 0 where
    # `amount > 0`) took the place of a value's row the mutants then did not bring back.
    chooser.cover(bound_classes(search))
    # The rows the mutants asked for came after the coverage: what each class promised must
    # hold on the final rows, which the unit test will hold.
    lost = chooser.recheck([mutant.tree for mutant in searched if search.kills(chooser.fixture, mutant.tree)])
    for mutant in searched:
        killed = search.kills(chooser.fixture, mutant.tree)
        (choice.killed if killed else choice.unkillable).append(mutant.label())
    choice.lost = [promise.what for promise in lost]
    choice.covered = [promise.what for promise in chooser.promised if not any(promise is gone for gone in lost)]
    choice.boundaries = [what for what in choice.boundaries if what in choice.covered]
    choice.picks = chooser.fixture
    return choice


def build_unit_test(
    ctx: GateContext,
    mutants,
    *,
    model: str,
    version: int | None,
    timeout_s: float | None = None,
) -> tuple[UnitTest | None, FixtureChoice | None, str | None]:
    """The unit test for the accepted SQL in `ctx` (sandbox open), or None and why not."""
    if ctx.tree is None or not ctx.relations or ctx.sandbox is None:
        return None, None, "no parsed SQL or no inputs: no unit test"
    search = FixtureSearch(ctx, timeout_s=timeout_s)
    try:
        search.setup()
        choice = choose_rows(search, mutants, result_table=RESULT_TABLE if ctx.result is not None else None)
        given = []
        for item in search.inputs:
            rows = choice.picks.get(item.index, [])
            columns = [(c.name, c.data_type or "varchar") for c in item.relation.columns if c.name in item.read]
            if rows:
                table = f"({FixtureSearch.rows_sql(item, rows, f'select * from {item.source}')})"
                rendered = rendered_rows(search.sandbox, table, columns, order="gm_row")
            else:
                rendered = []
            given.append(GivenInput(item.text, tuple(rendered)))
    except SandboxQueryError as error:
        return None, None, f"no unit test: choosing its rows failed: {error.summary}"
    finally:
        search.teardown()
    twins = search.copied_rows(choice.picks)
    problems = constraint_violations(given, {item.text: item.relation for item in search.inputs})
    if problems:
        return None, choice, "no unit test: its rows would break a test of its inputs: " + "; ".join(problems[:3])
    draft = UnitTest(unit_test_name(model, version), model, tuple(given), (), version)
    runner = FixtureRunner(ctx.sandbox, ctx, draft, 0)
    try:
        if not runner.usable:
            return None, choice, runner.problem
        try:
            columns = runner.run(ctx.tree, f"{runner.prefix}_original")
        except SandboxQueryError as error:
            return None, choice, f"no unit test: the model does not run on the chosen rows: {error.summary}"
        expect = rendered_rows(ctx.sandbox, f"{runner.prefix}_original", columns)
    finally:
        runner.close()
    killed = len(choice.killed)
    inputs = ", ".join(f"{len(g.rows)} row(s) of {g.input}" for g in given)
    copied = f"; {twins} of them a copy of another with a new key (a second child of one kind)" if twins else ""
    boundaries = (
        f", rows at {len(choice.boundaries)} month or week boundaries (in the hours where time zones disagree) "
        "of the dates it truncates or compares"
        if choice.boundaries
        else ""
    )
    description = (
        f"Pins the reviewed logic: {inputs}, real rows from the warehouse (each with its parent rows, "
        f"no unique key twice{copied}): every value of a filtered column{boundaries}, then rows that make "
        f"{killed} plausible changes to the SQL change the expected rows; expected = the accepted SQL run on them."
    )
    unit_test = UnitTest(draft.name, model, tuple(given), tuple(expect), version, description)
    # The expected rows must be what dbt computes from the YAML values: check it once.
    check = FixtureRunner(ctx.sandbox, ctx, unit_test, 1)
    try:
        problem = check.check_original(ctx.tree)
    finally:
        check.close()
    if problem:
        return None, choice, problem
    return unit_test, choice, None
