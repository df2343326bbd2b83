"""contract: the result's DuckDB column types are the spec's declared types."""

from __future__ import annotations

from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.enrich_context import SpecContext


class ContractHolds(Rule):
    """The result's DuckDB column types are the spec's declared types."""

    name = "contract"
    requires = ("execute",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        declared = [(name, dtype.name) for name, dtype, _ in ctx.spec.output_columns]
        found = [(column.name, column.data_type) for column in ctx.result.columns]
        if declared == found:
            return []
        return [
            ctx.problem(
                self.name,
                f"the result's columns {found} are not the spec's {declared}",
                suggestion="This is a compiler defect: report it with the spec.",
            )
        ]


__all__ = ["ContractHolds"]
