"""The run: catalog -> (LLM proposal) -> gates -> write -> in-process dbt build -> report.

`apply` takes a proposal from a file; `generate` asks an LLM for it (once, plus bounded
repairs). Both share `accept`, so a proposal from anywhere faces the same gates and writer.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from generator import __version__
from generator.errors import BuildError, ConfigError, GateError, GenModelError, Problem, ProposalError, WriteError
from generator.progress import QUIET, Progress
from generator.project import Project, dbt
from generator.project.catalog import Catalog
from generator.project.catalog_builder import build_catalog
from generator.project.sandbox import open_sandbox
from generator.proposal import Proposal, validate_proposal
from generator.run.report import AttemptRecord, RunReport
from generator.testgen.datatests import DataTest, grain_tests
from generator.write import inert
from generator.write.transaction import (
    FileTransaction,
    ProjectLock,
    interrupts_as_exceptions,
    raise_if_interrupted,
)
from generator.write.writer import (
    ContractColumn,
    PlannedFile,
    WritePlan,
    plan_model_write,
    version_entry,
)

if TYPE_CHECKING:  # the gates (and sqlglot) load when a proposal is checked, not for `context`
    from generator.gates import GateContext


@dataclass
class Options:
    """What the user asked for on the command line, beyond the project."""

    dry_run: bool = False
    allow_nondeterministic: bool = False
    allow_observed_grain: bool = False  # accept a grain only the data shows (warn-severity test)
    timeout_s: float = 60.0
    progress: Progress = field(default_factory=lambda: QUIET)
    # Ask the LLM even when gen_model.lock holds an answer for the same request and catalog.
    refresh: bool = False
    # Days until a version superseded by a breaking change is deprecated (None: the
    # GEN_MODEL_DEPRECATION_DAYS variable, else versions.DEFAULT_DEPRECATION_DAYS).
    deprecation_days: int | None = None
    # Search fixture rows for a unit test that pins the logic (the slowest part of apply).
    unit_test: bool = True


@dataclass
class LockContext:
    """What the lockfile records about a run beyond its files: how the prompt was made."""

    requested: dict = field(default_factory=dict)  # --name/--layer the user fixed
    catalog_fingerprint: str | None = None
    catalog_slice: dict = field(default_factory=dict)
    attempts: list[dict] = field(default_factory=list)
    # A replay writes the locked provenance as it is: no new change class, no new dates.
    replay: bool = False


@dataclass
class Accepted:
    """A proposal that passed every gate, and what the gates learned about it."""

    proposal: Proposal
    ctx: GateContext
    sql: str
    columns: list[ContractColumn]
    column_tests: list[DataTest]
    model_tests: list[DataTest]
    lineage: list = field(default_factory=list)  # generator.sql.lineage.ColumnLineage
    # The unit test (named per version when planned), and the derived tests the hollow-test
    # gate dropped (generator.testgen.hollow.Verdict), for the report.
    unit_test: object = None  # generator.testgen.unit_fixtures.UnitTest | None
    dropped_tests: list = field(default_factory=list)
    test_notes: list[str] = field(default_factory=list)


def check(catalog: Catalog, proposal: Proposal, sandbox, options: Options) -> GateContext:
    """Run every gate; return the context (with its report in `ctx.report`)."""
    from generator.gates import GATES, GateContext, GateReport, run_gates

    ctx = GateContext(
        proposal=proposal,
        catalog=catalog,
        allow_nondeterministic=options.allow_nondeterministic,
        allow_observed_grain=options.allow_observed_grain,
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


def accept(ctx: GateContext, unit_test: bool = True) -> Accepted:
    """What a proposal that passed every gate becomes: formatted SQL, contract, lineage, tests."""
    from generator.gates.contract import contract_columns
    from generator.sql.formatting import format_sql
    from generator.sql.lineage import column_lineage
    from generator.sql.style import project_style

    proposal = ctx.proposal
    columns = [ContractColumn(*column) for column in contract_columns(ctx)]
    checked = _checked_tests(ctx, unit_test)
    # The grain tests are derived first; the hollow-test gate keeps only what can fail.
    tests = (
        checked.kept
        if checked is not None
        else grain_tests(proposal.grain, ctx.result.row_count if ctx.result else None, ctx.observed_grain)
    )
    return Accepted(
        proposal=proposal,
        ctx=ctx,
        sql=format_sql(ctx.templated, ctx.tree, ctx.relations, project_style(ctx.catalog)),
        columns=columns,
        column_tests=[t for t in tests if t.column],
        model_tests=[t for t in tests if not t.column],
        lineage=column_lineage(ctx),
        unit_test=checked.unit_test if checked is not None else None,
        dropped_tests=checked.dropped if checked is not None else [],
        test_notes=_observed_grain_note(ctx) + ((checked.notes + checked.unit_test_notes) if checked else []),
    )


def _observed_grain_note(ctx: GateContext) -> list[str]:
    if not ctx.observed_grain:
        return []
    return [f"grain accepted from the data (--allow-observed-grain), its test warns: {ctx.observed_grain}"]


DRY_RUN_UNIT_TEST_NOTE = "dry run: the unit test's row search was skipped (a real run does it)"


def _search_unit_test_rows(options: Options, report: RunReport) -> bool:
    """Whether to search fixture rows for the unit test: the slowest step, skipped in a dry run.

    A dry run shows the files and the gates; the rows only matter once they are written.
    """
    if options.unit_test and options.dry_run:
        if DRY_RUN_UNIT_TEST_NOTE not in report.notes:
            report.notes.append(DRY_RUN_UNIT_TEST_NOTE)
        return False
    return options.unit_test


def _checked_tests(ctx: GateContext, unit_test: bool = True):
    """Derived tests, the hollow-test gate and the unit test, while the sandbox is open."""
    if ctx.sandbox is None or ctx.result is None:
        return None
    from generator.testgen.modeltests import checked_tests

    return checked_tests(ctx, model=ctx.proposal.name, version=None, unit_test=unit_test, timeout_s=ctx.timeout_s)


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


def plan(
    project: Project, catalog: Catalog, accepted: Accepted, provenance: dict, deprecation_date: str | None = None
) -> WritePlan:
    """The files the accepted proposal becomes; `deprecation_date` goes on the version it supersedes."""
    from generator.sql.lineage import lineage_meta
    from generator.testgen.unit_fixtures import unit_test_name

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
        deprecation_date=deprecation_date,
    )
    # The final bytes: dbt renders them later, outside any sandbox (generator.write.inert).
    inert.check_files((project.relative(file.path), file.content) for file in planned.files)
    return planned


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
                failures = outcome.failure_messages()
                raise BuildError(
                    f"dbt build --select {plan_.select} failed; everything written was rolled back",
                    [Problem(rule="build", message=failure) for failure in failures],
                )
            raise_if_interrupted()  # dbt may swallow Ctrl-C and finish the build
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


# -- fail fast: what no LLM call can repair is refused before (or instead of) the next one --

# What to do about a name a hand-written model holds, per command: only options it has.
NAME_HINTS = {
    "generate": "Choose another name with --name (gen-model never overwrites hand-written models).",
    "apply": "Change `name:` in the proposal file (gen-model never overwrites hand-written models).",
}


def refuse_taken_name(project: Project, name: str, hint: str, catalog: Catalog | None = None) -> None:
    """Raise WriteError if a model gen-model did not write is called `name`.

    Without a catalog the model paths are scanned for `<name>.sql` (gen-model only writes
    versioned files, `<name>_v<N>.sql`), so the check costs no dbt parse; with one, dbt's
    own view of the project decides (versioned hand-written models too).
    """
    if catalog is not None:
        taken = [
            r.original_file_path or "the project"
            for r in catalog.relations
            if r.resource_type == "model" and r.name == name and not r.generated
        ]
    else:
        taken = sorted(
            project.relative(path)
            for folder in project.model_paths
            if (project.project_dir / folder).is_dir()
            for path in (project.project_dir / folder).rglob(f"{name}.sql")
        )
    if not taken:
        return
    raise WriteError(
        f"a hand-written model named {name!r} already exists ({taken[0]})",
        [
            Problem(
                rule="write",
                message=f"model name {name!r} is taken by a model gen-model did not write",
                file=taken[0],
                identifier=name,
                suggestion=hint,
            )
        ],
    )


def _stop_if_unrepairable(problems: list[Problem], attempt: int) -> None:
    """End the repair loop when a problem is one no LLM answer can fix."""
    from generator.sql.context import UNREPAIRABLE

    stuck = [p for p in problems if p.details.get(UNREPAIRABLE)]
    if stuck:
        raise GateError(
            f"attempt {attempt} hit problem(s) no LLM repair can fix; stopped without further calls. "
            "Fix the project or the warehouse, then rerun",
            problems,
        )


def unbuilt_warnings(catalog: Catalog, catalog_slice) -> list[str]:
    """What `gen-model context` warns about: a missing warehouse, retrieved relations not built."""
    if catalog.database_path is not None and not catalog.database_path.exists():
        return [f"the warehouse {catalog.database_path} does not exist; run `dbt build` before `gen-model`"]
    unbuilt = [r for r in catalog_slice.relations if not r.exists]
    if not unbuilt:
        return []
    return [
        f"{len(unbuilt)} of {len(catalog_slice.relations)} relation(s) in this slice are not built in the "
        f"warehouse ({_names(unbuilt)}); a proposal cannot use them until `dbt build` runs"
    ]


def _names(relations: list, limit: int = 5) -> str:
    shown = ", ".join(r.display for r in relations[:limit])
    return shown + (f" and {len(relations) - limit} more" if len(relations) > limit else "")


def _refuse_unbuilt_slice(catalog: Catalog, catalog_slice, options: Options) -> None:
    """Refuse before the first LLM call when the warehouse cannot answer the request.

    No warehouse file, or none of the retrieved relations built: every proposal would fail
    the references gate, and no repair could change that. Some unbuilt: a warning.
    """
    if catalog.database_path is not None and not catalog.database_path.exists():
        raise ConfigError(
            f"the warehouse {catalog.database_path} does not exist; run `dbt build` first (no LLM call was made)"
        )
    relations = list(catalog_slice.relations)
    unbuilt = [r for r in relations if not r.exists]
    # Raw files in the slice can be answered by an enrich spec, which needs no relation.
    if relations and len(unbuilt) == len(relations) and not catalog_slice.raw_files:
        raise ConfigError(
            f"none of the {len(relations)} relation(s) retrieved for this request is built in the warehouse "
            f"({_names(unbuilt)}); run `dbt build` first (no LLM call was made)"
        )
    for warning in unbuilt_warnings(catalog, catalog_slice):
        options.progress.step(f"warning: {warning}")


def _require_package(project: Project, catalog: Catalog) -> None:
    """Generated YAML uses the package's tests: refuse before any LLM call or write."""
    if not catalog.has_package:
        from generator.write.package import missing_package_error

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
    lock_context: LockContext | None = None,
) -> RunReport:
    """Plan, then write and build unless this is a dry run; fill the report.

    A new version of an existing model is classified against the previous one (breaking or
    not, with reasons, recorded in its provenance); a breaking one deprecates the previous
    version. Every write records the version in gen_model.lock, in the same transaction.
    """
    from generator.write import lockfile

    lock_context = lock_context or LockContext()
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
        if not options.dry_run:
            _lock_unchanged(project, catalog, accepted, provenance, same, lock_context, report)
        return report
    change = None if lock_context.replay else _classify(project, catalog, accepted)
    if change is not None:
        provenance = {**provenance, "change": change.to_meta()}
        report.change = change.to_meta()
    date = None
    if change is not None and change.breaking:
        from generator.write.versions import deprecation_date

        date = deprecation_date(deprecation_days(options, project))
    plan_ = plan(project, catalog, accepted, provenance, deprecation_date=date)
    if date and plan_.previous_version is not None:
        report.deprecations = {plan_.previous_version: date}
    report.version, report.previous_version = plan_.version, plan_.previous_version
    report.files = plan_.relative_paths(project.project_dir)
    report.file_contents = {path: planned.content for path, planned in zip(report.files, plan_.files, strict=True)}
    if options.dry_run:
        report.status = "dry-run"
        return report
    lock = lockfile.load(project.project_dir)
    lockfile.refuse_unrecorded(lock, project.project_dir, proposal.name)
    lock.record(
        _lock_entry(project, accepted.proposal, provenance, plan_, lock_context, lockfile.inputs_of(accepted.ctx))
    )
    # The lockfile is written in the same transaction: a failed build rolls it back too.
    plan_ = replace(plan_, files=(*plan_.files, PlannedFile(lock.path, lock.dumps(), existed=lock.path.exists())))
    report.files.append(lockfile.LOCK_NAME)
    report.build = write_and_build(project, catalog, plan_, options)
    report.status = "written"
    return report


