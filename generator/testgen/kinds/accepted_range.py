"""accepted_range (the package's): every value of the column is within bounds."""

from __future__ import annotations

from generator.testgen.datatests import PACKAGE, DataTest
from generator.testgen.kinds.base import Copy, Corruptions, Resolver, is_temporal, jinja_text, set_value

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
