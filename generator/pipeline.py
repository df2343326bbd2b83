"""The run: catalog -> (LLM proposal) -> gates -> write -> in-process dbt build -> report.

`apply` takes a proposal from a file; `generate` asks an LLM for it (once, plus bounded
repairs). Both share `accept`, so a proposal from anywhere faces the same gates and writer.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import duckdb

from generator import __version__, dbt
from generator.catalog import Catalog
from generator.catalog_builder import build_catalog
from generator.datatests import DataTest, grain_tests
from generator.errors import BuildError, GateError, GenModelError, Problem, ProposalError
from generator.gates import GATES, GateContext, GateReport, run_gates
from generator.progress import QUIET, Progress
from generator.project import Project
from generator.proposal import Proposal, validate_proposal
from generator.report import AttemptRecord, RunReport
from generator.transaction import FileTransaction, ProjectLock, interrupts_as_exceptions
from generator.writer import ContractColumn, WritePlan, plan_model_write, version_entry


@dataclass
class Options:
    """What the user asked for on the command line, beyond the project."""

    dry_run: bool = False
    allow_nondeterministic: bool = False
    timeout_s: float = 60.0
    progress: Progress = field(default_factory=lambda: QUIET)


@dataclass
class Accepted:
    """A proposal that passed every gate, and what the gates learned about it."""

    proposal: Proposal
    ctx: GateContext
    sql: str
    columns: list[ContractColumn]
    column_tests: list[DataTest]
    model_tests: list[DataTest]
    lineage: list = field(default_factory=list)  # generator.lineage.ColumnLineage
    # The unit test (named per version when planned), and the derived tests the hollow-test
    # gate dropped (generator.hollow.Verdict), for the report.
    unit_test: object = None  # generator.unit_fixtures.UnitTest | None
    dropped_tests: list = field(default_factory=list)
    test_notes: list[str] = field(default_factory=list)


def _open_sandbox(catalog: Catalog, timeout_s: float):
    from generator.sandbox import Sandbox

    if catalog.database_path is None:
        raise GenModelError("the catalog has no DuckDB warehouse to dry-run against")
    # Views over raw files (dbt-duckdb external sources) may read the project's raw folder,
    # and nothing else on disk.
    raw = catalog.project_dir / "data" / "raw"
    allowed = [raw] if raw.is_dir() else []
    return Sandbox(
        catalog.database_path,
        catalog.database_name or catalog.database_path.stem,
        allowed,
        timeout_s=timeout_s,
        base_dir=catalog.project_dir,
        session_settings=catalog.session_settings,
    )


def check(catalog: Catalog, proposal: Proposal, sandbox, options: Options) -> GateContext:
    """Run every gate; return the context (with its report in `ctx.report`)."""
    ctx = GateContext(
        proposal=proposal,
        catalog=catalog,
        allow_nondeterministic=options.allow_nondeterministic,
        timeout_s=options.timeout_s,
        sandbox=sandbox,
    )
    report = run_gates(ctx, GATES)
    ctx.report = GateReport(
        tuple(
            replace(outcome, problems=tuple(proposal.locate(p) for p in outcome.problems))
            for outcome in report.outcomes
        )
    )
    return ctx


def _accept(ctx: GateContext) -> Accepted:
    from generator.gates.contract import contract_columns
    from generator.lineage import column_lineage
    from generator.sqlformat import format_sql

    proposal = ctx.proposal
    columns = [ContractColumn(*column) for column in contract_columns(ctx)]
    checked = _checked_tests(ctx)
    # The grain tests are derived first; the hollow-test gate keeps only what can fail.
    tests = checked.kept if checked is not None else grain_tests(
        proposal.grain, ctx.result.row_count if ctx.result else None
    )
    return Accepted(
        proposal=proposal,
        ctx=ctx,
        sql=format_sql(ctx.templated, ctx.tree, ctx.relations),
        columns=columns,
        column_tests=[t for t in tests if t.column],
        model_tests=[t for t in tests if not t.column],
        lineage=column_lineage(ctx),
        unit_test=checked.unit_test if checked is not None else None,
        dropped_tests=checked.dropped if checked is not None else [],
        test_notes=(checked.notes + checked.unit_test_notes) if checked is not None else [],
    )


def _checked_tests(ctx: GateContext):
    """Derived tests, the hollow-test gate and the unit test, while the sandbox is open."""
    if ctx.sandbox is None or ctx.result is None:
        return None
    from generator.modeltests import checked_tests

    return checked_tests(ctx, model=ctx.proposal.name, version=None, timeout_s=ctx.timeout_s)


def record_tests(report: RunReport, accepted: Accepted) -> None:
    """Put the unit test and the dropped tests of an accepted proposal in the run report."""
    report.unit_tests = 1 if accepted.unit_test is not None else 0
    report.dropped_tests = [verdict.to_dict() for verdict in accepted.dropped_tests]
    report.notes.extend(accepted.test_notes)


def provenance_for(proposal: Proposal, origin: dict) -> dict:
    """The `meta.gen_model` block: where the model came from. Nothing run-dependent."""
    data = {
        "generator_version": __version__,
        "origin": origin.get("origin", "proposal-file"),
        "request": proposal.request,
        "provider": origin.get("provider"),
        "model": origin.get("model"),
        "prompt_sha256": origin.get("prompt_sha256"),
        "proposal_sha256": proposal.sha256(),
        "tokens_in": origin.get("tokens_in", 0),
        "tokens_out": origin.get("tokens_out", 0),
        "attempts": origin.get("attempts", 0),
        "grain": list(proposal.grain),
    }
    if origin.get("proposal_file"):
        data["proposal_file"] = origin["proposal_file"]
    # Unknowns are left out rather than written as nulls: less to read in review.
    return {key: value for key, value in data.items() if value is not None}


def plan(project: Project, catalog: Catalog, accepted: Accepted, provenance: dict) -> WritePlan:
    """The files the accepted proposal becomes."""
    from generator.lineage import lineage_meta
    from generator.modeltests import compact_unit_test_rows
    from generator.unit_fixtures import unit_test_name

    proposal = accepted.proposal
    provenance = {**provenance, "lineage": lineage_meta(accepted.lineage)}

    def unit_tests_for_version(version: int) -> list[dict]:
        if accepted.unit_test is None:
            return []
        return [accepted.unit_test.renamed(unit_test_name(proposal.name, version), version).to_yaml()]

    planned = plan_model_write(
        project,
        catalog,
        proposal,
        sql=accepted.sql,
        entry_for_version=lambda version: version_entry(
            version,
            proposal.description,
            accepted.columns,
            accepted.column_tests,
            accepted.model_tests,
            provenance,
        ),
        unit_tests_for_version=unit_tests_for_version,
    )
    if accepted.unit_test is None:
        return planned
    # Fixture rows read best one per line (`- {id: 1, ...}`); the writer dumps mappings as
    # blocks, so the new unit test's rows are re-flowed here (nothing else in the file).
    name = unit_test_name(proposal.name, planned.version)
    files = tuple(
        replace(file, content=compact_unit_test_rows(file.content, {name})) if file.path.suffix == ".yml" else file
        for file in planned.files
    )
    return replace(planned, files=files)


def _drop_relation(catalog: Catalog, plan_: WritePlan, project: Project) -> None:
    """Remove what a failed build left in the warehouse for the new version."""
    if catalog.database_path is None or not catalog.database_path.exists():
        return
    relation = f"{plan_.model_name}_v{plan_.version}"
    dbt.release_duckdb()
    try:
        connection = duckdb.connect(str(catalog.database_path))
    except duckdb.Error:
        return
    try:
        for kind in ("view", "table"):
            rows = connection.execute(
                "select schema_name from duckdb_tables() where table_name = ? "
                "union all select schema_name from duckdb_views() where view_name = ? and not internal",
                [relation, relation],
            ).fetchall()
            for (schema,) in rows:
                try:
                    connection.execute(f'drop {kind} if exists "{schema}"."{relation}"')
                except duckdb.Error:
                    pass
    finally:
        connection.close()


def write_and_build(project: Project, catalog: Catalog, plan_: WritePlan, options: Options) -> dict:
    """Write the plan atomically, build the new version with dbt, roll back if it fails."""
    transaction = FileTransaction(project.project_dir)
    with interrupts_as_exceptions():
        try:
            for planned in plan_.files:
                transaction.write(planned.path, planned.content)
            with options.progress.waiting(f"dbt build --select {plan_.select}"):
                outcome = dbt.build(project, [plan_.select])
            if not outcome.success:
                failures = [
                    f"{node.name}: {node.status}"
                    + (f" ({node.failures} failing rows)" if node.failures else "")
                    + (f" — {node.message}" if node.message and node.status == "error" else "")
                    for node in outcome.failed
                ] or list(outcome.errors)
                raise BuildError(
                    f"dbt build --select {plan_.select} failed; everything written was rolled back",
                    [Problem(rule="build", message=failure) for failure in failures],
                )
        except BaseException:
            transaction.rollback()
            _drop_relation(catalog, plan_, project)
            raise
        transaction.commit()
    return {
        "selector": plan_.select,
        "passed": sum(1 for node in outcome.nodes if node.status in ("success", "pass")),
        "failed": len(outcome.failed),
        "nodes": [{"name": node.name, "status": node.status} for node in outcome.nodes],
    }


def _require_package(project: Project, catalog: Catalog) -> None:
    """Generated YAML uses the package's tests: refuse before any LLM call or write."""
    if not catalog.has_package:
        from generator.package import missing_package_error

        raise missing_package_error(project)