def deprecation_days(options: Options, project: Project) -> int:
    """--deprecation-days, else GEN_MODEL_DEPRECATION_DAYS, else .gen-model.yml, else 90."""
    if options.deprecation_days is not None:
        return options.deprecation_days
    from generator.llm.settings import resolve_settings

    return resolve_settings(project.project_dir).deprecation_days


def _classify(project: Project, catalog: Catalog, accepted: Accepted):
    """The change from the model's latest generated version to this proposal (None: new model)."""
    from generator.sql.lineage import lineage_meta
    from generator.write.versions import (
        NON_BREAKING,
        UNCHANGED,
        Change,
        Contract,
        classify,
        contract_of_relation,
    )

    previous = catalog.ref(accepted.proposal.name)
    if previous is None or not previous.generated or previous.version is None:
        return None
    sql_path = project.project_dir / (previous.original_file_path or "")
    old_sql = sql_path.read_text(encoding="utf-8") if sql_path.is_file() else None
    new = Contract(
        columns=tuple((c.name, c.data_type) for c in accepted.columns),
        grain=tuple(accepted.proposal.grain),
        lineage=lineage_meta(accepted.lineage),
        sql=accepted.sql,
        description_sha=accepted.proposal.sha256(),
    )
    change = classify(contract_of_relation(previous, old_sql), new, previous.version)
    if change.kind == UNCHANGED:
        change = Change(NON_BREAKING, ("no difference in SQL, columns, types or grain",), previous.version)
    return change


