"""accepted_range (the package's): every value of the column is within bounds."""

from __future__ import annotations

from sqlglot import exp

from generator.sql.facts import unwrap
from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import Copy, Corruptions, Resolver, is_temporal, jinja_text, set_value
from generator.testgen.kinds.evidence import bound_value, is_numeric_type

NAME = f"{PACKAGE}.accepted_range"


def bounds(lower: str | None, upper: str | None, column: str, inclusive: bool) -> str:
    """The condition a value outside [lower, upper] (or the open interval) meets."""
    parts = []
    if lower is not None:
        parts.append(f"{column} {'<' if inclusive else '<='} {lower}")
    if upper is not None:
        parts.append(f"{column} {'>' if inclusive else '>='} {upper}")
    return " or ".join(parts)


def failing_rows(test: DataTest, relation: str, resolve: Resolver) -> str:
    """macros/generic_tests/accepted_range.sql."""
    lower, upper = test.arguments.get("min_value"), test.arguments.get("max_value")
    inclusive = test.arguments.get("inclusive", True)
    condition = bounds(
        None if lower is None else jinja_text(lower),
        None if upper is None else jinja_text(upper),
        str(test.column),
        inclusive is not False,
    )
    return f"select *\nfrom {relation}\nwhere\n    {condition}"


def corruptions(test: DataTest, copy: Copy, resolve: Resolver) -> Corruptions:
    """The value pushed one below the lower bound, or one above the upper (onto it when exclusive)."""
    column = test.column
    inclusive = test.arguments.get("inclusive", True) is not False
    lower, upper = test.arguments.get("min_value"), test.arguments.get("max_value")
    step = "interval 1 day" if is_temporal(copy.type_of(column)) else "1"
    if lower is not None:
        value = f"({jinja_text(lower)}) - {step}" if inclusive else f"({jinja_text(lower)})"
        yield f"set {column} below the lower bound ({value}) in one row", set_value(copy, column, value)
    if upper is not None:
        value = f"({jinja_text(upper)}) + {step}" if inclusive else f"({jinja_text(upper)})"
        yield f"set {column} above the upper bound ({value}) in one row", set_value(copy, column, value)


# -- derivation (generator.testgen.derive) ------------------------------------------------


def derive(deriver, name: str, data_type: str, definition) -> None:
    """accepted_range: [0, 1] for a filtered count over its total, else a lower bound the SQL gives."""
    if definition is None or not is_numeric_type(data_type):
        return
    definition = deriver.facts.core(definition)
    if definition is None:
        return  # a pass-through: its range is the upstream model's business
    expression = unwrap(definition.expression)
    ratio = count_ratio(deriver.facts, definition)
    if ratio:
        deriver.add(
            DataTest(
                f"{PACKAGE}.accepted_range",
                name,
                {"min_value": 0, "max_value": 1},
                f"a filtered count over the count of the same rows: {ratio}",
                "range",
            )
        )
        return
    bound = deriver.facts.lower_bound(definition.scope, expression)
    if bound is None:
        return
    if bound.observed:
        deriver.result.notes.append(
            # The reason may hold parentheses of its own: a colon keeps the note one level deep.
            f"{name}: >= {bound_value(bound.value)} today: {bound.reason}; no test upstream says so, "
            "so no accepted_range test"
        )
        return
    deriver.add(
        DataTest(
            f"{PACKAGE}.accepted_range",
            name,
            {"min_value": bound_value(bound.value)},
            f"lower bound from the SQL: {bound.reason}",
            "range",
        )
    )


def count_ratio(facts, definition) -> str | None:
    """The ratio, as SQL, when `definition` is a filtered count over the count of the same rows."""
    expression = unwrap(definition.expression)
    while True:
        if isinstance(expression, exp.Case):
            ifs = expression.args.get("ifs") or []
            if len(ifs) != 1 or expression.args.get("default") is not None:
                return None
            expression = unwrap(ifs[0].args["true"])
        elif isinstance(expression, (exp.Round, exp.Cast)) and not isinstance(expression, exp.TryCast):
            expression = unwrap(expression.this)
        else:
            break
    if not isinstance(expression, exp.Div):
        return None
    part = facts.aggregate_shape(definition.scope, expression.this)
    whole = facts.aggregate_shape(definition.scope, expression.expression)
    if (
        part
        and whole
        and part.scope is whole.scope
        and part.function == whole.function == "count"
        and part.argument == whole.argument
        and part.condition is not None
        and whole.condition is None
    ):
        # Shown in the test's reason, in the model's YAML: in the SQL the model is written in.
        return expression.sql(dialect=facts.ctx.dialect.sqlglot)
    return None
