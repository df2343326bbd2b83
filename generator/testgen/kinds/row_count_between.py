"""row_count_between (the package's): the model's row count is within bounds."""

from __future__ import annotations

from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import Copy, Corruptions, Resolver, duplicate_row, jinja_text, keep_rows

NAME = f"{PACKAGE}.row_count_between"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """macros/generic_tests/row_count_between.sql."""
    lower, upper = test.arguments.get("min_value"), test.arguments.get("max_value")
    parts = []
    if lower is not None:
        parts.append(f"row_count < {jinja_text(lower)}")
    if upper is not None:
        parts.append(f"row_count > {jinja_text(upper)}")
    return (
        f"with counts as (\n    select count(*) as row_count\n    from {relation}\n)\n"
        f"select row_count\nfrom counts\nwhere\n    {' or '.join(parts)}"
    )


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """Rows deleted down to one under the minimum, or duplicated up to one over the maximum."""
    lower, upper = test.arguments.get("min_value"), test.arguments.get("max_value")
    rows = copy.count()
    if lower is not None and int(lower) >= 1:
        keep = int(lower) - 1
        yield (
            f"delete rows down to {keep}",
            keep_rows(copy, keep),
        )
    if upper is not None and rows > 0:
        extra = int(upper) + 1 - rows
        if extra > 0:
            yield f"duplicate rows up to {int(upper) + 1}", duplicate_row(copy, times=extra)
