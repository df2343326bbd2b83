"""What gen-model knows about each engine, one module per engine; the dbt target picks one.

A dialect is data plus a few functions: sqlglot's name for it, how its contract types are
spelled, what the safety and determinism gates refuse on it, how the prompt describes it,
and how a proposal is dry-run on it. The gates, the SQL analysis and the writer ask the
dialect instead of assuming DuckDB.

Every module of this package that defines `DIALECT` is an engine: adding one (Snowflake,
say) is one new module, found by `get_dialect` without edits anywhere else.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from generator.errors import ConfigError

# How a function makes rows depend on the run instead of the data (the determinism gate's
# kinds; each has its own message there).
CLOCK = "clock"
RANDOM = "random"
UUID = "uuid"
SEQUENCE = "sequence"
SESSION = "session"
ENGINE = "engine"
VOLATILE = "volatile"


@dataclass(frozen=True)
class SafetyRules:
    """What the safety gate refuses on one engine, beyond statements that are not queries.

    `blocked_functions` and `blocked_prefixes` map a function name to why it is refused (a
    reason that is a key of `advice`); `allowed_table_functions` are the only table
    functions a model may call; `path_formats` are schema names that address a file by
    path (Spark's parquet.`/path`); `command_reasons` explain statements sqlglot only knows
    as commands, by their first keyword.
    """

    blocked_functions: Mapping[str, str]
    blocked_prefixes: tuple[tuple[str, str], ...]
    allowed_table_functions: frozenset[str]
    advice: Mapping[str, str]
    reads_files: str
    command_reasons: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    path_formats: frozenset[str] = frozenset()
    # Syntax nodes (sqlglot classes) that run something outside SQL, with why and what to do.
    blocked_nodes: tuple[tuple[type, str, str], ...] = ()

    def blocked_reason(self, name: str) -> str | None:
        """Why a function name is refused, or None if it may be called."""
        lowered = name.lower()
        if lowered in self.blocked_functions:
            return self.blocked_functions[lowered]
        for prefix, reason in self.blocked_prefixes:
            if lowered.startswith(prefix):
                return reason
        return None


@dataclass(frozen=True)
class DeterminismRules:
    """What the determinism gate knows about one engine's functions.

    `run_dependence(name)` is the kind (CLOCK, RANDOM, ...) of a function whose result
    depends on the run, else None; `depends_on_time_zone(name)` says a function's result on
    a zoned timestamp depends on the session's time zone; `known(name)` says the engine has
    a function of that name. `name_of_class` maps sqlglot nodes that are keywords or
    renamed calls to the engine's function name.
    """

    run_dependence: Callable[[str], str | None]
    depends_on_time_zone: Callable[[str], bool]
    known: Callable[[str], bool]
    name_of_class: Mapping[type, str]
    order_sensitive_aggregates: frozenset[str]
    sorts: frozenset[str]
    zoned_type_prefixes: tuple[str, ...]
    time_zone_setting: str  # the session setting (lowercase) that pins the time zone
    time_zone_advice: str  # how to pin it in the dbt profile
    time_zone_reason: str  # why a calendar field of a zoned timestamp depends on the session
    # Functions that read the clock when called with one argument (DuckDB's age(ts)).
    one_argument_clocks: frozenset[str] = frozenset()
    # What to do about first()/last() picking a row, and about a collected list's order
    # (format fields: name, shown, extra).
    pick_advice: str = (
        "Add {shown} to the GROUP BY, use min()/max(), or order the rows: {name}({shown} order by <unique key>)."
    )
    collect_advice: str = "Order inside the call, e.g. {name}({shown}{extra} order by {shown})."


@dataclass(frozen=True)
class Dialect:
    """One engine: its sqlglot dialect and everything gen-model does differently on it."""

    name: str  # gen-model's name for it: duckdb, spark
    engine: str  # as messages spell it: DuckDB, Spark
    adapter_types: tuple[str, ...]  # the dbt adapter types that run on it
    sqlglot: str  # sqlglot's dialect name
    safety: SafetyRules
    determinism: DeterminismRules
    # The engine's type name of a dry-run result column, as a contract's data_type.
    contract_type: Callable[[str], str]
    # (catalog, timeout_s) -> a context manager running the dry run (a sandbox).
    open_dry_run: Callable[[Any, float], Any]
    # A catalog Relation as SQL the engine runs names it (dbt's rendering of ref()).
    relation_name: Callable[[Any], str]
    # A catalog Relation as gen-model's helper SQL names it (DuckDB's spelling, which the dry
    # run of a non-DuckDB engine transpiles): the parts the engine knows, double-quoted.
    helper_relation_name: Callable[[Any], str]
    prompt: Mapping[str, str] = field(default_factory=dict)


def _modules() -> list[str]:
    return [info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_")]


@functools.cache
def dialects() -> tuple[Dialect, ...]:
    """Every engine this package has a module for, in module order."""
    found = []
    for name in _modules():
        module = importlib.import_module(f"{__name__}.{name}")
        dialect = getattr(module, "DIALECT", None)
        if isinstance(dialect, Dialect):
            found.append(dialect)
    return tuple(found)


def supported_adapters() -> list[str]:
    """The dbt adapter types gen-model can generate for."""
    return sorted({adapter for dialect in dialects() for adapter in dialect.adapter_types})


def get_dialect(adapter_type: str) -> Dialect:
    """The dialect of a dbt adapter type; an unsupported adapter is a ConfigError (exit 2)."""
    wanted = (adapter_type or "").lower()
    for dialect in dialects():
        if wanted in dialect.adapter_types:
            return dialect
    raise ConfigError(
        f"gen-model does not support the {adapter_type!r} adapter; supported: {', '.join(supported_adapters())}. "
        "Choose a target of a supported adapter with --target."
    )


__all__ = [
    "CLOCK",
    "ENGINE",
    "RANDOM",
    "SEQUENCE",
    "SESSION",
    "UUID",
    "VOLATILE",
    "DeterminismRules",
    "Dialect",
    "SafetyRules",
    "dialects",
    "get_dialect",
    "supported_adapters",
]
