"""stg_firmographics__companies: One row per company web domain from the enrichment vendor's dump:
the latest record for each normalised domain (lowercased, no 'www.'), with size, revenue and
headquarters.

Compiled by gen-model (enrich compiler 1, runtime v1) from stg_firmographics__companies.enrich.yml,
sha256 f4582c2b0ec13f51. Do not edit: change the spec and recompile.

Input: firmographics/companies.json (json) under the raw dir, the dbt var gen_model_raw_path
(relative to the dbt project). Bad rows: the build fails and nothing is loaded.
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


# The input fields the spec expects, by path, typed as read; each file is checked against them
# (drift) and conformed to them.
EXPECTED_FIELDS = {
    "domain": pl.String,  # varchar
    "company_name": pl.String,  # varchar
    "industry": pl.String,  # varchar
    "metrics.employees": pl.Int64,  # bigint
    "metrics.employees_range": pl.String,  # varchar
    "metrics.annual_revenue_usd": pl.Int64,  # bigint
    "hq.city": pl.String,  # varchar
    "hq.country": pl.String,  # varchar
    "founded_year": pl.Int64,  # bigint
    "tags": pl.List(pl.String),  # varchar[]
    "updated_at": pl.String,  # varchar
}

# The output in order, as the model YAML declares it (DuckDB types in comments).
OUTPUT_SCHEMA = {
    "domain": pl.String,  # varchar
    "company_name": pl.String,  # varchar
    "industry": pl.String,  # varchar
    "employee_count": pl.Int32,  # integer
    "employees_range": pl.String,  # varchar
    "annual_revenue_usd": pl.Decimal(18, 2),  # decimal(18,2)
    "hq_city": pl.String,  # varchar
    "hq_country": pl.String,  # varchar
    "founded_year": pl.Int32,  # integer
    "tags": pl.List(pl.String),  # varchar[]
    "updated_at": pl.Date,  # date
}


def cast_fields(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each column with `from`: its input field, cast; bad values become reasons."""
    casts = {
        "domain": pl.col("domain"),
        "company_name": pl.col("company_name"),
        "industry": pl.col("industry"),
        "employee_count": pl.col("metrics.employees").cast(pl.Int32, strict=False),
        "employees_range": pl.col("metrics.employees_range"),
        "annual_revenue_usd": pl.col("metrics.annual_revenue_usd").cast(
            pl.Decimal(18, 2), strict=False
        ),
        "hq_city": pl.col("hq.city"),
        "hq_country": pl.col("hq.country"),
        "founded_year": pl.col("founded_year").cast(pl.Int32, strict=False),
        "tags": pl.col("tags"),
        "updated_at": parse_date(pl.col("updated_at"), ["%Y-%m-%d"]),
    }
    # (column, input field, type): a value that was there but did not cast
    failures = [
        ("employee_count", "metrics.employees", "integer"),
        ("annual_revenue_usd", "metrics.annual_revenue_usd", "decimal(18,2)"),
        ("founded_year", "founded_year", "integer"),
        ("updated_at", "updated_at", "date"),
    ]
    return rt.cast_with_reasons(rows, casts, failures)


def derive(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Columns computed by the spec's expressions, in order; each sees those before."""
    return (
        rows
        # domain: domain(domain)
        .with_columns(domain=normalise_domain(pl.col("domain")))
    )


def check_rows(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The rows' remaining reasons to be rejected: null keys, nulls the spec forbids."""
    reasons = [
        pl.col("_error"),
        pl.when(pl.col("domain").is_null()).then(pl.lit("domain (key) is null")),
        pl.when(pl.col("updated_at").is_null()).then(
            pl.lit("updated_at is null (not_null in the spec)")
        ),
    ]
    return rows.with_columns(_error=join_reasons(*reasons))


def normalise_domain(domain: pl.Expr) -> pl.Expr:
    """A web domain as accounts and emails share it: no scheme, 'www.', path or port."""
    cleaned = (
        domain.str.strip_chars()
        .str.to_lowercase()
        .str.replace(r"^[a-z][a-z0-9+.-]*://", "")
        .str.replace(r"^www\.", "")
        .str.replace(r"[/?#:].*$", "")
        .str.strip_chars_end(".")
    )
    return pl.when(cleaned != "").then(cleaned)


SPEC = rt.Spec(
    name="stg_firmographics__companies",
    input="firmographics/companies.json",
    format="json",
    key=["domain"],
    expected_fields=EXPECTED_FIELDS,
    drift={"missing": "error", "new": "warn", "retyped": "error"},
    output_schema=OUTPUT_SCHEMA,
    columns=[
        "domain",
        "company_name",
        "industry",
        "employee_count",
        "employees_range",
        "annual_revenue_usd",
        "hq_city",
        "hq_country",
        "founded_year",
        "tags",
        "updated_at",
    ],
    cast_fields=cast_fields,
    check_rows=check_rows,
    quarantine="stg_firmographics__companies__quarantine",
    derive=derive,
    dedupe={"keep": "latest", "by": "updated_at"},
    record_path=["data"],
)


def model(dbt, session):
    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""
    raw_dir = rt.raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))
    return rt.stream(SPEC, raw_dir)
