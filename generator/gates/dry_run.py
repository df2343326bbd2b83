"""dry_run: execute the proposal on the real warehouse data, in the sandbox (DuckDB) or the
target's own session (Spark: schema from the analysed plan first, then a timed run)."""

from __future__ import annotations

from generator.errors import Problem
from generator.gates.base import Rule
from generator.project.sandbox import SandboxQueryError, SandboxTimeout
from generator.sql.context import DryRunResult, GateContext, ResultColumn
from generator.sql.runnable import ExecutableSQL, executable

# DuckDB's error class (the text before the first colon) -> what to do about it.
_HINTS = {
    "Conversion Error": "Some rows hold values that do not convert; use try_cast(...) (null "
    "for bad values) or filter those rows out first.",
    "Out of Memory Error": "The query needs more memory than the sandbox allows; look for a "
    "join that multiplies rows (a missing or too loose join condition) and aggregate or "
    "filter before joining.",
    "Permission Error": "A proposal may read only the project's relations, through "
    "{{ ref() }} and {{ source() }}; no files, URLs or settings.",
    "Invalid Input Error": "Proposals are one read-only select; they cannot write, attach or change settings.",
}


class DryRun(Rule):
    """The proposal runs on the warehouse's real data (read-only sandbox, time-limited)."""

    name = "dry_run"
    requires = ("parse", "references", "binding", "safety", "determinism")

    def check(self, ctx: GateContext) -> list[Problem]:
        if ctx.sandbox is None:
            return [
                ctx.problem(
                    self.name,
                    "no sandbox is open, so the proposal cannot be dry-run",
                    suggestion="Open generator.project.sandbox.Sandbox on the warehouse and pass it "
                    "as GateContext(sandbox=...).",
                )
            ]
        problems = self._databases(ctx)
        if problems:
            return problems
        runnable = executable(ctx)
        try:
            outcome = ctx.sandbox.materialise(runnable.sql, timeout_s=ctx.timeout_s)
        except SandboxTimeout as error:
            return [
                ctx.problem(
                    self.name,
                    f"the dry run did not finish within {error.timeout_s:g} s and was interrupted",
                    suggestion="Check every join has a condition on keys (a missing one "
                    "multiplies rows), filter and aggregate before joining, or allow more "
                    "time with a larger timeout if the data is simply large.",
                )
            ]
        except SandboxQueryError as error:
            return [self._failure(ctx, runnable, error)]
        ctx.result = DryRunResult(
            columns=tuple(ResultColumn(name, ctx.dialect.contract_type(kind)) for name, kind in outcome.columns),
            row_count=outcome.row_count,
            elapsed_s=outcome.elapsed_s,
        )
        return []

    def _databases(self, ctx: GateContext) -> list[Problem]:
        """Every relation must live in a database the sandbox attached, under dbt's name.

        A dry run in the target's own session (Spark) attaches nothing: it has no names."""
        if not ctx.sandbox.database_names:
            return []
        attached = {name.lower() for name in ctx.sandbox.database_names}
        problems = []
        for placeholder, relation in sorted(ctx.relations.items()):
            if relation.database.lower() in attached:
                continue
            call = ctx.templated.call_for(placeholder) if ctx.templated else None
            span = (call.start, call.end - 1) if call else None
            problems.append(
                ctx.problem(
                    self.name,
                    f"{relation.display} lives in database {relation.database!r}, which the "
                    f"sandbox did not attach (it has {', '.join(ctx.sandbox.database_names)})",
                    identifier=relation.database,
                    suggestion="Open the sandbox with the database names dbt uses "
                    "(Sandbox(..., database_name=..., attachments=[...])).",
                    span=span,
                )
            )
        return problems

    def _failure(self, ctx: GateContext, runnable: ExecutableSQL, error: SandboxQueryError) -> Problem:
        """The engine's own message, located in the proposal when it gave a position."""
        summary = error.summary
        message = f"{ctx.dialect.engine} could not run the proposal: {summary}"
        kind = summary.split(":", 1)[0]
        suggestion = _HINTS.get(kind)
        if kind == "Catalog Error":
            for relation in ctx.relations.values():
                if f'"{relation.identifier}"' in summary or f" {relation.identifier} " in summary:
                    suggestion = (
                        f"{relation.display} is not in the warehouse yet; build it first: "
                        f"dbt build --select {relation.name}."
                    )
                    break
        position = error.position()
        span = None
        if position is not None and runnable.positions_map:
            line, col, width = position
            start = runnable.offset_of(line, col)
            span = (
                runnable.original_offset(start),
                runnable.original_offset(start + max(1, width) - 1),
            )
        return ctx.problem(self.name, message, suggestion=suggestion, span=span)
