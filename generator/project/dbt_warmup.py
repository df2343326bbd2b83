"""dbt's first-use costs for the build that ends `apply`, paid before the build needs them.

Two callers. The in-process path, for a run that imported dbt already (its catalog was
parsed, not read from the cache): `start()` builds dbt's JSON schemas in a thread while
DuckDB works. And the dbt worker process (`dbt_worker`) of a run that never imported dbt:
once its parse is done it calls `warm_schemas`, then runs `build_steps` while it waits for
the build (it has nothing else to do then; no thread, so imports are safe there).

The build parses the files just written (partial parse), and dbt validates every new node
(the model, its config and contract, its tests, its unit test) against a JSON schema that
it builds from its dataclasses the first time a process validates one of that class: about
0.3 s of pure Python on the sample project, more than parsing the two files. The schemas
depend on nothing but the installed dbt, so they can be built before the files exist.

Between the catalog and the build, gen-model mostly waits on DuckDB (the gates' dry run, the
hollow-test check, the unit test's row search: hundreds of small queries), and DuckDB
releases the GIL while it runs a query. `start()` builds the schemas in a daemon thread
then; `Warmup.wait()` joins it before the build, so dbt never runs beside it.

Only what dbt does anyway is done, through its public classmethod
`dbtClassMixin.json_schema()` (cached per class by dbt itself): the schemas are the same
objects dbt would build, and what it validates is unchanged. A failure here (a class a dbt
release renamed or moved, say) is recorded in `Warmup.error` and otherwise ignored: the
parse builds the schema itself, as it always did, and reports its own errors. The test
`tests/test_dbt_warmup.py` fails loudly when the list below no longer covers what a parse
of a generated model validates, or `build_macros` what its build runs.
"""

from __future__ import annotations

import copy
import dataclasses
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

# What a partial parse of a generated model's files validates that the parse which read the
# project before did not: (module, class), in the order the parse meets them.
VALIDATED_BY_NEW_FILES = (
    ("dbt.artifacts.resources.v1.model", "ModelConfig"),
    ("dbt.contracts.graph.nodes", "ModelNode"),
    ("dbt.artifacts.resources.v1.components", "Contract"),
    ("dbt.contracts.graph.unparsed", "UnparsedModelUpdate"),
    ("dbt.artifacts.resources.v1.config", "TestConfig"),
    ("dbt.contracts.graph.nodes", "GenericTestNode"),
    ("dbt.contracts.graph.unparsed", "UnparsedUnitTest"),
    ("dbt.artifacts.resources.v1.unit_test_definition", "UnitTestConfig"),
)
# Loaded once dbt has parsed a project in this process. The warm-up imports nothing: two
# threads importing at once can fail on a cycle between modules (the import system's
# deadlock check raises in one of them), and that one could be the main thread.
DBT_LOADED = "dbt.parser.manifest"


def warm_schemas() -> int:
    """Build (dbt caches them) the JSON schemas of `VALIDATED_BY_NEW_FILES` whose module is
    loaded already; how many. Raises what building raises: the caller decides what matters."""
    warmed = 0
    for module, name in VALIDATED_BY_NEW_FILES:
        loaded = sys.modules.get(module)
        if loaded is not None:
            getattr(loaded, name).json_schema()
            warmed += 1
    return warmed


# Materializations a build of a generated model may run (its own, its data tests', its unit
# test's): their macros and every macro they call are compiled first (see build_steps).
MATERIALIZATIONS = ("table", "view", "incremental", "test", "unit")
# Macros dbt's Python code calls by name while it parses and builds new files (each node's
# database, schema and alias; the adapter's relation cache and column lookups; a unit
# test's fixtures): no macro's `depends_on` leads to them. The project's own override of
# one comes first, as dbt resolves it.
CALLED_BY_NAME = (
    "generate_database_name",
    "generate_schema_name",
    "generate_alias_name",
    "list_schemas",
    "create_schema",
    "list_relations_without_caching",
    "get_columns_in_relation",
    "drop_relation",
    "rename_relation",
    "get_fixture_sql",
    "validate_fixture_rows",
    "sql_convert_columns_in_relation",
)


def build_steps(manifest: Any) -> Iterator[Callable[[], object]]:
    """The build's first-use work, as small steps, for a process that parsed the unchanged
    project into `manifest` and will next build new files (the dbt worker, while it waits).

    A process's first `dbt build` compiles every macro it runs into a Jinja template (dbt
    caches them per process, keyed by the macro's text), generates mashumaro's code that
    writes manifest.json and the partial-parse state for each class it meets, and has
    networkx compile its decorators: about 0.3 s on the sample project, a third of the
    build, none of it depending on the new files. Each step is one piece of that, done
    through the calls dbt makes itself, on objects nothing else reads: the templates are
    the ones dbt would compile (same cache, same key), and the code generated is the same
    for any instance of a class, so a manifest holding one node of each kind stands in for
    the whole one (whose serialisation would cost seconds on a large project). Steps come
    most useful first: the graph, the artifacts' classes, then the macros a build of a
    model with tests and a unit test runs, then every other macro of dbt, the adapter and
    the project. A step raises what its call raises: the caller skips it."""
    yield _warm_graph
    yield lambda: _warm_artifacts(manifest)
    from dbt_common.clients.jinja import template_cache

    for macro in macros_by_priority(manifest):
        yield lambda macro=macro: template_cache.get_node_template(macro)