def _lock_entry(
    project: Project, proposal: Proposal, provenance: dict, plan_: WritePlan, context: LockContext, inputs: dict
):
    """What gen_model.lock records for one written version (SQL or enrich alike)."""
    from generator.write import lockfile

    return lockfile.LockEntry(
        model=plan_.model_name,
        version=plan_.version,
        layer=proposal.layer,
        requested=dict(context.requested),
        catalog_fingerprint=context.catalog_fingerprint,
        files={project.relative(f.path): lockfile.sha256_text(f.content) for f in plan_.files},
        inputs=inputs,
        catalog_slice=dict(context.catalog_slice),
        attempts=list(context.attempts),
        provenance=dict(provenance),
        proposal=proposal.to_dict(),
    )


def _lock_unchanged(
    project: Project,
    catalog: Catalog,
    accepted: Accepted,
    provenance: dict,
    version: int,
    context: LockContext,
    report: RunReport,
) -> None:
    """Record a version made before the lockfile existed, if its SQL is still as generated.

    A hand-edited SQL file is not recorded silently: that is what `gen-model adopt` is for.
    """
    from generator.write import lockfile

    lock = lockfile.load(project.project_dir)
    if lock.get(accepted.proposal.name, version) is not None:
        return
    relation = catalog.ref(accepted.proposal.name, version)
    sql_path = project.project_dir / (relation.original_file_path or "")
    yml_path = sql_path.parent / f"{accepted.proposal.name}.yml"
    if not sql_path.is_file() or sql_path.read_text(encoding="utf-8") != accepted.sql or not yml_path.is_file():
        report.notes.append(
            f"{project.relative(sql_path)} is not in {lockfile.LOCK_NAME} and differs from what this proposal "
            f"generates; run `gen-model adopt {accepted.proposal.name}` to record it as it is"
        )
        return
    written = dict((relation.meta or {}).get("gen_model") or provenance)
    written.pop("lineage", None)
    entry = lockfile.LockEntry(
        model=accepted.proposal.name,
        version=version,
        layer=accepted.proposal.layer,
        requested=dict(context.requested),
        catalog_fingerprint=context.catalog_fingerprint,
        files={project.relative(path): lockfile.file_sha256(path) for path in (sql_path, yml_path)},
        inputs=lockfile.inputs_of(accepted.ctx),
        catalog_slice=dict(context.catalog_slice),
        attempts=list(context.attempts),
        provenance=written,
        proposal=accepted.proposal.to_dict(),
    )
    lock.record(entry)
    lock.save()
    report.notes.append(f"recorded {accepted.proposal.name} v{version} in {lockfile.LOCK_NAME}")


