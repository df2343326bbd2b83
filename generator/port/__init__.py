"""Porting a DuckDB model to another engine, refusing what would silently change its rows.

sqlglot transpiles DuckDB to Spark without complaint for constructs whose meaning differs
between the engines (first vs every regex match, rounding of doubles, casts to integers,
date differences, weekday numbering, substring positions, ASOF joins, division by zero).
`check` finds each of them, located in the model's SQL with the rewrite that means the
same on both engines; `transpile` gives the target's SQL only when nothing was found.
"""

from generator.port.check import PortError, check, ported, transpile
from generator.port.rules import RULES, PortRule

__all__ = ["RULES", "PortError", "PortRule", "check", "ported", "transpile"]
