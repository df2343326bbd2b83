"""expression_is_true (the package's): a SQL expression holds in every row."""

from __future__ import annotations

from sqlglot import exp, parse_one

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
