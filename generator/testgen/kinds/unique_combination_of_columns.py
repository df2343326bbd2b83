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


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """A row duplicated."""
    yield "duplicate a row", duplicate_row(copy)
