"""stg_events__events: One row per product analytics event, from the monthly Parquet drops. Delivery
is at least once, so an event_id seen twice keeps its earliest received copy.

Compiled by gen-model (enrich compiler 1, runtime v1) from stg_events__events.enrich.yml, sha256
4255c61ae5713efe. Do not edit: change the spec and recompile.

Input: events/events-*.parquet (parquet) under the raw dir, the dbt var gen_model_raw_path (relative
to the dbt project). Bad rows: the build fails and nothing is loaded.
"""

import importlib.util
import sys
from pathlib import Path

import polars as pl

RUNTIME = "gen_model_runtime_v1"
# Where the runtime ships (the gen_model dbt package), relative to the dbt project dir that
# dbt runs from: the package itself, installed by dbt deps, or vendored by gen-model init.
RUNTIME_DIRS = ["python", "dbt_packages/gen_model/python", "vendor/gen_model/python"]


def load_runtime():
    """The gen-model runtime this model was compiled for, loaded once per process."""
    if RUNTIME in sys.modules:
        return sys.modules[RUNTIME]
    paths = [Path(folder, f"{RUNTIME}.py").resolve() for folder in RUNTIME_DIRS]
    path = next((path for path in paths if path.is_file()), None)
    if path is None:
        raise RuntimeError(
            f"gen-model runtime v1 not found at {', '.join(map(str, paths))}; "
            "run gen-model init / dbt deps"
        )
    spec = importlib.util.spec_from_file_location(RUNTIME, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    # Shared once complete: dbt runs models in threads, which may load it at the same time.
    return sys.modules.setdefault(RUNTIME, module)


rt = load_runtime()

# The runtime's helpers this spec's casts and checks use.
join_reasons = rt.join_reasons


# The input fields the spec expects, by path, typed as read; each file is checked against them
# (drift) and conformed to them.
EXPECTED_FIELDS = {
    "event_id": pl.String,  # varchar
    "account_id": pl.String,  # varchar
    "user_id": pl.String,  # varchar
    "event_name": pl.String,  # varchar
    "occurred_at": pl.Datetime("us", "UTC"),  # timestamp with time zone
    "received_at": pl.Datetime("us", "UTC"),  # timestamp with time zone
    "properties.feature": pl.String,  # varchar
    "properties.path": pl.String,  # varchar
    "properties.duration_ms": pl.Int64,  # bigint
    "context.locale": pl.String,  # varchar
    "context.user_agent": pl.String,  # varchar
    "context.ip_country": pl.String,  # varchar
}

# The output in order, as the model YAML declares it (DuckDB types in comments).
OUTPUT_SCHEMA = {
    "event_id": pl.String,  # varchar
    "account_id": pl.String,  # varchar
    "user_id": pl.String,  # varchar
    "event_name": pl.String,  # varchar
    "occurred_at": pl.Datetime("us", "UTC"),  # timestamp with time zone
    "received_at": pl.Datetime("us", "UTC"),  # timestamp with time zone
    "feature": pl.String,  # varchar
    "page_path": pl.String,  # varchar
    "duration_ms": pl.Int64,  # bigint
    "locale": pl.String,  # varchar
    "user_agent": pl.String,  # varchar
    "ip_country": pl.String,  # varchar
}


def cast_fields(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each column with `from`: its input field, cast; bad values become reasons."""
    casts = {
        "event_id": pl.col("event_id"),
        "account_id": pl.col("account_id"),
        "user_id": pl.col("user_id"),
        "event_name": pl.col("event_name"),
        "occurred_at": pl.col("occurred_at"),
        "received_at": pl.col("received_at"),
        "feature": pl.col("properties.feature"),
        "page_path": pl.col("properties.path"),
        "duration_ms": pl.col("properties.duration_ms"),
        "locale": pl.col("context.locale"),
        "user_agent": pl.col("context.user_agent"),
        "ip_country": pl.col("context.ip_country"),
    }
    return rt.cast_with_reasons(rows, casts, [])


def check_rows(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The rows' remaining reasons to be rejected: null keys, nulls the spec forbids."""
    reasons = [
        pl.col("_error"),
        pl.when(pl.col("event_id").is_null()).then(pl.lit("event_id (key) is null")),
        pl.when(pl.col("account_id").is_null()).then(
            pl.lit("account_id is null (not_null in the spec)")
        ),
    ]
    return rows.with_columns(_error=join_reasons(*reasons))


SPEC = rt.Spec(
    name="stg_events__events",
    input="events/events-*.parquet",
    format="parquet",
    key=["event_id"],
    expected_fields=EXPECTED_FIELDS,
    drift={"missing": "error", "new": "warn", "retyped": "error"},
    output_schema=OUTPUT_SCHEMA,
    columns=[
        "event_id",
        "account_id",
        "user_id",
        "event_name",
        "occurred_at",
        "received_at",
        "feature",
        "page_path",
        "duration_ms",
        "locale",
        "user_agent",
        "ip_country",
    ],
    cast_fields=cast_fields,
    check_rows=check_rows,
    quarantine="stg_events__events__quarantine",
    dedupe={"keep": "earliest", "by": "received_at"},
)


def model(dbt, session):
    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""
    raw_dir = rt.raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))
    return rt.stream(SPEC, raw_dir)
