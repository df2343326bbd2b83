"""Semantic coverage classes made of two rows of one group (issue 13, item 2).

The unit-test row search (generator.testgen.unit_fixtures) covers single rows: each value of
a filtered column, each boundary of a truncated date. Some mistakes only show on two rows of
one group (two orders of one customer) placed relative to each other:

  across a boundary   two rows of one group in different months less than a month apart:
                      what tells calendar months (date_diff('month', ...)) from full months
                      (date_sub) or from days // 30;
  across a night      two rows of one group on two days less than a day apart, the later in
                      the first hours of its UTC day: what tells days counted in UTC
                      (`count(distinct cast(t as date))`) from days in another time zone;
  filtered, then kept an earlier row of a group with a value the SQL names in a filter
                      and a later one without it (a first order returned, a later one kept):
                      what tells a reader of the filtered rows from one of all rows.

One more kind of class is single rows placed by the SQL's own threshold between two dates
(`closed_at < created_at + interval '7' day`, `date_diff('day', a, b) <= 7`): rows whose
difference lies just past N units, exactly at N, and just under (threshold_classes); what
tells `< 7 days` from `<= 7 calendar days` or from `7 hours`. And single rows with a null
in a column the SQL aggregates (null_classes): what tells `count(borough)` from `count(*)`.
Single rows at a number an expression of one input is compared with (`pct >= 75`, `hour(...)
between 9 and 16`), and nearest under and over it (bound_classes): what tells `>=` from `>`,
16 from 17.

A class is (input, what, tuples of source rows, the column that groups them); the chooser
(fixture_chooser.Chooser.cover_pairs) adds the cheapest tuple that changes the expected rows,
in a group the fixture does not have yet (where no other row of the group interferes); on
the final rows it is re-checked like every coverage class (fixture_chooser.Chooser.recheck).
The SQL's groups are the self-edges the search found (GROUP BY and PARTITION BY keys read
from an input).
"""

from __future__ import annotations

from sqlglot import exp

PAIR_CANDIDATES = 6  # pairs (or spreads) tried for each class
THRESHOLD_CANDIDATES = 6  # rows tried for each side of a threshold between two dates
MAX_SPREAD = 6  # rows of one group a spread class asks for at most
# The first hours of a UTC day a later row of a night pair falls in: a shift of 5 hours (New
# York, Bogota, Lima from UTC) moves it to the day before.
DAY_START_HOURS = 5


