"""compile: the spec compiles to a dbt Python model that parses."""

from __future__ import annotations

from generator.enrich.compiler import render_spec
from generator.errors import GenModelError, Problem
from generator.gates.base import Rule
from generator.gates.enrich_context import SpecContext


class Compiles(Rule):
    """The spec compiles to a dbt Python model."""

    name = "compile"
    requires = ("spec",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        try:
            ctx.compiled = render_spec(ctx.spec, ctx.spec.spec_file_name)
        except GenModelError as error:
            return list(error.problems) or [ctx.problem(self.name, error.message)]
        for name, source in ctx.compiled.files.items():
            if name.endswith(".py"):
                try:
                    compile(source, name, "exec")
                except SyntaxError as error:  # a compiler defect, never the proposal's
                    return [ctx.problem(self.name, f"{name} does not parse: {error}")]
        return []


__all__ = ["Compiles"]
