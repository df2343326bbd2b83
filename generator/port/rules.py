"""DuckDB constructs whose rows differ on Spark after sqlglot's transpile, one class each.

Each rule's docstring is its one-line summary; `nodes` are the sqlglot node types it looks
at (the checker dispatches on them, like sqlglot's TRANSFORMS); `finding` returns the
message for one node, or None when the node is safe. Where safety depends on a type, an
unknown type counts as unsafe: a refusal names the rewrite, a silent difference ships
wrong numbers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from generator.sql.shapes import conjuncts

INTEGER_TYPES = frozenset(exp.DataType.INTEGER_TYPES)
# A name that reads the same unquoted (the analysis quotes every name it resolved).
PLAIN_NAME = re.compile(r"[a-z_][a-z0-9_]*")
EXACT_TYPES = INTEGER_TYPES | {exp.DataType.Type.DECIMAL}


def _type(node: exp.Expression) -> exp.DataType.Type | None:
    """The annotated type of `node`, or None when sqlglot could not infer it."""
    kind = node.type.this if node.type is not None else None
    return None if kind in (None, exp.DataType.Type.UNKNOWN, exp.DataType.Type.NULL) else kind


def _int_literal(node: exp.Expression | None) -> int | None:
    if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
        value = _int_literal(node.this)
        return None if value is None else -value
    if isinstance(node, exp.Literal) and not node.is_string:
        try:
            return int(node.this)
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class Finding:
    """What is different, and the rewrite that means the same on both engines."""

    message: str
    fix: str


class PortRule:
    """Base: a construct whose rows differ between DuckDB and the target."""

    name = ""
    # The construct refused, as `gen-model port --help` lists it (refused_constructs()).
    construct = ""
    nodes: tuple[type[exp.Expression], ...] = ()
    # True where the difference exists only while the two engines' session time zones differ.
    time_zone_only = False

    def finding(self, node: exp.Expression) -> Finding | None:  # pragma: no cover - abstract
        raise NotImplementedError


class RegexpReplaceFirstMatch(PortRule):
    """regexp_replace replaces the first match in DuckDB and every match in Spark."""

    name = "regexp_replace"
    construct = "regexp_replace without 'g'"
    nodes = (exp.RegexpReplace,)

    def finding(self, node):
        modifiers = node.args.get("modifiers")
        if isinstance(modifiers, exp.Literal) and "g" in modifiers.this:
            return None
        return Finding(
            "regexp_replace without the 'g' option replaces only the first match in DuckDB; Spark replaces every match",
            "Add the 'g' option (regexp_replace(s, pattern, replacement, 'g')) if every match should be replaced; "
            "for the first match only, anchor the pattern so it can match once.",
        )


class RoundOfFloatingValue(PortRule):
    """round() of a double rounds the binary value in DuckDB and its decimal text in Spark."""

    name = "round"
    construct = "round of a double"
    nodes = (exp.Round,)

    def finding(self, node):
        if _type(node.this) in EXACT_TYPES:
            return None
        return Finding(
            "round() of a value that is not a proven decimal or integer can differ in the last digit "
            "(DuckDB rounds the double 1.005 to 1.00, Spark to 1.01)",
            "Round an exact decimal: round(cast(x as decimal(18, 4)), 2).",
        )


class CastToIntegerFromFraction(PortRule):
    """cast(x as int) rounds a fraction in DuckDB and truncates it in Spark."""

    name = "cast_to_integer"
    construct = "casts of fractions to integers"
    nodes = (exp.Cast, exp.TryCast)

    def finding(self, node):
        target = node.to.this if isinstance(node.to, exp.DataType) else None
        if target not in INTEGER_TYPES or _type(node.this) in INTEGER_TYPES:
            return None
        if _int_literal(node.this) is not None or (isinstance(node.this, exp.Literal) and node.this.is_string):
            return None
        if isinstance(node.this, (exp.Floor, exp.Ceil)) or (
            isinstance(node.this, exp.Round) and _int_literal(node.this.args.get("decimals")) in (None, 0)
        ):
            return None  # already a whole number: the cast has nothing left to round or truncate
        return Finding(
            f"cast to {node.to.sql('duckdb')} of a value not proven to be an integer: "
            "DuckDB rounds (cast(2.7 as int) = 3), Spark truncates (= 2)",
            "Say which you mean before the cast: cast(floor(x) as int), cast(ceil(x) as int) or cast(round(x) as int).",
        )


class DateDiffAcrossBoundaries(PortRule):
    """date_diff counts unit boundaries in DuckDB and whole elapsed units in Spark."""

    name = "date_diff"
    construct = "date_diff other than days between dates"
    nodes = (exp.DateDiff, exp.TimestampDiff, exp.DatetimeDiff)

    def finding(self, node):
        unit = node.args.get("unit")
        unit_name = (unit.name if unit is not None else "day").lower()
        both_dates = all(_type(side) == exp.DataType.Type.DATE for side in (node.this, node.expression))
        if unit_name in ("day", "days", "d") and both_dates:
            return None
        return Finding(
            f"date_diff('{unit_name}', ...) counts {unit_name} boundaries crossed in DuckDB but whole {unit_name}s "
            "elapsed in Spark (2024-01-31 to 2024-02-01 is 1 month in DuckDB, 0 in Spark)",
            "Compare dates: date_diff('day', cast(a as date), cast(b as date)); for months, "
            "(year(b) - year(a)) * 12 + month(b) - month(a).",
        )


class DayOfWeekNumbering(PortRule):
    """Weekday numbers start at Sunday = 0 in DuckDB and Sunday = 1 in Spark."""

    name = "day_of_week"
    construct = "weekday numbers"
    nodes = (exp.DayOfWeek, exp.DayOfWeekIso, exp.Extract, exp.Anonymous)
    PARTS = frozenset({"dow", "dayofweek", "isodow", "weekday", "dayofweek_iso"})

    def finding(self, node):
        if isinstance(node, exp.Extract):
            if node.this.name.lower() not in self.PARTS:
                return None
        elif isinstance(node, exp.Anonymous):
            name = node.name.lower()
            first = node.expressions[0] if node.expressions else None
            if name in ("date_part", "datepart"):
                if not (isinstance(first, exp.Literal) and first.this.lower() in self.PARTS):
                    return None
            elif name not in self.PARTS:
                return None
        return Finding(
            "weekday numbers differ: DuckDB's dow is 0 (Sunday) to 6, Spark's dayofweek 1 (Sunday) to 7, "
            "and sqlglot does not shift them",
            "Use the weekday's name, which is the same on both: dayname(d) (Spark: date_format(d, 'EEEE')).",
        )


class SubstringFromZero(PortRule):
    """substring(s, 0, n) is n - 1 characters in DuckDB and n in Spark."""

    name = "substring_start"
    construct = "substring from a start below 1"
    nodes = (exp.Substring,)

    def finding(self, node):
        start = _int_literal(node.args.get("start"))
        if start is not None and start >= 1:
            return None
        shown = "a start that is not a literal" if start is None else f"start {start}"
        return Finding(
            f"substring with {shown}: positions below 1 differ (DuckDB counts position 0 before the first "
            "character, Spark treats it as 1)",
            "Start at 1 (substring(s, 1, n)), or use left(s, n).",
        )


class AsofJoin(PortRule):
    """An ASOF join has no Spark equivalent; sqlglot writes it as a plain join."""

    name = "asof_join"
    construct = "ASOF joins"
    nodes = (exp.Join,)

    def finding(self, node):
        if (node.args.get("method") or "").upper() != "ASOF":
            return None
        return Finding(
            "ASOF JOIN has no Spark equivalent: transpiled, it reads ASOF as a table alias and joins every row",
            "Join on the key, then keep the latest match: "
            "qualify row_number() over (partition by left_key order by right_time desc) = 1.",
        )


def _nonzero_test(condition: exp.Expression, divisor_sql: str) -> bool:
    """Is `condition` true only where the divisor is not 0 (`y > 0`, `y <> 0`, `0 < y`, `y >= 1`, or
    one of these ANDed with anything)?"""
    while isinstance(condition, exp.Paren):
        condition = condition.this
    if isinstance(condition, exp.And):
        return _nonzero_test(condition.this, divisor_sql) or _nonzero_test(condition.expression, divisor_sql)
    sides = {
        exp.GT: (condition.this, condition.expression, 0),
        exp.NEQ: (condition.this, condition.expression, 0),
        exp.GTE: (condition.this, condition.expression, 1),
        exp.LT: (condition.expression, condition.this, 0),
        exp.LTE: (condition.expression, condition.this, 1),
    }.get(type(condition))
    if sides is None:
        return False
    operand, bound, least = sides
    value = _int_literal(bound)
    if isinstance(condition, exp.NEQ) and value is None and _int_literal(operand) == 0:
        operand, value = bound, 0  # 0 <> y
    return value is not None and value >= least and operand.sql() == divisor_sql


def _guarded_nonzero(node: exp.Expression, divisor: exp.Expression) -> bool:
    """Is `node` in the THEN of a CASE WHEN that holds only where its divisor is not 0? Both engines
    evaluate a THEN only for the rows its WHEN holds, so the division never sees a 0 there."""
    divisor_sql = divisor.sql()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.If) and parent.args.get("true") is child and _nonzero_test(parent.this, divisor_sql):
            return True
        child, parent = parent, parent.parent
    return False


class UnguardedDivision(PortRule):
    """Division by zero is NULL in DuckDB and an error in Spark's ANSI mode."""

    name = "division"
    construct = "unguarded division"
    nodes = (exp.Div, exp.IntDiv, exp.Mod)

    def finding(self, node):
        divisor = node.expression
        while isinstance(divisor, exp.Paren):
            divisor = divisor.this
        literal = _int_literal(divisor)
        if literal not in (None, 0):
            return None
        if isinstance(divisor, exp.Literal) and not divisor.is_string and float(divisor.this) != 0:
            return None
        if isinstance(divisor, exp.Nullif) and _int_literal(divisor.expression) == 0:
            return None
        if _guarded_nonzero(node, divisor):
            return None
        return Finding(
            "division by a value that may be 0: DuckDB gives NULL, Spark (ANSI mode) fails the build",
            "Guard the divisor: x / nullif(y, 0).",
        )


