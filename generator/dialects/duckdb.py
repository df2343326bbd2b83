"""DuckDB: the dialect gen-model was built on, and the default target.

Its safety rule set refuses file, URL, database and system access by function name (the
sandbox refuses it again at run time); its determinism rules read DuckDB's own stability
classification of every built-in (duckdb_functions()); its dry run materialises the
proposal in the read-only sandbox (generator.project.sandbox).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import duckdb
from sqlglot import exp

from generator.dialects import (
    CLOCK,
    ENGINE,
    RANDOM,
    SEQUENCE,
    SESSION,
    UUID,
    DeterminismRules,
    Dialect,
    SafetyRules,
)
from generator.dialects import VOLATILE as VOLATILE_KIND

# -- safety ------------------------------------------------------------------------------

# Table functions a model may use: they compute rows, they read nothing.
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})

READS_FILES = "reads files or URLs"
OTHER_DATABASE = "reads another database"
RUNS_SQL = "runs SQL from a string"
SYSTEM = "reads DuckDB's internal state (settings, secrets, catalogs, extensions)"
ENVIRONMENT = "reads the environment of the process running dbt"

# Scalar and table functions refused wherever they appear, by exact name ...
BLOCKED_FUNCTIONS: dict[str, str] = {
    "getenv": ENVIRONMENT,
    # Settings can hold credentials (s3_secret_access_key, ...) and make a model depend on
    # the session running it; a model must not read them.
    "current_setting": SYSTEM,
    "which_secret": SYSTEM,
    "query": RUNS_SQL,
    "query_table": RUNS_SQL,
    "json_execute_serialized_sql": RUNS_SQL,
    "glob": READS_FILES,
    "sniff_csv": READS_FILES,
    "st_read": READS_FILES,
    "st_readosm": READS_FILES,
    "st_readshp": READS_FILES,
    "st_read_meta": READS_FILES,
    "arrow_scan": READS_FILES,
    "iceberg_scan": READS_FILES,
    "delta_scan": READS_FILES,
    "load_extension": SYSTEM,
    "install_extension": SYSTEM,
    "checkpoint": SYSTEM,
    "force_checkpoint": SYSTEM,
    "enable_logging": SYSTEM,
    "disable_logging": SYSTEM,
    "truncate_duckdb_logs": SYSTEM,
    "start_ui": SYSTEM,
    "start_ui_server": SYSTEM,
    "stop_ui_server": SYSTEM,
}
# ... and by prefix.
BLOCKED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("read_", READS_FILES),
    ("parquet_", READS_FILES),
    ("iceberg_", READS_FILES),
    ("delta_", READS_FILES),
    ("http_", READS_FILES),
    ("duckdb_", SYSTEM),
    ("pragma_", SYSTEM),
    ("postgres_", OTHER_DATABASE),
    ("pg_", OTHER_DATABASE),
    ("mysql_", OTHER_DATABASE),
    ("sqlite_", OTHER_DATABASE),
    ("ducklake_", OTHER_DATABASE),
    ("odbc_", OTHER_DATABASE),
    ("bigquery_", OTHER_DATABASE),
)

ADVICE = {
    READS_FILES: "Read files through a dbt source (or a seed), so the file is declared and loaded once.",
    OTHER_DATABASE: "Declare the other database's table as a dbt source.",
    RUNS_SQL: "Write the query itself; a model's SQL must be visible to the gates.",
    SYSTEM: "Configure DuckDB in the dbt profile; a model only reads relations.",
    ENVIRONMENT: "Pass configuration through the dbt project, not the process environment.",
}


COMMAND_REASONS = {
    "CALL": ("calls a procedure", "Write a select statement."),
    "EXPORT": ("writes files", "Declare files as dbt sources; dbt materializes the model."),
    "IMPORT": ("reads files", "Declare files as dbt sources."),
    "RESET": ("changes the session", "Configure settings in the dbt profile (settings:)."),
    "CHECKPOINT": ("writes the database file", "Write a select statement."),
    "FORCE": ("writes the database file", "Write a select statement."),
    "VACUUM": ("writes the database file", "Write a select statement."),
    "LOAD": ("loads an extension", "Configure extensions in the dbt profile."),
    "INSTALL": ("installs an extension", "Configure extensions in the dbt profile."),
    "DETACH": ("disconnects a database", "Write a select statement."),
    "BEGIN": ("controls transactions", "Write a select statement; dbt runs it in a transaction."),
    "ABORT": ("controls transactions", "Write a select statement; dbt runs it in a transaction."),
}

# -- determinism ------------------------------------------------------------------------

# Whether a function call makes the rows depend on the run is DuckDB's own call:
# duckdb_functions().stability classifies every overload as CONSISTENT (same arguments, same
# result), CONSISTENT_WITHIN_QUERY (fixed for one query, but read from the run: the clock,
# the transaction, the session's settings, variables and time zone) or VOLATILE (may differ
# on every call). A function is refused when an overload is VOLATILE, or when every
# overload is CONSISTENT_WITHIN_QUERY (it reads the run whatever its arguments). A function
# with CONSISTENT and CONSISTENT_WITHIN_QUERY overloads (date_trunc, date_part, strftime,
# last_day, ...) is CONSISTENT_WITHIN_QUERY only for timestamptz arguments, whose calendar
# fields depend on the session's TimeZone: it is refused when an argument is known to be a
# timestamptz. A macro is refused when its definition calls a refused function.
STABLE = "CONSISTENT"
WITHIN_QUERY = "CONSISTENT_WITHIN_QUERY"
VOLATILE = "VOLATILE"

# Where DuckDB's classification and a reproducible model disagree, and why.
STABILITY_EXCEPTIONS: dict[str, str | None] = {
    # VOLATILE only so that DuckDB never folds it into a constant: error('...') fails on the
    # same rows on every run, which is how a model asserts something about its data.
    "error": None,
    # CONSISTENT, but it answers the DuckDB release, which changes when DuckDB is upgraded.
    "version": ENGINE,
    # Macros for the constant 'duckdb' today; in the engines a model moves to, and maybe a
    # later DuckDB, they name whoever runs the query.
    "current_user": SESSION,
    "current_role": SESSION,
    "session_user": SESSION,
    "user": SESSION,
    # CONSISTENT, but it estimates from a random sample (the reservoir) of the rows.
    "reservoir_quantile": RANDOM,
}
# CONSISTENT for a timestamp, yet with one argument the answer is the time from it to now.
ONE_ARGUMENT_CLOCKS = frozenset({"age"})

# Wording only: which message a refused function gets. Whether it is refused comes from
# DuckDB (or STABILITY_EXCEPTIONS); a refused function missing here gets its class's message.
KIND_BY_NAME: dict[str, str] = {
    **dict.fromkeys(
        (
            "now",
            "today",
            "current_date",
            "get_current_time",
            "get_current_timestamp",
            "current_localtime",
            "current_localtimestamp",
            "transaction_timestamp",
        ),
        CLOCK,
    ),
    **dict.fromkeys(("random", "setseed"), RANDOM),
    **dict.fromkeys(("uuid", "gen_random_uuid", "uuidv4", "uuidv7"), UUID),
    **dict.fromkeys(("nextval", "currval", "setval"), SEQUENCE),
}

# SQL keywords and sqlglot nodes whose DuckDB function has another name (current_timestamp
# is get_current_timestamp() in duckdb_functions()).
DUCKDB_NAME_OF_CLASS: dict[type, str] = {
    exp.CurrentTimestamp: "get_current_timestamp",
    exp.CurrentTimestampLTZ: "get_current_timestamp",
    exp.CurrentDatetime: "get_current_timestamp",
    exp.CurrentTime: "get_current_time",
    exp.CurrentDate: "current_date",
    exp.Localtime: "current_localtime",
    exp.Localtimestamp: "current_localtimestamp",
    exp.Rand: "random",
    exp.Randn: "random",
    exp.Uuid: "uuid",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentCatalog: "current_catalog",
    exp.CurrentDatabase: "current_database",
    exp.CurrentSchema: "current_schema",
    exp.CurrentVersion: "version",
}
# The same keywords as a macro definition spells them.
KEYWORD_FUNCTIONS = {
    "current_timestamp": "get_current_timestamp",
    "current_time": "get_current_time",
    "localtime": "current_localtime",
    "localtimestamp": "current_localtimestamp",
}


@dataclass(frozen=True)
class FunctionStability:
    """What duckdb_functions() says about one function name, over all its overloads."""

    stabilities: frozenset[str]
    macro_calls: frozenset[str] = frozenset()  # for a macro: the names its definition uses


@functools.lru_cache(maxsize=1)
def duckdb_function_stability() -> dict[str, FunctionStability]:
    """DuckDB's classification of its built-in functions, read once from an in-memory database.

    The built-ins are the same in every database of this DuckDB version, so a fresh
    in-memory connection answers for the warehouse without touching it.
    """
    connection = duckdb.connect(":memory:")
    try:
        rows = connection.execute(
            "select function_name, stability, macro_definition from duckdb_functions() "
            "where function_type in ('scalar', 'aggregate', 'window', 'macro')"
        ).fetchall()
    finally:
        connection.close()
    stabilities: dict[str, set[str]] = {}
    calls: dict[str, set[str]] = {}
    for name, stability, definition in rows:
        name = name.lower()
        stabilities.setdefault(name, set())
        calls.setdefault(name, set())
        if stability:
            stabilities[name].add(stability)
        if definition:
            # Identifiers outside string literals; parameters and columns among them are
            # harmless, they name no function.
            code = re.sub(r"'(?:[^']|'')*'", "''", definition.lower())
            words = set(re.findall(r"[a-z_][a-z0-9_]*", code))
            calls[name] |= {KEYWORD_FUNCTIONS.get(word, word) for word in words}
    return {
        name: FunctionStability(frozenset(stabilities[name]), frozenset(calls[name] - {name})) for name in stabilities
    }


@functools.cache
def run_dependence(name: str) -> str | None:
    """Why DuckDB's function `name` makes rows depend on the run (a kind), or None."""
    return _run_dependence(name.lower(), frozenset())


