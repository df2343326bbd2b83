"""`gen-model apply`: a proposal from a file through the same gates, writer and build."""

from __future__ import annotations

import time
from pathlib import Path

from generator.errors import GateError
from generator.project import Project, catalog_cache, dbt_warmup, dbt_worker
from generator.project.catalog import Catalog
from generator.run.guards import NAME_HINTS, recover, refuse_taken_name, reporting, require_package
from generator.run.options import Options
from generator.run.report import RunReport
from generator.write.transaction import ProjectLock


def apply(project: Project, proposal_file: str | Path, options: Options) -> RunReport:
    """`gen-model apply`: a proposal from a file through the same gates and writer."""
    started = time.monotonic()
    report = RunReport(command="apply")
    with reporting(report, started), ProjectLock(project.project_dir):
        recover(project, options)
        # The build that ends the run needs dbt imported and the project parsed. When the
        # catalog will come from the cache, dbt is never imported here: a worker process
        # starts on that now, beside everything else this run does (its own imports, the
        # proposal, the gates, the row search), and builds at the end. Otherwise the catalog
        # parses in this process, which then builds (dbt's first-use work in a thread beside
        # the gates). A dry run builds nothing.
        cached = catalog_cache.read(project)
        with dbt_worker.running(project, enabled=not options.dry_run, parses_here=cached is None) as build:
            _apply(project, proposal_file, options, report, build, cached)
    return report


def _apply(
    project: Project, proposal_file: str | Path, options: Options, report: RunReport, build, cached: Catalog | None
) -> None:
    # Imported once the worker is on its way: sqlglot, DuckDB and the gates take a tenth of
    # a second to import, which the worker's import of dbt overlaps.
    from generator.project.catalog_builder import build_catalog
    from generator.proposal import load_proposal
    from generator.run.accept import accept_proposal
    from generator.run.finish import finish, provenance_for

    proposal = load_proposal(proposal_file)
    report.model, report.layer = proposal.name, proposal.layer
    refuse_taken_name(project, proposal.name, NAME_HINTS["apply"])
    if proposal.kind == "enrich":
        from generator.write.package import require_runtime

        # Before the project is read: without the runtime the compiled model cannot run.
        require_runtime(project.project_dir)
    with options.progress.waiting("reading the project (dbt parse + warehouse)"):
        # Only an enrichment proposal reads raw files: sniffing them (Polars) is not
        # a SQL proposal's cost.
        raw_files = None if proposal.kind == "enrich" else ()
        catalog = build_catalog(project, raw_files=raw_files, progress=options.progress, cached=cached)
    require_package(project, catalog)
    refuse_taken_name(project, proposal.name, NAME_HINTS["apply"], catalog)
    warmup = dbt_warmup.start() if not options.dry_run else dbt_warmup.Warmup()
    accepted = accept_proposal(catalog, proposal, report, options)
    if accepted is None:
        raise GateError(f"{proposal.name} was rejected by the gates", report.gates.problems)
    warmup.wait()
    origin = {"origin": "proposal-file", "proposal_file": Path(proposal_file).name}
    finish(project, catalog, accepted, provenance_for(proposal, origin), report, options, build=build)


__all__ = ["apply"]