def _recover(project: Project, options: Options) -> None:
    restored = FileTransaction(project.project_dir).recover()
    if restored:
        options.progress.step("recovered from an interrupted run: restored " + ", ".join(sorted(restored)))


def _unchanged(catalog: Catalog, accepted: Accepted) -> int | None:
    """The latest version if it was made from this very proposal and its contract still holds."""
    latest = catalog.ref(accepted.proposal.name)
    if latest is None or not latest.generated:
        return None
    if (latest.meta.get("gen_model") or {}).get("proposal_sha256") != accepted.proposal.sha256():
        return None
    built = [(c.name, c.data_type) for c in latest.columns]
    wanted = [(c.name, c.data_type) for c in accepted.columns]
    return latest.version if built == wanted else None


def finish(
    project: Project,
    catalog: Catalog,
    accepted: Accepted,
    provenance: dict,
    report: RunReport,
    options: Options,
) -> RunReport:
    """Plan, then write and build unless this is a dry run; fill the report."""
    proposal = accepted.proposal
    report.model, report.layer = proposal.name, proposal.layer
    report.rows = accepted.ctx.result.row_count if accepted.ctx.result else None
    report.columns = accepted.columns
    report.tests = accepted.model_tests + accepted.column_tests
    record_tests(report, accepted)
    same = _unchanged(catalog, accepted)
    if same is not None:
        report.status = "unchanged"
        report.version = same
        report.notes.append(f"{proposal.name} v{same} was made from this proposal already; nothing to write")
        return report
    plan_ = plan(project, catalog, accepted, provenance)
    report.version, report.previous_version = plan_.version, plan_.previous_version
    report.files = plan_.relative_paths(project.project_dir)
    report.file_contents = {path: planned.content for path, planned in zip(report.files, plan_.files, strict=True)}
    if options.dry_run:
        report.status = "dry-run"
        return report
    report.build = write_and_build(project, catalog, plan_, options)
    report.status = "written"
    return report


