"""`gen-model "REQUEST"`: catalog -> retrieval -> one LLM call -> gates -> bounded repairs -> finish.

The accepted proposal, SQL or enrich, takes the same path as `apply`'s (`run.finish`);
gen_model.lock answers a request it holds for an unchanged catalog slice (`run.replay`).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace

from generator.errors import GateError, Problem, ProposalError
from generator.project import Project, dbt_warmup, dbt_worker
from generator.project.catalog import Catalog
from generator.project.catalog_builder import build_catalog
from generator.proposal import Proposal, validate_proposal
from generator.run.guards import (
    NAME_HINTS,
    recover,
    refuse_taken_name,
    refuse_unbuilt_slice,
    reporting,
    require_package,
    stop_if_unrepairable,
)
from generator.run.options import LockContext, Options, Request
from generator.run.report import AttemptRecord, RunReport
from generator.write.transaction import ProjectLock


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
    from generator.dialects import get_dialect
    from generator.llm.prompt import build_prompt
    from generator.llm.retrieve import retrieve
    from generator.project import profile_cache
    from generator.project.catalog_builder import profile_relations

    catalog = catalog or build_catalog(project)
    first = retrieve(catalog, request.text, settings.budget_tokens)
    profiles = profile_cache.cache_file(project)
    profiled = profile_relations(catalog, [r.unique_id for r in first.relations], profiles)
    catalog_slice = retrieve(profiled, request.text, settings.budget_tokens)
    prompt = build_prompt(
        catalog_slice,
        request.text,
        name=request.name,
        layer=request.layer,
        style_example=_style_example(project, catalog, request.layer),
        dialect=get_dialect(catalog.adapter_type),
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
    with reporting(report, started):
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
        # `workers`: a dbt worker started in the run ends with it, however it ends.
        with ProjectLock(project.project_dir), contextlib.ExitStack() as workers:
            _generate_locked(project, request, options, provider, settings, report, workers)
    return report


def _generate_locked(
    project: Project, request: Request, options: Options, provider, settings, report, workers: contextlib.ExitStack
) -> None:
    """The body of `generate` once the fast checks passed and the project lock is held;
    a dbt worker it starts is entered on `workers`."""
    # The gates, the writer and dbt's build are imported here, not with the module:
    # `gen-model context` reuses prompt_for_request and needs none of them.
    from generator.llm.pricing import estimate_cost
    from generator.llm.prompt import repair_prompt
    from generator.llm.providers import make_provider
    from generator.run.accept import accept_proposal
    from generator.run.finish import finish, provenance_for
    from generator.run.replay import try_replay
    from generator.write import lockfile

    recover(project, options)
    with options.progress.waiting("reading the project (dbt parse + warehouse)"):
        catalog = build_catalog(project, progress=options.progress)
        require_package(project, catalog)
        if request.name:  # a versioned hand-written model has no <name>.sql: dbt's view decides
            refuse_taken_name(project, request.name, NAME_HINTS["generate"], catalog)
        locked, profiled, catalog_slice, prompt = prompt_for_request(project, request, settings, catalog)
        catalog = _with_relations_of(catalog, profiled)
    if locked is not None and not options.refresh:
        if try_replay(project, catalog, catalog_slice, locked, report, options) is not None:
            return
    refuse_unbuilt_slice(catalog, catalog_slice, options)
    provider = provider or make_provider(settings.provider, settings)
    # dbt's import, parse and first-use work for the build that ends the run, done while the
    # LLM thinks and the gates wait on DuckDB: in a worker process if dbt is not imported
    # here (catalog from cache, generator.project.dbt_worker), else in a thread
    # (generator.project.dbt_warmup). A dry run builds nothing.
    build = workers.enter_context(dbt_worker.running(project, enabled=not options.dry_run))
    warmup = dbt_warmup.start() if not options.dry_run else dbt_warmup.Warmup()
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
                accepted = accept_proposal(catalog, proposal, report, options)
                problems = report.gates.problems
            record.outcome = "accepted" if accepted else "rejected"
            record.problems = len(problems)
        if accepted:
            break
        stop_if_unrepairable(problems, attempt)
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
    warmup.wait()
    lock_context = LockContext(
        requested=lockfile.requested_key(request.name, request.layer),
        catalog_fingerprint=lockfile.slice_fingerprint(catalog_slice.relations, accepted.proposal.name),
        catalog_slice=lockfile.slice_shape(catalog_slice.relations, accepted.proposal.name),
        attempts=[_attempt_for_lock(a) for a in report.attempts],
    )
    finish(project, catalog, accepted, provenance_for(accepted.proposal, origin), report, options, lock_context, build)


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


__all__ = ["as_proposal", "generate", "prepare_prompt", "prompt_for_request"]
