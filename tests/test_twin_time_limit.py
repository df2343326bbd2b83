"""The Spark twin's run of the model over sampled inputs has the dry run's time limit.

`gen-model mutate` on Spark runs the model once on the engine over the samples of its large
inputs (generator.testgen.twin). That run goes through `rows_on_engine`, under the engine's
deadline like every dry-run query: past the limit it is a one-line refusal that names the
model's file (mutate turns it into its exit 2). Here the engine is a DuckDB connection with
the same interface (`spark.sql(...).collect()` and `deadline`), interrupted as Spark cancels
its jobs: no JVM needed.
"""

from __future__ import annotations

import contextlib
import threading
import time

import duckdb
import pytest
import yaml

from generator.project.catalog import Catalog
from generator.project.sandbox import SandboxQueryError, SandboxTimeout
from generator.testgen.twin import Refused, rows_on_engine
from tests.test_gate_fixtures import FIXTURES, context

SLOW = "select count(*) from range(1000000000000) as t(a) where a % 7 = 3"


class DuckDBEngine:
    """SparkDryRun's `spark` and `deadline` on a DuckDB connection."""

    def __init__(self, timeout_s: float):
        self.connection = duckdb.connect()
        self.timeout_s = timeout_s
        self.spark = self
        self.limits: list[float] = []

    def sql(self, text: str):
        connection = self.connection

        class Frame:
            def collect(self):
                return connection.execute(text).fetchall()

        return Frame()

    @contextlib.contextmanager
    def deadline(self, sql: str, timeout_s: float | None = None):
        limit = self.timeout_s if timeout_s is None else float(timeout_s)
        self.limits.append(limit)
        fired = threading.Event()

        def fire() -> None:
            fired.set()
            self.connection.interrupt()

        timer = threading.Timer(limit, fire)
        timer.start()
        try:
            yield
        except Exception as error:
            if fired.is_set():
                raise SandboxTimeout(limit, sql) from None
            raise SandboxQueryError(str(error), str(error), sql) from None
        finally:
            timer.cancel()


def engine_context(engine: DuckDBEngine):
    catalog = Catalog.from_dict(yaml.safe_load((FIXTURES / "catalog.yml").read_text()))
    return context("select 1 as x\n", catalog, sandbox=engine, timeout_s=engine.timeout_s)


def test_a_run_past_the_limit_is_refused_in_one_located_line():
    engine = DuckDBEngine(timeout_s=0.2)
    started = time.monotonic()
    with pytest.raises(Refused) as refused:
        rows_on_engine(engine_context(engine), SLOW, "the model's run over the sampled inputs")
    assert time.monotonic() - started < 10, "interrupted at the limit, not run to the end"
    assert str(refused.value) == (
        "the model's run over the sampled inputs on DuckDB ran past 0.2 s, the dry run's time limit per query "
        "(fixture.sql)"
    )
    assert engine.limits == [0.2]  # the dry run's limit when the caller names none


def test_the_callers_limit_wins_and_a_fast_run_returns_its_rows():
    engine = DuckDBEngine(timeout_s=60)
    ctx = engine_context(engine)
    assert rows_on_engine(ctx, "select 1, 'a' union all select 2, 'b' order by 1", "a run", 5) == [(1, "a"), (2, "b")]
    with pytest.raises(Refused, match=r"^a run on DuckDB ran past 0\.1 s"):
        rows_on_engine(ctx, SLOW, "a run", 0.1)
    assert engine.limits == [5, 0.1]


def test_a_failing_run_is_refused_in_one_line():
    engine = DuckDBEngine(timeout_s=5)
    with pytest.raises(Refused) as refused:
        rows_on_engine(engine_context(engine), "select * from no_such_table", "a run")
    message = str(refused.value)
    assert message.startswith("a run failed on DuckDB: Catalog Error") and "\n" not in message, message
