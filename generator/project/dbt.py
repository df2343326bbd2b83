"""dbt, in-process: parse and build through `dbtRunner`, never the CLI.

A CLI start costs seconds on small machines; in-process with partial parse (or a manifest
passed in) costs well under one. Three things make in-process dbt safe to use here:
  * dbt runs from the project directory, so relative paths (a DuckDB `path:`) resolve
    exactly as when a person runs `dbt build` there;
  * usage tracking is switched off before dbt is imported;
  * dbt-duckdb keeps its database open after `invoke` returns, and DuckDB refuses a second
    handle on the same file, so every invocation ends by releasing it (`release_duckdb`).
"""

from __future__ import annotations

import contextlib
import gc
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.errors import ConfigError
from generator.project import Project

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DBT_VERSION_CHECK", "false")

_QUIET = ["--log-level", "none", "--no-use-colors"]


@dataclass
class DbtMessages:
    """What dbt said during one invocation, kept for error reports."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def __call__(self, event: Any) -> None:
        level = getattr(event.info, "level", "")
        text = getattr(event.info, "msg", "")
        if not text:
            return
        if level == "error":
            self.errors.append(text)
        elif level == "warn":
            self.warnings.append(text)


@dataclass(frozen=True)
class NodeResult:
    """One node's outcome in a dbt build."""

    unique_id: str
    name: str
    resource_type: str
    status: str  # success | pass | fail | error | warn | skipped
    message: str | None
    failures: int | None
    rows_affected: int | None
    execution_time: float


@dataclass(frozen=True)
class DbtOutcome:
    """The result of a dbt invocation, in plain data."""

    success: bool
    nodes: tuple[NodeResult, ...]
    errors: tuple[str, ...]
    warnings: tuple[str, ...]
    result: Any = None

    @property
    def failed(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status in ("fail", "error", "skipped")]

    def failure_messages(self) -> list[str]:
        """One line per failed node (with its failing rows or error), else dbt's own errors."""
        return [
            f"{node.name}: {node.status}"
            + (f" ({node.failures} failing rows)" if node.failures else "")
            + (f" — {node.message}" if node.message and node.status == "error" else "")
            for node in self.failed
        ] or list(self.errors)


@contextlib.contextmanager
def in_directory(directory: Path):
    """Run a block from `directory`, as a person running dbt there would."""
    previous = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)


def release_duckdb() -> None:
    """Close dbt-duckdb's process-wide database handle so the file can be opened again."""
    import sys

    # Not imported yet (the catalog came from cache): nothing is open, and importing the
    # adapter only to find that out costs over a second.
    connections = sys.modules.get("dbt.adapters.duckdb.connections")
    if connections is None:
        return
    DuckDBConnectionManager = connections.DuckDBConnectionManager  # noqa: N806 - dbt's class
    with DuckDBConnectionManager._LOCK:
        environment = DuckDBConnectionManager._ENV
        if environment is not None:
            with contextlib.suppress(Exception):
                environment.close()
            DuckDBConnectionManager._ENV = None


def invoke(
    project: Project, args: list[str], manifest: Any = None, listeners: tuple[Callable[[Any], None], ...] = ()
) -> DbtOutcome:
    """Run one dbt command in-process for `project`; never raises for dbt failures.

    `listeners` receive every dbt event as it happens (progress output, for example).
    """
    from dbt.cli.main import dbtRunner

    messages = DbtMessages()
    runner = dbtRunner(manifest=manifest, callbacks=[messages, *listeners])
    command, rest = args[0], args[1:]
    full_args = [command, *project.dbt_args(), *_QUIET, *rest]
    global _ADAPTER_PROJECT
    # dbt allocates a great many objects as it parses and builds, and each full garbage
    # collection then scans everything this process held before too (gen-model's and
    # sqlglot's modules, the catalog, the gates' trees): frozen for the invocation, those
    # are left out (0.35 s of a cold apply's 4.3). Unfrozen after, so a long-lived process
    # (a test run, a notebook) frees them as before.
    gc.freeze()
    with in_directory(project.project_dir):
        try:
            outcome = runner.invoke(full_args)
        finally:
            gc.unfreeze()
            # dbt's process-wide adapter now holds this project's profile and target.
            _ADAPTER_PROJECT = _identity(project)
            release_duckdb()
    nodes = []
    result = outcome.result
    for item in getattr(result, "results", None) or ():
        node = item.node
        nodes.append(
            NodeResult(
                unique_id=node.unique_id,
                name=node.name,
                resource_type=str(node.resource_type),
                status=str(item.status),
                message=item.message,
                failures=item.failures,
                rows_affected=(item.adapter_response or {}).get("rows_affected"),
                execution_time=float(item.execution_time or 0.0),
            )
        )
    errors = list(messages.errors)
    if outcome.exception is not None and str(outcome.exception) not in errors:
        errors.append(str(outcome.exception))
    return DbtOutcome(
        success=bool(outcome.success),
        nodes=tuple(nodes),
        errors=tuple(errors),
        warnings=tuple(messages.warnings),
        result=result,
    )


