"""contract: the proposal's columns are the result's columns, in order, each typed by the engine."""

from __future__ import annotations

import re

from sqlglot import exp

from generator.errors import Problem
from generator.gates.base import Rule
from generator.project.sandbox import SandboxQueryError, reserved_words
from generator.sql.context import GateContext, ResultColumn
from generator.suggest import did_you_mean

_PLAIN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RENAMED_DUPLICATE = re.compile(r"^(.+)_(\d+)$")


def contract_columns(ctx: GateContext) -> list[tuple[str, str, str]]:
    """(name, data_type, description) for each result column, for the model's YAML.

    The data_type is DuckDB's own type name as the dry run recorded it: dbt-duckdb's
    contract casts `null` to it and compares DuckDB's DESCRIBE of both sides, so it must
    parse back to the very same type. Lowercasing keeps that only if struct field names
    and enum values keep their case (`lowercase_type`); a plain `.lower()` breaks both
    (shown against real dbt in tests/test_gates_execution.py). The contract gate checks
    the round trip for every column before anything is written.
    """
    if ctx.result is None:
        raise ValueError("contract_columns needs a dry run result (ctx.result)")
    descriptions = {column.name.lower(): column.description for column in ctx.proposal.columns}
    return [(column.name, column.data_type, descriptions.get(column.name.lower(), "")) for column in ctx.result.columns]


def needs_quoting(name: str) -> bool:
    """Whether DuckDB needs `name` in double quotes (dbt's contract check would then fail)."""
    return not _PLAIN_NAME.match(name) or name.lower() in reserved_words()


def output_expression(ctx: GateContext, name: str) -> exp.Expression | None:
    """The final select's expression that produces column `name`, to point problems at."""
    tree = ctx.tree
    if tree is None or not isinstance(tree, exp.Query):
        return None
    for expression in tree.selects:
        if expression.alias_or_name.lower() == name.lower():
            return expression
    return None


def _names(columns) -> str:
    return ", ".join(columns)


