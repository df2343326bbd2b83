"""equal_rowcount (the package's): the model has as many rows as another relation."""

from __future__ import annotations

from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import Copy, Corruptions, Resolver, delete_row, row_counts_sql

NAME = f"{PACKAGE}.equal_rowcount"
FAIL_CALC = "coalesce(sum(row_count_difference), 0)"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """macros/generic_tests/equal_rowcount.sql."""
    return row_counts_sql(relation, resolve(str(test.arguments["compare_model"]))) + (
        "select model_rows.row_count as model_row_count,\n"
        "    compare_model_rows.row_count as compare_model_row_count,\n"
        "    abs(model_rows.row_count - compare_model_rows.row_count) as row_count_difference\n"
        "from model_rows\ncross join compare_model_rows\n"
        "where model_rows.row_count <> compare_model_rows.row_count"
    )


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """One row deleted."""
    yield "delete one row", delete_row(copy)
