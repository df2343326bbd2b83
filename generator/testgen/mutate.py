"""Mutation testing of a model's tests: plausible mistakes in its SQL, and which tests see them.

A mutant is the model's SQL with one deliberate change, the kind a person (or an LLM)
makes by accident. Operators, applied at every place they fit, in the order of a
depth-first walk of the parsed SQL (so enumeration is deterministic):

  join-type        inner join <-> left join
  drop-predicate   drop one conjunct of a where/having (the whole clause if it has one)
  drop-filter      drop the filter (where ...) of an aggregate
  aggregate        sum -> count, sum -> avg, avg -> sum, count(x) -> sum(x), min <-> max
  boundary         < <-> <=, > <-> >=, = <-> <>
  arithmetic       + <-> -, * <-> /
  coalesce         coalesce(x, fallback) -> x
  window-order     asc <-> desc in a window's order by (which copy row_number() keeps)
  negation         not p -> p
  group-by         drop one grouping key (its uses outside aggregates become min(key))
  distinct         remove select distinct / count(distinct x)
  case-branches    swap the first two branches of a case (then <-> else with one branch)
  join-key         compare a join key with another column of the joined relation, of the
                   same type
  precision        round(x, n) -> round(x, n - 1)
  window-frame     `rows between 2 preceding` -> 1 or 3 preceding (the frame one row
                   narrower or wider, at each numeric end of a window's frame)
  column-swap      a column an output expression reads (in an aggregate, a date_trunc, a
                   cast, arithmetic) read as a sibling of the same input and type family
                   (`sum(net_paid_amount)` -> `sum(amount_paid)`): the COLUMN_SWAPS siblings
                   sharing most words of its name (then the nearest in declared order)

Each mutant runs in the sandbox (a scratch copy: the warehouse is attached read-only, and
results live in temp tables): on the real data, where the model's data tests run against
its result exactly as dbt would run them (generator.testgen.testsql), and on each unit test's
fixtures, compared with the expected rows as dbt compares them. On another engine (Spark)
the sandbox is that of the model's DuckDB twin, proven equal to the engine on the real data
(generator.testgen.modeltests.mutate_on_twin). A mutant is

  invalid     it does not run in DuckDB (not counted);
  equivalent  same columns, types and rows as the original on the real data and on every
              unit test's fixtures (not counted: no test could tell it apart);
  killed      a data test fails, a unit test's expected rows differ, or (with an enforced
              contract) its columns or types differ from the contract;
  survived    none of the above (reported with its diff).

score = killed / (killed + survived); with nothing killed or survived there is nothing to
score (None, printed as such), never a perfect 1.00. Kills are also counted per kind of
test: unit test, data tests, contract.

Held-out operators are applied too but never shown to the unit-test row search
(generator.testgen.unit_fixtures skips them), so their score is not circular:

  value-set        drop one value of an `in (...)` list, or add a sibling value of the
                   column's accepted_values to it; compare with a sibling instead of the
                   value the SQL names
  date-unit        date_trunc('month', x) -> 'week' (week -> day, day -> month, ...)
  distinct-add     count(x) -> count(distinct x), sum(x) -> sum(distinct x)
  nullif           nullif(x, y) -> x
  partition        drop one key of a window's partition by
                   (value-set also tries up to SIBLING_TRIES siblings, not just the first;
                   date-unit also changes the unit of date_diff / datediff / date_sub)
  time-zone        a timestamp column truncated (or cast to a date) read in another zone
                   (WRONG_ZONES: one west, one east of UTC); `at time zone` changed or dropped
  join-swap        a join equality on another key-like column (`*_id`) of the same relation
                   and type, on either side; two equalities trade their right-hand keys
  coalesce-order   the first two values of a coalesce swapped; a middle fallback dropped
  frame-drop       a window's explicit frame dropped (a rolling sum becomes a running one)
  cte-bypass       one reader of a filtering CTE reads the CTE's unfiltered source instead
                   (only where the CTE has other readers, and the source has its columns)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlglot import exp

from generator.project.sandbox import RESULT_TABLE, SandboxQueryError
from generator.sql.context import GateContext, node_span
from generator.sql.formatting import generate_sql
from generator.sql.runnable import runnable_sql
from generator.sql.templating import line_col
from generator.testgen.datatests import DataTest
from generator.testgen.kinds.base import Resolver
from generator.testgen.testsql import NotMirrored, count_failures

MUTANT_TABLE = "gen_model_mutant"
OPERATORS = (
    "join-type",
    "drop-predicate",
    "drop-filter",
    "aggregate",
    "boundary",
    "arithmetic",
    "coalesce",
    "window-order",
    "negation",
    "group-by",
    "distinct",
    "case-branches",
    "join-key",
    "precision",
    "window-frame",
    "column-swap",
)
HELD_OUT = (
    "value-set",
    "date-unit",
    "distinct-add",
    "nullif",
    "partition",
    "time-zone",
    "join-swap",
    "coalesce-order",
    "frame-drop",
    "cte-bypass",
)
DATE_UNITS = {"MONTH": "WEEK", "WEEK": "DAY", "DAY": "MONTH", "YEAR": "QUARTER", "QUARTER": "MONTH", "HOUR": "DAY"}


@dataclass(frozen=True)
class Mutant:
    """One deliberate change to the model's SQL."""

    index: int
    operator: str
    description: str
    line: int | None
    tree: exp.Expression = field(compare=False, repr=False)

    def label(self) -> str:
        where = f" (line {self.line})" if self.line else ""
        return f"#{self.index} {self.operator}: {self.description}{where}"

    @property
    def held_out(self) -> bool:
        """An operator the unit-test row search never sees (its score is not circular)."""
        return self.operator in HELD_OUT


# -- enumeration ------------------------------------------------------------------------------


def _sql(node: exp.Expression) -> str:
    return node.sql(dialect="duckdb")


def _short(node: exp.Expression, width: int = 60) -> str:
    node = node.copy()
    for child in node.walk():
        child.comments = None  # a comment in a description is noise
    try:
        text = generate_sql(node)
    except Exception:  # the formatter's internals are a convenience here, not a need
        text = _sql(node)
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _conjuncts(condition: exp.Expression) -> list[exp.Expression]:
    if isinstance(condition, exp.And):
        return _conjuncts(condition.this) + _conjuncts(condition.expression)
    return [condition]


def _and(parts: list[exp.Expression]) -> exp.Expression:
    result = parts[0].copy()
    for part in parts[1:]:
        result = exp.and_(result, part.copy())
    return result


Edit = Callable[[exp.Expression], None]  # mutates the node (in a copy of the tree) in place


