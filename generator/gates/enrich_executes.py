"""execute: the compiled model runs on the real input file, within a time limit.

The DuckDB sandbox runs SQL, not Python: the model (under `on_error: quarantine`, its
`__checked` model and the model's and quarantine's selects from it) runs in a child
process (`generator.enrich.runner`), materialised as dbt-duckdb does it, and DuckDB's
types, the row count and the key's nulls and repeats come back for the later gates.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from generator.enrich.emit import checked_ref
from generator.errors import Problem
from generator.gates.base import Rule
from generator.gates.enrich_context import SpecContext, SpecRun
from generator.sql.context import ResultColumn


class Executes(Rule):
    """The compiled model runs on the real input in a child process, within the time limit."""

    name = "execute"
    requires = ("input", "lookup", "compile")

    def check(self, ctx: SpecContext) -> list[Problem]:
        outcome = execute_compiled(ctx)
        if isinstance(outcome, Problem):
            return [outcome]
        ctx.result = outcome
        return []


def execute_compiled(ctx: SpecContext) -> SpecRun | Problem:
    """Run the compiled model (and its quarantine) on the raw dir in a child process."""
    catalog, spec = ctx.catalog, ctx.spec
    quarantines = spec.on_error == "quarantine"
    with tempfile.TemporaryDirectory(prefix="gen_model_enrich_") as directory:
        files = {}
        for name, content in ctx.compiled.files.items():
            if name.endswith(".py"):
                (Path(directory) / name).write_text(content, encoding="utf-8")
                files[name] = str(Path(directory) / name)
        relations = {}
        if ctx.lookup is not None:
            lookup = spec.lookup
            key = lookup.model if lookup.version is None else f"{lookup.model}@{lookup.version}"
            relations[key] = ctx.lookup.relation_name
        request = {
            "model": files[f"{spec.checked_name if quarantines else spec.model_file}.py"],
            "raw_dir": str(ctx.raw_dir),
            "warehouse": str(catalog.database_path) if relations and catalog.database_path else None,
            "database": catalog.database_name or (catalog.database_path.stem if catalog.database_path else None),
            "relations": relations,
            "key": list(spec.key),
        }
        if quarantines:
            # The model and its quarantine are SQL selects from `__checked`: run as compiled.
            ref = checked_ref(spec)
            for key, name in (("model_sql", spec.model_file), ("quarantine_sql", spec.quarantine_name)):
                request[key] = ctx.compiled.files[f"{name}.sql"].replace(ref, "checked")
        request_file = Path(directory) / "request.json"
        request_file.write_text(json.dumps(request), encoding="utf-8")
        if relations:
            from generator.project import dbt

            dbt.release_duckdb()  # the child attaches the warehouse read-only
        try:
            done = subprocess.run(
                [sys.executable, "-m", "generator.enrich.runner", str(request_file)],
                capture_output=True,
                text=True,
                timeout=ctx.timeout_s,
                cwd=catalog.project_dir,
            )
        except subprocess.TimeoutExpired:
            return ctx.problem(
                "execute",
                f"the compiled model did not finish on {spec.input.path} within {ctx.timeout_s:g} s",
                suggestion="Raise the limit (--timeout) for a big input, or check the spec's lookup and dedupe.",
            )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    outcome = json.loads(lines[-1]) if lines else None
    if done.returncode == 3 and outcome:
        # The model rejected its input: that message says which file, row and reason.
        return ctx.problem(
            "execute",
            f"the compiled model rejected {spec.input.path}: {outcome['error']}",
            identifier=spec.input.path,
        )
    if done.returncode != 0 or outcome is None:
        detail = (done.stderr or done.stdout).strip().splitlines()
        suggestion = "This is probably a compiler defect: report it with the spec."
        if detail and "gen-model runtime v" in detail[-1] and "not found" in detail[-1]:
            suggestion = "Install the gen_model dbt package's runtime: run `gen-model init`, then `dbt deps`."
        return ctx.problem(
            "execute",
            f"the compiled model failed on {spec.input.path}: {detail[-1] if detail else done.returncode}",
            suggestion=suggestion,
            details={"stderr": done.stderr[-4000:]},
        )
    return SpecRun(
        columns=tuple(ResultColumn(name, data_type) for name, data_type in outcome["columns"]),
        row_count=outcome["rows"],
        null_keys=outcome["null_keys"],
        duplicate_keys=outcome["duplicate_keys"],
        duplicate_rows=outcome["duplicate_rows"],
        duplicate_examples=tuple(tuple(example) for example in outcome["duplicate_examples"]),
        quarantined=outcome.get("quarantined"),
        quarantine_examples=tuple(tuple(row) for row in outcome.get("quarantine_examples", ())),
        warnings=tuple(outcome.get("warnings", ())),
        elapsed_s=outcome["seconds"],
        peak_rss_mib=outcome["peak_rss_mib"],
    )


__all__ = ["Executes", "execute_compiled"]
