"""Replay: gen_model.lock answers a request it holds, for the same catalog slice, with no LLM call."""

from __future__ import annotations

from dataclasses import replace

from generator.errors import GateError
from generator.project import Project
from generator.project.catalog import Catalog
from generator.proposal import validate_proposal
from generator.run.accept import accept_proposal
from generator.run.finish import finish
from generator.run.options import LockContext, Options
from generator.run.report import RunReport
from generator.write.writer import ContractColumn


def try_replay(project: Project, catalog: Catalog, catalog_slice, entry, report: RunReport, options):
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
    # What the locked version was allowed (--allow-*), it is allowed again: a replay repeats
    # the accepted run, whatever flags this one has.
    allowed = set(entry.provenance.get("allowed") or ())
    options = replace(
        options,
        allow_nondeterministic=options.allow_nondeterministic or "nondeterministic" in allowed,
        allow_observed_grain=options.allow_observed_grain or "observed_grain" in allowed,
    )
    accepted = accept_proposal(catalog, proposal, report, options)
    if accepted is None:
        raise GateError(stale, report.gates.problems)
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


__all__ = ["try_replay"]