def apply(project: Project, proposal_file: str | Path, options: Options) -> RunReport:
    """`gen-model apply`: a proposal from a file through the same gates and writer."""
    from generator.proposal import load_proposal

    started = time.monotonic()
    report = RunReport(command="apply")
    with _reporting(report, started), ProjectLock(project.project_dir):
        _recover(project, options)
        proposal = load_proposal(proposal_file)
        report.model, report.layer = proposal.name, proposal.layer
        refuse_taken_name(project, proposal.name, NAME_HINTS["apply"])
        with options.progress.waiting("reading the project (dbt parse + warehouse)"):
            catalog = build_catalog(project, progress=options.progress)
        _require_package(project, catalog)
        refuse_taken_name(project, proposal.name, NAME_HINTS["apply"], catalog)
        origin = {"origin": "proposal-file", "proposal_file": Path(proposal_file).name}
        if proposal.kind == "enrich":
            accepted_spec = _check_spec(catalog, proposal, report, options)
            if accepted_spec is None:
                raise GateError(f"{proposal.name} was rejected by the gates", report.gates.problems)
            _finish_spec(project, catalog, accepted_spec, provenance_for(proposal, origin), report, options)
            return report
        with open_sandbox(catalog, options.timeout_s) as sandbox:
            ctx = check(catalog, proposal, sandbox, options)
            report.gates = ctx.report
            if not ctx.report.passed:
                raise GateError(f"{proposal.name} was rejected by the gates", ctx.report.problems)
            accepted = accept(ctx, _search_unit_test_rows(options, report))
        finish(project, catalog, accepted, provenance_for(proposal, origin), report, options)
    return report


