"""stg_events__events: One row per product analytics event, from the monthly Parquet drops. Delivery
is at least once, so an event_id seen twice keeps its earliest received copy.

Compiled by gen-model (enrich compiler 1) from stg_events__events.enrich.yml, sha256
4255c61ae5713efe. Do not edit: change the spec and recompile.

Input: events/events-*.parquet (parquet) under the raw dir, the dbt var gen_model_raw_path (relative
to the dbt project). Bad rows: the build fails and nothing is loaded.
"""

from pathlib import Path

import polars as pl

NAME = "stg_events__events"
INPUT = "events/events-*.parquet"
KEY = ["event_id"]

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
DRIFT = {"missing": "error", "new": "warn", "retyped": "error"}

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
COLUMNS = [
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
]


class EnrichError(Exception):
    """Input that must not load; the message names the file, the row and the reason."""


def warn(message: str) -> None:
    """A warning in dbt's log (`dbt build` shows it), or a Python warning outside dbt."""
    try:
        from dbt.context.exceptions_jinja import warn as dbt_warn
    except ImportError:
        import warnings

        warnings.warn(message, stacklevel=2)
    else:
        dbt_warn(message)


def raw_dir_from(setting: str | None) -> Path:
    """The raw dir from the dbt var gen_model_raw_path; dbt runs from the project dir."""
    if not setting or "{" in setting:
        raise EnrichError(
            f"the raw dir setting is {setting!r}: set the dbt var gen_model_raw_path "
            "(or the GEN_MODEL_RAW_PATH environment variable) to a plain path"
        )
    return Path(setting).expanduser()


def input_files(raw_dir: Path) -> list[Path]:
    """The files INPUT names under the raw dir, in a stable order."""
    files = sorted(path for path in raw_dir.glob(INPUT) if path.is_file())
    if not files:
        raise EnrichError(f"no file matches {INPUT!r} under the raw dir {raw_dir.resolve()}")
    return files


def rejected_rows(file_id: int, rows: list[tuple[int, str, str]]) -> pl.DataFrame:
    """Records that could not be read at all: (row, raw text, reason)."""
    frame = pl.DataFrame(
        rows,
        schema={"_row": pl.Int64, "_record": pl.String, "_error": pl.String},
        orient="row",
    )
    return frame.select(pl.lit(file_id, pl.UInt32).alias("_file"), pl.all())


def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, pl.DataFrame, dict]:
    """Parquet: typed columns, scanned lazily; rows are numbered from 1 in each file."""
    records = pl.scan_parquet(path).with_row_index("_row", offset=1)
    records = records.with_columns(pl.col("_row").cast(pl.Int64), _file=pl.lit(file_id, pl.UInt32))
    return records, rejected_rows(file_id, []), leaf_fields(records.collect_schema())


def leaf_fields(schema: dict, prefix: str = "") -> dict[str, pl.DataType]:
    """A nested schema as dotted leaf paths ('properties.email'); lists stay whole."""
    leaves = {}
    for field, dtype in schema.items():
        if isinstance(dtype, pl.Struct) and dtype.fields:
            nested = {inner.name: inner.dtype for inner in dtype.fields}
            leaves.update(leaf_fields(nested, f"{prefix}{field}."))
        elif field not in ("_file", "_row"):
            leaves[f"{prefix}{field}"] = dtype
    return leaves


def compatible(actual: pl.DataType, expected: pl.DataType) -> bool:
    """Whether values of `actual` fit `expected` (JSON numbers widen, all-null fits)."""
    if actual == expected or actual == pl.Null:
        return True
    if actual.is_integer() and expected.is_numeric():
        return True
    if isinstance(actual, pl.Datetime) and isinstance(expected, pl.Datetime):
        return (actual.time_zone is None) == (expected.time_zone is None)
    if isinstance(actual, pl.List) and isinstance(expected, pl.List):
        return compatible(actual.inner, expected.inner)
    return False


def check_drift(name: str, actual: dict) -> dict[str, tuple[str, pl.DataType]]:
    """Compare a file's fields with EXPECTED_FIELDS, per DRIFT; map each to its path and type."""
    by_name = {path: path for path in actual}
    found = {
        field: (by_name[field], actual[by_name[field]])
        for field in EXPECTED_FIELDS
        if field in by_name
    }
    drift = {
        "missing": [field for field in EXPECTED_FIELDS if field not in found],
        "new": [field for field in by_name if field not in EXPECTED_FIELDS],
        "retyped": [
            f"{field} is {dtype}, expected {EXPECTED_FIELDS[field]}"
            for field, (_, dtype) in found.items()
            if not compatible(dtype, EXPECTED_FIELDS[field])
        ],
    }
    errors = []
    for kind, fields in drift.items():
        if not fields or DRIFT[kind] == "ignore":
            continue
        message = f"{name}: schema drift, {kind} field(s): {', '.join(fields)}"
        if DRIFT[kind] == "error":
            errors.append(message)
        else:
            warn(f"{NAME}: {message}")
    if errors:
        raise EnrichError(
            "\n".join(errors) + "\nUpdate input.fields (or input.drift) in the spec if the "
            "change is expected."
        )
    return found