def _run_dependence(name: str, seen: frozenset[str]) -> str | None:
    if name in STABILITY_EXCEPTIONS:
        return STABILITY_EXCEPTIONS[name]
    info = duckdb_function_stability().get(name)
    if info is None or name in seen:
        return None
    if VOLATILE in info.stabilities:
        return KIND_BY_NAME.get(name, VOLATILE_KIND)
    if info.stabilities == {WITHIN_QUERY}:
        return KIND_BY_NAME.get(name, SESSION)
    for called in sorted(info.macro_calls):
        kind = _run_dependence(called, seen | {name})
        if kind is not None:
            return kind
    return None


def depends_on_time_zone(name: str) -> bool:
    """True if `name` has CONSISTENT overloads and CONSISTENT_WITHIN_QUERY (timestamptz) ones."""
    info = duckdb_function_stability().get(name.lower())
    return info is not None and info.stabilities == {STABLE, WITHIN_QUERY}


# Aggregates whose result depends on the order rows arrive in.
ORDER_SENSITIVE_AGGREGATES = frozenset(
    {
        "first",
        "last",
        "any_value",
        "arbitrary",
        "list",
        "array_agg",
        "string_agg",
        "group_concat",
        "listagg",
        "json_group_array",
        "json_group_object",
    }
)
# Sorting an aggregate's result makes the order it was built in irrelevant.
SORTS = frozenset({"list_sort", "array_sort", "list_reverse_sort", "array_reverse_sort"})