def _as_written(node: exp.Expression) -> str:
    """`node` in DuckDB SQL as a person writes it (lowercase functions, names unquoted where
    they need no quotes), so a suggested rewrite can be pasted into the model."""
    plain = node.copy()
    for identifier in plain.find_all(exp.Identifier):
        if PLAIN_NAME.fullmatch(identifier.name):
            identifier.set("quoted", False)
    return plain.sql("duckdb", normalize_functions="lower")


def _ordered_by_where(node: exp.Expression, start: exp.Expression, stop: exp.Expression) -> bool:
    """Does the WHERE of the select calling `node` keep only rows with start <= stop (or <)?"""
    select = node.find_ancestor(exp.Select)
    where = select.args.get("where") if select is not None else None
    wanted = (start.sql(), stop.sql())
    for part in conjuncts(where.this if where is not None else None):
        if isinstance(part, (exp.LTE, exp.LT)) and (part.this.sql(), part.expression.sql()) == wanted:
            return True
        if isinstance(part, (exp.GTE, exp.GT)) and (part.expression.sql(), part.this.sql()) == wanted:
            return True
    return False


class SeriesPastItsStop(PortRule):
    """A series whose start is past its stop is empty in DuckDB and fails the query in Spark."""

    name = "series_bounds"
    construct = "series whose start may be past their stop"
    nodes = (exp.GenerateSeries,)

    def finding(self, node):
        start, stop = node.args.get("start"), node.args.get("end")
        if start is None or stop is None:
            return None
        first, last = _int_literal(start), _int_literal(stop)
        if first is not None and last is not None and first <= last:
            return None
        if _ordered_by_where(node, start, stop):
            return None
        return Finding(
            "generate_series whose start may be past its stop: DuckDB gives no rows, "
            "Spark's sequence fails the query (Illegal sequence boundaries)",
            f"Keep only the rows where the series is not empty: where {_as_written(start)} <= {_as_written(stop)}"
            " (the same rows on both engines).",
        )


