"""expression_is_true (the package's): a SQL expression holds in every row."""

from __future__ import annotations

from sqlglot import exp, parse_one

from generator.sql.facts import AggregateShape, unwrap
from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import (
    CORRUPTED_TABLE,
    UNEXPECTED_TEXT,
    Copy,
    Corruptions,
    Resolver,
    is_numeric,
    is_temporal,
    is_text,
    quote,
    set_value,
)

NAME = f"{PACKAGE}.expression_is_true"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """macros/generic_tests/expression_is_true.sql."""
    prefix = f"{test.column} " if test.column is not None else ""
    return f"select *\nfrom {relation}\nwhere not ({prefix}{test.arguments['expression']})"


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """Each referenced column in turn pushed out of the range the expression allows, in one
    row where it holds: above its largest absolute value, below its negation, negated
    (booleans), suffixed (text), moved 10000 days (dates)."""
    # A column test is written `column: x, expression: '>= 0'`: `x >= 0` is what is checked.
    expression = f"{test.column} {test.arguments['expression']}" if test.column else str(test.arguments["expression"])
    try:
        # Only its columns are read here; the expression runs inside the corruption's helper
        # SQL, which is written in DuckDB's spelling on every engine (Spark's dry run transpiles it).
        tree = parse_one(expression, read="duckdb")
    except Exception:
        return
    names = list(dict.fromkeys(column.name for column in tree.find_all(exp.Column)))
    condition = f"coalesce(({expression}), false)"
    for name in names:
        kind = copy.type_of(name)
        if kind:
            yield from column_corruptions(copy, name, kind, condition)


def column_corruptions(copy: Copy, name: str, kind: str, condition: str) -> Corruptions:
    """The ways to push column `name` (of type `kind`) away, in a row that meets `condition`."""
    quoted = quote(name)
    if is_numeric(kind):
        big = f"(select coalesce(max(abs({quoted})), 0) + 1 from {CORRUPTED_TABLE})"
        yield (
            f"raise {name} above its largest absolute value in one row",
            set_value(copy, name, f"{quoted} + {big}", condition),
        )
        yield (
            f"lower {name} below minus its largest absolute value in one row",
            set_value(copy, name, f"{quoted} - {big}", condition),
        )
    elif kind == "boolean":
        yield f"negate {name} in one row", set_value(copy, name, f"not {quoted}", condition)
    elif is_text(kind):
        yield f"append text to {name} in one row", set_value(copy, name, f"{quoted} || '{UNEXPECTED_TEXT}'", condition)
    elif is_temporal(kind):
        yield (
            f"move {name} 10000 days later in one row",
            set_value(copy, name, f"{quoted} + interval 10000 day", condition),
        )
        yield (
            f"move {name} 10000 days earlier in one row",
            set_value(copy, name, f"{quoted} - interval 10000 day", condition),
        )


# -- derivation (generator.testgen.derive) ------------------------------------------------


def derive_invariants(deriver, shapes: dict[str, AggregateShape]) -> None:
    """expression_is_true: a filtered count (or a sum of non-negative values) is at most the
    unfiltered one over the same rows; disjoint filters add up to at most it."""
    names = list(shapes)
    # The conditions are shown in the tests' reasons, in the model's YAML: in the model's SQL.
    dialect = deriver.ctx.dialect.sqlglot
    for total_name in names:
        total = shapes[total_name]
        if total.condition is not None:
            continue
        if total.function == "sum" and not non_negative(deriver.facts, total):
            continue
        parts = [
            name
            for name in names
            if name != total_name
            and shapes[name].scope is total.scope
            and shapes[name].function == total.function
            and shapes[name].argument == total.argument
            and shapes[name].condition is not None
        ]
        if not parts:
            continue
        disjoint = disjoint_equalities([shapes[name].condition for name in parts])
        if disjoint and len(parts) > 1:
            conditions = " / ".join(shapes[name].condition.sql(dialect=dialect) for name in parts)
            deriver.add(
                DataTest(
                    f"{PACKAGE}.expression_is_true",
                    None,
                    {"expression": f"{' + '.join(parts)} <= {total_name}"},
                    f"{', '.join(parts)} {total.function} disjoint subsets ({conditions}) of the rows "
                    f"{total_name} {total.function}s",
                    "invariant",
                )
            )
            continue
        for name in parts:
            condition = shapes[name].condition.sql(dialect=dialect)
            deriver.add(
                DataTest(
                    f"{PACKAGE}.expression_is_true",
                    None,
                    {"expression": f"{name} <= {total_name}"},
                    f"{name} {total.function}s the rows where {condition} among those {total_name} {total.function}s",
                    "invariant",
                )
            )


def non_negative(facts, shape: AggregateShape) -> bool:
    """Whether the aggregated argument is proven (not observed) never negative."""
    try:
        # generator.sql.facts writes an AggregateShape's argument in DuckDB's spelling, whatever
        # the engine: it is read back the same way (it is never shown).
        argument = parse_one(shape.argument, read="duckdb")
    except Exception:
        return False
    bound = facts.lower_bound(shape.scope, argument)
    return bound is not None and bound.value >= 0 and not bound.observed


def disjoint_equalities(conditions: list[exp.Expression]) -> bool:
    """Conditions `c = 'a'`, `c = 'b'`, ... on one column with distinct literals."""
    column, seen = None, set()
    for condition in conditions:
        condition = unwrap(condition)
        if not isinstance(condition, exp.EQ):
            return False
        left, right = unwrap(condition.this), unwrap(condition.expression)
        if isinstance(right, exp.Column):
            left, right = right, left
        if not isinstance(left, exp.Column) or not isinstance(right, exp.Literal):
            return False
        key = (left.table.lower(), left.name.lower())
        if column is not None and key != column:
            return False
        column = key
        if right.this in seen:
            return False
        seen.add(right.this)
    return True
