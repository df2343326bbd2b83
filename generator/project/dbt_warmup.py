"""dbt's first-use costs for the build that ends `apply`, paid in a thread while DuckDB works.

This is the in-process path, for a run that imported dbt already (its catalog was parsed,
not read from the cache). A run that never imported dbt builds in a dbt worker process
(`dbt_worker`), which calls `warm_schemas` itself once its parse is done.

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
of a generated model validates.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass

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


__all__ = ["DBT_LOADED", "VALIDATED_BY_NEW_FILES", "Warmup", "start", "warm_schemas"]
