"""finite: no floating-point output column is NaN or infinite in the dry run's result.

DuckDB divides by zero without an error: `0 / 0` is NaN and `x / 0` is infinite, where
most readers (and Spark, and dbt's tests) expect null. A NaN compares equal to itself in
DuckDB, passes not_null and accepted_range tests, and sums to NaN downstream: a mart that
holds one is almost always a division that forgot an empty group.
"""

from __future__ import annotations

from generator.dialects.duckdb import quote
from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.contract import output_expression
from generator.project.sandbox import RESULT_TABLE, SandboxQueryError
from generator.sql.context import GateContext

# Exact names: a list or struct of doubles ("double[]") has no single value to test.
FLOATING_TYPES = frozenset({"double", "float", "real", "float4", "float8", "double precision"})


class Finite(Rule):
    """Floating-point output columns are never NaN or infinite in the dry run's result."""

    name = "finite"
    requires = ("dry_run",)

    def check(self, ctx: GateContext) -> list[Problem]:
        floating = [c.name for c in ctx.result.columns if (c.data_type or "").lower() in FLOATING_TYPES]
        if not floating:
            return []
        # The helper SQL is DuckDB's spelling (a Spark dry run transpiles it); 'inf' casts
        # to infinity on both engines, where isinf() is DuckDB's alone.
        counts = ", ".join(
            f"count(*) filter (where isnan({quote(name)})), "
            f"count(*) filter (where abs({quote(name)}) = cast('inf' as double))"
            for name in floating
        )
        try:
            row = ctx.sandbox.execute(f"select {counts} from {RESULT_TABLE}", timeout_s=ctx.timeout_s)[0]
        except SandboxQueryError:
            return []  # the contract gate reports a result it cannot read; this is no new defect
        problems = []
        for index, name in enumerate(floating):
            nans, infinities = row[2 * index], row[2 * index + 1]
            if not nans and not infinities:
                continue
            found = " and ".join(
                part
                for part in (
                    f"NaN in {nans}" if nans else "",
                    f"infinite in {infinities}" if infinities else "",
                )
                if part
            )
            problems.append(
                ctx.problem(
                    self.name,
                    f"column {name!r} is {found} of {ctx.result.row_count} rows",
                    output_expression(ctx, name),
                    identifier=name,
                    suggestion="DuckDB gives NaN for 0 / 0 and infinity for x / 0 (Spark gives null): divide by "
                    "nullif(denominator, 0) so an empty group gives null, or leave such rows out with a filter.",
                )
            )
        return problems