def apply(project: Project, proposal_file: str | Path, options: Options) -> RunReport:
    """`gen-model apply`: a proposal from a file through the same gates and writer."""
    from generator.proposal import load_proposal

    started = time.monotonic()
    report = RunReport(command="apply")
    with _reporting(report, started), ProjectLock(project.project_dir):
        _recover(project, options)
        proposal = load_proposal(proposal_file)
        report.model, report.layer = proposal.name, proposal.layer
        with options.progress.waiting("reading the project (dbt parse + warehouse)"):
            catalog = build_catalog(project)
        _require_package(project, catalog)
        with _open_sandbox(catalog, options.timeout_s) as sandbox:
            ctx = check(catalog, proposal, sandbox, options)
            report.gates = ctx.report
            if not ctx.report.passed:
                raise GateError(f"{proposal.name} was rejected by the gates", ctx.report.problems)
            accepted = _accept(ctx)
        origin = {"origin": "proposal-file", "proposal_file": Path(proposal_file).name}
        finish(project, catalog, accepted, provenance_for(proposal, origin), report, options)
    return report


@contextlib.contextmanager
def _reporting(report: RunReport, started: float):
    """Attach the report to any error, so `--json` can print what happened before it."""
    try:
        yield
    except GenModelError as error:
        report.status = "rejected" if error.exit_code == 1 else "failed"
        report.problems = list(error.problems) or [Problem(rule="error", message=error.message)]
        error.report = report
        raise
    finally:
        report.elapsed_s = time.monotonic() - started


__all__ = ["Options", "apply", "check", "finish", "validate_proposal", "ProposalError"]


# -- generation: one LLM call, bounded repairs --------------------------------------------


@dataclass
class Request:
    """What the user asked the LLM for, and how."""

    text: str
    name: str | None = None
    layer: str | None = None
    provider: str | None = None
    models: tuple[str, ...] = ()
    max_attempts: int | None = None


def _style_example(project: Project, catalog: Catalog, layer: str | None) -> str | None:
    """An existing hand-written model's SQL for the prompt to imitate (deterministic choice)."""
    preferred = layer or "marts"
    candidates = sorted(
        (
            r
            for r in catalog.models
            if not r.generated
            and r.package_name == project.name
            and r.original_file_path
            and r.original_file_path.endswith(".sql")
        ),
        key=lambda r: (f"/{preferred}/" not in f"/{r.original_file_path}", r.original_file_path),
    )
    for relation in candidates:
        path = project.project_dir / relation.original_file_path
        if path.is_file():
            return path.read_text(encoding="utf-8")
    return None