def _replace(node: exp.Expression, new: exp.Expression) -> None:
    node.replace(new)


def _join_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    side = (node.side or "").upper()
    kind = (node.kind or "").upper()
    name = _short(node.this, 40)
    if side == "LEFT":

        def to_inner(join: exp.Expression) -> None:
            join.set("side", None)

        yield "join-type", f"left join {name} -> inner join", to_inner
    elif not side and kind in ("", "INNER") and node.args.get("on") is not None:

        def to_left(join: exp.Expression) -> None:
            join.set("kind", None)
            join.set("side", "LEFT")

        yield "join-type", f"inner join {name} -> left join", to_left
    yield from _join_key_edits(node, source_columns)


def _predicate_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    if isinstance(node.parent, exp.Filter):
        return
    parts = _conjuncts(node.this)
    keyword = "where" if isinstance(node, exp.Where) else "having"
    if len(parts) == 1:

        def drop_clause(clause: exp.Expression) -> None:
            clause.pop()

        yield "drop-predicate", f"drop `{keyword} {_short(parts[0])}`", drop_clause
        return
    for index, part in enumerate(parts):

        def drop_part(clause: exp.Expression, index=index) -> None:
            remaining = [p for i, p in enumerate(_conjuncts(clause.this)) if i != index]
            clause.set("this", _and(remaining))

        yield "drop-predicate", f"drop `{_short(part)}` from the {keyword}", drop_part


def _filter_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    def drop_filter(filtered: exp.Expression) -> None:
        filtered.replace(filtered.this.copy())

    yield "drop-filter", f"drop the filter of `{_short(node)}`", drop_filter


def _aggregate_function_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    yield from _aggregate_edits(node)


_FLIPS = {exp.LT: exp.LTE, exp.LTE: exp.LT, exp.GT: exp.GTE, exp.GTE: exp.GT, exp.EQ: exp.NEQ, exp.NEQ: exp.EQ}
_ARITHMETIC = {exp.Add: exp.Sub, exp.Sub: exp.Add, exp.Mul: exp.Div, exp.Div: exp.Mul}


def _boundary_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    if type(node) not in _FLIPS or _in_join_condition(node):
        return
    target = _FLIPS[type(node)]

    def flip(comparison: exp.Expression, target=target) -> None:
        comparison.replace(target(this=comparison.this.copy(), expression=comparison.expression.copy()))

    shown = target(this=node.this.copy(), expression=node.expression.copy())
    yield "boundary", f"`{_short(node)}` -> `{_short(shown)}`", flip


def _arithmetic_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    if type(node) not in _ARITHMETIC:
        return
    swapped = _ARITHMETIC[type(node)]

    def swap_operator(operation: exp.Expression, swapped=swapped) -> None:
        operation.replace(swapped(this=operation.this.copy(), expression=operation.expression.copy()))

    shown = swapped(this=node.this.copy(), expression=node.expression.copy())
    yield "arithmetic", f"`{_short(node)}` -> `{_short(shown)}`", swap_operator


def _coalesce_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    if not node.expressions:
        return

    def drop_fallback(coalesce: exp.Expression) -> None:
        coalesce.replace(coalesce.this.copy())

    yield "coalesce", f"`{_short(node)}` -> `{_short(node.this)}`", drop_fallback


def _window_order_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    if not (isinstance(node.parent, exp.Order) and isinstance(node.parent.parent, exp.Window)):
        return

    def flip_direction(ordered: exp.Expression) -> None:
        ordered.set("desc", not ordered.args.get("desc"))

    direction = "desc -> asc" if node.args.get("desc") else "asc -> desc"
    yield "window-order", f"`order by {_short(node.this)}` in a window: {direction}", flip_direction


def _negation_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    if isinstance(node.this, (exp.In, exp.Is)):
        return

    def drop_not(negation: exp.Expression) -> None:
        negation.replace(negation.this.copy())

    yield "negation", f"`{_short(node)}` -> `{_short(node.this)}`", drop_not


def _select_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    yield from _group_by_edits(node)
    if node.args.get("distinct") is not None:

        def drop_distinct(select: exp.Expression) -> None:
            select.set("distinct", None)

        yield "distinct", "select distinct -> select", drop_distinct, node.expressions[0]


def _count_distinct_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    if not (isinstance(node.this, exp.Distinct) and len(node.this.expressions) == 1):
        return

    def count_all(count: exp.Expression) -> None:
        count.set("this", count.this.expressions[0].copy())

    yield "distinct", f"`{_short(node)}` -> count without distinct", count_all


def _case_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    ifs = node.args.get("ifs") or []
    if len(ifs) >= 2:

        def swap_branches(case: exp.Expression) -> None:
            first, second = case.args["ifs"][0], case.args["ifs"][1]
            a, b = first.args["true"].copy(), second.args["true"].copy()
            first.set("true", b)
            second.set("true", a)

        yield "case-branches", f"swap the first two branches of `{_short(node)}`", swap_branches
    elif len(ifs) == 1:

        def swap_default(case: exp.Expression) -> None:
            branch = case.args["ifs"][0]
            default = case.args.get("default")
            then = branch.args["true"].copy()
            branch.set("true", default.copy() if default is not None else exp.null())
            case.set("default", then)

        yield "case-branches", f"swap then and else of `{_short(node)}`", swap_default


def _round_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    decimals = node.args.get("decimals")
    if not (isinstance(decimals, exp.Literal) and not decimals.is_string and str(decimals.this).isdigit()):
        return
    places = int(decimals.this)
    if places < 1:
        return

    def one_place_less(found: exp.Expression, fewer=places - 1) -> None:
        found.set("decimals", exp.Literal.number(fewer))

    # One place less is the hardest to tell apart: rows that show the last place of a value
    # tell every smaller precision apart too (round(x, 4) has a non-zero 4th place then).
    yield "precision", f"`{_short(node)}`: {places} -> {places - 1} decimal places", one_place_less


