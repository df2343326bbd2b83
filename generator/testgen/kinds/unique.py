"""unique (dbt's own): no non-null value of the column is seen twice."""

from __future__ import annotations

from generator.testgen.datatests import DataTest
from generator.testgen.kinds.base import Copy, Corruptions, Resolver, duplicate_row, quote

NAME = "unique"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """dbt's test_unique."""
    column = test.column
    return (
        f"select {column} as unique_field, count(*) as n_records\nfrom {relation}\n"
        f"where {column} is not null\ngroup by {column}\nhaving count(*) > 1"
    )


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """A row with a value duplicated."""
    column = test.column
    yield f"duplicate a row with a {column}", duplicate_row(copy, f"{quote(column)} is not null")
