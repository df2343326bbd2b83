"""Spark (and Databricks, which speaks Spark SQL): dbt-spark targets.

There is no DuckDB-style sandbox on Spark: the query runs in the session dbt-spark uses,
with the session's access to files, Java and the metastore. The static safety gate is the
wall, so its rule set is an allowlist in spirit: no path-addressed tables
(parquet.`/path`), no file-reading functions, no Java calls (reflect, java_method), no
external scripts (TRANSFORM ... USING), no statement but a query, and nothing that reads
the session or the clock. The dry run (generator.dialects.spark_session) asks Spark for
the result's schema from the analysed plan before running anything.
"""

from __future__ import annotations

from sqlglot import exp

from generator.dialects import (
    CLOCK,
    ENGINE,
    RANDOM,
    SEQUENCE,
    SESSION,
    UUID,
    VOLATILE,
    DeterminismRules,
    Dialect,
    SafetyRules,
)

# -- safety ------------------------------------------------------------------------------

READS_FILES = "reads files or URLs"
CALLS_JAVA = "calls Java code from SQL"
SESSION_OR_CLOCK = "reads the Spark session or the clock, not the data"
CALLS_SERVICE = "calls a service outside the warehouse"
NAMES_FROM_STRING = "names a relation from a string, out of the gates' sight"
ALLOWED_TABLE_FUNCTIONS = frozenset(
    {
        "range",
        "explode",
        "explode_outer",
        "posexplode",
        "posexplode_outer",
        "inline",
        "inline_outer",
        "stack",
        "json_tuple",
    }
)
BLOCKED_FUNCTIONS: dict[str, str] = {
    "reflect": CALLS_JAVA,
    "java_method": CALLS_JAVA,
    "try_reflect": CALLS_JAVA,
    "input_file_name": READS_FILES,
    "input_file_block_start": READS_FILES,
    "input_file_block_length": READS_FILES,
    "now": SESSION_OR_CLOCK,
    "curdate": SESSION_OR_CLOCK,
    "localtimestamp": SESSION_OR_CLOCK,
    "user": SESSION_OR_CLOCK,
    "session_user": SESSION_OR_CLOCK,
    "secret": CALLS_SERVICE,
    "try_secret": CALLS_SERVICE,
    "http_request": CALLS_SERVICE,
    "identifier": NAMES_FROM_STRING,
}
BLOCKED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("read_", READS_FILES),
    ("current_", SESSION_OR_CLOCK),
    ("ai_", CALLS_SERVICE),
)
ADVICE = {
    READS_FILES: "Read files through a dbt source (or a seed), so the file is declared and loaded once.",
    CALLS_JAVA: "Write the logic in SQL; a model may not run code in the Spark driver.",
    SESSION_OR_CLOCK: "Take the value from a column of the inputs (e.g. the max of a date column).",
    CALLS_SERVICE: "Pass values through dbt sources; a model only reads relations.",
    NAMES_FROM_STRING: "Refer to relations with {{ ref() }} or {{ source() }}.",
}
# Data source names Spark accepts as a schema in front of a path: parquet.`/data/x`.
PATH_FORMATS = frozenset(
    {
        "parquet",
        "csv",
        "json",
        "text",
        "orc",
        "delta",
        "avro",
        "binaryfile",
        "xml",
        "jdbc",
        "iceberg",
        "hudi",
        "libsvm",
        "image",
        "file",
    }
)
COMMAND_REASONS = {
    "ADD": ("adds a jar or file to the Spark session", "Write only the select; a model cannot load code."),
    "LIST": ("lists the session's files", "Write a select statement."),
    "REFRESH": ("changes the session's caches", "Write a select statement."),
    "MSCK": ("changes the metastore", "Write only the select; dbt manages tables."),
    "LOAD": ("loads files into a table", "Declare files as dbt sources."),
    "ANALYZE": ("writes table statistics", "Write a select statement."),
    "RESET": ("changes the session", "Configure settings in the dbt profile (server_side_parameters:)."),
    "EXECUTE": ("runs SQL from a string", "Write the query itself; a model's SQL must be visible to the gates."),
    "CLEAR": ("changes the session's caches", "Write a select statement."),
    "CALL": ("calls a procedure", "Write a select statement."),
}

SAFETY = SafetyRules(
    blocked_functions=BLOCKED_FUNCTIONS,
    blocked_prefixes=BLOCKED_PREFIXES,
    allowed_table_functions=ALLOWED_TABLE_FUNCTIONS,
    advice=ADVICE,
    reads_files=READS_FILES,
    command_reasons=COMMAND_REASONS,
    path_formats=PATH_FORMATS,
    blocked_nodes=(
        (
            exp.QueryTransform,
            "TRANSFORM ... USING runs an external script on the rows",
            "Write the transformation in SQL.",
        ),
    ),
)

# -- determinism -------------------------------------------------------------------------