def _held_out(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    yield from _held_out_edits(node, siblings)


SIBLING_TRIES = 4  # siblings of a compared literal tried by value-set (a bounded few)
COLUMN_SWAPS = 2  # siblings column-swap tries per column read (a bounded few)
# Type families a column is swapped within (DuckDB's names, lower case, by prefix): a
# sibling of the same family keeps the expression's type, as the author's slip did.
_FAMILIES = (
    ("numeric", ("tinyint", "smallint", "integer", "int", "bigint", "hugeint", "ubigint", "uinteger", "decimal")),
    ("numeric", ("numeric", "double", "float", "real")),
    ("timestamp", ("timestamp",)),
    ("date", ("date",)),
    ("string", ("varchar", "text", "string", "char")),
)


def _family(kind: str) -> str:
    """The type family of a column type ('' when column-swap leaves it alone: booleans,
    intervals, lists, structs)."""
    kind = kind.lower()
    if kind.endswith("]") or kind.startswith(("interval", "struct", "map")):
        return ""
    return next((family for family, prefixes in _FAMILIES for prefix in prefixes if kind.startswith(prefix)), "")


def _projection(column: exp.Column) -> exp.Expression | None:
    """The select-list expression (without its alias) an output reads `column` in, when the
    column is nested in it (an aggregate's, a function's or arithmetic's operand), else None:
    not a bare pass-through, not in a predicate, a window's partition or order, or a subquery."""
    node, parent = column, column.parent
    nested = False
    while parent is not None:
        if isinstance(parent, exp.Select):
            return node if nested and node in parent.expressions else None
        if isinstance(parent, exp.Alias) and isinstance(parent.parent, exp.Select):
            return node if nested else None
        if isinstance(parent, (exp.Predicate, exp.Where, exp.Window, exp.Subquery, exp.Order)):
            return None
        nested = True
        node, parent = parent, parent.parent
    return None


def _words(name: str) -> set[str]:
    return set(name.lower().split("_"))


def _swap_siblings(column: exp.Column, source_columns) -> list[str]:
    """The COLUMN_SWAPS columns of `column`'s relation a person most plausibly reads instead:
    the same type family, most words of the name in common, then the nearest declared."""
    family = _family(_column_type(column, source_columns))
    if not family:
        return []
    columns = source_columns.get(_column_relation(column) or "", [])
    names = [name.lower() for name, _ in columns]
    here, words = names.index(column.name.lower()), _words(column.name)

    def closeness(position: int) -> tuple:
        other = _words(names[position])
        return (-len(words & other) / len(words | other), abs(position - here), position)

    others = [p for p, (_, kind) in enumerate(columns) if p != here and _family(kind or "") == family]
    return [columns[p][0] for p in sorted(others, key=closeness)[:COLUMN_SWAPS]]


def _column_swap_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Searched column-swap: the author read a sibling column of the same input and type
    (`amount_paid` for `net_paid_amount`, `created_at` for `period_start_at`). Only rows where
    the two disagree in a way the expression shows tell it apart, which no other family asks for.
    Where the expression is also a key of the group by, the key is swapped with it."""
    projection = _projection(node)
    if projection is None:
        return
    for other in _swap_siblings(node, source_columns):

        def swap(found: exp.Expression, other=other) -> None:
            read = _projection(found)
            select = read.find_ancestor(exp.Select)
            group = select.args.get("group") if select is not None else None
            keys = [key for key in (group.expressions if group is not None else []) if key == read]
            found.set("this", exp.to_identifier(other))
            for key in keys:
                key.replace(read.copy())

        qualifier = f"{node.table}." if node.table else ""
        yield "column-swap", f"`{_short(node.parent)}` reads {qualifier}{other} instead of {node.name}", swap


# date_diff-like functions by name whose first argument is the unit ('month', a, b).
_UNIT_FIRST = frozenset({"date_diff", "datediff", "date_sub", "datesub"})


def _window_frame_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """A frame one row narrower and one wider at each numeric end (`2 preceding` -> 1, 3):
    an off-by-one in a rolling window only shows on a partition longer than the frame."""
    for end in ("start", "end"):
        bound = node.args.get(end)
        if not (isinstance(bound, exp.Literal) and not bound.is_string and bound.this.isdigit()):
            continue
        side = node.args.get(f"{end}_side") or ""
        for step in (-1, 1):
            size = int(bound.this) + step
            if size < 0:
                continue

            def resize(found: exp.Expression, end=end, size=size) -> None:
                found.set(end, exp.Literal.number(size))

            yield "window-frame", f"window frame `{bound.this} {side}` -> `{size} {side}`", resize


def _unit_argument(node: exp.Expression) -> tuple[str, exp.Expression | None]:
    """The unit of a date_diff-like call and the node that holds it (None: not one)."""
    if isinstance(node, exp.DateDiff):
        unit = node.args.get("unit")
        return (unit.name.upper() if unit is not None else ""), unit
    if isinstance(node, exp.Anonymous) and str(node.name).lower() in _UNIT_FIRST and node.expressions:
        first = node.expressions[0]
        if isinstance(first, exp.Literal) and first.is_string:
            return first.this.upper(), first
    return "", None


def _date_diff_unit_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Held-out date-unit at a date_diff / datediff / date_sub: the difference counted in
    another unit (months -> weeks), what a wrong unit in an age or offset gets wrong."""
    name, unit = _unit_argument(node)
    if unit is None or name not in DATE_UNITS:
        return
    target = DATE_UNITS[name]

    def change_unit(found: exp.Expression, target=target) -> None:
        _, held = _unit_argument(found)
        held.replace(exp.Literal.string(target.lower()) if isinstance(held, exp.Literal) else exp.var(target))

    yield "date-unit", f"`{_short(node)}`: {name.lower()} -> {target.lower()}", change_unit


def _more_sibling_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Held-out value-set with the siblings after the first (a bounded few): which sibling a
    filter swaps in decides which rows it loses and gains."""
    literal = node.expression if isinstance(node.expression, exp.Literal) else None
    if literal is None or not literal.is_string:
        return
    others = [v for v in siblings.get(literal.this, ()) if v != literal.this][1:SIBLING_TRIES]
    for other in others:

        def sibling(found: exp.Expression, other=other) -> None:
            found.expression.replace(exp.Literal.string(other))

        yield "value-set", f"`{_short(node)}` with '{other}' instead", sibling


def _in_sibling_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Held-out value-set at an `in (...)` list: one more sibling value of the column's
    accepted values kept (a bounded few), the other half of a wrong value set; dropping a
    value is the first half."""
    named = [v.this for v in node.expressions if isinstance(v, exp.Literal) and v.is_string]
    domain = next((siblings[value] for value in named if value in siblings), ())
    for other in [v for v in domain if v not in named][:SIBLING_TRIES]:

        def add_value(found: exp.Expression, other=other) -> None:
            found.set("expressions", [*(e.copy() for e in found.expressions), exp.Literal.string(other)])

        yield "value-set", f"add '{other}' to `{_short(node)}`", add_value


# -- held-out operators the issue lists beside the first five (issue 13 item 3) ---------------

# Zones a timestamp is wrongly read in: one west of UTC (a month's last hours move to the next
# month), one east (its first hours move back): fixture rows must sit in both kinds of hours.
WRONG_ZONES = ("America/New_York", "Asia/Tokyo")
KEY_TRIES = 2  # other key-like columns join-swap tries per side of a join condition (a bounded few)


def _select_sources(select: exp.Expression) -> dict[str, str]:
    """Alias -> relation or CTE name of the tables a select reads (its from and its joins)."""
    tables = [select.args.get("from_")] + list(select.args.get("joins") or [])
    sources = {}
    for holder in tables:
        table = holder.this if holder is not None else None
        if isinstance(table, exp.Table) and not table.args.get("db"):
            sources[table.alias_or_name.lower()] = table.name.lower()
    return sources


def _column_relation(column: exp.Column) -> str | None:
    """The relation or CTE (a key of source_columns) a column of a select reads, if it is known."""
    select = column.find_ancestor(exp.Select)
    sources = _select_sources(select) if select is not None else {}
    if column.table:
        return sources.get(column.table.lower())
    return next(iter(sources.values())) if len(sources) == 1 else None


def _column_type(column: exp.Expression, source_columns) -> str:
    """The known type of a column reference, lowercased ('' when it is not a column or unknown)."""
    if not isinstance(column, exp.Column):
        return ""
    known = dict((name.lower(), kind) for name, kind in source_columns.get(_column_relation(column) or "", []))
    return (known.get(column.name.lower()) or "").lower()


def _in_other_zone(value: exp.Expression, zone: str) -> exp.Expression:
    """`value` read as wall-clock time of `zone` and back to UTC: the same type (timestamp or
    timestamptz), shifted by the zone's offset."""
    local = exp.AtTimeZone(this=value, zone=exp.Literal.string(zone))
    return exp.AtTimeZone(this=local, zone=exp.Literal.string("UTC"))


def _time_zone_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Held-out time-zone: a timestamp truncated to a month/day (or cast to a date) read in
    another zone, and an explicit zone conversion changed or dropped. Only the rows in the
    hours where the zones disagree tell these apart, which no searched operator asks for."""
    if isinstance(node, exp.AtTimeZone):
        yield from _zone_conversion_edits(node)
        return
    operand = node.this
    if isinstance(node, exp.Cast) and not node.to.is_type("date"):
        return
    if "timestamp" not in _column_type(operand, source_columns):
        return  # a date has no hours; an unknown type may not bind
    for zone in WRONG_ZONES:

        def shift(found: exp.Expression, zone=zone) -> None:
            found.set("this", _in_other_zone(found.this.copy(), zone))

        yield "time-zone", f"`{_short(operand)}` read in {zone} time in `{_short(node)}`", shift


def _zone_conversion_edits(node: exp.Expression) -> Iterator[tuple]:
    """At `x at time zone 'Z'`: another zone, and no conversion at all."""
    zone = node.args.get("zone")
    if not (isinstance(zone, exp.Literal) and zone.is_string):
        return
    other = "UTC" if zone.this.upper() != "UTC" else WRONG_ZONES[0]

    def change_zone(found: exp.Expression, other=other) -> None:
        found.set("zone", exp.Literal.string(other))

    yield "time-zone", f"`{_short(node)}` in {other} instead", change_zone

    def drop_conversion(found: exp.Expression) -> None:
        found.replace(found.this.copy())

    yield "time-zone", f"`{_short(node)}` -> `{_short(node.this)}`", drop_conversion


def _key_like(name: str) -> bool:
    lowered = name.lower()
    return lowered == "id" or lowered.endswith(("_id", "_key"))


def _join_swap_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Held-out join-swap: a join condition compares another key-like column (`*_id`) of the
    same relation and type, on either side (the searched join-key changes the joined side to
    its first column of that type only); and two equalities trade their right-hand keys."""
    conditions = _conjuncts(node.args["on"]) if node.args.get("on") is not None else []
    for position, condition in enumerate(conditions):
        if not isinstance(condition, exp.EQ):
            continue
        for side_name in ("this", "expression"):
            yield from _other_key_edits(node, source_columns, position, side_name)
    equalities = [i for i, c in enumerate(conditions) if isinstance(c, exp.EQ)]
    for first, second in zip(equalities, equalities[1:], strict=False):
        left, right = conditions[first].expression, conditions[second].expression
        kinds = {_column_type(left, source_columns), _column_type(right, source_columns)}
        if len(kinds) != 1 or "" in kinds:
            continue  # keys of different or unknown types need not compare

        def trade(joined: exp.Expression, first=first, second=second) -> None:
            parts = _conjuncts(joined.args["on"])
            a, b = parts[first].expression.copy(), parts[second].expression.copy()
            parts[first].set("expression", b)
            parts[second].set("expression", a)

        yield "join-swap", f"`{_short(left)}` and `{_short(right)}` trade places in the join", trade


def _other_key_edits(join: exp.Join, source_columns, position: int, side_name: str) -> Iterator[tuple]:
    """One side of the `position`th join equality compared as another key-like column."""
    side = _conjuncts(join.args["on"])[position].args.get(side_name)
    kind = _column_type(side, source_columns)
    if not kind:
        return
    columns = source_columns.get(_column_relation(side) or "", [])
    excluded = {side.name.lower()}
    if side.table.lower() == join.this.alias_or_name.lower():
        # The searched join-key already swaps in this side's first other column of the type.
        raw = dict((name.lower(), k) for name, k in columns).get(side.name.lower())
        excluded.add(next((n.lower() for n, k in columns if k == raw and n.lower() not in excluded), ""))
    others = [n for n, k in columns if (k or "").lower() == kind and _key_like(n) and n.lower() not in excluded]
    for other in others[:KEY_TRIES]:

        def change_key(joined: exp.Expression, other=other) -> None:
            target = _conjuncts(joined.args["on"])[position].args[side_name]
            target.set("this", exp.to_identifier(other))

        yield "join-swap", f"join on {side.table}.{other} instead of {_short(side)}", change_key


def _coalesce_order_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Held-out coalesce-order: the first two values of a coalesce in the other order (which
    one wins when both are there), and a middle fallback of a longer chain dropped. The
    searched coalesce only drops every fallback at once."""
    values = [node.this, *node.expressions]
    if len(values) >= 2 and not any(isinstance(v, exp.Literal) for v in values[:2]):

        def swap_first_two(found: exp.Expression) -> None:
            first, second = found.this.copy(), found.expressions[0].copy()
            found.set("this", second)
            found.expressions[0].replace(first)

        yield "coalesce-order", f"`{_short(node)}` with its first two values swapped", swap_first_two
    for index in range(len(node.expressions) - 1):

        def drop_middle(found: exp.Expression, index=index) -> None:
            found.set("expressions", [e.copy() for i, e in enumerate(found.expressions) if i != index])

        yield "coalesce-order", f"drop `{_short(node.expressions[index])}` from `{_short(node)}`", drop_middle


def _frame_drop_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Held-out frame-drop: a window's explicit frame dropped (a rolling sum becomes a
    running one, `rows` peers become `range` peers), where the searched window-frame only
    moves a numeric end by one row."""
    if not isinstance(node.parent, exp.Window):
        return

    def drop_frame(found: exp.Expression) -> None:
        found.pop()

    yield "frame-drop", f"drop the frame `{_short(node)}` of a window", drop_frame


def _cte_bypass_edits(node: exp.Expression, source_columns, siblings) -> Iterator[tuple]:
    """Held-out cte-bypass: one reader of a filtering CTE (`kept as (select cols from src
    where ...)`) reads `src` instead, so it sees the rows the filter drops. Only where the CTE
    has other readers: with one reader this is the searched drop-predicate in disguise."""
    cte = _filtering_cte(node) if isinstance(node.parent, (exp.From, exp.Join)) else None
    if cte is None or node.find_ancestor(exp.CTE) is cte:
        return
    reader = node.find_ancestor(exp.Select)
    keeps_all = any(item.is_star for item in cte.this.expressions)
    if not keeps_all and any(item.is_star for item in reader.expressions):
        return  # the reader's columns would change with the source's: a shape, not a meaning
    readers = [t for t in cte.parent.parent.find_all(exp.Table) if _names(t, cte.alias)]
    if len(readers) < 2:
        return
    source = cte.this.args["from_"].this.name

    def bypass(found: exp.Expression, source=source, alias=node.alias_or_name) -> None:
        found.set("this", exp.to_identifier(source))
        found.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))

    holder = node.find_ancestor(exp.CTE)
    where = f"in {holder.alias}" if holder is not None else "in the final select"
    yield "cte-bypass", f"`from {node.name}` {where} reads {source} instead (its filter skipped)", bypass