# -- types -----------------------------------------------------------------------------------

# DuckDB's unsigned integer types (Spark has none): numbers wherever its values are compared
# or written (generator.ci.diff, generator.testgen.unit_runner).
UNSIGNED_INTEGER_TYPES = ("utinyint", "usmallint", "uinteger", "ubigint", "uhugeint")


# -- the dialect -----------------------------------------------------------------------------


def known_function(name: str) -> bool:
    """Whether `name` is a DuckDB built-in (or one of the exceptions above)."""
    return name in STABILITY_EXCEPTIONS or name in duckdb_function_stability()


def contract_type(duckdb_type: str) -> str:
    """DuckDB's type name as a contract spells it (generator.project.sandbox.lowercase_type)."""
    from generator.project.sandbox import lowercase_type

    return lowercase_type(duckdb_type)


def open_dry_run(catalog, timeout_s: float):
    """The read-only DuckDB sandbox on the catalog's warehouse."""
    from generator.project.sandbox import open_sandbox

    return open_sandbox(catalog, timeout_s)


def quote(name: str) -> str:
    """A double-quoted identifier (also how gen-model's helper SQL, DuckDB-spelled, names columns)."""
    return '"' + name.replace('"', '""') + '"'


def relation_name(relation) -> str:
    """ "database"."schema"."identifier", as dbt-duckdb renders a relation."""
    return relation.relation_name


def helper_relation_name(relation) -> str:
    """The relation in gen-model's helper SQL: DuckDB's own spelling, as dbt-duckdb renders it."""
    return relation.relation_name


SAFETY = SafetyRules(
    blocked_functions=BLOCKED_FUNCTIONS,
    blocked_prefixes=BLOCKED_PREFIXES,
    allowed_table_functions=ALLOWED_TABLE_FUNCTIONS,
    advice=ADVICE,
    reads_files=READS_FILES,
    command_reasons=COMMAND_REASONS,
)

DETERMINISM = DeterminismRules(
    run_dependence=run_dependence,
    depends_on_time_zone=depends_on_time_zone,
    known=known_function,
    name_of_class=DUCKDB_NAME_OF_CLASS,
    order_sensitive_aggregates=ORDER_SENSITIVE_AGGREGATES,
    sorts=SORTS,
    zoned_type_prefixes=("timestamp with time zone", "timestamptz"),
    time_zone_setting="timezone",
    time_zone_advice="settings: TimeZone: UTC",
    time_zone_reason="DuckDB classifies it CONSISTENT_WITHIN_QUERY",
    one_argument_clocks=ONE_ARGUMENT_CLOCKS,
)

DIALECT = Dialect(
    name="duckdb",
    engine="DuckDB",
    adapter_types=("duckdb",),
    sqlglot="duckdb",
    safety=SAFETY,
    determinism=DETERMINISM,
    contract_type=contract_type,
    open_dry_run=open_dry_run,
    relation_name=relation_name,
    helper_relation_name=helper_relation_name,
)