RUN_DEPENDENT: dict[str, str] = {
    **dict.fromkeys(
        ("current_date", "current_timestamp", "current_time", "now", "curdate", "localtimestamp"),
        CLOCK,
    ),
    **dict.fromkeys(("rand", "randn", "random", "shuffle", "uniform", "randstr"), RANDOM),
    "uuid": UUID,
    "monotonically_increasing_id": SEQUENCE,
    # Which partition a row landed in, and which file it came from, depend on the plan.
    "spark_partition_id": VOLATILE,
    "input_file_name": VOLATILE,
    **dict.fromkeys(
        (
            "current_user",
            "user",
            "session_user",
            "current_database",
            "current_schema",
            "current_catalog",
            "current_timezone",
        ),
        SESSION,
    ),
    "version": ENGINE,
}
# Calendar fields of a `timestamp` (Spark's is zoned: an instant shown in the session zone).
TIME_ZONE_FUNCTIONS = frozenset(
    {
        "hour",
        "minute",
        "second",
        "day",
        "dayofmonth",
        "dayofweek",
        "dayofyear",
        "weekday",
        "weekofyear",
        "month",
        "quarter",
        "year",
        "date_trunc",
        "trunc",
        "to_date",
        "date_format",
        "from_unixtime",
        "unix_timestamp",
        "to_unix_timestamp",
        "extract",
        "date_part",
        "datepart",
        "last_day",
        "next_day",
    }
)
NAME_OF_CLASS: dict[type, str] = {
    exp.CurrentTimestamp: "current_timestamp",
    exp.CurrentTimestampLTZ: "current_timestamp",
    exp.CurrentDatetime: "current_timestamp",
    exp.CurrentTime: "current_time",
    exp.CurrentDate: "current_date",
    exp.Localtimestamp: "localtimestamp",
    exp.Rand: "rand",
    exp.Randn: "randn",
    exp.Uuid: "uuid",
    exp.Shuffle: "shuffle",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentCatalog: "current_catalog",
    exp.CurrentDatabase: "current_database",
    exp.CurrentSchema: "current_schema",
    exp.CurrentTimezone: "current_timezone",
    exp.CurrentVersion: "version",
}
ORDER_SENSITIVE_AGGREGATES = frozenset(
    {
        "first",
        "last",
        "first_value",
        "last_value",
        "any_value",
        "collect_list",
        "collect_set",
        "array_agg",
        "listagg",
        "string_agg",
    }
)


def run_dependence(name: str) -> str | None:
    """Why Spark's function `name` makes rows depend on the run (a kind), or None."""
    return RUN_DEPENDENT.get(name.lower())


def depends_on_time_zone(name: str) -> bool:
    """Whether `name` reads calendar fields of a timestamp in the session time zone."""
    return name.lower() in TIME_ZONE_FUNCTIONS


def known_function(name: str) -> bool:
    """Whether the determinism rules know `name` (the rest are data-only functions)."""
    lowered = name.lower()
    return lowered in RUN_DEPENDENT or lowered in TIME_ZONE_FUNCTIONS


DETERMINISM = DeterminismRules(
    run_dependence=run_dependence,
    depends_on_time_zone=depends_on_time_zone,
    known=known_function,
    name_of_class=NAME_OF_CLASS,
    order_sensitive_aggregates=ORDER_SENSITIVE_AGGREGATES,
    sorts=frozenset({"sort_array", "array_sort"}),
    zoned_type_prefixes=("timestamp",),
    time_zone_setting="spark.sql.session.timezone",
    time_zone_advice="server_side_parameters: spark.sql.session.timeZone: UTC",
    time_zone_reason="Spark reads calendar fields in the session time zone",
    pick_advice="Add {shown} to the GROUP BY, use min()/max(), or max_by({shown}, <unique key>).",
    collect_advice="Sort the result, e.g. sort_array({name}({shown})).",
)

# -- types and the dry run -----------------------------------------------------------------


def contract_type(spark_type: str) -> str:
    """Spark's own type name (DataType.simpleString()), as dbt-spark's contract compares it."""
    return spark_type.strip().lower()


def open_dry_run(catalog, timeout_s: float):
    """The dry run in the Spark session dbt-spark runs in (no sandbox: see the module)."""
    from generator.dialects.spark_session import SparkDryRun

    return SparkDryRun(catalog, timeout_s)


def quote(name: str) -> str:
    """A backquoted identifier."""
    return "`" + name.replace("`", "``") + "`"


def relation_name(relation) -> str:
    """`schema`.`identifier` (with the catalog in front when there is one), as dbt-spark renders it."""
    return ".".join(quote(part) for part in (relation.database, relation.schema, relation.identifier) if part)


def helper_relation_name(relation) -> str:
    """The relation in gen-model's helper SQL (DuckDB's spelling, transpiled by the dry run):
    "schema"."identifier", without the catalog part a Spark relation has none of (a
    DuckDB-style "None"."schema"."identifier" names a catalog Spark does not have)."""
    parts = (relation.database, relation.schema, relation.identifier)
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts if part)


PROMPT = {
    "engine": "for a Spark warehouse (Spark SQL, run by dbt-spark)",
    "quoting": "(backquote a name the catalog quotes, never double-quote it)",
    "sql_rule": "sql is Spark SQL: exactly one select statement (with CTEs), no semicolon, no DDL or "
    "DML, no SET, USE, ADD JAR, CREATE FUNCTION, CACHE or TRANSFORM ... USING. Quote names with "
    "backticks, never double quotes (a double-quoted word is a string in Spark).",
    "files_rule": "No file or URL access: no parquet.`/path`, csv.`/path` or other path-addressed "
    "tables, no read_files, input_file_name, reflect or java_method.",
    "determinism_rule": "Deterministic: no now(), current_date, current_timestamp, current_user(), "
    "rand(), uuid(), monotonically_increasing_id() or shuffle(). row_number(), rank(), first(), "
    "last() and limit need an order by that is a total order (it ends with a unique key); "
    "wrap collect_list()/collect_set() in sort_array().",
}

DIALECT = Dialect(
    name="spark",
    engine="Spark",
    adapter_types=("spark", "databricks"),
    sqlglot="spark",
    safety=SAFETY,
    determinism=DETERMINISM,
    contract_type=contract_type,
    open_dry_run=open_dry_run,
    relation_name=relation_name,
    helper_relation_name=helper_relation_name,
    prompt=PROMPT,
)
