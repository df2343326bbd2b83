"""stg_crm__contacts__checked: stg_crm__contacts's input read once and checked: the good rows for
stg_crm__contacts, the bad ones (file, row, record, reason) for stg_crm__contacts__quarantine.

Compiled by gen-model (enrich compiler 1, runtime v1) from stg_crm__contacts.enrich.yml, sha256
02ed6b58f72ef1c7. Do not edit: change the spec and recompile.

Input: crm/contacts.ndjson (ndjson) under the raw dir, the dbt var gen_model_raw_path (relative to
the dbt project). Bad rows: kept in stg_crm__contacts__quarantine; the good rows load.
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
parse_timestamp = rt.parse_timestamp


# ISO 8601 timestamps; naive ones are read in the column's time_zone.
ISO_8601 = [
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
]

# The input fields the spec expects, by path, typed as read; each file is checked against them
# (drift) and conformed to them.
EXPECTED_FIELDS = {
    "id": pl.String,  # varchar
    "properties.email": pl.String,  # varchar
    "properties.firstname": pl.String,  # varchar
    "properties.lastname": pl.String,  # varchar
    "properties.company": pl.String,  # varchar
    "properties.jobtitle": pl.String,  # varchar
    "properties.lifecyclestage": pl.String,  # varchar
    "properties.hubspot_owner_id": pl.String,  # varchar
    "properties.phone": pl.String,  # varchar
    "properties.createdate": pl.String,  # varchar
    "properties.lastmodifieddate": pl.String,  # varchar
    "createdAt": pl.String,  # varchar
    "updatedAt": pl.String,  # varchar
    "archived": pl.Boolean,  # boolean
}

# The output in order, as the model YAML declares it (DuckDB types in comments).
OUTPUT_SCHEMA = {
    "contact_id": pl.String,  # varchar
    "email": pl.String,  # varchar
    "email_domain": pl.String,  # varchar
    "first_name": pl.String,  # varchar
    "last_name": pl.String,  # varchar
    "company_name": pl.String,  # varchar
    "job_title": pl.String,  # varchar
    "lifecycle_stage": pl.String,  # varchar
    "owner_id": pl.String,  # varchar
    "phone": pl.String,  # varchar
    "created_at": pl.Datetime("us", "UTC"),  # timestamp with time zone
    "updated_at": pl.Datetime("us", "UTC"),  # timestamp with time zone
    "is_archived": pl.Boolean,  # boolean
    "account_id": pl.String,  # varchar
}


def cast_fields(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Each column with `from`: its input field, cast; bad values become reasons."""
    casts = {
        "contact_id": pl.col("id"),
        "email": pl.col("properties.email"),
        "first_name": pl.col("properties.firstname"),
        "last_name": pl.col("properties.lastname"),
        "company_name": pl.col("properties.company"),
        "job_title": pl.col("properties.jobtitle"),
        "lifecycle_stage": pl.col("properties.lifecyclestage"),
        "owner_id": pl.col("properties.hubspot_owner_id"),
        "phone": pl.col("properties.phone"),
        "created_at": parse_timestamp(pl.col("createdAt"), ISO_8601, "UTC"),
        "updated_at": parse_timestamp(pl.col("updatedAt"), ISO_8601, "UTC"),
        "is_archived": pl.col("archived"),
    }
    # (column, input field, type): a value that was there but did not cast
    failures = [
        ("created_at", "createdAt", "timestamp with time zone"),
        ("updated_at", "updatedAt", "timestamp with time zone"),
    ]
    return rt.cast_with_reasons(rows, casts, failures)


def derive(rows: pl.LazyFrame) -> pl.LazyFrame:
    """Columns computed by the spec's expressions, in order; each sees those before."""
    return (
        rows
        # email: nullif(lower(trim(email)), '')
        .with_columns(
            email=pl.when(pl.col("email").str.strip_chars().str.to_lowercase() != "").then(
                pl.col("email").str.strip_chars().str.to_lowercase()
            )
        )
        # email_domain: email_domain(email)
        .with_columns(email_domain=email_domain(pl.col("email")))
    )


def check_rows(rows: pl.LazyFrame) -> pl.LazyFrame:
    """The rows' remaining reasons to be rejected: null keys, nulls the spec forbids."""
    reasons = [
        pl.col("_error"),
        pl.when(pl.col("contact_id").is_null()).then(pl.lit("contact_id (key) is null")),
        pl.when(pl.col("updated_at").is_null()).then(
            pl.lit("updated_at is null (not_null in the spec)")
        ),
        pl.when(pl.col("is_archived").is_null()).then(
            pl.lit("is_archived is null (not_null in the spec)")
        ),
    ]
    return rows.with_columns(_error=join_reasons(*reasons))


def lookup_candidates(lookup: pl.DataFrame) -> pl.DataFrame:
    """account_id from stg_app__accounts, by domain(domain), one row per key value.

    A key that several rows share matches none of them (on_ambiguous: null).
    """
    candidates = lookup.select(
        _lookup_key=normalise_domain(pl.col("domain")).cast(pl.String),
        account_id=pl.col("account_id").cast(pl.String),
    )
    candidates = candidates.filter(pl.col("_lookup_key").is_not_null()).unique()
    return candidates.filter(pl.len().over("_lookup_key") == 1)


def attach_lookup(rows: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:
    """account_id of the candidate where email_domain = domain(domain); row order kept."""
    keyed = rows.with_columns(_lookup_key=pl.col("email_domain"))
    joined = keyed.join(candidates, on="_lookup_key", how="left", maintain_order="left")
    return joined.drop("_lookup_key")


def email_domain(email: pl.Expr) -> pl.Expr:
    """The part of an email address after its last '@', trimmed and lowercased."""
    return email.str.extract(r"@([^@]+)$", 1).str.strip_chars().str.to_lowercase()


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
    name="stg_crm__contacts",
    input="crm/contacts.ndjson",
    format="ndjson",
    key=["contact_id"],
    expected_fields=EXPECTED_FIELDS,
    drift={"missing": "error", "new": "warn", "retyped": "error"},
    output_schema=OUTPUT_SCHEMA,
    columns=[
        "contact_id",
        "email",
        "email_domain",
        "first_name",
        "last_name",
        "company_name",
        "job_title",
        "lifecycle_stage",
        "owner_id",
        "phone",
        "created_at",
        "updated_at",
        "is_archived",
    ],
    cast_fields=cast_fields,
    check_rows=check_rows,
    quarantine="stg_crm__contacts__quarantine",
    checked=True,
    derive=derive,
    lookup_candidates=lookup_candidates,
    attach_lookup=attach_lookup,
    dedupe={"keep": "latest", "by": "updated_at"},
)


def model(dbt, session):
    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""
    raw_dir = rt.raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))
    lookup = dbt.ref("stg_app__accounts").pl()
    return rt.stream(SPEC, raw_dir, lookup)