def _names(table: exp.Expression, name: str) -> bool:
    """A table reference (not a qualified relation) to `name`."""
    return isinstance(table, exp.Table) and not table.args.get("db") and table.name.lower() == name.lower()


def _filtering_cte(table: exp.Table) -> exp.CTE | None:
    """The CTE a table reference names when that CTE only filters one source's rows and keeps
    their columns by name (so the source can stand in for it), else None."""
    query = table.find_ancestor(exp.Query)
    while query is not None:
        with_ = query.args.get("with_")
        for cte in with_.expressions if with_ is not None else []:
            if _names(table, cte.alias):
                return cte if _only_filters(cte.this) else None
        query = query.find_ancestor(exp.Query)
    return None


def _only_filters(select: exp.Expression) -> bool:
    """A select that keeps some rows of one table and passes its columns through unrenamed."""
    if not isinstance(select, exp.Select) or select.args.get("where") is None:
        return False
    if any(select.args.get(key) for key in ("joins", "group", "having", "distinct", "limit", "qualify", "order")):
        return False
    source = select.args.get("from_")
    if source is None or not _names(source.this, source.this.name):
        return False
    return all(
        isinstance(item, exp.Star)
        or isinstance(item, exp.Column)
        or (isinstance(item, exp.Alias) and isinstance(item.this, exp.Column) and item.alias == item.this.name)
        for item in select.expressions
    )


