"""stg_events__events: One row per product analytics event, from the monthly Parquet drops. Delivery
is at least once, so an event_id seen twice keeps its earliest received copy.

Compiled by gen-model (enrich compiler 1) from stg_events__events.enrich.yml, sha256
4255c61ae5713efe. Do not edit: change the spec and recompile.

Input: events/events-*.parquet (parquet) under the raw dir, the dbt var gen_model_raw_path (relative
to the dbt project). Bad rows: the build fails and nothing is loaded.
"""

from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

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
ARROW_SCHEMA = pl.DataFrame(schema=OUTPUT_SCHEMA).to_arrow().schema
BATCH_ROWS = 100_000  # rows per batch handed to DuckDB: memory holds a few, not the input


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


def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, list, dict]:
    """Parquet: typed columns, scanned lazily; rows are numbered from 1 in each file."""
    records = pl.scan_parquet(path).with_row_index("_row", offset=1)
    records = records.with_columns(pl.col("_row").cast(pl.Int64), _file=pl.lit(file_id, pl.UInt32))
    return records, [], leaf_fields(records.collect_schema())


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
    errors, warnings = [], []
    for kind, fields in drift.items():
        if not fields or DRIFT[kind] == "ignore":
            continue
        message = f"{name}: schema drift, {kind} field(s): {', '.join(fields)}"
        (errors if DRIFT[kind] == "error" else warnings).append(message)
    for message in warnings:
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


def load(raw_dir: Path, path: Path, file_id: int) -> tuple[pl.LazyFrame, list, dict]:
    """One input file opened and drift-checked.

    Returns its records (a lazy plan: they are read when it is collected, once per pass), the
    records that could not be read at all (row, text, reason; complete once the records are
    read), and where each expected field is.
    """
    name = path.relative_to(raw_dir).as_posix()
    try:
        records, unreadable, fields = read_file(path, name, file_id)
    except (OSError, UnicodeDecodeError, pl.exceptions.PolarsError) as error:
        raise EnrichError(f"{name}: cannot be read: {error}") from None
    return records, unreadable, check_drift(name, fields)


def checked(records: pl.LazyFrame, found: dict) -> pl.LazyFrame:
    """Records conformed to the expected fields, cast and checked row by row (`_error`)."""
    rows = conform(records, found)
    return check_rows(cast_fields(rows))


def key_hash() -> pl.Expr:
    """A 64-bit hash of the key: equal keys hash alike, different ones almost never."""
    return pl.col("event_id").hash()


def repeated_keys(loaded: list[tuple[pl.LazyFrame, list, dict]]) -> pl.Series:
    """The hashes of keys read more than once, from a first pass over the files' rows that
    computes only what the key needs (a Parquet file's key columns, say).

    Rows with these keys (a few) wait until every row is read, to choose a version or report the
    duplicate; the others stream straight through. A hash shared by two different keys only
    holds back a few more rows: the choice itself compares keys.
    """
    hashes = [pl.Series("_hash", [], pl.UInt64)]
    for records, _, found in loaded:
        rows = checked(records, found).select(_hash=key_hash())
        hashes.append(rows.collect(engine="streaming")["_hash"])
    every = pl.concat(hashes).sort()
    return every.filter(every == every.shift(1)).unique()


def checked_batches(
    path: Path, file_id: int, records: pl.LazyFrame, found: dict
) -> Iterator[pl.DataFrame]:
    """The file's rows checked, BATCH_ROWS at a time, read by pyarrow a batch at a time.

    Polars' reader decodes a whole row group at once, and a monthly drop is often one row
    group: reading batches keeps memory to a few of them. Rows are numbered as `records`
    numbers them (from 1), in the same order.
    """
    parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
    first = 1
    for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
        numbers = pl.int_range(first, first + batch.num_rows, dtype=pl.Int64)
        chunk = pl.from_arrow(batch).lazy().with_columns(_row=numbers, _file=pl.lit(file_id))
        yield checked(chunk.with_columns(pl.col("_file").cast(pl.UInt32)), found).collect()
        first += batch.num_rows