def prepare_prompt(project: Project, request: Request, settings, catalog: Catalog | None = None):
    """Catalog -> retrieval (profiling only what is retrieved) -> the prompt. Calls no LLM."""
    from generator.catalog_builder import profile_relations
    from generator.prompt import build_prompt
    from generator.retrieve import retrieve

    catalog = catalog or build_catalog(project)
    first = retrieve(catalog, request.text, settings.budget_tokens)
    profiled = profile_relations(catalog, [r.unique_id for r in first.relations])
    catalog_slice = retrieve(profiled, request.text, settings.budget_tokens)
    prompt = build_prompt(
        catalog_slice,
        request.text,
        name=request.name,
        layer=request.layer,
        style_example=_style_example(project, catalog, request.layer),
    )
    return profiled, catalog_slice, prompt


def _as_proposal(data: dict, request: Request, where: str) -> Proposal:
    """Validate the LLM's tool input; the user's --name/--layer and words are authoritative."""
    data = dict(data)
    if request.name:
        data["name"] = request.name
    if request.layer:
        data["layer"] = request.layer
    data["request"] = request.text
    return validate_proposal(data, file=where)


def generate(project: Project, request: Request, options: Options, provider=None) -> RunReport:
    """`gen-model "REQUEST"`: ask once, gate, repair with all problems at most N-1 times, write."""
    from generator.pricing import estimate_cost
    from generator.prompt import repair_prompt
    from generator.providers import make_provider
    from generator.settings import resolve_settings

    started = time.monotonic()
    report = RunReport(command="generate")
    with _reporting(report, started), ProjectLock(project.project_dir):
        _recover(project, options)
        settings = resolve_settings(
            project.project_dir,
            provider=request.provider,
            models=list(request.models) or None,
            max_attempts=request.max_attempts,
        )
        provider = provider or make_provider(settings.provider, settings)
        with options.progress.waiting("reading the project (dbt parse + warehouse)"):
            catalog = build_catalog(project)
            _require_package(project, catalog)
            catalog, _, prompt = prepare_prompt(project, request, settings, catalog)
        accepted = None
        current = prompt
        with _open_sandbox(catalog, options.timeout_s) as sandbox:
            for attempt in range(1, settings.max_attempts + 1):
                model = settings.model_for_attempt(attempt)
                with options.progress.waiting(f"asking {model} (attempt {attempt}/{settings.max_attempts})"):
                    completion = provider.complete(current, model)
                record = AttemptRecord(
                    number=attempt,
                    provider=settings.provider,
                    model=completion.model or model,
                    input_tokens=completion.input_tokens or 0,
                    output_tokens=completion.output_tokens or 0,
                    cost_usd=estimate_cost(
                        completion.model or model,
                        completion.input_tokens,
                        completion.output_tokens,
                        settings.pricing,
                    ).usd,
                )
                report.attempts.append(record)
                problems: list = []
                if not completion.ok:
                    record.outcome, record.error = "failed", completion.error
                    problems = [Problem(rule="answer", message=completion.error or "no proposal")]
                else:
                    try:
                        proposal = _as_proposal(completion.proposal, request, f"<proposal from {model}>")
                    except ProposalError as error:
                        problems = list(error.problems)
                    else:
                        report.model, report.layer = proposal.name, proposal.layer
                        ctx = check(catalog, proposal, sandbox, options)
                        report.gates = ctx.report
                        problems = ctx.report.problems
                        if ctx.report.passed:
                            accepted = _accept(ctx)
                    record.outcome = "accepted" if accepted else "rejected"
                    record.problems = len(problems)
                if accepted:
                    break
                options.progress.step(
                    f"attempt {attempt}: {len(problems)} problem(s)"
                    + ("; asking for a repair" if attempt < settings.max_attempts else "")
                )
                current = repair_prompt(prompt, completion.raw, problems)
            else:
                raise GateError(
                    f"no proposal passed the gates in {settings.max_attempts} attempt(s); "
                    "the last attempt's problems follow",
                    problems,
                )
        origin = {
            "origin": "llm",
            "provider": settings.provider,
            "model": report.attempts[-1].model,
            "prompt_sha256": prompt.sha256,
            "tokens_in": report.tokens_in,
            "tokens_out": report.tokens_out,
            "attempts": len(report.attempts),
        }
        finish(project, catalog, accepted, provenance_for(accepted.proposal, origin), report, options)
    return report