# The searched operators, dispatched by node type like sqlglot's TRANSFORMS: each entry's
# edits are tried in this order (the order numbers the mutants, so it is part of the output).
EDITS: tuple[tuple[type | tuple[type, ...], Callable[..., Iterator[tuple]]], ...] = (
    (exp.Join, _join_edits),
    ((exp.Where, exp.Having), _predicate_edits),
    (exp.Filter, _filter_edits),
    (exp.AggFunc, _aggregate_function_edits),
    (tuple(_FLIPS), _boundary_edits),
    (tuple(_ARITHMETIC), _arithmetic_edits),
    (exp.Coalesce, _coalesce_edits),
    (exp.Ordered, _window_order_edits),
    (exp.Not, _negation_edits),
    (exp.Select, _select_edits),
    (exp.Count, _count_distinct_edits),
    (exp.Case, _case_edits),
    (exp.Round, _round_edits),
    (exp.Column, _column_swap_edits),
    (exp.Expression, _held_out),
    (exp.WindowSpec, _window_frame_edits),
    ((exp.DateDiff, exp.Anonymous), _date_diff_unit_edits),
    ((exp.EQ, exp.NEQ), _more_sibling_edits),
    ((exp.DateTrunc, exp.TimestampTrunc, exp.Cast, exp.AtTimeZone), _time_zone_edits),
    (exp.Join, _join_swap_edits),
    (exp.Coalesce, _coalesce_order_edits),
    (exp.WindowSpec, _frame_drop_edits),
    (exp.Table, _cte_bypass_edits),
    (exp.In, _in_sibling_edits),
)


def _edits_for(node: exp.Expression, source_columns, siblings: dict | None = None) -> Iterator[tuple]:
    """(operator, description, edit[, anchor]) for every mutation that applies at `node`;
    the anchor (default: the node) is where the mutant's line number points."""
    siblings = siblings or {}
    for kinds, edits in EDITS:
        if isinstance(node, kinds):
            yield from edits(node, source_columns, siblings)


def _held_out_edits(node: exp.Expression, siblings: dict[str, tuple[str, ...]]) -> Iterator[tuple]:
    """The held-out operators (see the module docstring) at `node`."""
    if isinstance(node, exp.In) and len(node.expressions) >= 2:
        for index, value in enumerate(node.expressions):

            def drop_value(found: exp.Expression, index=index) -> None:
                found.set("expressions", [e.copy() for i, e in enumerate(found.expressions) if i != index])

            yield "value-set", f"drop {_short(value)} from `{_short(node)}`", drop_value
    if isinstance(node, (exp.EQ, exp.NEQ)):
        literal = node.expression if isinstance(node.expression, exp.Literal) else None
        if literal is not None and literal.is_string:
            other = next((v for v in siblings.get(literal.this, ()) if v != literal.this), None)
            if other is not None:

                def sibling(found: exp.Expression, other=other) -> None:
                    found.expression.replace(exp.Literal.string(other))

                yield "value-set", f"`{_short(node)}` with '{other}' instead", sibling
    if isinstance(node, (exp.DateTrunc, exp.TimestampTrunc)):
        unit = node.args.get("unit")
        name = (unit.name if unit is not None else "").upper()
        if name in DATE_UNITS:
            target = DATE_UNITS[name]

            def change_unit(found: exp.Expression, target=target) -> None:
                found.set("unit", exp.Literal.string(target) if isinstance(unit, exp.Literal) else exp.var(target))

            yield "date-unit", f"`{_short(node)}`: {name.lower()} -> {target.lower()}", change_unit
    if isinstance(node, (exp.Count, exp.Sum)) and node.this is not None:
        if not isinstance(node.this, (exp.Star, exp.Distinct)):

            def add_distinct(found: exp.Expression) -> None:
                found.set("this", exp.Distinct(expressions=[found.this.copy()]))

            yield "distinct-add", f"`{_short(node)}` -> distinct", add_distinct
    if isinstance(node, exp.Nullif):

        def drop_nullif(found: exp.Expression) -> None:
            found.replace(found.this.copy())

        yield "nullif", f"`{_short(node)}` -> `{_short(node.this)}`", drop_nullif
    if isinstance(node, exp.Window):
        for index, key in enumerate(node.args.get("partition_by") or []):

            def drop_partition(found: exp.Expression, index=index) -> None:
                keys = [k.copy() for i, k in enumerate(found.args.get("partition_by") or []) if i != index]
                found.set("partition_by", keys or None)

            yield "partition", f"drop `{_short(key)}` from a window's partition by", drop_partition


