"""unique_combination_of_columns (the package's): no combination of the columns is seen twice."""

from __future__ import annotations

from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import Copy, Corruptions, Resolver, duplicate_row

NAME = f"{PACKAGE}.unique_combination_of_columns"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """macros/generic_tests/unique_combination_of_columns.sql."""
    columns = test.arguments.get("combination_of_columns") or []
    if test.arguments.get("quote_columns"):
        columns = ['"' + str(c).replace('"', '""') + '"' for c in columns]
    listed = ", ".join(str(c) for c in columns)
    return f"select {listed}, count(*) as n_records\nfrom {relation}\ngroup by {listed}\nhaving count(*) > 1"


def covered_by(test: DataTest, other: DataTest, other_name: str) -> bool:
    """Whether `other` (of canonical name `other_name`) states `test` already: `unique` on
    its one column, or the same combination in another order, on every row."""
    columns = [str(c).lower() for c in test.arguments.get("combination_of_columns") or []]
    if other_name == "unique" and len(columns) == 1 and (other.column or "").lower() == columns[0]:
        return True
    return (
        other_name == NAME
        and not other.where
        and sorted(str(c).lower() for c in other.arguments.get("combination_of_columns") or []) == sorted(columns)
    )


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """A row duplicated."""
    yield "duplicate a row", duplicate_row(copy)
