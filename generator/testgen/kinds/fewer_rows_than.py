"""fewer_rows_than (the package's): the model has no more rows than another relation (or fewer)."""

from __future__ import annotations

from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import Copy, Corruptions, Resolver, duplicate_row, row_counts_sql

NAME = f"{PACKAGE}.fewer_rows_than"
FAIL_CALC = "coalesce(sum(excess_rows), 0)"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """macros/generic_tests/fewer_rows_than.sql."""
    strict = test.arguments.get("strict", False) is True
    return row_counts_sql(relation, resolve(str(test.arguments["compare_model"]))) + (
        "select model_rows.row_count as model_row_count,\n"
        "    compare_model_rows.row_count as compare_model_row_count,\n"
        "    case when model_rows.row_count > compare_model_rows.row_count\n"
        "        then model_rows.row_count - compare_model_rows.row_count else 1 end as excess_rows\n"
        "from model_rows\ncross join compare_model_rows\n"
        f"where model_rows.row_count {'>=' if strict else '>'} compare_model_rows.row_count"
    )


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """Rows duplicated until there are more than the input's (as many, when strict)."""
    compare = resolve(str(test.arguments["compare_model"]))
    strict = test.arguments.get("strict", False) is True
    inputs = int(copy.sandbox.execute(f"select count(*) from {compare}")[0][0])
    extra = inputs - copy.count() + (0 if strict else 1)
    if extra > 0:
        yield (
            f"duplicate rows until there are {inputs + (0 if strict else 1):,} (the input has {inputs:,})",
            (duplicate_row(copy, times=extra)),
        )