def _in_join_condition(node: exp.Expression) -> bool:
    """Equalities in a join's ON clause are join keys: the join-key operator covers them."""
    parent = node.parent
    while parent is not None and not isinstance(parent, (exp.Join, exp.Select)):
        if isinstance(parent, (exp.Or, exp.Not)):
            return False
        parent = parent.parent
    return isinstance(parent, exp.Join) and isinstance(node, exp.EQ)


def _aggregate_edits(node: exp.Expression) -> Iterator[tuple[str, str, Edit]]:
    argument = node.this
    if isinstance(node, exp.Sum):
        yield "aggregate", f"`{_short(node)}` -> count", lambda n: n.replace(exp.Count(this=n.this.copy()))
        yield "aggregate", f"`{_short(node)}` -> avg", lambda n: n.replace(exp.Avg(this=n.this.copy()))
    elif isinstance(node, exp.Avg):
        yield "aggregate", f"`{_short(node)}` -> sum", lambda n: n.replace(exp.Sum(this=n.this.copy()))
    elif isinstance(node, exp.Count) and argument is not None and not isinstance(argument, (exp.Star, exp.Distinct)):
        yield "aggregate", f"`{_short(node)}` -> sum", lambda n: n.replace(exp.Sum(this=n.this.copy()))
    elif isinstance(node, exp.Min):
        yield "aggregate", f"`{_short(node)}` -> max", lambda n: n.replace(exp.Max(this=n.this.copy()))
    elif isinstance(node, exp.Max):
        yield "aggregate", f"`{_short(node)}` -> min", lambda n: n.replace(exp.Min(this=n.this.copy()))


def _inside_aggregate(node: exp.Expression, stop: exp.Expression) -> bool:
    parent = node.parent
    while parent is not None and parent is not stop:
        if isinstance(parent, (exp.AggFunc, exp.Window)):
            return True
        parent = parent.parent
    return False


def _wrap_key(select: exp.Select, key: exp.Expression) -> None:
    """Uses of a dropped grouping key in the select list become min(key)."""
    for expression in list(select.expressions):
        target = expression.this if isinstance(expression, exp.Alias) else expression
        matches = [n for n in target.walk() if n == key and not _inside_aggregate(n, select)]
        for match in matches:
            if match is target:
                wrapped = exp.Min(this=match.copy())
                if isinstance(expression, exp.Alias):
                    expression.set("this", wrapped)
                else:
                    expression.replace(exp.alias_(wrapped, match.alias_or_name or "key"))
            else:
                match.replace(exp.Min(this=match.copy()))


def _group_by_edits(select: exp.Select) -> Iterator[tuple]:
    group = select.args.get("group")
    if group is None:
        return
    if group.args.get("all"):
        keys = [e for e in select.expressions if not any(isinstance(n, (exp.AggFunc, exp.Window)) for n in e.walk())]
        for index, key in enumerate(keys):

            def wrap(selected: exp.Expression, index=index) -> None:
                plain = [
                    e
                    for e in selected.expressions
                    if not any(isinstance(n, (exp.AggFunc, exp.Window)) for n in e.walk())
                ]
                target = plain[index]
                inner = target.this if isinstance(target, exp.Alias) else target
                name = target.alias_or_name
                target.replace(exp.alias_(exp.Min(this=inner.copy()), name))

            yield "group-by", f"drop `{_short(key)}` from group by all", wrap, key
        return
    for index, key in enumerate(group.expressions):

        def drop_key(selected: exp.Expression, index=index) -> None:
            grouping = selected.args["group"]
            removed = grouping.expressions[index]
            remaining = [k.copy() for i, k in enumerate(grouping.expressions) if i != index]
            if remaining:
                grouping.set("expressions", remaining)
            else:
                grouping.pop()
            _wrap_key(selected, removed)

        yield "group-by", f"drop `{_short(key)}` from the group by", drop_key, key


def _join_key_edits(join: exp.Join, source_columns) -> Iterator[tuple[str, str, Edit]]:
    alias = join.this.alias_or_name.lower()
    source = join.this.name.lower() if isinstance(join.this, exp.Table) else ""
    columns = source_columns.get(source) or []
    for position, condition in enumerate(_conjuncts(join.args["on"]) if join.args.get("on") is not None else []):
        if not isinstance(condition, exp.EQ):
            continue
        for side_name in ("this", "expression"):
            side = condition.args.get(side_name)
            if not isinstance(side, exp.Column) or side.table.lower() != alias:
                continue
            known = {name.lower(): kind for name, kind in columns}
            kind = known.get(side.name.lower())
            if kind is None:
                continue
            other = next((name for name, k in columns if k == kind and name.lower() != side.name.lower()), None)
            if other is None:
                continue

            def change_key(joined: exp.Expression, position=position, side_name=side_name, other=other) -> None:
                target = _conjuncts(joined.args["on"])[position].args[side_name]
                target.set("this", exp.to_identifier(other))

            yield "join-key", f"join on {side.table}.{other} instead of {_short(side)}", change_key


