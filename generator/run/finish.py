"""The one way an accepted proposal reaches the project: plan -> write -> dbt build -> lock.

SQL and enrich proposals take the same path. What differs (which files, which dbt
selectors, what a failed build leaves in the warehouse, what the lockfile records) comes
from the accepted object, which implements `Finishable`: `run.accept.Accepted` for SQL,
`run.spec.AcceptedSpec` for an enrichment spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Protocol

import duckdb

from generator import __version__
from generator.errors import BuildError, Problem
from generator.project import Project, dbt
from generator.project.catalog import Catalog, Relation
from generator.proposal import Proposal
from generator.run.options import LockContext, Options
from generator.run.report import RunReport
from generator.write.transaction import FileTransaction, interrupts_as_exceptions, raise_if_interrupted
from generator.write.versions import Change, Contract
from generator.write.writer import ContractColumn, PlannedFile, WritePlan


class Finishable(Protocol):
    """What `finish` needs from an accepted proposal of any kind."""

    proposal: Proposal
    columns: list[ContractColumn]
    # Whether a breaking change puts a deprecation date on the superseded version.
    deprecates: bool
    # The change recorded when the contract, compared as `classify` does, is unchanged.
    same_contract: str

    def fill_report(self, report: RunReport) -> None:
        """Rows, tests and notes: what the gates learned, for the report."""

    def allowances(self) -> list[str]:
        """The --allow-* flags this proposal needed to pass (recorded, so a replay needs none)."""

    def owns(self, relation: Relation) -> bool:
        """Whether `relation` is a version gen-model wrote from a proposal of this kind."""

    def contract(self) -> Contract:
        """What consumers of the new version will rely on."""

    def previous_contract(self, project: Project, relation: Relation) -> Contract:
        """What consumers of `relation`, the latest version, rely on."""

    def plan(self, project: Project, catalog: Catalog, provenance: dict, deprecation_date: str | None) -> WritePlan:
        """The files, checked for live Jinja (generator.write.inert); nothing written yet."""

    def build_target(self, plan: WritePlan) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The dbt selectors to build, and the warehouse relations a failed build may leave."""

    def lock_inputs(self) -> dict:
        """The lock entry's `inputs`: per relation read, the columns used."""

    def record_unchanged(
        self, project: Project, catalog: Catalog, provenance: dict, version: int, context: LockContext
    ) -> str | None:
        """Record an unchanged version missing from the lockfile; the note for the report."""


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


def deprecation_days(options: Options, project: Project) -> int:
    """--deprecation-days, else GEN_MODEL_DEPRECATION_DAYS, else .gen-model.yml, else 90."""
    if options.deprecation_days is not None:
        return options.deprecation_days
    from generator.llm.settings import resolve_settings

    return resolve_settings(project.project_dir).deprecation_days


def unchanged_version(catalog: Catalog, accepted: Finishable) -> int | None:
    """The latest version if it was made from this very proposal and its contract still holds."""
    latest = catalog.ref(accepted.proposal.name)
    if latest is None or not accepted.owns(latest):
        return None
    if (latest.meta.get("gen_model") or {}).get("proposal_sha256") != accepted.proposal.sha256():
        return None
    built = [(c.name, c.data_type) for c in latest.columns]
    wanted = [(c.name, c.data_type) for c in accepted.columns]
    return latest.version if built == wanted else None


def classify_change(project: Project, catalog: Catalog, accepted: Finishable) -> Change | None:
    """The change from the model's latest generated version to this proposal (None: new model)."""
    from generator.dialects import get_dialect
    from generator.write.versions import NON_BREAKING, UNCHANGED, classify

    previous = catalog.ref(accepted.proposal.name)
    if previous is None or not accepted.owns(previous) or previous.version is None:
        return None
    change = classify(
        accepted.previous_contract(project, previous),
        accepted.contract(),
        previous.version,
        dialect=get_dialect(catalog.adapter_type).sqlglot,  # both versions are in the target's SQL
    )
    if change.kind == UNCHANGED:
        change = Change(NON_BREAKING, (accepted.same_contract,), previous.version)
    return change


