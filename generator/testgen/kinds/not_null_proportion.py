"""not_null_proportion (the package's): the share of non-null values is within bounds."""

from __future__ import annotations

from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import CORRUPTED_TABLE, Copy, Corruptions, Resolver, jinja_text, quote, set_every

NAME = f"{PACKAGE}.not_null_proportion"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """macros/generic_tests/not_null_proportion.sql."""
    column = test.column
    at_least, at_most = test.arguments.get("at_least"), test.arguments.get("at_most", 1)
    return (
        f"with counts as (\n    select count({column}) as non_null_rows, count(*) as total_rows\n"
        f"    from {relation}\n)\n"
        "select non_null_rows, total_rows,\n"
        "    cast(non_null_rows as numeric(28,6)) / total_rows as not_null_proportion\n"
        "from counts\nwhere total_rows > 0\n"
        f"    and (non_null_rows < {jinja_text(at_least)} * total_rows\n"
        f"        or non_null_rows > {jinja_text(at_most)} * total_rows)"
    )


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """The value set to null in every row (below a minimum), or given to every row (above a maximum)."""
    column = test.column
    quoted = quote(column)
    at_least, at_most = test.arguments.get("at_least", 0), test.arguments.get("at_most", 1)
    if float(at_least) > 0:
        yield f"set {column} to null in every row", set_every(copy, column, "null")
    if float(at_most) < 1:
        yield (
            f"give every row a {column}",
            set_every(
                copy, column, f"(select {quoted} from {CORRUPTED_TABLE} where {quoted} is not null order by 1 limit 1)"
            ),
        )