def join_reasons(*reasons: pl.Expr) -> pl.Expr:
    """The non-null reasons joined with '; ', or null when there are none."""
    joined = pl.concat_str(reasons, separator="; ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def conform(records: pl.LazyFrame, found: dict[str, tuple[str, pl.DataType]]) -> pl.LazyFrame:
    """One flat column per expected field, named by its path and typed as expected."""
    columns, reasons = [pl.col("_file"), pl.col("_row")], []
    for field, expected in EXPECTED_FIELDS.items():
        if field not in found:
            columns.append(pl.lit(None, expected).alias(field))
            continue
        path, actual = found[field]
        head, *rest = path.split(".")
        value = pl.col(head)
        for part in rest:
            value = value.struct.field(part)
        columns.append(value.alias(field))
        if actual != expected and actual != pl.Null:
            reasons.append(
                pl.when(value.is_not_null() & value.cast(expected, strict=False).is_null()).then(
                    pl.format(
                        "{}: '{}' is not {}",
                        pl.lit(field),
                        value.cast(pl.String),
                        pl.lit(str(expected)),
                    )
                )
            )
    conformed = records.select(*columns, _error=join_reasons(*reasons, pl.lit(None, pl.String)))
    return conformed.with_columns(
        pl.col(field).cast(dtype, strict=False) for field, dtype in EXPECTED_FIELDS.items()
    )


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
    return rows.with_columns(**casts)


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


def load(raw_dir: Path) -> tuple[pl.LazyFrame, pl.DataFrame, list[str]]:
    """Every input file read, drift-checked and conformed, then cast and checked row by row.

    Returns the rows (lazy; `_error` is set on bad ones), the records that could not be
    read at all, and the file names that `_file` indexes.
    """
    files = input_files(raw_dir)
    names = [path.relative_to(raw_dir).as_posix() for path in files]
    frames, rejected = [], []
    for file_id, (path, name) in enumerate(zip(files, names, strict=True)):
        try:
            records, unreadable, fields = read_file(path, name, file_id)
        except (OSError, UnicodeDecodeError, pl.exceptions.PolarsError) as error:
            raise EnrichError(f"{name}: cannot be read: {error}") from None
        frames.append(conform(records, check_drift(name, fields)))
        rejected.append(unreadable)
    rows = pl.concat(frames, how="vertical")
    return check_rows(cast_fields(rows)), pl.concat(rejected), names


def dedupe(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per key: the earliest by received_at; ties go to the row read first.

    `rows` come sorted by the key and numbered in read order (`_read`), so each key's versions
    sit next to each other. Most keys have one; only the runs of repeated keys (few) are ordered
    to choose a version. The result stays sorted by the key.
    """
    starts = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(1)) for k in KEY])
    ends = pl.any_horizontal([pl.col(k).ne_missing(pl.col(k).shift(-1)) for k in KEY])
    ordered = rows.lazy().with_columns(_repeated=~(starts & ends))
    versions = ordered.filter(pl.col("_repeated")).select("_read", *KEY, "received_at").collect()
    chosen = versions.sort(
        ["event_id", "received_at", "_read"],
        descending=[False, False, False],
        nulls_last=True,
    )
    chosen = chosen.unique(subset=KEY, keep="first")["_read"]
    keep = ~pl.col("_repeated") | pl.col("_read").is_in(chosen.implode())
    return ordered.filter(keep).drop("_read", "_repeated").collect()


def finish(rows: pl.DataFrame) -> pl.DataFrame:
    """The output columns in contract order, checked against OUTPUT_SCHEMA; dedupe sorted them."""
    frame = rows.select(list(OUTPUT_SCHEMA))
    wrong = [
        f"{column} is {frame.schema.get(column)}, expected {dtype}"
        for column, dtype in OUTPUT_SCHEMA.items()
        if frame.schema.get(column) != dtype
    ]
    if wrong:
        raise EnrichError(f"{NAME}: the output does not match its contract: {'; '.join(wrong)}")
    return frame


def location(file: str, row: int) -> str:
    """Where a row came from, as the build log shows it."""
    return f"{file} row {row}"


def describe_errors(errors: pl.DataFrame, files: list[str]) -> str:
    """The first bad rows, one per line, for the build log."""
    shown = errors.sort("_file", "_row").head(10)
    lines = [
        f"  {location(files[file], row)}: {reason}"
        for file, row, reason in shown.select("_file", "_row", "_error").iter_rows()
    ]
    if errors.height > shown.height:
        lines.append(f"  ... and {errors.height - shown.height} more")
    summary = f"{NAME}: {errors.height} bad row(s) in {INPUT}; nothing was loaded (on_error: fail)"
    advice = (
        "Fix the input, or set on_error: quarantine in the spec to load the good rows and "
        "keep the bad ones in stg_events__events__quarantine."
    )
    return "\n".join([summary, *lines, advice])


def build(raw_dir: Path) -> pl.DataFrame:
    """The model's rows: loaded, checked, deduplicated, sorted by the key."""
    rows, unreadable, files = load(raw_dir)
    rows = rows.select("_file", "_row", "_error", *COLUMNS).collect()
    # Lazy steps on the collected rows: eager ones would copy every column first.
    failed = rows.lazy().filter(pl.col("_error").is_not_null())
    failed = failed.select("_file", "_row", "_error").collect()
    errors = pl.concat([unreadable.select("_file", "_row", "_error"), failed])
    if errors.height:
        raise EnrichError(describe_errors(errors, files))
    kept = rows.lazy()
    # Sorted by the key and numbered in read order (for ties); `del` lets the
    # unsorted copy go before dedupe makes its own.
    result = kept.with_row_index("_read").sort(KEY).drop("_file", "_row", "_error").collect()
    del rows, kept
    result = dedupe(result)
    return finish(result)


def model(dbt, session):
    """dbt-duckdb entry point: a Polars DataFrame, which dbt writes as the table."""
    raw_dir = raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))
    return build(raw_dir)
