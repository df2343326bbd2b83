"""grain: the spec's key is unique and never null in the result."""

from __future__ import annotations

from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.enrich_context import SpecContext


class KeyIsGrain(Rule):
    """The spec's key is unique and never null in the result."""

    name = "grain"
    requires = ("execute",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        result, key = ctx.result, ", ".join(ctx.spec.key)
        problems = []
        if result.null_keys:
            problems.append(
                ctx.problem(
                    self.name,
                    f"key ({key}) is null in {result.null_keys:,} of {result.row_count:,} rows",
                    identifier=ctx.spec.key[0],
                    suggestion="Mark the key columns not_null, or choose a key that is always set.",
                )
            )
        if result.duplicate_keys:
            shown = "; ".join(", ".join(example) for example in result.duplicate_examples)
            problems.append(
                ctx.problem(
                    self.name,
                    f"key ({key}) repeats: {result.duplicate_keys:,} value(s) on "
                    f"{result.duplicate_rows:,} rows (e.g. {shown})",
                    identifier=ctx.spec.key[0],
                    suggestion="Add dedupe (keep: latest, by: <a timestamp>) or a finer key.",
                )
            )
        return problems


__all__ = ["KeyIsGrain"]
