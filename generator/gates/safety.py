"""safety: only reads relations: no writes, settings, files, URLs, other databases or secrets."""

from __future__ import annotations

import re

from sqlglot import exp

from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.parse import Statement, is_query, parse_statements, statement_kind
from generator.sql.context import GateContext
from generator.sql.locate import function_name, span

RULE = "safety"

# Table functions a model may use: they compute rows, they read nothing.
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest", "json_each", "json_tree"})

_READS_FILES = "reads files or URLs"
_OTHER_DATABASE = "reads another database"
_RUNS_SQL = "runs SQL from a string"
_SYSTEM = "reads DuckDB's internal state (settings, secrets, catalogs, extensions)"
_ENVIRONMENT = "reads the environment of the process running dbt"

# Scalar and table functions refused wherever they appear, by exact name ...
BLOCKED_FUNCTIONS: dict[str, str] = {
    "getenv": _ENVIRONMENT,
    # Settings can hold credentials (s3_secret_access_key, ...) and make a model depend on
    # the session running it; a model must not read them.
    "current_setting": _SYSTEM,
    "which_secret": _SYSTEM,
    "query": _RUNS_SQL,
    "query_table": _RUNS_SQL,
    "json_execute_serialized_sql": _RUNS_SQL,
    "glob": _READS_FILES,
    "sniff_csv": _READS_FILES,
    "st_read": _READS_FILES,
    "st_readosm": _READS_FILES,
    "st_readshp": _READS_FILES,
    "st_read_meta": _READS_FILES,
    "arrow_scan": _READS_FILES,
    "iceberg_scan": _READS_FILES,
    "delta_scan": _READS_FILES,
    "load_extension": _SYSTEM,
    "install_extension": _SYSTEM,
    "checkpoint": _SYSTEM,
    "force_checkpoint": _SYSTEM,
    "enable_logging": _SYSTEM,
    "disable_logging": _SYSTEM,
    "truncate_duckdb_logs": _SYSTEM,
    "start_ui": _SYSTEM,
    "start_ui_server": _SYSTEM,
    "stop_ui_server": _SYSTEM,
}
# ... and by prefix.
BLOCKED_PREFIXES: tuple[tuple[str, str], ...] = (
    ("read_", _READS_FILES),
    ("parquet_", _READS_FILES),
    ("iceberg_", _READS_FILES),
    ("delta_", _READS_FILES),
    ("http_", _READS_FILES),
    ("duckdb_", _SYSTEM),
    ("pragma_", _SYSTEM),
    ("postgres_", _OTHER_DATABASE),
    ("pg_", _OTHER_DATABASE),
    ("mysql_", _OTHER_DATABASE),
    ("sqlite_", _OTHER_DATABASE),
    ("ducklake_", _OTHER_DATABASE),
    ("odbc_", _OTHER_DATABASE),
    ("bigquery_", _OTHER_DATABASE),
)

_ADVICE = {
    _READS_FILES: "Read files through a dbt source (or a seed), so the file is declared and loaded once.",
    _OTHER_DATABASE: "Declare the other database's table as a dbt source.",
    _RUNS_SQL: "Write the query itself; a model's SQL must be visible to the gates.",
    _SYSTEM: "Configure DuckDB in the dbt profile; a model only reads relations.",
    _ENVIRONMENT: "Pass configuration through the dbt project, not the process environment.",
}

URL = re.compile(r"^(https?|s3|s3a|s3n|gs|gcs|az|azure|abfss?|r2|hf|ftp)://", re.I)
FILE_LIKE = re.compile(
    r"([/\\*?]|\.(csv|tsv|txt|parquet|json|jsonl|ndjson|gz|zst|xlsx|arrow|avro|db|duckdb|sqlite)$)",
    re.I,
)

