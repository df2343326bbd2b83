"""stg_fx__rates__checked: stg_fx__rates's input read once and checked: the good rows for
stg_fx__rates, the bad ones (file, row, record, reason) for stg_fx__rates__quarantine.

Compiled by gen-model (enrich compiler 1, runtime v1) from stg_fx__rates.enrich.yml, sha256
5fd942a61c123041. Do not edit: change the spec and recompile.

Input: fx/fx_rates.csv (csv) under the raw dir, the dbt var gen_model_raw_path (relative to the dbt
project). Bad rows: kept in stg_fx__rates__quarantine; the good rows load.
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
parse_date = rt.parse_date
parse_number = rt.parse_number


# The input fields the spec expects, by path, typed as read; each file is checked against them
# (drift) and conformed to them.
EXPECTED_FIELDS = {
    "rate_date": pl.String,  # varchar
    "currency_code": pl.String,  # varchar
    "units_per_usd": pl.String,  # varchar
}

# The output in order, as the model YAML declares it (DuckDB types in comments).
OUTPUT_SCHEMA = {
    "rate_date": pl.Date,  # date
    "currency_code": pl.String,  # varchar
    "units_per_usd": pl.Decimal(18, 6),  # decimal(18,6)
}


def cast_fields(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each column with `from`: its input field, cast; bad values become reasons."""
    casts = {
        "rate_date": parse_date(pl.col("rate_date"), ["%Y-%m-%d", "%d/%m/%Y", "%b %d %Y"]),
        "currency_code": pl.col("currency_code"),
        "units_per_usd": parse_number(pl.col("units_per_usd"), pl.Decimal(18, 6)),
    }
    # (column, input field, type): a value that was there but did not cast
    failures = [
        ("rate_date", "rate_date", "date"),
        ("units_per_usd", "units_per_usd", "decimal(18,6)"),
    ]
    return rt.cast_with_reasons(rows, casts, failures)


def derive(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Columns computed by the spec's expressions, in order; each sees those before."""
    return (
        rows
        # currency_code: upper(trim(currency_code))
        .with_columns(currency_code=pl.col("currency_code").str.strip_chars().str.to_uppercase())
    )


def check_rows(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The rows' remaining reasons to be rejected: null keys, nulls the spec forbids."""
    reasons = [
        pl.col("_error"),
        pl.when(pl.col("rate_date").is_null()).then(pl.lit("rate_date (key) is null")),
        pl.when(pl.col("currency_code").is_null()).then(pl.lit("currency_code (key) is null")),
        pl.when(pl.col("units_per_usd").is_null()).then(
            pl.lit("units_per_usd is null (not_null in the spec)")
        ),
    ]
    return rows.with_columns(_error=join_reasons(*reasons))


def filter_rows(rows: pl.DataFrame) -> pl.DataFrame:
    """Rows the spec keeps, after dedupe; a null condition drops the row."""
    return rows.filter(
        # units_per_usd > 0
        pl.col("units_per_usd") > 0,
    )


SPEC = rt.Spec(
    name="stg_fx__rates",
    input="fx/fx_rates.csv",
    format="csv",
    key=["rate_date", "currency_code"],
    expected_fields=EXPECTED_FIELDS,
    drift={"missing": "error", "new": "warn", "retyped": "error"},
    output_schema=OUTPUT_SCHEMA,
    columns=["rate_date", "currency_code", "units_per_usd"],
    cast_fields=cast_fields,
    check_rows=check_rows,
    quarantine="stg_fx__rates__quarantine",
    checked=True,
    derive=derive,
    filter_rows=filter_rows,
    dedupe={"keep": "first", "by": None},
    snake_case=True,
    csv={"encoding": "utf-8-sig", "delimiter": ";", "quote": '"', "header": True},
)


def model(dbt, session):
    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""
    raw_dir = rt.raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))
    return rt.stream(SPEC, raw_dir)