def source_columns(ctx: GateContext) -> dict[str, list[tuple[str, str | None]]]:
    """Columns (and types, where known) of every relation and CTE the SQL can join."""
    from generator.sql.facts import Definition, Facts, unwrap

    columns: dict[str, list[tuple[str, str | None]]] = {}
    for placeholder, relation in ctx.relations.items():
        columns[placeholder.lower()] = [(c.name, c.data_type) for c in relation.columns]
    facts = Facts(ctx)
    if facts.root is None:
        return columns
    for scope in facts.root.traverse():
        cte = scope.expression.parent
        if not isinstance(cte, exp.CTE) or not isinstance(scope.expression, exp.Select):
            continue
        outputs = []
        for select in scope.expression.selects:
            base, _ = facts.pass_through(Definition(scope, unwrap(select)))
            known = base.relation.column(base.column) if base else None
            outputs.append((select.alias_or_name, known.data_type if known else None))
        columns[cte.alias.lower()] = outputs
    return columns


def enumerate_mutants(ctx: GateContext, tree: exp.Expression | None = None) -> list[Mutant]:
    """Every mutant of the SQL in `ctx.tree`, in a fixed order, without duplicates."""
    tree = tree if tree is not None else ctx.tree
    if tree is None:
        return []
    columns = source_columns(ctx)
    # A literal's siblings: the other accepted values of any input column that accepts it.
    siblings: dict[str, tuple[str, ...]] = {}
    for relation in ctx.relations.values():
        for column in relation.columns:
            for value in column.accepted_values or ():
                siblings.setdefault(value, tuple(column.accepted_values))
    original = _sql(tree)
    nodes = list(tree.walk())
    seen = {original}
    mutants: list[Mutant] = []
    # The searched operators first, the held-out ones after: their numbers stay put.
    edits = [(p, n, e) for p, n in enumerate(nodes) for e in _edits_for(n, columns, siblings)]
    edits = [item for item in edits if item[2][0] not in HELD_OUT] + [item for item in edits if item[2][0] in HELD_OUT]
    for position, node, (operator, description, edit, *anchor) in edits:
        copy = tree.copy()
        target = list(copy.walk())[position]
        try:
            edit(target)
            text = _sql(copy)
        except Exception:  # an edit that does not fit this shape of tree
            continue
        if text in seen:
            continue
        seen.add(text)
        span = node_span(anchor[0] if anchor else node)
        line = line_col(ctx.templated.sql, span[0])[0] if span and ctx.templated else None
        if ctx.templated is not None:
            description = ctx.templated.restore(description)
        mutants.append(Mutant(len(mutants) + 1, operator, description, line, copy))
    return mutants


# -- running ----------------------------------------------------------------------------------


@dataclass
class MutantOutcome:
    mutant: Mutant
    status: str  # killed | survived | equivalent | invalid
    killed_by: list[str] = field(default_factory=list)
    error: str | None = None
    diff: str = ""

    def to_dict(self) -> dict:
        data = {
            "index": self.mutant.index,
            "operator": self.mutant.operator,
            "description": self.mutant.description,
            "line": self.mutant.line,
            "status": self.status,
        }
        if self.killed_by:
            data["killed_by"] = self.killed_by
        if self.error:
            data["error"] = self.error
        if self.diff:
            data["diff"] = self.diff
        return data


@dataclass
class MutationReport:
    """What `gen-model mutate` prints."""

    model: str
    outcomes: list[MutantOutcome] = field(default_factory=list)
    data_tests: int = 0
    unit_tests: int = 0
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def with_status(self, status: str) -> list[MutantOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def killed(self) -> int:
        return len(self.with_status("killed"))

    @property
    def total(self) -> int:
        """Mutants that count: killed or survived (not equivalent, not invalid)."""
        return self.killed + len(self.with_status("survived"))

    @property
    def score(self) -> float | None:
        """Killed over counted mutants; None when nothing counts (never a perfect 1.00)."""
        return round(self.killed / self.total, 4) if self.total else None

    def killed_by_kind(self, kind: str) -> int:
        """Mutants a kind of test kills: 'unit test', 'contract' or 'data test'."""

        def is_kind(name: str) -> bool:
            if kind == "data test":
                return not name.startswith(("unit test", "contract"))
            return name.startswith(kind)

        return sum(1 for o in self.with_status("killed") if any(is_kind(n) for n in o.killed_by))

    def held_out(self) -> tuple[int, int, float | None]:
        """(killed, counted, score) over the held-out operators alone."""
        counted = [o for o in self.outcomes if o.mutant.held_out and o.status in ("killed", "survived")]
        killed = sum(1 for o in counted if o.status == "killed")
        return killed, len(counted), (round(killed / len(counted), 4) if counted else None)

    def score_text(self) -> str:
        return "nothing to score" if self.score is None else f"score {self.score:.2f}"

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "killed": self.killed,
            "total": self.total,
            "score": self.score,
            "killed_by": {kind: self.killed_by_kind(kind) for kind in ("unit test", "data test", "contract")},
            "held_out": dict(zip(("killed", "total", "score"), self.held_out(), strict=True)),
            "survivors": [o.to_dict() for o in self.with_status("survived")],
            "equivalent": [o.to_dict() for o in self.with_status("equivalent")],
            "invalid": [o.to_dict() for o in self.with_status("invalid")],
            "killed_mutants": [o.to_dict() for o in self.with_status("killed")],
            "data_tests": self.data_tests,
            "unit_tests": self.unit_tests,
            "notes": self.notes,
            "elapsed_s": round(self.elapsed_s, 2),
        }

    def format_text(self) -> str:
        held_killed, held_total, held_score = self.held_out()
        held = "nothing to score" if held_score is None else f"score {held_score:.2f}"
        lines = [
            f"{self.model}: {self.killed}/{self.total} mutants killed ({self.score_text()}) by "
            f"{self.data_tests} data tests and {self.unit_tests} unit test(s)",
            f"  killed by the unit test: {self.killed_by_kind('unit test')}, by data tests: "
            f"{self.killed_by_kind('data test')}, by the contract: {self.killed_by_kind('contract')}",
            f"  held out (operators the unit-test rows were not chosen for): {held_killed}/{held_total} ({held})",
            f"  equivalent (not counted): {len(self.with_status('equivalent'))}, "
            f"invalid (not counted): {len(self.with_status('invalid'))}",
        ]
        for outcome in self.with_status("killed"):
            lines.append(f"  killed    {outcome.mutant.label()} by {', '.join(outcome.killed_by[:3])}")
        for outcome in self.with_status("equivalent"):
            lines.append(f"  equivalent {outcome.mutant.label()}")
        for outcome in self.with_status("invalid"):
            lines.append(f"  invalid   {outcome.mutant.label()}: {outcome.error}")
        for outcome in self.with_status("survived"):
            lines.append(f"  SURVIVED  {outcome.mutant.label()}")
            lines.extend("    " + line for line in outcome.diff.rstrip("\n").splitlines())
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def _diff(ctx: GateContext, mutant: Mutant, original_text: str, dialect: str = "duckdb") -> str:
    mutated = _sql_text(ctx, mutant.tree, dialect)
    return "".join(
        difflib.unified_diff(
            original_text.splitlines(keepends=True),
            mutated.splitlines(keepends=True),
            fromfile="original",
            tofile=f"mutant {mutant.index}",
            n=1,
        )
    )


