"""relationships (dbt's own): every non-null value of the column is a key of another relation."""

from __future__ import annotations

from generator.testgen.datatests import DataTest
from generator.testgen.kinds.base import (
    ORPHAN_TEXT,
    Copy,
    Corruptions,
    Resolver,
    is_numeric,
    is_temporal,
    is_text,
    set_value,
)
from generator.testgen.kinds.evidence import call_display

NAME = "relationships"


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """dbt's test_relationships."""
    column = test.column
    parent = resolve(str(test.arguments["to"]))
    return (
        f"with child as (\n    select {column} as from_field\n    from {relation}\n"
        f"    where {column} is not null\n),\n"
        f"parent as (\n    select {test.arguments['field']} as to_field\n    from {parent}\n)\n"
        "select from_field\nfrom child\nleft join parent\n    on child.from_field = parent.to_field\n"
        "where parent.to_field is null"
    )


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """A value without a parent in one row: a marker text, one above the largest key, a day later."""
    column = test.column
    kind = copy.type_of(column)
    parent = resolve(str(test.arguments["to"]))
    field = test.arguments["field"]
    if is_text(kind):
        yield f"set {column} to '{ORPHAN_TEXT}' (no parent) in one row", set_value(copy, column, f"'{ORPHAN_TEXT}'")
    elif is_numeric(kind):
        yield (
            f"set {column} to one above {parent}'s largest {field} in one row",
            set_value(copy, column, f"(select coalesce(max({field}), 0) + 1 from {parent})"),
        )
    elif is_temporal(kind):
        yield (
            f"set {column} to a day after {parent}'s latest {field} in one row",
            set_value(copy, column, f"(select max({field}) + interval 1 day from {parent})"),
        )


# -- derivation (generator.testgen.derive) ------------------------------------------------


def derive(deriver, name: str, data_type: str, definition) -> None:
    """No relationships test for a column passed through unchanged, only a note: from a
    column with a relationships test upstream (to the same target: that test guarantees
    it), or from the key of the relation it is read from (every value is one of its keys
    by construction; only an edit of this SQL could break it, and the unit test pins it).
    A relationships test ignores nulls, so no outer join on the way changes this."""
    if definition is None:
        return
    base, _ = deriver.facts.pass_through(definition)
    if base is None:
        return
    for key in base.relation.foreign_keys:
        if key.column.lower() != base.column.lower():
            continue
        target = deriver.catalog.by_unique_id(key.to)
        if target is None:
            continue
        deriver.result.notes.append(
            f"{name}: relationships to {target.display}.{key.to_column} inherited from {base.display()}, "
            "passed through unchanged: not tested again here (the upstream test guarantees it)"
        )
        return
    # The relation's own key (a unique column that is not its key, such as a domain, says nothing).
    if tuple(k.lower() for k in base.relation.primary_key) == (base.column.lower(),):
        display = call_display(deriver.ctx, base.placeholder, base.relation)
        deriver.result.notes.append(
            f"{name}: read unchanged from {display}'s unique key {base.column}: no relationships test "
            "(every value is one of its keys by construction)"
        )