def quote_identifier(name: str) -> str:
    """A DuckDB identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def named_values(tree: exp.Expression | None) -> dict[str, list[str]]:
    """column name (lower case) -> the text literals the SQL compares it with (`=`, `<>`,
    `in`), in a fixed order (a breadth-first walk's). Matched by name: a class built from a
    column of the same name elsewhere only adds a candidate, which the chooser keeps only if
    it changes the expected rows."""
    found: dict[str, list[str]] = {}
    if tree is None:
        return found
    for node in tree.find_all(exp.EQ, exp.NEQ, exp.In):
        if isinstance(node, exp.In):
            column, literals = node.this, list(node.expressions)
        elif isinstance(node.this, exp.Column):
            column, literals = node.this, [node.expression]
        else:
            column, literals = node.expression, [node.this]
        if not isinstance(column, exp.Column):
            continue
        for literal in literals:
            if isinstance(literal, exp.Literal) and literal.is_string:
                values = found.setdefault(column.name.lower(), [])
                if literal.this not in values:
                    values.append(literal.this)
    return found


def _groups(search, index: int) -> list[str]:
    """The columns that group (or partition) the rows of one input in the SQL."""
    return [edge.left_column for edge in search.edges if edge.left == edge.right == index]


def _dates(search, index: int) -> list[str]:
    """The date and timestamp columns of one input the SQL truncates, compares or shifts."""
    item = search.inputs[index]
    read = {c.lower() for c in item.read}
    found = []
    for column_index, column in search.temporal:
        if column_index != index or column.lower() not in read:
            continue
        kind = (item.relation.column(column).data_type or "").lower()
        if kind.startswith(("timestamp", "date")):
            found.append(column)
    return found


def _pairs(
    search, index: int, group: str, date: str, condition: str, parameters: list, first: bool = True
) -> list[tuple[int, int]]:
    source = search.inputs[index].source
    g, d = quote_identifier(group), quote_identifier(date)
    # The first row of its group: what the pair shows holds for the group, not only for two
    # of its rows (`first`); a pair that shows a day boundary need not start its group (an
    # author's posts of one night in July, the author's first in January).
    earliest = f"and not exists (select 1 from {source} z where z.{g} = a.{g} and z.{d} < a.{d}) " if first else ""
    rows = search.query(
        f"select a.gm_row, b.gm_row from {source} a join {source} b on a.{g} = b.{g} and a.{d} < b.{d} "
        f"where a.{g} is not null and {condition} {earliest}"
        f"order by a.gm_row, b.gm_row limit {PAIR_CANDIDATES}",
        parameters,
    )
    return [(int(a), int(b)) for a, b in rows]


def day_columns(tree: exp.Expression | None) -> set[str]:
    """The columns (lower case names) the SQL takes the day of itself: `cast(t as date)`,
    `date_trunc('day', t)`. Only there does a row's UTC day count (a count of distinct days);
    a month truncated first (`cast(date_trunc('month', t) as date)`) is the month's."""
    found: set[str] = set()
    for node in tree.find_all(exp.Cast, exp.TryCast, exp.DateTrunc, exp.TimestampTrunc) if tree is not None else ():
        if isinstance(node, (exp.Cast, exp.TryCast)):
            day = node.to.is_type(exp.DataType.Type.DATE)
        else:
            day = node.args.get("unit") is not None and node.args["unit"].name.lower() == "day"
        column = node.this
        while isinstance(column, exp.Paren):
            column = column.this
        if day and isinstance(column, exp.Column):
            found.add(column.name.lower())
    return found


def _is_timestamp(item, column: str) -> bool:
    """Whether an input's column is a timestamp (not a date: no hours to shift)."""
    return (item.relation.column(column).data_type or "").lower().startswith("timestamp")


def frame_rows(tree: exp.Expression | None) -> int:
    """The most rows a window frame of the SQL reaches back or ahead (`2 preceding`: 2)."""
    found = 0
    for spec in tree.find_all(exp.WindowSpec) if tree is not None else ():
        for end in ("start", "end"):
            bound = spec.args.get(end)
            if isinstance(bound, exp.Literal) and not bound.is_string and bound.this.isdigit():
                found = max(found, int(bound.this))
    return found


def spread_classes(search) -> list[tuple[int, str, list[tuple[int, ...]], str]]:
    """(input, what, tuples of rows): for a SQL with a window frame of N rows, N + 2 rows of
    one group in N + 2 months (its own dates or those of the rows it joins): a partition
    longer than the frame by more than one, what tells the frame from one a row shorter or
    longer."""
    size = frame_rows(search.ctx.tree)
    if not size:
        return []
    size = min(size + 2, MAX_SPREAD)
    found: list[tuple[int, str, list[tuple[int, ...]], str]] = []
    for item in search.inputs:
        for group in dict.fromkeys(_groups(search, item.index)):
            g = quote_identifier(group)
            # The dates: the input's own, or those of an input it joins on an edge.
            sources = [(item.index, None, None)]
            for edge in search.edges:
                if edge.left == item.index and edge.right != item.index:
                    sources.append((edge.right, edge.left_column, edge.right_column))
                elif edge.right == item.index and edge.left != item.index:
                    sources.append((edge.left, edge.right_column, edge.left_column))
            for other, column, other_column in sources:
                for date in _dates(search, other):
                    d = quote_identifier(date)
                    if column is None:
                        joined = f"{item.source} a, (select * from {item.source}) b where a.gm_row = b.gm_row"
                    else:
                        joined = (
                            f"{item.source} a join {search.inputs[other].source} b "
                            f"on a.{quote_identifier(column)} = b.{quote_identifier(other_column)} where true"
                        )
                    rows = search.query(
                        f"select list(first_row order by month)[1:{size}] from ("
                        f"select a.{g} as grp, date_trunc('month', b.{d}) as month, min(a.gm_row) as first_row "
                        f"from {joined} and a.{g} is not null and b.{d} is not null group by 1, 2"
                        f") group by grp having count(*) >= {size} order by min(first_row) limit {PAIR_CANDIDATES}"
                    )
                    picked = [tuple(int(r) for r in listed) for (listed,) in rows]
                    if picked:
                        what = f"{size} rows of one {group} in {size} months ({date}): longer than the window frame"
                        found.append((item.index, what, picked, group))
    return found


def pair_classes(search) -> list[tuple[int, str, list[tuple[int, ...]], str]]:
    """(input, what, pairs of rows) for the two-row classes of the module docstring, for
    every input whose rows the SQL groups and whose dates it uses."""
    named = named_values(search.ctx.tree)
    days = day_columns(search.ctx.tree)
    found: list[tuple[int, str, list[tuple[int, ...]], str]] = []
    for item in search.inputs:
        dates = _dates(search, item.index)
        read = {c.lower(): c for c in item.read}
        for group in _groups(search, item.index):
            for date in dates:
                d = quote_identifier(date)
                across = (
                    f"date_trunc('month', a.{d}) <> date_trunc('month', b.{d}) and b.{d} < a.{d} + interval 1 month"
                )
                pairs = _pairs(search, item.index, group, date, across, [])
                if pairs:
                    what = f"two rows of one {group} in two months, less than a month apart ({date})"
                    found.append((item.index, what, pairs, group))
                if _is_timestamp(item, date) and date.lower() in days:
                    # The later in the first hours of its UTC day: a zone west of UTC puts both
                    # on one day, so a shifted `cast(t as date)` changes a count of days.
                    night = (
                        f"cast(a.{d} as date) <> cast(b.{d} as date) and b.{d} < a.{d} + interval 1 day "
                        f"and extract(hour from b.{d}) < {DAY_START_HOURS}"
                    )
                    pairs = _pairs(search, item.index, group, date, night, [], first=False)
                    if pairs:
                        what = (
                            f"two rows of one {group} on two days less than a day apart, "
                            f"the later before {DAY_START_HOURS}:00 ({date})"
                        )
                        found.append((item.index, what, pairs, group))
                for column, values in named.items():
                    if column not in read or column == group.lower():
                        continue
                    c = quote_identifier(read[column])
                    for value in values:
                        condition = f"a.{c} = ? and b.{c} is distinct from ?"
                        pairs = _pairs(search, item.index, group, date, condition, [value, value])
                        if pairs:
                            what = f"an earlier row of one {group} with {read[column]} = {value!r}, a later without"
                            found.append((item.index, what, pairs, group))
    return found


def _interval_amount(node: exp.Expression) -> tuple[int, str] | None:
    """(N, unit) of `interval 'N' unit` (an integer N), else None."""
    if not isinstance(node, exp.Interval) or node.args.get("unit") is None:
        return None
    amount = node.this
    if not isinstance(amount, exp.Literal) or not str(amount.this).strip().isdigit():
        return None
    return int(str(amount.this).strip()), node.args["unit"].name.lower()


def _shifted(column: exp.Expression, other: exp.Expression) -> tuple[str, str, int, str] | None:
    """(later, earlier, N, unit) when `column` is compared with `other`, a column shifted by
    an interval: `a ? b + interval N unit` compares a - b with N, `a ? b - interval ...`
    compares b - a with it."""
    if not isinstance(column, exp.Column) or not isinstance(other, (exp.Add, exp.Sub)):
        return None
    base, shift = other.this, other.expression
    if isinstance(other, exp.Add) and isinstance(shift, exp.Column):
        base, shift = shift, base
    amount = _interval_amount(shift)
    if not isinstance(base, exp.Column) or amount is None:
        return None
    names = (column.name.lower(), base.name.lower())
    later, earlier = names if isinstance(other, exp.Add) else names[::-1]
    return later, earlier, *amount


def thresholds(tree: exp.Expression | None) -> list[tuple[str, str, int, str]]:
    """(later column, earlier column, N, unit) of every comparison of the difference of two
    columns (lower case names) with a number of units the SQL makes: `a < b + interval 'N'
    unit`, `a - interval 'N' unit >= b`, `date_diff('unit', b, a) <= N`."""
    found: list[tuple[str, str, int, str]] = []
    for node in tree.find_all(exp.LT, exp.LTE, exp.GT, exp.GTE) if tree is not None else ():
        left, right = node.this, node.expression
        shifted = _shifted(left, right) or _shifted(right, left)
        for diff, number in ((left, right), (right, left)):
            if isinstance(diff, exp.DateDiff) and isinstance(number, exp.Literal) and not number.is_string:
                later, earlier, unit = diff.this, diff.expression, diff.args.get("unit")
                if isinstance(later, exp.Column) and isinstance(earlier, exp.Column) and unit is not None:
                    if str(number.this).isdigit():
                        shifted = (later.name.lower(), earlier.name.lower(), int(number.this), unit.name.lower())
        if shifted and shifted not in found:
            found.append(shifted)
    return found


def threshold_classes(search) -> list[tuple[int, str, list[int]]]:
    """(input, what, rows): for every threshold (thresholds()) between two date or timestamp
    columns of one input, the rows whose difference lies just past N units (nearest first),
    exactly at N, and just under (nearest first): where a unit, an off-by-one or a calendar
    count in place of elapsed time moves a row across."""
    found: list[tuple[int, str, list[int]]] = []
    for later, earlier, amount, unit in thresholds(search.ctx.tree):
        for item in search.inputs:
            dates = {column.lower(): column for column in _dates(search, item.index)}
            if later not in dates or earlier not in dates:
                continue
            a, b = quote_identifier(dates[later]), quote_identifier(dates[earlier])
            at, past = f"{b} + interval '{amount} {unit}'", f"{b} + interval '{amount + 1} {unit}'"
            before = f"{b} + interval '{amount - 1} {unit}'" if amount else b
            sides = (
                (f"just past {amount} {unit}", f"{a} > {at} and {a} < {past}", "asc"),
                (f"at {amount} {unit}", f"{a} = {at}", "asc"),
                (f"just under {amount} {unit}", f"{a} < {at} and {a} >= {before}", "desc"),
            )
            for label, condition, order in sides:
                rows = search.query(
                    f"select gm_row from {item.source} where {condition} "
                    f"order by {a} - {b} {order}, gm_row limit {THRESHOLD_CANDIDATES}"
                )
                if rows:
                    what = f"{dates[later]} - {dates[earlier]} {label}"
                    found.append((item.index, what, [int(row) for (row,) in rows]))
    return found


def null_classes(search) -> list[tuple[int, str, list[int]]]:
    """(input, what, rows): for every column the SQL aggregates (`count(x)`, `sum(x)`,
    `median(...)`: matched by name), the first rows of each input where it is null, if the
    input has any: a fixture without one tells no `count(x)` from `count(*)`, no
    `coalesce(x, 0)` from `x`."""
    tree = search.ctx.tree
    aggregated = {
        column.name.lower()
        for node in (tree.find_all(exp.AggFunc) if tree is not None else ())
        for column in node.find_all(exp.Column)
    }
    found: list[tuple[int, str, list[int]]] = []
    for item in search.inputs:
        for column in item.read:
            if column.lower() not in aggregated:
                continue
            rows = search.query(
                f"select gm_row from {item.source} where {quote_identifier(column)} is null "
                f"order by gm_row limit {THRESHOLD_CANDIDATES}"
            )
            if rows:
                found.append((item.index, f"{column} is null", [int(row) for (row,) in rows]))
    return found


# Comparisons whose literal bound a row can sit at, just under or just over.
_COMPARISONS = (exp.LT, exp.LTE, exp.GT, exp.GTE, exp.EQ, exp.NEQ)


def _number(node: exp.Expression) -> str | None:
    """The text of a numeric literal (`75`, `-1.5`), else None."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Neg):
        inner = _number(node.this)
        return None if inner is None or inner.startswith("-") else f"-{inner}"
    if isinstance(node, exp.Literal) and not node.is_string:
        return str(node.this)
    return None


def bounded_expressions(node: exp.Expression) -> list[tuple[exp.Expression, list[str]]]:
    """(expression, its literal bounds) of a comparison with numbers: `x >= 75` gives (x,
    [75]), `hour(t) between 9 and 16` gives (hour(t), [9, 16]); none for a comparison of two
    columns, of an aggregate (a HAVING) or of a window."""
    if isinstance(node, exp.Between):
        bounds = [_number(node.args.get("low")), _number(node.args.get("high"))]
        pairs = [(node.this, bounds)] if all(bounds) else []
    elif isinstance(node, _COMPARISONS):
        pairs = [(node.this, [_number(node.expression)]), (node.expression, [_number(node.this)])]
        pairs = [(side, bounds) for side, bounds in pairs if bounds[0] is not None and _number(side) is None]
    else:
        return []
    return [
        (side, list(dict.fromkeys(bounds)))
        for side, bounds in pairs
        if side.find(exp.Column) is not None and side.find(exp.AggFunc, exp.Window) is None
    ]


def _on_input(search, facts, scope, expression: exp.Expression) -> tuple[int, exp.Expression] | None:
    """(input, the expression over that input's columns alone) when every column of it reads
    one input (directly or through columns that copy it), else None."""
    from generator.sql.facts import BaseColumn, Definition

    index_of = {p: item.index for item in search.inputs for p in item.placeholders}
    names: list[str] = []
    inputs: set[int] = set()
    for column in expression.find_all(exp.Column):
        target = facts.resolve(scope, column)
        if isinstance(target, Definition):
            target, _ = facts.pass_through(target)
        if not isinstance(target, BaseColumn) or target.placeholder not in index_of:
            return None
        inputs.add(index_of[target.placeholder])
        names.append(target.column)
    if len(inputs) != 1:
        return None
    (index,) = inputs
    read = {c.lower(): c for c in search.inputs[index].read}
    if any(name.lower() not in read for name in names):
        return None
    local = expression.copy()
    for column, name in zip(list(local.find_all(exp.Column)), names, strict=True):
        bare = exp.column(read[name.lower()], quoted=True)
        local = bare if column is local else local
        column.replace(bare)
    return index, local


def bound_classes(search) -> list[tuple[int, str, list[int]]]:
    """(input, what, rows): for every comparison of an expression of one input's columns
    with a number (`coverage_pct >= 75`, `hour(timezone(...)) between 9 and 16`, `x * y >
    0`), the rows where the expression equals each bound, and those where it is nearest
    under and over it (nearest first): where `>=` for `>`, `17` for `16` or a unit changes
    what the comparison keeps."""
    from generator.project.sandbox import SandboxQueryError
    from generator.sql.facts import Facts

    facts = Facts(search.ctx)
    if facts.root is None:
        return []
    found: list[tuple[int, str, list[int]]] = []
    seen: set[tuple[int, str, str]] = set()
    for scope in facts.root.traverse():
        if not isinstance(scope.expression, exp.Select):
            continue
        for node in scope.expression.find_all(exp.Between, *_COMPARISONS):
            for expression, bounds in bounded_expressions(node):
                located = _on_input(search, facts, scope, expression)
                if located is None:
                    continue
                index, local = located
                value = local.sql(dialect="duckdb")
                source = search.inputs[index].source
                for bound in bounds:
                    if (index, value, bound) in seen:
                        continue
                    seen.add((index, value, bound))
                    sides = (
                        ("=", f"({value}) = {bound}", "gm_row"),
                        ("just under", f"({value}) < {bound}", f"({value}) desc, gm_row"),
                        ("just over", f"({value}) > {bound}", f"({value}) asc, gm_row"),
                    )
                    for label, condition, order in sides:
                        try:
                            rows = search.query(
                                f"select gm_row from {source} where {condition} "
                                f"order by {order} limit {THRESHOLD_CANDIDATES}"
                            )
                        except SandboxQueryError:
                            break  # an expression DuckDB cannot run on the input alone
                        if rows:
                            found.append((index, f"{value} {label} {bound}", [int(row) for (row,) in rows]))
    return found


def _predicates(tree: exp.Expression) -> dict[str, exp.Expression]:
    """Every comparison of a tree by its SQL text."""
    found: dict[str, exp.Expression] = {}
    for node in tree.find_all(exp.Between, exp.In, *_COMPARISONS):
        found.setdefault(node.sql(dialect="duckdb"), node)
    return found


def _contributions(tree: exp.Expression) -> dict[str, exp.Expression]:
    """What each input row gives the outputs, by SQL text: every select-list expression
    without an aggregate or window (alias dropped), and every aggregate's argument."""
    found: dict[str, exp.Expression] = {}
    for select in tree.find_all(exp.Select):
        for item in select.expressions:
            node = item.this if isinstance(item, exp.Alias) else item
            parts = [agg.this for agg in node.find_all(exp.AggFunc) if isinstance(agg.this, exp.Expression)]
            if not parts and not any(isinstance(n, (exp.Window, exp.Star)) for n in node.walk()):
                parts = [node]
            for part in parts:
                if not isinstance(part, (exp.Star, exp.Distinct)):
                    found.setdefault(part.sql(dialect="duckdb"), part)
    return found


def disagreement(search, mutant: exp.Expression) -> tuple[int, str] | None:
    """(input, condition) when a mutant changes one comparison of the SQL (`>= 75` -> `> 75`),
    or else one thing an input row gives an output (`sum(net_paid_amount)` -> `sum(amount_paid)`,
    `date_trunc('month', period_start_at)` -> `..., created_at)`), whose columns, in the
    original and in the mutant, are all of one input (by name): the condition holds on that
    input's rows the two disagree on, where a seed shows the mutant best (the row at 75, a
    refunded invoice, an invoice created in another month than its period starts), not the
    first rows of its group. Else None."""
    if search.ctx.tree is None:
        return None
    for found in (_predicates, _contributions):
        original, changed = found(search.ctx.tree), found(mutant)
        gone = [node for text, node in original.items() if text not in changed]
        new = [node for text, node in changed.items() if text not in original]
        if gone or new:
            break
    if len(gone) != 1 or len(new) != 1:
        return None
    names = {column.name.lower() for node in (*gone, *new) for column in node.find_all(exp.Column)}
    inputs = [item for item in search.inputs if names and names <= {c.lower() for c in item.read}]
    if len(inputs) != 1:
        return None
    read = {c.lower(): c for c in inputs[0].read}
    local = []
    for node in (gone[0], new[0]):
        # transform, not replace: a contribution may be a bare column (the root itself).
        node = node.transform(
            lambda n: exp.column(read[n.name.lower()], quoted=True) if isinstance(n, exp.Column) else n
        )
        local.append(node.sql(dialect="duckdb"))
    return inputs[0].index, f"({local[0]}) is distinct from ({local[1]})"