class Contract(Rule):
    """The proposal's columns list is exactly what the query returns, in order and typed."""

    name = "contract"
    requires = ("dry_run",)

    def check(self, ctx: GateContext) -> list[Problem]:
        result: tuple[ResultColumn, ...] = ctx.result.columns
        returned = [column.name for column in result]
        listed = [column.name for column in ctx.proposal.columns]
        problems: list[Problem] = self._duplicates(ctx)
        duplicated = {problem.identifier.lower() for problem in problems}
        problems += self._names(ctx, listed, returned, duplicated)
        problems += self._order(ctx, listed, returned)
        problems += self._types(ctx, result)
        problems += self._round_trip(ctx, result)
        problems += self._quoting(ctx, returned)
        return problems

    def _duplicates(self, ctx: GateContext) -> list[Problem]:
        """Two select expressions with one name: DuckDB renames the second to name_1."""
        if ctx.tree is None or not isinstance(ctx.tree, exp.Query):
            return []
        seen: dict[str, exp.Expression] = {}
        problems = []
        for expression in ctx.tree.selects:
            key = expression.alias_or_name.lower()
            if not key or expression.is_star:
                continue
            if key in seen:
                problems.append(
                    ctx.problem(
                        self.name,
                        f"the select returns more than one column named {expression.alias_or_name!r}",
                        expression,
                        identifier=expression.alias_or_name,
                        suggestion="Give each output column its own alias.",
                    )
                )
            seen[key] = expression
        return problems

    def _names(self, ctx: GateContext, listed: list[str], returned: list[str], duplicated: set[str]) -> list[Problem]:
        problems = []
        returned_lower = {name.lower(): name for name in returned}
        listed_lower = {name.lower(): name for name in listed}
        unmatched_returned = [name for name in returned if name.lower() not in listed_lower]
        unmatched_listed = [name for name in listed if name.lower() not in returned_lower]
        for name in listed:
            actual = returned_lower.get(name.lower())
            if actual is None:
                hint = did_you_mean(name, unmatched_returned)
                problems.append(
                    ctx.problem(
                        self.name,
                        f"column {name!r} is in the proposal's columns but the query does not return it",
                        identifier=name,
                        suggestion=hint
                        or f"Remove it from columns, or select it. The query returns: {_names(returned)}.",
                    )
                )
            elif actual != name:
                problems.append(
                    ctx.problem(
                        self.name,
                        f"column {name!r} is returned as {actual!r}; names must match exactly "
                        "(dbt's contract compares them case-sensitively)",
                        output_expression(ctx, actual),
                        identifier=name,
                        suggestion=f"Did you mean {actual!r}?",
                    )
                )
        for name in unmatched_returned:
            renamed = _RENAMED_DUPLICATE.match(name)
            if renamed and renamed.group(1).lower() in duplicated:
                continue  # DuckDB's rename of a duplicate, reported by _duplicates
            hint = did_you_mean(name, unmatched_listed)
            if renamed and renamed.group(1).lower() in returned_lower:
                # Most likely two columns of one name from `a.*, b.*`, which DuckDB renamed.
                hint = (
                    f"If two columns are called {renamed.group(1)!r} (DuckDB then renames the "
                    f"second to {name!r}), select them with distinct aliases; otherwise add "
                    "it to columns."
                )
            problems.append(
                ctx.problem(
                    self.name,
                    f"the query returns column {name!r}, which is not in the proposal's columns",
                    output_expression(ctx, name),
                    identifier=name,
                    suggestion=hint or "Add it to columns (with a description) or drop it from the select.",
                )
            )
        return problems

    def _order(self, ctx: GateContext, listed: list[str], returned: list[str]) -> list[Problem]:
        """Columns both sides have must come in the select's order (the YAML follows it)."""
        returned_lower = {name.lower() for name in returned}
        listed_lower = {name.lower() for name in listed}
        listed_common = [name for name in listed if name.lower() in returned_lower]
        returned_common = [name for name in returned if name.lower() in listed_lower]
        if [n.lower() for n in listed_common] == [n.lower() for n in returned_common]:
            return []
        first = next(
            index
            for index, (a, b) in enumerate(zip(listed_common, returned_common, strict=False))
            if a.lower() != b.lower()
        )
        misplaced = listed_common[first]
        return [
            ctx.problem(
                self.name,
                f"columns are not in the order the query returns them: column {misplaced!r} "
                f"is listed at position {listed.index(misplaced) + 1}, where the query returns "
                f"{returned_common[first]!r}",
                output_expression(ctx, returned_common[first]),
                identifier=misplaced,
                suggestion=f"Did you mean the order {_names(returned_common)}?",
            )
        ]

    def _types(self, ctx: GateContext, result: tuple[ResultColumn, ...]) -> list[Problem]:
        problems = []
        for column in result:
            if '"null"' in column.data_type.lower() or column.data_type.lower() == "null":
                problems.append(
                    ctx.problem(
                        self.name,
                        f"column {column.name!r} has no data type: it is an untyped null ({column.data_type})",
                        output_expression(ctx, column.name),
                        identifier=column.name,
                        suggestion=f"Cast it, e.g. cast(null as varchar) as {column.name}.",
                    )
                )
        return problems

    def _round_trip(self, ctx: GateContext, result: tuple[ResultColumn, ...]) -> list[Problem]:
        """Each data_type must cast back to the same type, as dbt's contract check does."""
        typed = [column for column in result if '"null"' not in column.data_type.lower()]
        if not typed or ctx.sandbox is None:
            return []
        casts = ", ".join(f"cast(null as {column.data_type}) as c{index}" for index, column in enumerate(typed))
        try:
            back = [ctx.dialect.contract_type(kind) for _, kind in ctx.sandbox.describe(f"select {casts}")]
        except SandboxQueryError as error:
            back = [f"an error: {error.summary}"] * len(typed)
        problems = []
        for column, cast_back in zip(typed, back, strict=True):
            if cast_back != column.data_type:
                problems.append(
                    ctx.problem(
                        self.name,
                        f"column {column.name!r} has type {column.data_type!r}, which does not "
                        f"survive dbt's contract check (cast back it is {cast_back!r})",
                        output_expression(ctx, column.name),
                        identifier=column.name,
                        suggestion=f"Cast it to a plain type, e.g. cast(... as varchar) as {column.name}.",
                    )
                )
        return problems

    def _quoting(self, ctx: GateContext, returned: list[str]) -> list[Problem]:
        problems = []
        for name in returned:
            if needs_quoting(name):
                snake = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "column"
                if snake[0].isdigit() or snake in reserved_words():
                    snake = f"{snake}_value" if not snake[0].isdigit() else f"c_{snake}"
                problems.append(
                    ctx.problem(
                        self.name,
                        f"column name {name!r} needs quoting in SQL (dbt's contract check "
                        "fails on it, and dbt style is snake_case)",
                        output_expression(ctx, name),
                        identifier=name,
                        suggestion=f"Did you mean {snake!r}?",
                    )
                )
        return problems