def parse(project: Project, cached: bool = True) -> Any:
    """Parse the project (partial parse where possible) and return dbt's Manifest.

    `--no-write-json`: the Manifest object is all gen-model reads, and writing
    target/manifest.json costs half a second here (35 MB at a thousand models). The
    partial-parse state is still saved, and any dbt command people run writes the file.

    With `cached`, an unchanged project (the catalog cache's key) reuses the Manifest
    stored by the last parse (dbt's own msgpack form: data, never code), and no adapter is
    loaded: `adapter_loaded(project)` says whether one is.
    """
    from generator.project import catalog_cache

    key = catalog_cache.cache_key(project) if cached else None
    if key is not None:
        manifest = catalog_cache.load_manifest(project, key)
        if manifest is not None:
            return manifest
    outcome = invoke(project, ["parse", "--no-write-json"])
    if not outcome.success or outcome.result is None:
        detail = "\n".join(outcome.errors) or "dbt parse failed"
        raise ConfigError(f"dbt could not parse the project at {project.project_dir}:\n{detail}")
    if key is not None:
        catalog_cache.save_manifest(project, key, outcome.result)
    return outcome.result


def read_manifest(project: Project) -> Any:
    """What `gen-model verify`/`review`/`adopt` read of the manifest: `nodes` and `unit_tests`.

    On an unchanged project (the catalog cache's key) that is the facts the last such read
    stored (`catalog_cache.ManifestFacts`, plain JSON): dbt is not even imported, which is
    most of what these commands cost. Otherwise `parse(project)`'s Manifest, whose facts are
    stored for next time. The whole Manifest is not stored (dbt's msgpack of it costs a
    changed project's verify a tenth of its time): these commands never read it.
    """
    from generator.project import catalog_cache

    key = catalog_cache.cache_key(project)
    facts = catalog_cache.load_facts(project, key)
    if facts is not None:
        return facts
    manifest = parse(project, cached=False)
    catalog_cache.save_facts(project, key, manifest)
    return manifest


# Which project (directory, profiles, target) the last invocation loaded dbt's adapter for.
_ADAPTER_PROJECT: tuple | None = None


def _identity(project: Project) -> tuple:
    return (str(project.project_dir), str(project.profiles_dir), project.target)


def adapter_loaded(project: Project) -> bool:
    """True if dbt's process-wide adapter is `project`'s (the last invocation was for it)."""
    import sys

    factory = sys.modules.get("dbt.adapters.factory")
    loaded = factory is not None and bool(factory.FACTORY.adapters)
    return loaded and _ADAPTER_PROJECT == _identity(project)


def build(project: Project, select: list[str], manifest: Any = None, extra: list[str] = ()) -> DbtOutcome:
    """`dbt build --select ...` in-process.

    Without a `manifest`, the project is parsed first (partial parse, `--no-write-json`) and
    the build runs on that Manifest: dbt's build would parse the same way but also write
    manifest.json, which its run writes again when it ends; once is enough. A project that
    does not parse is a failed outcome carrying dbt's parse errors, as a build's would be.
    """
    if manifest is None:
        parsed = invoke(project, ["parse", "--no-write-json"])
        if not parsed.success or parsed.result is None:
            return parsed
        manifest = parsed.result
    return invoke(project, ["build", "--select", *select, *extra], manifest=manifest)


def compile_node(project: Project, selector: str, unique_id: str, manifest: Any = None) -> str:
    """dbt's compiled SQL of one node (`dbt compile --select selector`, in-process).

    For a model whose Jinja (macros, loops, var()) only dbt can render. Raises ConfigError
    with dbt's messages if it does not compile.
    """
    # --no-write-json: the compiled node is read from the result, manifest.json stays as it is.
    outcome = invoke(project, ["compile", "--select", selector, "--no-write-json"], manifest=manifest)
    results = getattr(outcome.result, "results", None) or ()
    compiled = next((item.node for item in results if item.node.unique_id == unique_id), None)
    code = getattr(compiled, "compiled_code", None)
    if not outcome.success or not code:
        detail = "\n".join(outcome.errors) or f"dbt compile did not compile {unique_id}"
        raise ConfigError(f"dbt could not compile {selector}:\n{detail}")
    return code
