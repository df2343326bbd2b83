"""accepted_values (dbt's own): every value of the column is one of a list."""

from __future__ import annotations

from dataclasses import replace

from sqlglot import exp

from generator.sql.facts import unwrap
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
from generator.testgen.kinds.evidence import is_text_type

NAME = "accepted_values"
# `quote` changes how the values are rendered, not what the test states.
IGNORED_ARGUMENTS = frozenset({"quote"})


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


# -- derivation (generator.testgen.derive) ------------------------------------------------


def derive(deriver, name: str, data_type: str, definition) -> None:
    """accepted_values for text inherited from upstream, admitted by a where clause, or
    returned by a CASE; today's values alone only make a note."""
    if not is_text_type(data_type):
        return
    profile = deriver.result.profiles.get(name.lower())
    base, steps = deriver.facts.pass_through(definition) if definition is not None else (None, [])
    if base is not None:
        upstream = base.relation.column(base.column)
        allowed, excluded, notes = deriver.facts.value_filters(steps)
        if upstream is not None and upstream.accepted_values:
            values = [v for v in upstream.accepted_values if v not in excluded]
            if allowed is not None:
                values = [v for v in values if v in allowed]
            if len(values) == len(upstream.accepted_values):
                # The same set, on values copied unchanged: the upstream test guarantees it.
                deriver.result.notes.append(
                    f"{name}: accepted_values inherited from {base.display()}, passed through unchanged: "
                    "not tested again here (the upstream test guarantees it)"
                )
                return
            # A narrower set: the where clauses on the way add a check here.
            reason = (
                f"inherited from {base.display()} (accepted_values upstream); "
                f"where {' and '.join(notes)} leaves {len(values)} of them"
            )
            if values:
                test = DataTest("accepted_values", name, {"values": values}, reason, "accepted_values")
                deriver.add(replace(test, evidence="inherited"))
            return
        if allowed is not None:
            values = sorted(allowed - excluded)
            if values:
                deriver.add(
                    DataTest(
                        "accepted_values",
                        name,
                        {"values": values},
                        f"where {' and '.join(notes)} admits only these values",
                        "accepted_values",
                    )
                )
            return
        if upstream is not None and upstream.unique:
            return  # an id, unique upstream: never a fixed set
    literals = case_literals(deriver.facts, definition)
    if literals:
        deriver.add(
            DataTest(
                "accepted_values",
                name,
                {"values": literals},
                "the CASE that computes it returns only these literals",
                "accepted_values",
            )
        )
        return
    if profile is None or profile.values is None or id_like(name):
        return
    # Today's few values are no domain: a new store or product would fail the build.
    deriver.result.notes.append(
        f"{name}: {len(profile.values)} distinct values today, but no upstream test or SQL bounds them; "
        "no accepted_values test (it would fail on legitimate new data)"
    )


def case_literals(facts, definition) -> list[str] | None:
    """The string literals a CASE (its every branch and else) can return, sorted."""
    core = facts.core(definition) if definition is not None else None
    if core is None:
        return None
    expression = unwrap(core.expression)
    if not isinstance(expression, exp.Case):
        return None
    outputs = [unwrap(branch.args.get("true")) for branch in expression.args.get("ifs") or []]
    default = expression.args.get("default")
    outputs.append(unwrap(default) if default is not None else exp.null())
    values = set()
    for output in outputs:
        if isinstance(output, exp.Null):
            continue
        if not (isinstance(output, exp.Literal) and output.is_string):
            return None
        values.add(output.this)
    return sorted(values) or None


def id_like(name: str) -> bool:
    """A name that says it is an identifier (never a categorical column)."""
    lowered = name.lower()
    return lowered == "id" or lowered.endswith("_id") or lowered.endswith("_key") or lowered.endswith("_uuid")
