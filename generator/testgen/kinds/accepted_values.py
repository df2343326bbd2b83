"""accepted_values (dbt's own): every value of the column is one of a list."""

from __future__ import annotations

from generator.testgen.datatests import DataTest
from generator.testgen.kinds.base import (
    UNEXPECTED_TEXT,
    Copy,
    Corruptions,
    Resolver,
    is_numeric,
    is_text,
    jinja_text,
    set_value,
)

NAME = "accepted_values"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """dbt's test_accepted_values."""
    column = test.column
    quoted = test.arguments.get("quote", True)
    values = ",".join(f"'{jinja_text(v)}'" if quoted else jinja_text(v) for v in test.arguments.get("values") or [])
    return (
        f"with all_values as (\n    select {column} as value_field, count(*) as n_records\n"
        f"    from {relation}\n    group by {column}\n)\n"
        f"select *\nfrom all_values\nwhere value_field not in ({values})"
    )


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """A value outside the set in one row: a marker text, or one above the largest number."""
    column = test.column
    kind = copy.type_of(column)
    values = [jinja_text(v) for v in test.arguments.get("values") or []]
    if is_text(kind):
        outside = UNEXPECTED_TEXT
        while outside in values:
            outside += "_"
        yield f"set {column} to '{outside}' in one row", set_value(copy, column, f"'{outside}'")
    elif is_numeric(kind):
        try:
            numbers = [float(v) for v in values]
        except ValueError:
            return
        outside = int(max(numbers, default=0)) + 1
        yield f"set {column} to {outside} in one row", set_value(copy, column, str(outside))
