"""grain: the proposal's grain columns identify each row of the dry run's result."""

from __future__ import annotations

import datetime
import decimal

from generator.dialects.duckdb import quote
from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.contract import output_expression
from generator.project.sandbox import RESULT_TABLE, SandboxQueryError
from generator.sql.context import GateContext
from generator.sql.grain import grain_evidence
from generator.suggest import did_you_mean

EXAMPLES = 5


def _literal(value: object) -> str:
    """A key value as it would be written in SQL, the same on every run."""
    if value is None:
        return "null"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    if isinstance(value, datetime.datetime):
        return f"'{value.isoformat(sep=' ')}'"
    if isinstance(value, (datetime.date, datetime.time)):
        return f"'{value.isoformat()}'"
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    return str(value)


class Grain(Rule):
    """The grain columns are unique together and never null in the dry run's result."""

    name = "grain"
    requires = ("dry_run",)

    def check(self, ctx: GateContext) -> list[Problem]:
        returned = [column.name for column in ctx.result.columns]
        by_lower = {name.lower(): name for name in returned}
        keys: list[str] = []
        problems = []
        for key in ctx.proposal.grain:
            actual = by_lower.get(key.lower())
            if actual is None:
                problems.append(
                    ctx.problem(
                        self.name,
                        f"grain column {key!r} is not a column of the query's result",
                        identifier=key,
                        suggestion=did_you_mean(key, returned)
                        or f"The grain must be output columns; the query returns: {', '.join(returned)}.",
                    )
                )
            else:
                keys.append(actual)
        if problems:
            return problems
        try:
            problems = self._nulls(ctx, keys) + self._duplicates(ctx, keys)
        except SandboxQueryError as error:
            return [
                ctx.problem(
                    self.name,
                    f"the grain could not be checked: {error.summary}",
                    suggestion="Choose grain columns of simple types (ids, dates, text).",
                )
            ]
        return problems or self._implied(ctx, keys)

    def _implied(self, ctx: GateContext, keys: list[str]) -> list[Problem]:
        """Unique today is not enough: the SQL must guarantee it, or the person running
        gen-model must accept a grain observed in the data (`--allow-observed-grain`)."""
        if ctx.analysis is None:
            return []
        evidence = grain_evidence(ctx.analysis, ctx.tree, keys)
        if evidence.implied:
            return []
        grain = ", ".join(keys)
        if ctx.allow_observed_grain:
            ctx.observed_grain = evidence.reason
            return []
        return [
            ctx.problem(
                self.name,
                f"the grain ({grain}) is unique in today's data, but the SQL does not guarantee it: {evidence.reason}",
                evidence.node,
                identifier=grain,
                suggestion=f"{evidence.fix} If the data guarantees it by a rule no test states, "
                "rerun with --allow-observed-grain: the model then gets a warn-severity uniqueness test.",
            )
        ]

    def _nulls(self, ctx: GateContext, keys: list[str]) -> list[Problem]:
        counts = ", ".join(f"count(*) filter (where {quote(key)} is null)" for key in keys)
        row = ctx.sandbox.execute(f"select {counts} from {RESULT_TABLE}", timeout_s=ctx.timeout_s)[0]
        problems = []
        for key, nulls in zip(keys, row, strict=True):
            if nulls:
                problems.append(
                    ctx.problem(
                        self.name,
                        f"grain column {key!r} is null in {nulls} of {ctx.result.row_count} rows",
                        output_expression(ctx, key),
                        identifier=key,
                        suggestion="Filter those rows out, coalesce the key, or choose grain "
                        "columns that are never null (an outer join can introduce nulls).",
                    )
                )
        return problems

    def _duplicates(self, ctx: GateContext, keys: list[str]) -> list[Problem]:
        columns = ", ".join(quote(key) for key in keys)
        # Rows with a null key are reported by _nulls; counting them again here would
        # report one defect twice.
        not_null = " and ".join(f"{quote(key)} is not null" for key in keys)
        grouped = (
            f"select {columns}, count(*) as gen_model_rows from {RESULT_TABLE} "
            f"where {not_null} group by all having count(*) > 1"
        )
        duplicate_keys, duplicate_rows = ctx.sandbox.execute(
            f"select count(*), coalesce(sum(gen_model_rows), 0) from ({grouped})",
            timeout_s=ctx.timeout_s,
        )[0]
        if not duplicate_keys:
            return []
        order = ", ".join(f"{quote(key)} asc" for key in keys)
        examples = ctx.sandbox.execute(
            f"select * from ({grouped}) order by gen_model_rows desc, {order} limit {EXAMPLES}",
            timeout_s=ctx.timeout_s,
        )

        def example(row: tuple) -> str:
            values = zip(keys, row[:-1], strict=True)
            return "(" + ", ".join(f"{key}={_literal(value)}" for key, value in values) + ")"

        shown = "; ".join(f"{example(row)} x{row[-1]}" for row in examples)
        grain = ", ".join(keys)
        return [
            ctx.problem(
                self.name,
                f"the grain ({grain}) is not unique: {duplicate_keys} key(s) occur more than "
                f"once, in {duplicate_rows} of {ctx.result.row_count} rows; e.g. {shown}",
                output_expression(ctx, keys[0]) if len(keys) == 1 else None,
                identifier=grain,
                suggestion=f"Aggregate to one row per ({grain}), look for a join that fans "
                "out rows, or declare the grain as the columns that do identify a row.",
            )
        ]