def dedupe(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per key: the earliest by received_at; ties go to the row read first.

    `rows` are the rows whose key was read more than once (see repeated_keys), numbered in read
    order by `_file` and `_row`. The result is sorted by the key.
    """
    chosen = rows.sort(
        ["event_id", "received_at", "_file", "_row"],
        descending=[False, False, False, False],
        nulls_last=True,
    )
    return chosen.unique(subset=KEY, keep="first", maintain_order=True)


def finish(rows: pl.DataFrame) -> pl.DataFrame:
    """The output columns in contract order, checked against OUTPUT_SCHEMA."""
    frame = rows.select(list(OUTPUT_SCHEMA))
    wrong = [
        f"{column} is {frame.schema.get(column)}, expected {dtype}"
        for column, dtype in OUTPUT_SCHEMA.items()
        if frame.schema.get(column) != dtype
    ]
    if wrong:
        raise EnrichError(f"{NAME}: the output does not match its contract: {'; '.join(wrong)}")
    return frame


def arrow_batches(frame: pl.DataFrame) -> list[pa.RecordBatch]:
    """A frame as Arrow record batches of the stream's schema (ARROW_SCHEMA)."""
    return frame.to_arrow().cast(ARROW_SCHEMA).to_batches()


def copied(frame: pl.DataFrame) -> pl.DataFrame:
    """A few rows kept for later, copied out of their batch: filtered text still points
    into the whole batch's buffers, which would stay in memory with it."""
    return pl.from_arrow(frame.to_arrow())


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


def stream(raw_dir: Path) -> pa.RecordBatchReader:
    """The model's rows as a stream of Arrow batches, which DuckDB writes as it reads them.

    Rows are checked and streamed in read order, file by file and batch by batch, so memory
    holds a few batches, not the input. Rows whose key was read more than once are held back and
    deduplicated once every row is read; they come last, sorted by the key. A bad row fails the
    whole stream once every row is read, so DuckDB writes nothing (on_error: fail).
    """
    files = input_files(raw_dir)
    names = [path.relative_to(raw_dir).as_posix() for path in files]
    loaded = [load(raw_dir, path, file_id) for file_id, path in enumerate(files)]
    repeated = repeated_keys(loaded).implode()

    def batches() -> Iterator[pa.RecordBatch]:
        errors, held = [], []
        for file_id, (records, unreadable, found) in enumerate(loaded):
            unread = rejected_rows(file_id, unreadable)
            errors.append(unread.select("_file", "_row", "_error"))
            for batch in checked_batches(files[file_id], file_id, records, found):
                batch = batch.select("_file", "_row", "_error", *COLUMNS)
                batch = batch.with_columns(_held=key_hash().is_in(repeated))
                failed = batch.filter(pl.col("_error").is_not_null())
                errors.append(copied(failed.select("_file", "_row", "_error")))
                kept = batch.filter(pl.col("_error").is_null())
                held.append(copied(kept.filter(pl.col("_held"))))
                ready = kept.filter(~pl.col("_held"))
                yield from arrow_batches(finish(ready))
        repeats = dedupe(pl.concat(held)) if held else None
        errors = pl.concat(errors)
        if errors.height:
            raise EnrichError(describe_errors(errors, names))
        if repeats is not None:
            yield from arrow_batches(finish(repeats))

    return pa.RecordBatchReader.from_batches(ARROW_SCHEMA, batches())


def build(raw_dir: Path) -> pl.DataFrame:
    """The model's rows in memory (for tests and notebooks): the stream, collected."""
    return pl.from_arrow(stream(raw_dir).read_all())


def model(dbt, session):
    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""
    raw_dir = raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))
    return stream(raw_dir)
