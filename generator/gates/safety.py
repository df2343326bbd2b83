"""safety: only reads relations: no writes, settings, files, URLs, other databases or secrets."""

from __future__ import annotations

import re

from sqlglot import exp

from generator.dialects import SafetyRules
from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.parse import Statement, is_query, parse_statements, statement_kind
from generator.sql.context import GateContext
from generator.sql.locate import function_name, span

RULE = "safety"

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


def _statement_reason(statement: Statement, rules: SafetyRules) -> tuple[str, str]:
    tree = statement.tree
    for types, reason, advice in _STATEMENT_REASONS:
        if isinstance(tree, types):
            return reason, advice
    kind = statement_kind(statement)
    if kind in rules.command_reasons:
        return rules.command_reasons[kind]
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
            statements, _ = parse_statements(ctx.templated.sql, ctx.sql, ctx.proposal.sql_file, ctx.dialect.sqlglot)
        problems: list[Problem] = []
        for statement in statements:
            if statement.tree is None:
                continue
            if not is_query(statement.tree):
                reason, advice = _statement_reason(statement, ctx.dialect.safety)
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
        rules = ctx.dialect.safety
        dialect = ctx.dialect.sqlglot
        problems = []
        for node in tree.walk(bfs=False):
            blocked = next((entry for entry in rules.blocked_nodes if isinstance(node, entry[0])), None)
            if blocked is not None:
                problems.append(
                    ctx.problem(
                        RULE,
                        blocked[1],
                        span=span(node, sql, dialect),
                        identifier=node.key,
                        suggestion=blocked[2],
                    )
                )
                continue
            if node is not tree and isinstance(node, (exp.DDL, exp.DML, exp.Command, exp.Copy, exp.Pragma, exp.Set)):
                kind = node.key.upper()
                problems.append(
                    ctx.problem(
                        RULE,
                        f"{kind} inside a query; a model may only read",
                        span=span(node, sql, dialect),
                        identifier=kind,
                        suggestion="Write only the select.",
                    )
                )
            elif isinstance(node, exp.Table):
                problems.extend(self._table(ctx, node))
            elif isinstance(node, exp.Unnest):
                continue
            elif isinstance(node, (exp.Func, exp.Anonymous)):
                name = function_name(node, sql, dialect)
                reason = rules.blocked_reason(name)
                if reason and not self._is_table_function(node):
                    problems.append(
                        ctx.problem(
                            RULE,
                            f"{name}() {reason}",
                            span=span(node, sql, dialect),
                            identifier=name,
                            suggestion=rules.advice[reason],
                        )
                    )
        return problems

    @staticmethod
    def _is_table_function(node: exp.Expression) -> bool:
        return isinstance(node.parent, exp.Table) and node.arg_key == "this"

    def _table(self, ctx: GateContext, table: exp.Table) -> list[Problem]:
        sql = ctx.templated.sql
        rules = ctx.dialect.safety
        dialect = ctx.dialect.sqlglot
        function = table.this
        if isinstance(function, (exp.Func, exp.Anonymous)):
            name = function_name(function, sql, dialect)
            if name in rules.allowed_table_functions:
                return []
            reason = rules.blocked_reason(name)
            urls = [
                literal.this
                for literal in function.find_all(exp.Literal)
                if literal.is_string and URL.match(literal.this)
            ]
            if reason is None and urls:
                reason = rules.reads_files
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
                    span=span(function, sql, dialect),
                    identifier=name,
                    suggestion=rules.advice.get(reason)
                    or "Allowed table functions: " + ", ".join(sorted(rules.allowed_table_functions)) + ".",
                )
            ]
        if not isinstance(function, exp.Identifier):
            return []
        where = span(table, sql, dialect)
        quote = ctx.sql[where[0]] if where else ""
        if rules.path_formats and table.db.lower() in rules.path_formats:
            return [
                ctx.problem(
                    RULE,
                    f"FROM {table.db}.`{table.name}` reads the file {table.name!r} directly, by path",
                    span=where,
                    identifier=f"{table.db}.{table.name}",
                    suggestion=rules.advice[rules.reads_files],
                )
            ]
        if URL.match(table.name) or quote == "'" or FILE_LIKE.search(table.name):
            what = "URL" if URL.match(table.name) else "file"
            return [
                ctx.problem(
                    RULE,
                    f"FROM '{table.name}' reads the {what} directly",
                    span=where,
                    identifier=table.name,
                    suggestion=rules.advice[rules.reads_files],
                )
            ]
        return []