def finish(
    project: Project,
    catalog: Catalog,
    accepted: Finishable,
    provenance: dict,
    report: RunReport,
    options: Options,
    lock_context: LockContext | None = None,
    build: Callable[[Project, list[str]], dbt.DbtOutcome] | None = None,
) -> RunReport:
    """Plan, then write and build unless this is a dry run; fill the report.

    `build` runs the dbt build: a warm worker's (`dbt_worker.running`), else `dbt.build`.

    A new version of an existing model is classified against the previous one (breaking or
    not, with reasons, recorded in its provenance); a breaking one deprecates the previous
    version where the kind supports it. Every write records the version in gen_model.lock,
    in the same transaction.
    """
    from generator.write import lockfile

    lock_context = lock_context or LockContext()
    proposal = accepted.proposal
    report.model, report.layer = proposal.name, proposal.layer
    report.columns = accepted.columns
    accepted.fill_report(report)
    same = unchanged_version(catalog, accepted)
    if same is not None:
        report.status = "unchanged"
        report.version = same
        report.notes.append(f"{proposal.name} v{same} was made from this proposal already; nothing to write")
        if not options.dry_run:
            note = accepted.record_unchanged(project, catalog, provenance, same, lock_context)
            report.notes.extend([note] if note else [])
        return report
    allowed = accepted.allowances()
    if allowed:
        provenance = {**provenance, "allowed": allowed}
    change = None if lock_context.replay else classify_change(project, catalog, accepted)
    if change is not None:
        provenance = {**provenance, "change": change.to_meta()}
        report.change = change.to_meta()
    date = None
    if change is not None and change.breaking and accepted.deprecates:
        from generator.write.versions import deprecation_date

        date = deprecation_date(deprecation_days(options, project))
    plan_ = accepted.plan(project, catalog, provenance, date)
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
    lock.record(lock_entry(project, proposal, provenance, plan_, lock_context, accepted.lock_inputs()))
    # The lockfile is written in the same transaction: a failed build rolls it back too.
    plan_ = replace(plan_, files=(*plan_.files, PlannedFile(lock.path, lock.dumps(), existed=lock.path.exists())))
    report.files.append(lockfile.LOCK_NAME)
    selects, relations = accepted.build_target(plan_)
    report.build = write_and_build(project, catalog, plan_, options, selects, relations, build)
    report.status = "written"
    if options.also_on:
        report.notes.append(
            f"also on {options.also_on}: ported with a row proof in the same transaction "
            f"(gen_model.lock ports.{lockfile.port_key(plan_.model_name, plan_.version)}.{options.also_on}; "
            "dbt_project.yml picks the file per engine)"
        )
    return report


def lock_entry(
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


def drop_relations(catalog: Catalog, relations: tuple[str, ...]) -> None:
    """Remove what a failed build left in the warehouse for the new version."""
    if catalog.database_path is None or not catalog.database_path.exists():
        return
    dbt.release_duckdb()
    try:
        connection = duckdb.connect(str(catalog.database_path))
    except duckdb.Error:
        return
    try:
        for relation in relations:
            rows = connection.execute(
                "select schema_name, 'table' from duckdb_tables() where table_name = ? "
                "union all select schema_name, 'view' from duckdb_views() where view_name = ? and not internal",
                [relation, relation],
            ).fetchall()
            for schema, kind in rows:
                try:
                    connection.execute(f'drop {kind} if exists "{schema}"."{relation}"')
                except duckdb.Error:
                    pass
    finally:
        connection.close()


def write_and_build(
    project: Project,
    catalog: Catalog,
    plan_: WritePlan,
    options: Options,
    selects: tuple[str, ...],
    relations: tuple[str, ...],
    build: Callable[[Project, list[str]], dbt.DbtOutcome] | None = None,
) -> dict:
    """Write the plan atomically, build `selects` with dbt (`build`, else `dbt.build`), roll
    back (files and `relations`) if it fails."""
    label = f"dbt build --select {' '.join(selects)}"
    transaction = FileTransaction(project.project_dir)
    with interrupts_as_exceptions():
        try:
            for planned in plan_.files:
                transaction.write(planned.path, planned.content)
            with options.progress.waiting(label):
                outcome = (build or dbt.build)(project, list(selects))
            if not outcome.success or not outcome.nodes:
                # A build that selected nothing built nothing: the new version would not exist.
                failures = outcome.failure_messages() or (["dbt selected nothing to build"] if outcome.success else [])
                raise BuildError(
                    f"{label} failed; everything written was rolled back",
                    [Problem(rule="build", message=failure) for failure in failures],
                )
            raise_if_interrupted()  # dbt may swallow Ctrl-C and finish the build
            if options.also_on:  # refused: raises, and everything above rolls back with it
                from generator.port.also_on import port_into

                with options.progress.waiting(f"porting {plan_.model_name} to {options.also_on} (row proof)"):
                    port_into(project, plan_.model_name, options.also_on, transaction)
                raise_if_interrupted()
        except BaseException:
            transaction.rollback()
            drop_relations(catalog, relations)
            raise
        transaction.commit()
    return {
        "selector": " ".join(selects),
        "passed": sum(1 for node in outcome.nodes if node.status in ("success", "pass")),
        "failed": len(outcome.failed),
        "nodes": [{"name": node.name, "status": node.status} for node in outcome.nodes],
    }


__all__ = [
    "Finishable",
    "classify_change",
    "deprecation_days",
    "drop_relations",
    "finish",
    "lock_entry",
    "provenance_for",
    "unchanged_version",
    "write_and_build",
]