def _same_rows(sandbox, left: str, right: str, timeout_s: float | None) -> bool:
    rows = sandbox.execute(
        f"select (select count(*) from (select * from {left} except all select * from {right})) + "
        f"(select count(*) from (select * from {right} except all select * from {left}))",
        timeout_s=timeout_s,
    )
    return rows[0][0] == 0


def _usable_tests(
    sandbox, data_tests: list[DataTest], resolve: Resolver, timeout_s: float, notes: list[str]
) -> list[DataTest]:
    """The data tests that run and pass on the original result; a note on each other one."""
    usable: list[DataTest] = []
    for test in data_tests:
        try:
            failures = count_failures(sandbox, test, RESULT_TABLE, resolve, timeout_s)
        except NotMirrored:
            notes.append(f"{test.describe()} is not a test gen-model can run; not used")
            continue
        except SandboxQueryError as error:
            notes.append(f"{test.describe()} does not run ({error.summary}); not used")
            continue
        if failures:
            notes.append(f"{test.describe()} fails on the model itself ({failures} failures); not used")
            continue
        usable.append(test)
    return usable


def _sql_text(ctx: GateContext, tree: exp.Expression, dialect: str = "duckdb") -> str:
    """`tree` as the model's file would say it in sqlglot's `dialect` (formatted; restored as
    is if it cannot be)."""
    from generator.sql.formatting import format_sql

    try:
        return format_sql(ctx.templated, tree, ctx.relations, dialect=dialect)
    except Exception:
        return ctx.templated.restore(tree.sql(dialect=dialect, pretty=True)) + "\n"


def show_survivors_in(report: MutationReport, ctx: GateContext, dialect: str) -> MutationReport:
    """`report` with each survivor's diff printed in sqlglot's `dialect`: mutants run on a
    DuckDB twin are shown in the SQL of the model's own engine."""
    original_text = _sql_text(ctx, ctx.tree, dialect)
    for outcome in report.with_status("survived"):
        outcome.diff = _diff(ctx, outcome.mutant, original_text, dialect)
    return report


@dataclass
class _Run:
    """What every mutant is run against: the usable tests and unit tests, the original's shape."""

    ctx: GateContext
    tests: list[DataTest]
    runners: list
    resolve: Resolver
    contract: bool
    timeout_s: float
    original_columns: list[tuple[str, str]]
    original_text: str

    def outcome(self, mutant: Mutant) -> MutantOutcome:
        sandbox = self.ctx.sandbox
        outcome = MutantOutcome(mutant, "survived")
        try:
            sandbox.execute(
                f"create or replace temp table {MUTANT_TABLE} as select * from (\n"
                f"{runnable_sql(mutant.tree, self.ctx.relations)}\n) as gen_model_query",
                timeout_s=self.timeout_s,
            )
        except SandboxQueryError as error:
            outcome.status, outcome.error = "invalid", error.summary.splitlines()[0]
            return outcome
        columns = [(row[0], row[1]) for row in sandbox.execute(f"describe {MUTANT_TABLE}")]
        same_shape = [(n.lower(), t) for n, t in columns] == [(n.lower(), t) for n, t in self.original_columns]
        equal_on_data = same_shape and _same_rows(sandbox, RESULT_TABLE, MUTANT_TABLE, self.timeout_s)
        if self.contract and not same_shape:
            changed = [f"{name} {kind}" for name, kind in columns if (name, kind) not in self.original_columns] or [
                "columns"
            ]
            outcome.killed_by.append("contract (" + ", ".join(changed[:3]) + ")")
        outcome.killed_by.extend(self.failing_tests())
        equal_on_fixtures = True
        for runner in self.runners:
            verdict = runner.verdict(mutant.tree)
            if verdict.differs_from_expected:
                outcome.killed_by.append(f"unit test {runner.name}")
            if not verdict.same_as_original:
                equal_on_fixtures = False
        if outcome.killed_by:
            outcome.status = "killed"
        elif equal_on_data and equal_on_fixtures:
            outcome.status = "equivalent"
        else:
            outcome.diff = _diff(self.ctx, mutant, self.original_text)
        return outcome

    def failing_tests(self) -> list[str]:
        """The data tests that fail on the mutant's result (an error counts: dbt would fail)."""
        failing = []
        for test in self.tests:
            try:
                failures = count_failures(self.ctx.sandbox, test, MUTANT_TABLE, self.resolve, self.timeout_s)
            except SandboxQueryError as error:
                failing.append(f"{test.describe()} (error: {error.summary.splitlines()[0]})")
                continue
            if failures:
                failing.append(test.describe())
        return failing


def run_mutants(
    ctx: GateContext,
    mutants: list[Mutant],
    data_tests: list[DataTest],
    unit_tests: list,
    resolve: Resolver,
    *,
    contract: bool = False,
    timeout_s: float = 30.0,
    model: str | None = None,
) -> MutationReport:
    """Run every mutant against the tests; the original's result must be in RESULT_TABLE."""
    import time

    from generator.testgen.unit_runner import FixtureRunner

    started = time.monotonic()
    sandbox = ctx.sandbox
    report = MutationReport(model or ctx.proposal.name, data_tests=0, unit_tests=len(unit_tests))
    usable = _usable_tests(sandbox, data_tests, resolve, timeout_s, report.notes)
    report.data_tests = len(usable)
    original_columns = [(row[0], row[1]) for row in sandbox.execute(f"describe {RESULT_TABLE}")]
    runners = [FixtureRunner(sandbox, ctx, unit_test, index) for index, unit_test in enumerate(unit_tests)]
    for runner in runners:
        problem = runner.check_original(ctx.tree)
        if problem:
            report.notes.append(problem)
    runners = [runner for runner in runners if runner.usable]
    report.unit_tests = len(runners)
    run = _Run(ctx, usable, runners, resolve, contract, timeout_s, original_columns, _sql_text(ctx, ctx.tree))
    report.outcomes = [run.outcome(mutant) for mutant in mutants]
    try:
        sandbox.execute(f"drop table if exists {MUTANT_TABLE}")
    except SandboxQueryError:
        pass
    for runner in runners:
        runner.close()
    report.elapsed_s = time.monotonic() - started
    return report