def _check_spec(catalog: Catalog, proposal: Proposal, report: RunReport, options: Options):
    """An enrich proposal's gates (generator.enrich.flow); the accepted spec, or None."""
    from generator.enrich.flow import check_spec_proposal

    report.gates, accepted = check_spec_proposal(catalog, proposal, options)
    return accepted


def _finish_spec(project, catalog, accepted, provenance, report, options, lock_context=None) -> None:
    """Write and build an accepted spec; its lock entry goes into the same transaction."""
    from generator.enrich.flow import finish_spec_proposal
    from generator.write import lockfile

    context = lock_context or LockContext()

    def lock_file(plan_) -> list[PlannedFile]:
        lock = lockfile.load(project.project_dir)
        lock.record(_lock_entry(project, accepted.proposal, provenance, plan_, context, inputs={}))
        return [PlannedFile(lock.path, lock.dumps(), existed=lock.path.exists())]

    finish_spec_proposal(project, catalog, accepted, provenance, report, options, extra_files=lock_file)


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
    llm_timeout: float | None = None  # seconds per LLM call (None: environment, config, default)
    llm_run_timeout: float | None = None  # seconds for all LLM calls of the run


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
    from generator.llm.prompt import build_prompt
    from generator.llm.retrieve import retrieve
    from generator.project.catalog_builder import profile_relations

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