# Statements, by what they would do.
_STATEMENT_REASONS: tuple[tuple[tuple[type, ...], str, str], ...] = (
    (
        (exp.Insert, exp.Update, exp.Delete, exp.Merge),
        "modifies data",
        "Write only the select; dbt writes the model's rows.",
    ),
    (
        (exp.Create, exp.Drop, exp.Alter, exp.TruncateTable),
        "changes the database schema",
        "Write only the select; dbt creates the model's table or view.",
    ),
    (
        (exp.Copy, exp.Export),
        "reads or writes files",
        "Declare files as dbt sources; dbt materializes the model.",
    ),
    (
        (exp.Attach, exp.Detach, exp.Use),
        "connects or switches databases",
        "Declare the other database's tables as dbt sources.",
    ),
    ((exp.Install,), "installs extensions", "Configure extensions in the dbt profile."),
    (
        (exp.Pragma, exp.Set, exp.Transaction, exp.Commit, exp.Rollback),
        "changes the session",
        "Configure settings in the dbt profile (settings:).",
    ),
)
_COMMAND_REASONS = {
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


def blocked_reason(name: str) -> str | None:
    """Why a function name is refused, or None if it may be called."""
    lowered = name.lower()
    if lowered in BLOCKED_FUNCTIONS:
        return BLOCKED_FUNCTIONS[lowered]
    for prefix, reason in BLOCKED_PREFIXES:
        if lowered.startswith(prefix):
            return reason
    return None


def _statement_reason(statement: Statement) -> tuple[str, str]:
    tree = statement.tree
    for types, reason, advice in _STATEMENT_REASONS:
        if isinstance(tree, types):
            return reason, advice
    kind = statement_kind(statement)
    if kind in _COMMAND_REASONS:
        return _COMMAND_REASONS[kind]
    return "is not a select", "Write a select statement."


class SafetyRule(Rule):
    """Only reads relations: no DDL/DML/COPY/ATTACH/PRAGMA/SET, files, URLs, system state."""

    name = RULE
    requires = ("parse",)

    def check(self, ctx: GateContext) -> list[Problem]:
        if ctx.templated is None:
            return []
        # Every statement, not only the first: the parse gate already refuses extras, and
        # this gate must not depend on that. The parse gate leaves them on the context; a
        # context filled in some other way is parsed here.
        statements = ctx.statements
        if statements is None:
            statements, _ = parse_statements(ctx.templated.sql, ctx.sql, ctx.proposal.sql_file)
        problems: list[Problem] = []
        for statement in statements:
            if statement.tree is None:
                continue
            if not is_query(statement.tree):
                reason, advice = _statement_reason(statement)
                kind = statement_kind(statement)
                problems.append(
                    ctx.problem(
                        RULE,
                        f"{kind} {reason}; a model may only read",
                        span=(statement.start, statement.start + len(kind.split()[0]) - 1),
                        identifier=kind,
                        suggestion=advice,
                    )
                )
            problems.extend(self._nodes(ctx, statement.tree))
        return problems

    def _nodes(self, ctx: GateContext, tree: exp.Expression) -> list[Problem]:
        sql = ctx.templated.sql
        problems = []
        for node in tree.walk(bfs=False):
            if node is not tree and isinstance(node, (exp.DDL, exp.DML, exp.Command, exp.Copy, exp.Pragma, exp.Set)):
                kind = node.key.upper()
                problems.append(
                    ctx.problem(
                        RULE,
                        f"{kind} inside a query; a model may only read",
                        span=span(node, sql),
                        identifier=kind,
                        suggestion="Write only the select.",
                    )
                )
            elif isinstance(node, exp.Table):
                problems.extend(self._table(ctx, node))
            elif isinstance(node, exp.Unnest):
                continue
            elif isinstance(node, (exp.Func, exp.Anonymous)):
                name = function_name(node, sql)
                reason = blocked_reason(name)
                if reason and not self._is_table_function(node):
                    problems.append(
                        ctx.problem(
                            RULE,
                            f"{name}() {reason}",
                            span=span(node, sql),
                            identifier=name,
                            suggestion=_ADVICE[reason],
                        )
                    )
        return problems

    @staticmethod
    def _is_table_function(node: exp.Expression) -> bool:
        return isinstance(node.parent, exp.Table) and node.arg_key == "this"

    def _table(self, ctx: GateContext, table: exp.Table) -> list[Problem]:
        sql = ctx.templated.sql
        function = table.this
        if isinstance(function, (exp.Func, exp.Anonymous)):
            name = function_name(function, sql)
            if name in ALLOWED_TABLE_FUNCTIONS:
                return []
            reason = blocked_reason(name)
            urls = [
                literal.this
                for literal in function.find_all(exp.Literal)
                if literal.is_string and URL.match(literal.this)
            ]
            if reason is None and urls:
                reason = _READS_FILES
            message = (
                f"table function {name}() {reason}"
                if reason
                else (f"table function {name}() is not allowed in a model")
            )
            if urls:
                message += f" ({urls[0]})"
            return [
                ctx.problem(
                    RULE,
                    message,
                    span=span(function, sql),
                    identifier=name,
                    suggestion=_ADVICE.get(reason)
                    or "Allowed table functions: " + ", ".join(sorted(ALLOWED_TABLE_FUNCTIONS)) + ".",
                )
            ]
        if not isinstance(function, exp.Identifier):
            return []
        where = span(table, sql)
        quote = ctx.sql[where[0]] if where else ""
        if URL.match(table.name) or quote == "'" or FILE_LIKE.search(table.name):
            what = "URL" if URL.match(table.name) else "file"
            return [
                ctx.problem(
                    RULE,
                    f"FROM '{table.name}' reads the {what} directly",
                    span=where,
                    identifier=table.name,
                    suggestion=_ADVICE[_READS_FILES],
                )
            ]
        return []
