"""What the kinds' derivations (generator.testgen.derive) share: reading a column's type as
the dry run reports it, and naming an input as the SQL calls it."""

from __future__ import annotations

from decimal import Decimal

NUMERIC = ("int", "decimal", "numeric", "double", "float", "real", "hugeint")


def is_text_type(data_type: str) -> bool:
    """A text column, as the dry run's result types it."""
    return data_type.startswith("varchar") or data_type in ("text", "string")


def is_numeric_type(data_type: str) -> bool:
    """A number column, as the dry run's result types it (lists of numbers are not)."""
    return any(word in data_type for word in NUMERIC) and not data_type.endswith("[]")


def bound_value(value: Decimal):
    """A bound for YAML: an integer when it is whole."""
    return int(value) if value == value.to_integral_value() else float(value)


def call_display(ctx, placeholder: str, relation) -> str:
    """How the model's SQL names the input behind `placeholder` (`ref('x')`), for a test argument."""
    call = ctx.templated.call_for(placeholder) if ctx.templated else None
    return call.display() if call else relation.display