def as_proposal(data: dict, request: Request, where: str) -> Proposal:
    """Validate the LLM's tool input; the user's --name/--layer and words are authoritative."""
    data = dict(data)
    if request.name:
        data["name"] = request.name
    if request.layer:
        data["layer"] = request.layer
    data["request"] = request.text
    return validate_proposal(data, file=where)


def generate(project: Project, request: Request, options: Options, provider=None) -> RunReport:
    """`gen-model "REQUEST"`: ask once, gate, repair with all problems at most N-1 times, write.

    gen_model.lock answers instead when it holds the same request (text, --name, --layer)
    and the catalog slice is unchanged, unless `options.refresh`: no LLM call, same files.
    """
    from generator.llm.providers import make_provider
    from generator.llm.settings import resolve_settings
    from generator.write import lockfile

    started = time.monotonic()
    report = RunReport(command="generate")
    with _reporting(report, started):
        # Everything that needs no dbt parse and no warehouse is checked first: a missing
        # key or model id, or a name taken by a hand-written model, costs milliseconds.
        settings = resolve_settings(
            project.project_dir,
            provider=request.provider,
            models=list(request.models) or None,
            max_attempts=request.max_attempts,
            llm_timeout=request.llm_timeout,
            llm_run_timeout=request.llm_run_timeout,
        )
        early_lock = None if options.refresh else lockfile.load(project.project_dir)
        replayable = early_lock is not None and early_lock.replay_candidate(request.text, request.name, request.layer)
        if provider is None and not replayable:
            # A replay needs no LLM (nor a key); anything else does, so say so now.
            provider = make_provider(settings.provider, settings)
            settings.model_for_attempt(1)  # no model id configured: the ConfigError says how
        if request.name:
            refuse_taken_name(project, request.name, NAME_HINTS["generate"])
        with ProjectLock(project.project_dir):
            _generate_locked(project, request, options, provider, settings, report)
    return report


