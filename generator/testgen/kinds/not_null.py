"""not_null (dbt's own): no row has a null in the column."""

from __future__ import annotations

from generator.testgen.datatests import DataTest
from generator.testgen.kinds.base import Copy, Corruptions, Resolver, quote, set_value

NAME = "not_null"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """dbt's test_not_null."""
    column = test.column
    return f"select {column}\nfrom {relation}\nwhere {column} is null"


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """The value set to null in one row that has one."""
    column = test.column
    yield f"set {column} to null in one row", set_value(copy, column, "null", f"{quote(column)} is not null")


# -- derivation (generator.testgen.derive) ------------------------------------------------


def derive(deriver, name: str, data_type: str, definition) -> None:
    """not_null when the SQL guarantees a value (a grain column has its own); none for a
    column passed through unchanged from one tested not_null upstream (no outer join can
    null it on the way, or the SQL would not guarantee it): that test adds no check here."""
    if name.lower() in deriver.grain_lower or definition is None:
        return
    reason = deriver.facts.never_null(definition.scope, definition.expression)
    if not reason:
        return
    base, _ = deriver.facts.pass_through(definition)
    if base is not None:
        deriver.result.notes.append(
            f"{name}: not_null inherited from {base.display()}, passed through unchanged: "
            "not tested again here (the upstream test guarantees it)"
        )
        return
    evidence = "inherited" if "upstream" in reason else "proven"
    deriver.add(DataTest("not_null", name, reason=f"never null: {reason}", kind="not_null", evidence=evidence))
