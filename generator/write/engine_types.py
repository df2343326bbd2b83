"""A contract column's `data_type` per engine: the one Jinja `gen-model port` writes into YAML.

A versioned, contracted model is one model and version on every engine, so dbt reads one
properties entry for it, and its contract must name each engine's own type (DuckDB's
`varchar` is a parse error in Spark's DDL; a `sum` is `decimal(38,2)` on DuckDB and
`decimal(28,2)` on Spark). dbt renders a column's `data_type`, so a ported column whose
types differ gets a fixed switch on the target's adapter type:

    data_type: "{{ 'string' if target.type == 'spark' else 'varchar' }}"

The text is gen-model's own: every type name and engine in it matches a strict pattern
(letters, digits, underscores, spaces, one `(p)` or `(p,s)`), so no quote, brace or call can
come in with them; `generator.write.inert` lets exactly this form through at a `data_type`
key and nothing else.
"""

from __future__ import annotations

import re

_TYPE = r"[A-Za-z][A-Za-z0-9_]*(?: [A-Za-z][A-Za-z0-9_]*)*(?:\(\d+(?:, ?\d+)?\))?"
_ENGINE = r"[a-z][a-z0-9_]*"
TYPE_NAME = re.compile(rf"^{_TYPE}$")
_BRANCH = re.compile(rf"'({_TYPE})' if target\.type == '({_ENGINE})' else ")
_SWITCH = re.compile(rf"^\{{\{{ ((?:'{_TYPE}' if target\.type == '{_ENGINE}' else )+)'({_TYPE})' \}}\}}$")


class TypeNameError(ValueError):
    """A type name or engine that the switch cannot carry as fixed text."""


def _checked(name: str, pattern: re.Pattern, what: str) -> str:
    if not pattern.match(name):
        raise TypeNameError(f"{what} {name[:80]!r} is not a plain type name")
    return name


def type_switch(by_engine: dict[str, str], default: str) -> str:
    """The `data_type` text naming `by_engine[target.type]` on those engines, `default` elsewhere."""
    branches = "".join(
        f"'{_checked(by_engine[engine], TYPE_NAME, 'type')}' if target.type == "
        f"'{_checked(engine, re.compile(rf'^{_ENGINE}$'), 'engine')}' else "
        for engine in sorted(by_engine)
    )
    if not branches:
        return _checked(default, TYPE_NAME, "type")
    return f"{{{{ {branches}'{_checked(default, TYPE_NAME, 'type')}' }}}}"


def parse_type_switch(text: str) -> tuple[dict[str, str], str] | None:
    """(engine -> type, default) of a switch `type_switch` wrote, or None for anything else."""
    match = _SWITCH.match(text)
    if match is None:
        return None
    return {engine: kind for kind, engine in _BRANCH.findall(match[1])}, match[2]


def is_type_switch(text: str) -> bool:
    """True for exactly the text `type_switch` writes."""
    return parse_type_switch(text) is not None