def _generate_locked(project: Project, request: Request, options: Options, provider, settings, report) -> None:
    """The body of `generate` once the fast checks passed and the project lock is held."""
    from generator.llm.pricing import estimate_cost
    from generator.llm.prompt import repair_prompt
    from generator.llm.providers import make_provider
    from generator.write import lockfile

    _recover(project, options)
    with options.progress.waiting("reading the project (dbt parse + warehouse)"):
        catalog = build_catalog(project, progress=options.progress)
        _require_package(project, catalog)
        if request.name:  # a versioned hand-written model has no <name>.sql: dbt's view decides
            refuse_taken_name(project, request.name, NAME_HINTS["generate"], catalog)
        locked, profiled, catalog_slice, prompt = prompt_for_request(project, request, settings, catalog)
        catalog = _with_relations_of(catalog, profiled)
    if locked is not None and not options.refresh:
        if _try_replay(project, catalog, catalog_slice, locked, report, options) is not None:
            return
    _refuse_unbuilt_slice(catalog, catalog_slice, options)
    provider = provider or make_provider(settings.provider, settings)
    accepted = None
    current = prompt
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
                proposal = as_proposal(completion.proposal, request, None)
            except ProposalError as error:
                problems = list(error.problems)
            else:
                report.model, report.layer = proposal.name, proposal.layer
                # The user's --name was checked before the first call; a name the LLM
                # chose that a person's model holds ends the run as well (see NAME_HINTS).
                refuse_taken_name(project, proposal.name, NAME_HINTS["generate"], catalog)
                if proposal.kind == "enrich":
                    accepted = _check_spec(catalog, proposal, report, options)
                    problems = report.gates.problems
                else:
                    # The warehouse is opened for the gates only, never across an LLM wait:
                    # a `dbt build` of the same DuckDB file can run while the model thinks.
                    with open_sandbox(catalog, options.timeout_s) as sandbox:
                        ctx = check(catalog, proposal, sandbox, options)
                        report.gates = ctx.report
                        problems = ctx.report.problems
                        if ctx.report.passed:
                            accepted = accept(ctx, _search_unit_test_rows(options, report))
            record.outcome = "accepted" if accepted else "rejected"
            record.problems = len(problems)
        if accepted:
            break
        _stop_if_unrepairable(problems, attempt)
        options.progress.step(
            f"attempt {attempt}: {len(problems)} problem(s)"
            + ("; asking for a repair" if attempt < settings.max_attempts else "")
        )
        current = repair_prompt(prompt, completion.raw, problems)
    else:
        raise GateError(
            f"no proposal passed the gates in {settings.max_attempts} attempt(s); the last attempt's problems follow",
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
    lock_context = LockContext(
        requested=lockfile.requested_key(request.name, request.layer),
        catalog_fingerprint=lockfile.slice_fingerprint(catalog_slice.relations, accepted.proposal.name),
        catalog_slice=lockfile.slice_shape(catalog_slice.relations, accepted.proposal.name),
        attempts=[_attempt_for_lock(a) for a in report.attempts],
    )
    provenance = provenance_for(accepted.proposal, origin)
    if accepted.proposal.kind == "enrich":
        _finish_spec(project, catalog, accepted, provenance, report, options, lock_context)
    else:
        finish(project, catalog, accepted, provenance, report, options, lock_context)


def prompt_for_request(project: Project, request: Request, settings, catalog: Catalog):
    """What `generate` sends for `request`, and what `gen-model context` prints.

    Returns (the lock entry a rerun would replay or None, the profiled catalog, the slice,
    the prompt). The model being (re)generated is never its own input: its versions are
    left out of the prompt, which also keeps the slice a rerun sees equal to the one the
    first run saw, before the model existed (retrieval ranks against the whole catalog).
    """
    from generator.write import lockfile

    locked = lockfile.load(project.project_dir).replay_candidate(request.text, request.name, request.layer)
    own = request.name or (locked.model if locked else None)
    profiled, catalog_slice, prompt = prepare_prompt(project, request, settings, _without_model(catalog, own))
    return locked, profiled, catalog_slice, prompt


def _without_model(catalog: Catalog, name: str | None) -> Catalog:
    if not name:
        return catalog
    return replace(
        catalog, relations=tuple(r for r in catalog.relations if not (r.resource_type == "model" and r.name == name))
    )


def _with_relations_of(catalog: Catalog, profiled: Catalog) -> Catalog:
    """`catalog` with the profiled relations (row counts, samples) of a catalog built from it."""
    by_id = {relation.unique_id: relation for relation in profiled.relations}
    return replace(catalog, relations=tuple(by_id.get(r.unique_id, r) for r in catalog.relations))


def _attempt_for_lock(attempt: AttemptRecord) -> dict:
    data = {
        "model": attempt.model,
        "input_tokens": attempt.input_tokens,
        "output_tokens": attempt.output_tokens,
        "cost_usd": attempt.cost_usd,
        "outcome": attempt.outcome,
        "problems": attempt.problems,
    }
    return {key: value for key, value in data.items() if value is not None}


# -- replay: the locked answer for the same request and catalog ----------------------------


def _try_replay(project: Project, catalog: Catalog, catalog_slice, entry, report: RunReport, options):
    """Answer from gen_model.lock's `entry` for this request if the catalog slice is unchanged.

    Returns the finished report, or None when the LLM must be asked (with the reason in the
    report's notes and on the progress line): a changed catalog slice (named relation by
    relation, column by column), or a newer version made from another request.
    """
    from generator.write import lockfile

    lock = lockfile.load(project.project_dir)
    where = f"{lockfile.LOCK_NAME} ({entry.model} v{entry.version})"
    current = lockfile.slice_fingerprint(catalog_slice.relations, entry.model)
    if current != entry.catalog_fingerprint:
        changes = lockfile.slice_changes(entry, catalog_slice.relations, entry.model) or [
            "the catalog fingerprint differs"
        ]
        note = f"the catalog changed since {where}: " + "; ".join(changes) + "; asking the LLM"
        report.notes.append(note)
        options.progress.step(note)
        return None
    latest = catalog.ref(entry.model)
    latest_version = latest.version if latest is not None and latest.generated else None
    if latest_version is not None and latest_version > entry.version:
        note = f"{where} answered this request, but {entry.model} v{latest_version} is newer; asking the LLM"
        report.notes.append(note)
        options.progress.step(note)
        return None
    report.model, report.layer, report.version = entry.model, entry.layer, entry.version
    if latest_version == entry.version:
        return _replay_present(project, catalog, lock, entry, report)
    if (latest_version or 0) != entry.version - 1:
        have = f"has up to v{latest_version}" if latest_version else "has no version of it"
        note = f"{where} answered this request, but the project {have}: cannot restore it; asking the LLM"
        report.notes.append(note)
        options.progress.step(note)
        return None
    return _replay_restore(project, catalog, entry, report, options)


def _replay_present(project: Project, catalog: Catalog, lock, entry, report: RunReport) -> RunReport:
    """The locked version is in the project: nothing to write, hand edits left alone."""
    from generator.write import lockfile

    report.status = "replayed"
    report.files = list(entry.files)
    relation = catalog.ref(entry.model, entry.version)
    report.columns = [ContractColumn(c.name, c.data_type or "") for c in relation.columns] if relation else []
    report.notes.append(
        f"0 LLM calls: same request and catalog slice as {lockfile.LOCK_NAME} ({entry.model} v{entry.version})"
    )
    for path, (_, generated, adopted) in sorted(lock.expected_files(entry.model).items()):
        digest = lockfile.file_sha256(project.project_dir / path)
        if digest is None:
            report.notes.append(f"{path} is missing; restore it from git (gen-model verify will fail until then)")
        elif digest != generated:
            state = "adopted" if digest == adopted else "not adopted: gen-model verify fails until `gen-model adopt`"
            report.notes.append(f"{path} was edited by hand ({state}); left as it is")
    return report


def _replay_restore(project: Project, catalog: Catalog, entry, report: RunReport, options: Options) -> RunReport:
    """The locked version's files are gone: write them again from the locked proposal.

    The proposal goes through the gates again (the data may have changed), then the writer
    with the locked provenance, so the files come out as locked unless the data changed
    what the tests say (their reasons cite row counts); the summary says which.
    """
    from generator.write import lockfile

    where = f"{lockfile.LOCK_NAME} ({entry.model} v{entry.version})"
    proposal = validate_proposal(entry.proposal, file=where)
    stale = f"the proposal locked in {where} no longer passes the gates; run with --refresh to ask the LLM"
    context = LockContext(
        requested=dict(entry.requested),
        catalog_fingerprint=entry.catalog_fingerprint,
        catalog_slice=dict(entry.catalog_slice),
        attempts=list(entry.attempts),
        replay=True,
    )
    if proposal.kind == "enrich":
        accepted_spec = _check_spec(catalog, proposal, report, options)
        if accepted_spec is None:
            raise GateError(stale, report.gates.problems)
        _finish_spec(project, catalog, accepted_spec, dict(entry.provenance), report, options, context)
    else:
        with open_sandbox(catalog, options.timeout_s) as sandbox:
            ctx = check(catalog, proposal, sandbox, options)
            report.gates = ctx.report
            if not ctx.report.passed:
                raise GateError(stale, ctx.report.problems)
            accepted = accept(ctx, _search_unit_test_rows(options, report))
        finish(project, catalog, accepted, dict(entry.provenance), report, options, context)
    if options.dry_run:
        return report
    differing = [
        path for path, digest in entry.files.items() if lockfile.file_sha256(project.project_dir / path) != digest
    ]
    if differing:
        report.notes.append(
            f"rewrote {entry.model} v{entry.version} from {where} with 0 LLM calls, but "
            + ", ".join(differing)
            + " differ from the lock (the data changed what the derived tests say); the lock now has the new bytes"
        )
    else:
        report.status = "replayed"
        report.notes.append(
            f"0 LLM calls: restored {len(entry.files)} file(s) from {where}, byte-identical to the lock"
        )
    return report
