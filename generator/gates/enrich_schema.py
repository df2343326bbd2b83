"""spec: an enrich proposal's spec validates against its schema and semantics."""

from __future__ import annotations

from generator.enrich.spec import EnrichSpec, validate_spec
from generator.errors import Problem, ProposalError
from generator.gates.base import Rule
from generator.gates.enrich_context import SpecContext


class SpecSchema(Rule):
    """The spec validates against its schema and semantics."""

    name = "spec"

    def check(self, ctx: SpecContext) -> list[Problem]:
        if ctx.proposal.kind != "enrich" or ctx.proposal.spec is None:
            return [ctx.problem(self.name, "not an enrich proposal: it has no spec")]
        spec = ctx.proposal.enrich_spec
        if not isinstance(spec, EnrichSpec):
            try:
                spec = validate_spec(ctx.proposal.spec, file=ctx.proposal.source_file, prefix=("spec",))
            except ProposalError as error:
                return list(error.problems)
        ctx.spec = spec
        return []


__all__ = ["SpecSchema"]
