"""lookup: a spec's lookup model is in the catalog and built, with the columns it takes."""

from __future__ import annotations

from difflib import get_close_matches

from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.enrich_context import SpecContext


class LookupExists(Rule):
    """A lookup's model is in the catalog and built, with the columns the spec takes."""

    name = "lookup"
    requires = ("spec",)

    def check(self, ctx: SpecContext) -> list[Problem]:
        lookup = ctx.spec.lookup
        if lookup is None:
            return []
        relation = ctx.catalog.ref(lookup.model, lookup.version)
        if relation is None:
            close = get_close_matches(lookup.model, ctx.catalog.ref_names(), n=1)
            return [
                ctx.problem(
                    self.name,
                    f"spec.lookup.model {lookup.model!r}"
                    + (f" version {lookup.version}" if lookup.version else "")
                    + " is not a model of this project",
                    identifier=lookup.model,
                    suggestion=f"Did you mean {close[0]!r}?" if close else None,
                )
            ]
        if relation.name == ctx.proposal.name:
            return [ctx.problem(self.name, "a model cannot look itself up", identifier=lookup.model)]
        if not relation.exists:
            return [
                ctx.problem(
                    self.name,
                    f"{relation.display} is not built in the warehouse, so the lookup cannot be tried",
                    identifier=lookup.model,
                    suggestion=f"Run dbt build --select {lookup.model} first.",
                )
            ]
        ctx.lookup = relation
        names = list(relation.column_names)
        problems = []
        used = [("spec.lookup.lookup_key", c) for c in lookup.lookup_key.columns]
        used += [(f"spec.lookup.columns[{i}].from", c.source) for i, c in enumerate(lookup.columns)]
        for where, column in used:
            if relation.column(column) is None:
                close = get_close_matches(column, names, n=1)
                problems.append(
                    ctx.problem(
                        self.name,
                        f"{where}: {relation.display} has no column {column!r}",
                        identifier=column,
                        suggestion=f"Did you mean {close[0]!r}?" if close else f"Columns: {', '.join(names)}.",
                    )
                )
        return problems


__all__ = ["LookupExists"]