class SessionTimeZone(PortRule):
    """Dates and parts cut from a timestamp with time zone follow each session's time zone."""

    name = "time_zone"
    construct = "parts cut from a timestamptz unless both targets pin one time zone"
    nodes = (exp.TimestampTrunc, exp.DateTrunc, exp.Extract, exp.Cast, exp.TimeToStr, exp.Anonymous)
    time_zone_only = True

    def finding(self, node):
        operand = node.expression if isinstance(node, exp.Extract) else node.this
        if isinstance(node, exp.Anonymous):
            operand = node.expressions[-1] if node.expressions else None
        if operand is None or _type(operand) != exp.DataType.Type.TIMESTAMPTZ:
            return None
        return Finding(
            "a date or part cut from a timestamp with time zone depends on the session time zone, "
            "and the two targets do not pin the same one",
            "Pin one zone on both targets (DuckDB settings: TimeZone: UTC; Spark "
            "server_side_parameters: spark.sql.session.timeZone: UTC), as profiles.yml.example does.",
        )


RULES: tuple[PortRule, ...] = (
    RegexpReplaceFirstMatch(),
    RoundOfFloatingValue(),
    CastToIntegerFromFraction(),
    DateDiffAcrossBoundaries(),
    DayOfWeekNumbering(),
    SubstringFromZero(),
    AsofJoin(),
    UnguardedDivision(),
    SeriesPastItsStop(),
    SessionTimeZone(),
)


def refused_constructs() -> str:
    """What the port refuses, one phrase per rule in RULES order, for the command's help:
    read from the table, the list cannot leave a rule out."""
    return ", ".join(rule.construct or rule.name for rule in RULES)


# Table dispatch: node type -> the rules that look at it.
BY_NODE: dict[type[exp.Expression], tuple[PortRule, ...]] = {}
for _rule in RULES:
    for _kind in _rule.nodes:
        BY_NODE[_kind] = (*BY_NODE.get(_kind, ()), _rule)
