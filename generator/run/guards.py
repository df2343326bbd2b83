"""Fail fast: what no LLM call can repair is refused before (or instead of) the next one.

Also what every command does around its run: recover an interrupted write, and attach the
report to any error so `--json` can print what happened before it.
"""

from __future__ import annotations

import contextlib
import time

from generator.errors import ConfigError, GateError, GenModelError, Problem, WriteError
from generator.project import Project
from generator.project.catalog import Catalog
from generator.run.options import Options
from generator.run.report import RunReport
from generator.write.transaction import FileTransaction

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
        from generator.enrich.compiler import compiled_by_gen_model

        # An enrichment spec compiles `<name>.sql` (a select from `<name>__checked`): ours.
        taken = sorted(
            project.relative(path)
            for folder in project.model_paths
            if (project.project_dir / folder).is_dir()
            for path in (project.project_dir / folder).rglob(f"{name}.sql")
            if not compiled_by_gen_model(path)
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


def stop_if_unrepairable(problems: list[Problem], attempt: int) -> None:
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


def refuse_unbuilt_slice(catalog: Catalog, catalog_slice, options: Options) -> None:
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


def require_package(project: Project, catalog: Catalog) -> None:
    """Generated YAML uses the package's tests: refuse before any LLM call or write.

    A project with dbt_utils' grain test needs no gen_model (generator.project.dbt_utils):
    the rare test dbt_utils lacks is refused when the files are planned.
    """
    if not catalog.has_package and "unique_combination_of_columns" not in catalog.dbt_utils_tests:
        from generator.write.package import missing_package_error

        raise missing_package_error(project)


def recover(project: Project, options: Options) -> None:
    """Finish what an interrupted run left: its journal restores the files it had changed."""
    restored = FileTransaction(project.project_dir).recover()
    if restored:
        options.progress.step("recovered from an interrupted run: restored " + ", ".join(sorted(restored)))


@contextlib.contextmanager
def reporting(report: RunReport, started: float):
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


__all__ = [
    "NAME_HINTS",
    "recover",
    "refuse_taken_name",
    "refuse_unbuilt_slice",
    "reporting",
    "require_package",
    "stop_if_unrepairable",
    "unbuilt_warnings",
]
