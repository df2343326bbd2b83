"""Run one compiled enrichment model the way dbt-duckdb runs it, in a process of its own.

The spec flow's `execute` gate cannot run Python in the DuckDB sandbox, so it runs the
compiled model here, in a child process it can time out and kill:

    python -m generator.enrich.runner REQUEST.json

REQUEST names the compiled Python model, the raw dir, the warehouse to read lookups from
(attached read-only) and the key; under `on_error: quarantine` the Python model is
`<name>__checked` and REQUEST carries the SQL of the model and its quarantine, which select
from it. The model loads the versioned runtime from the dbt project dir (this process's
working directory) exactly as under dbt. Its `model(dbt, session)` gets a stand-in for
dbt's `dbt` object (its `config.meta_get` and `ref`) and an in-memory DuckDB session, and
its result is materialised as dbt-duckdb's `materialize` does it (`register`, then
`create table ... as select *`). One JSON line on stdout says what came
out: DuckDB's column types, the row count, key statistics, the quarantined rows, warnings
and the peak memory. Exit status 0: it ran; 3: the model rejected its input (EnrichError,
message in "error"); anything else is a crash (traceback on stderr).
"""

from __future__ import annotations

import importlib.util
import json
import resource
import sys
import time
from pathlib import Path


def _load(path: str, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Config:
    def __init__(self, meta: dict):
        self._meta = meta

    def meta_get(self, key, default=None):
        return self._meta.get(key, default)

    def get(self, key, default=None):
        return default


class _Dbt:
    """What a compiled enrichment model uses of dbt's `dbt` object."""

    def __init__(self, session, raw_dir: str, relations: dict[str, str]):
        self.config = _Config({"gen_model_raw_path": raw_dir})
        self._session = session
        self._relations = relations

    def ref(self, name: str, v=None, version=None):
        wanted = v if v is not None else version
        key = name if wanted is None else f"{name}@{wanted}"
        if key not in self._relations:
            raise LookupError(f"ref({key!r}) is not available to this run")
        return self._session.sql(f"select * from {self._relations[key]}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class _Watched:
    """An Arrow stream that remembers the exception its producer raised: DuckDB reports it
    only as text inside its own error."""

    def __init__(self, reader):
        self.raised: BaseException | None = None
        self.reader = self._wrap(reader)

    def _wrap(self, reader):
        import pyarrow as pa

        def batches():
            try:
                yield from reader
            except BaseException as error:
                self.raised = error
                raise

        return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _materialise(session, result, table: str) -> None:
    """dbt-duckdb's `materialize(df, con)`: register the result, create a table from it.

    An exception the model raised while DuckDB read its stream is raised again as itself.
    """
    import duckdb
    import pyarrow as pa

    if isinstance(result, duckdb.DuckDBPyRelation):
        result.create(table)
        return
    watched = _Watched(result) if isinstance(result, pa.RecordBatchReader) else None
    session.register("__result", watched.reader if watched else result)
    try:
        session.execute(f"create table {_quote(table)} as select * from __result")
    except duckdb.Error:
        if watched is not None and watched.raised is not None:
            raise watched.raised from None
        raise
    finally:
        session.unregister("__result")


def run(request: dict) -> dict:
    import duckdb

    warnings: list[str] = []
    session = duckdb.connect(":memory:")
    if request.get("warehouse"):
        path = request["warehouse"].replace("'", "''")
        session.execute(f"attach '{path}' as {_quote(request['database'])} (read_only)")
    dbt = _Dbt(session, request["raw_dir"], request.get("relations", {}))
    module = _load(request["model"], "enrich_model")
    runtime = module.rt  # the runtime the model loaded, as it loads it under dbt
    runtime.warn = warnings.append
    checked = request.get("quarantine_sql") is not None
    started = time.perf_counter()
    try:
        _materialise(session, module.model(dbt, session), "checked" if checked else "model")
    except runtime.EnrichError as error:
        return {"error": str(error), "warnings": warnings}
    if checked:
        # The model and its quarantine: the SQL dbt runs, reading `checked`.
        session.execute(f"create table model as {request['model_sql']}")
        session.execute(f"create table quarantine as {request['quarantine_sql']}")
    elapsed = time.perf_counter() - started
    columns = session.execute(
        "select column_name, lower(data_type) from duckdb_columns() "
        "where database_name = 'memory' and table_name = 'model' order by column_index"
    ).fetchall()
    key = ", ".join(_quote(column) for column in request["key"])
    any_null = " or ".join(f"{_quote(column)} is null" for column in request["key"])
    rows, null_keys = session.execute(f"select count(*), count(*) filter (where {any_null}) from model").fetchone()
    duplicated = session.execute(
        f"select count(*), coalesce(sum(n), 0) from "
        f"(select count(*) as n from model group by {key} having count(*) > 1)"
    ).fetchone()
    examples = session.execute(
        f"select {key} from model group by {key} having count(*) > 1 order by {key} limit 3"
    ).fetchall()
    result = {
        "columns": columns,
        "rows": rows,
        "null_keys": null_keys,
        "duplicate_keys": duplicated[0],
        "duplicate_rows": int(duplicated[1]),
        "duplicate_examples": [list(map(str, row)) for row in examples],
        "seconds": elapsed,
        "warnings": warnings,
    }
    if checked:
        result["quarantined"] = session.execute("select count(*) from quarantine").fetchone()[0]
        result["quarantine_examples"] = session.execute(
            "select source_file, source_row, error from quarantine order by source_file, source_row limit 5"
        ).fetchall()
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    request = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    outcome = run(request)
    print(json.dumps(outcome, default=str))
    return 3 if "error" in outcome else 0


if __name__ == "__main__":
    sys.exit(main())