def _warm_graph() -> None:
    """networkx's dispatching decorators compile each function on its first call."""
    import networkx as nx

    graph = nx.DiGraph([(0, 1), (1, 2)])
    nx.traversal.bfs_tree(graph, 2, reverse=True)
    list(nx.bfs_edges(graph, 0, depth_limit=1))
    list(nx.bfs_edges(graph, 2, reverse=True, depth_limit=1))
    nx.descendants(graph, 0)
    list(nx.connected_components(nx.Graph(graph)))
    nx.subgraph_view(graph, filter_node=lambda node: True)
    list(nx.topological_sort(graph))
    try:
        nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        pass


def _one_of_each(mapping: dict) -> dict:
    """One entry per class of value (of the first item, for lists)."""
    kept: dict = {}
    for key, value in mapping.items():
        kind = type(value[0]) if isinstance(value, list) and value else type(value)
        kept.setdefault(kind, (key, value))
    return dict(kept.values())


def _warm_artifacts(manifest: Any) -> None:
    """What writing manifest.json and the partial-parse state generates, on a manifest with
    one item of each kind (dbt's own serialisers; nothing is written)."""
    from dbt.parser.manifest import extended_mashumaro_encoder

    sampled = {
        field.name: _one_of_each(getattr(manifest, field.name))
        for field in dataclasses.fields(manifest)
        if field.init and isinstance(getattr(manifest, field.name), dict)
    }
    # (writable_manifest() fills the metadata in: a copy's, not the parsed manifest's.)
    small = dataclasses.replace(manifest, metadata=copy.copy(manifest.metadata), **sampled)
    small.writable_manifest().to_dict(omit_none=False, context={"artifact": True})
    small.to_msgpack(extended_mashumaro_encoder)


def build_macros(manifest: Any) -> list[Any]:
    """The macros a build of a model with data tests and a unit test runs, as far as the
    manifest tells: the MATERIALIZATIONS for the project's adapter, the macros
    `CALLED_BY_NAME`, the macros the project's models and tests call, and every macro those
    call (`depends_on`), in the order they are found."""
    macros = manifest.macros
    metadata = manifest.metadata
    roots: list[str] = []
    for name in MATERIALIZATIONS:
        macro = manifest.find_materialization_macro_by_name(metadata.project_name, name, metadata.adapter_type)
        if macro is not None:
            roots.append(macro.unique_id)
    for name in CALLED_BY_NAME:
        macro = manifest.find_macro_by_name(name, metadata.project_name, None)
        if macro is not None:
            roots.append(macro.unique_id)
    for node in manifest.nodes.values():
        roots.extend(getattr(getattr(node, "depends_on", None), "macros", None) or ())
    found: dict[str, None] = {}
    queue = list(roots)
    while queue:
        unique_id = queue.pop(0)
        if unique_id in found or unique_id not in macros:
            continue
        found[unique_id] = None
        queue.extend(macros[unique_id].depends_on.macros)
    return [macros[unique_id] for unique_id in found]


def macros_by_priority(manifest: Any) -> list[Any]:
    """Every macro of the manifest: `build_macros` first, then the others in its order."""
    first = build_macros(manifest)
    chosen = {macro.unique_id for macro in first}
    return first + [macro for unique_id, macro in manifest.macros.items() if unique_id not in chosen]


@dataclass
class Warmup:
    """A background warm-up; `wait()` before dbt runs again in this process."""

    thread: threading.Thread | None = None
    error: BaseException | None = None
    warmed: int = 0

    def wait(self) -> None:
        """Join the thread (never raises: a failed warm-up only costs the time it saved)."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None


def start(work=warm_schemas) -> Warmup:
    """Run `work` in a daemon thread if dbt is loaded in this process; else do nothing.

    Daemon: a run that stops early (rejected by the gates, interrupted) does not wait for it.
    """
    warmup = Warmup()
    if DBT_LOADED not in sys.modules:
        return warmup

    def run() -> None:
        try:
            warmup.warmed = work()
        except Exception as error:  # noqa: BLE001 - any failure leaves dbt to do the work itself
            warmup.error = error

    warmup.thread = threading.Thread(target=run, name="gen-model-dbt-warmup", daemon=True)
    warmup.thread.start()
    return warmup


__all__ = [
    "CALLED_BY_NAME",
    "DBT_LOADED",
    "MATERIALIZATIONS",
    "VALIDATED_BY_NEW_FILES",
    "Warmup",
    "build_macros",
    "build_steps",
    "macros_by_priority",
    "start",
    "warm_schemas",
]
