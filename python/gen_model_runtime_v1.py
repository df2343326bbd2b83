"""gen-model's enrichment runtime, version 1: the fixed code every compiled model runs.

A compiled enrichment model (`gen-model enrich compile`) carries only what its spec says:
the expected input fields, the output schema, its casts, expressions, checks, filters and
lookup. It hands them to this file as a `Spec` and calls `stream`, which reads, checks,
deduplicates and streams the rows. The file ships in the gen_model dbt package
(`python/` beside `macros/`) and needs only Polars, pyarrow and the standard library:
dbt runs the models without gen-model installed.

It is versioned by its file name. A change that alters what a model returns is a new
file (`gen_model_runtime_v2.py`) that recompiled models import, reviewed once; models
compiled for v1 keep importing v1. Nothing here holds spec state: every function takes
the `Spec` it works for.

With `on_error: quarantine` the input is read once, by `<name>__checked`, which returns the
good rows and the bad ones (with `_source_file`, `_source_row`, `_source_record` and
`_error`); the model and its quarantine are SQL selects from it.
"""

import csv
import json
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

VERSION = 1
BATCH_ROWS = 100_000  # rows per batch handed to DuckDB: memory holds a few, not the input
SAMPLE_LINES = 1_000  # NDJSON lines read for field types: the first ones and as many spread out
CHUNK_BYTES = 4 << 20  # NDJSON text decoded at a time: memory holds a chunk of it, not the file
BATCH_LINES = 20_000  # NDJSON lines checked at a time: memory holds a batch of them, not the file

# What `__checked` adds to the output columns for the bad rows (null on the good ones).
STATUS_SCHEMA = {
    "_source_file": pl.String,
    "_source_row": pl.Int64,
    "_source_record": pl.String,
    "_error": pl.String,
}
# Where a row came from, as the build log shows it, by input format.
LOCATIONS = {
    "ndjson": "{file}:{row}",
    "csv": "{file}:{row}",
    "json": "{file} record {row}",
    "parquet": "{file} row {row}",
}
ERRORS_SCHEMA = {"_file": pl.UInt32, "_row": pl.Int64, "_record": pl.String, "_error": pl.String}


@dataclass(frozen=True)
class Spec:
    """What a compiled model tells the runtime: its spec as data and its spec's functions.

    `cast_fields`, `derive` and `check_rows` turn conformed records into checked rows
    (reasons in `_error`); `filter_rows`, `lookup_candidates` and `attach_lookup` are
    optional. `quarantine` is the quarantine model's name; `checked` says the rows go to
    `<name>__checked` (bad rows included) rather than failing the build.
    """

    name: str
    input: str
    format: str
    key: list[str]
    expected_fields: dict[str, pl.DataType]
    drift: dict[str, str]
    output_schema: dict[str, pl.DataType]
    columns: list[str]
    cast_fields: Callable[[pl.LazyFrame], pl.LazyFrame]
    check_rows: Callable[[pl.LazyFrame], pl.LazyFrame]
    quarantine: str
    checked: bool = False
    derive: Callable[[pl.LazyFrame], pl.LazyFrame] | None = None
    filter_rows: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    lookup_candidates: Callable[[pl.DataFrame], pl.DataFrame] | None = None
    attach_lookup: Callable[[pl.DataFrame, pl.DataFrame], pl.DataFrame] | None = None
    dedupe: dict | None = None  # {"keep": latest|earliest|first|last, "by": column or None}
    snake_case: bool = False  # input field names are matched in snake_case
    record_path: list[str] = field(default_factory=list)  # json: where the records are
    csv: dict = field(default_factory=dict)  # csv: encoding, delimiter, quote, header

    @property
    def arrow_schema(self) -> pa.Schema:
        """The stream's schema: the output columns, and the status columns when checked."""
        schema = self.output_schema | (STATUS_SCHEMA if self.checked else {})
        return pl.DataFrame(schema=schema).to_arrow().schema

    def field_name(self, path: str) -> str:
        """An input field's name as the spec knows it."""
        return snake_case(path) if self.snake_case else path


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


def input_files(spec: Spec, raw_dir: Path) -> list[Path]:
    """The files the spec's input names under the raw dir, in a stable order."""
    files = sorted(path for path in raw_dir.glob(spec.input) if path.is_file())
    if not files:
        raise EnrichError(f"no file matches {spec.input!r} under the raw dir {raw_dir.resolve()}")
    return files


def rejected_rows(file_id: int, rows: list[tuple[int, str, str]]) -> pl.DataFrame:
    """Records that could not be read at all: (row, raw text, reason)."""
    frame = pl.DataFrame(
        rows,
        schema={"_row": pl.Int64, "_record": pl.String, "_error": pl.String},
        orient="row",
    )
    return frame.select(pl.lit(file_id, pl.UInt32).alias("_file"), pl.all())


# -- NDJSON ----------------------------------------------------------------------------------


def json_problem(line: str) -> str | None:
    """Why a line is not a JSON object, or None when it is one."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        return f"not valid JSON: {error.msg} (column {error.colno})"
    if not isinstance(value, dict):
        return f"not a JSON object: {line[:40]!r}"
    return None


def struct_of(fields: dict[str, pl.DataType]) -> pl.Struct:
    """A record type from dotted leaf paths ('properties.email' -> nested structs)."""
    tree: dict = {}
    for path, dtype in fields.items():
        *parents, leaf = path.split(".")
        node = tree
        for part in parents:
            if not isinstance(node.get(part), dict):
                node[part] = {}
            node = node[part]
        node[leaf] = dtype

    def build(node: dict) -> pl.Struct:
        return pl.Struct({k: build(v) if isinstance(v, dict) else v for k, v in node.items()})

    return build(tree)


def value_at(path: str) -> pl.Expr:
    """The value at a dotted path ('properties.email') of the decoded records."""
    head, *rest = path.split(".")
    value = pl.col(head)
    for part in rest:
        value = value.struct.field(part)
    return value


def sample_types(path: Path) -> dict[str, pl.DataType]:
    """Field types from the first SAMPLE_LINES non-blank lines and about as many more spread
    over the file (read by seeking, not by reading it all); lines that are not JSON objects
    are left out here and rejected when the file is decoded."""
    lines = []
    with path.open("rb") as handle:
        for line in handle:
            if line.strip():
                lines.append(line)
            if len(lines) == SAMPLE_LINES:
                break
        start, size = handle.tell(), path.stat().st_size
        per_line = max(1, start // max(1, len(lines)))
        count = min(SAMPLE_LINES, (size - start) // per_line)
        for index in range(count):
            handle.seek(start + (size - start) * index // count)
            handle.readline()  # the rest of a line the seek landed in
            line = handle.readline()
            if line.strip():
                lines.append(line)
    sample = pl.Series([line.decode("utf-8") for line in lines], dtype=pl.String)
    try:
        inferred = sample.str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:
        sample = sample.filter(pl.Series([json_problem(text) is None for text in sample]))
        inferred = sample.str.json_decode(infer_schema_length=None) if sample.len() else None
    if inferred is None or not sample.len():
        return {}
    return leaf_fields(inferred.dtype.to_schema())


def decoded_fields(spec: Spec, found: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """The fields each line is decoded into: the expected ones, typed as the spec expects
    unless the sample shows a type they cannot be read as (drift then decides what happens).
    Fields the spec does not use are not decoded, so their values cannot reject a line.
    Expected fields the sample did not show are decoded too, unless names are snake_cased
    (their raw names are then unknown)."""
    fields = {}
    for path, dtype in found.items():
        expected = spec.expected_fields.get(spec.field_name(path))
        if expected is not None:
            fields[path] = expected if compatible(dtype, expected) else dtype
    return fields if spec.snake_case else spec.expected_fields | fields


def line_chunks(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """The file in pieces of whole lines: the number of a piece's first line, its count of
    lines and its text."""
    number, rest = 1, b""
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            block = rest + block
            end = block.rfind(b"\n") + 1
            chunk, rest = block[:end], block[end:]
            if chunk:
                line_count = chunk.count(b"\n")
                yield number, line_count, chunk
                number += line_count
    if rest.strip():
        yield number, 1, rest


def misfit(line: str, fields: dict[str, pl.DataType]) -> str:
    """Which field of a JSON object holds a value its type cannot read, and the value."""
    record = json.loads(line)
    for path, dtype in fields.items():
        try:
            pl.read_ndjson(line.encode(), schema=struct_of({path: dtype}).to_schema())
        except pl.exceptions.PolarsError:
            value = record
            for part in path.split("."):
                value = value.get(part) if isinstance(value, dict) else value
            return f"{path}: {json.dumps(value)[:40]} is not {dtype}"
    return "a value does not fit its field's type"


def decode_lines(
    rows: list[int], lines: list[str], fields: dict[str, pl.DataType]
) -> tuple[list[pl.DataFrame], list[tuple[int, str, str]]]:
    """JSON objects decoded into `fields`; halving finds the few whose values do not fit."""
    try:
        frame = pl.read_ndjson("\n".join(lines).encode(), schema=struct_of(fields).to_schema())
    except pl.exceptions.PolarsError:
        if len(lines) == 1:
            return [], [(rows[0], lines[0], misfit(lines[0], fields))]
        half = len(lines) // 2
        first, first_bad = decode_lines(rows[:half], lines[:half], fields)
        second, second_bad = decode_lines(rows[half:], lines[half:], fields)
        return first + second, first_bad + second_bad
    return [frame.with_columns(_row=pl.Series(rows, dtype=pl.Int64))], []


def decode_chunk(
    first: int, line_count: int, chunk: bytes, fields: dict[str, pl.DataType]
) -> tuple[list[pl.DataFrame], list[tuple[int, str, str]]]:
    """A chunk's records numbered by line (from `first`), and its rejected lines with the reason.

    Polars decodes the chunk in one go; only a chunk it cannot decode is read line by line,
    to name each bad line.
    """
    try:
        frame = pl.read_ndjson(chunk, schema=struct_of(fields).to_schema())
    except pl.exceptions.PolarsError:
        frame = None
    if frame is not None and frame.height == line_count:
        numbers = pl.int_range(first, first + line_count, dtype=pl.Int64)
        return [frame.with_columns(_row=numbers)], []
    numbered = [(first + index, line) for index, line in enumerate(chunk.decode("utf-8").split("\n")) if line.strip()]
    if frame is not None and frame.height == len(numbered):  # blank lines hold no record
        rows = pl.Series([row for row, _ in numbered], dtype=pl.Int64)
        return [frame.with_columns(_row=rows)], []
    rows, lines, rejected = [], [], []
    for row, line in numbered:
        problem = json_problem(line)
        if problem is None:
            rows.append(row)
            lines.append(line)
        else:
            rejected.append((row, line, problem))
    if not lines:
        return [], rejected
    frames, misfits = decode_lines(rows, lines, fields)
    return frames, sorted(rejected + misfits)


class Records:
    """An NDJSON file's records, decoded a chunk at a time each time they are read and
    handed out BATCH_LINES at a time, numbered by line (`_row`). Lines that are not
    records (the last read's) are in `rejected`: (line, text, reason)."""

    def __init__(self, path: Path, name: str, file_id: int, fields: dict[str, pl.DataType]):
        self.path, self.name, self.file_id, self.fields = path, name, file_id, fields
        self.rejected: list[tuple[int, str, str]] = []

    def __iter__(self) -> Iterator[pl.DataFrame]:
        self.rejected.clear()
        pending, count = [], 0
        try:
            for first, line_count, chunk in line_chunks(self.path):
                frames, bad = decode_chunk(first, line_count, chunk, self.fields)
                self.rejected += bad
                pending += frames
                count += sum(frame.height for frame in frames)
                if count >= BATCH_LINES:
                    yield self.batch(pending)
                    count = 0
        except (OSError, UnicodeDecodeError) as error:
            raise EnrichError(f"{self.name}: cannot be read: {error}") from None
        if pending:
            yield self.batch(pending)

    def batch(self, frames: list[pl.DataFrame]) -> pl.DataFrame:
        """The frames as one batch; the list is emptied, so that only the batch holds them."""
        batch = pl.concat(frames).with_columns(_file=pl.lit(self.file_id, pl.UInt32))
        frames.clear()
        return batch


def read_ndjson(spec: Spec, path: Path, name: str, file_id: int) -> tuple[Records, list, dict]:
    """NDJSON: one object per line; other non-blank lines are rejected with their number.

    Field types come from a sample of lines (new fields are looked for there); each pass
    over the records decodes the file a chunk at a time, into the expected fields only.
    """
    found = sample_types(path)
    fields = decoded_fields(spec, found)
    records = Records(path, name, file_id, fields)
    unseen = {field: dtype for field, dtype in fields.items() if field not in found}
    present = set()
    if unseen:  # the sample missed an expected field: it is there if a line has a value
        for frame in Records(path, name, file_id, unseen):
            values = frame.select(value_at(f).is_not_null().any().alias(f) for f in unseen)
            present |= {field for field in unseen if values[field].item()}
    # A field is in the file as decoded: the sample showed it, or some line has a value for it.
    found.update({p: t for p, t in fields.items() if p in found or p in present})
    return records, records.rejected, found


# -- JSON, CSV, Parquet ----------------------------------------------------------------------


def read_json(spec: Spec, path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, list, dict]:
    """JSON: the records under the spec's record path, numbered from 1; non-objects are rejected."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise EnrichError(
            f"{name}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}); "
            "a broken document cannot be loaded in part"
        ) from None
    records = document
    for key in spec.record_path:
        if not isinstance(records, dict) or key not in records:
            raise EnrichError(f"{name}: no {'.'.join(spec.record_path)!r} holding the records")
        records = records[key]
    if not isinstance(records, list):
        raise EnrichError(f"{name}: the records are not a JSON array")
    good, numbers, rejected = [], [], []
    for number, record in enumerate(records, start=1):
        if isinstance(record, dict):
            good.append(record)
            numbers.append(number)
        else:
            rejected.append((number, json.dumps(record), "not a JSON object"))
    frame = pl.from_dicts(good, infer_schema_length=None) if good else pl.DataFrame()
    frame = frame.with_columns(_row=pl.Series(numbers, dtype=pl.Int64))
    frame = frame.with_columns(_file=pl.lit(file_id, pl.UInt32))
    return frame.lazy(), rejected, leaf_fields(frame.schema)


def read_csv(spec: Spec, path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, list, dict]:
    """CSV: every value as text (empty is null); rows with a wrong field count are rejected."""
    delimiter, header = spec.csv["delimiter"], spec.csv["header"]
    rows, numbers, rejected = [], [], []
    names: list[str] | None = None
    with path.open(encoding=spec.csv["encoding"], newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter, quotechar=spec.csv["quote"], strict=True)
        start = 1
        try:
            for values in reader:
                line, start = start, reader.line_num + 1
                if not values:
                    continue
                if names is None:
                    names = values if header else [f"column_{i + 1}" for i in range(len(values))]
                    if header:
                        continue
                if len(values) != len(names):
                    text = delimiter.join(values)
                    reason = f"expected {len(names)} fields, found {len(values)}"
                    rejected.append((line, text, reason))
                    continue
                rows.append(values)
                numbers.append(line)
        except csv.Error as error:
            raise EnrichError(f"{name}:{reader.line_num}: not valid CSV ({error})") from None
    names = names or []
    if len(set(names)) != len(names):
        raise EnrichError(f"{name}:1: the header repeats a column name: {names}")
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    frame = pl.DataFrame(
        {column: list(values) for column, values in zip(names, columns, strict=True)},
        schema={column: pl.String for column in names},
    )
    frame = frame.select(pl.when(pl.col(c) != "").then(pl.col(c)).alias(c) for c in names)
    frame = frame.with_columns(_row=pl.Series(numbers, dtype=pl.Int64))
    frame = frame.with_columns(_file=pl.lit(file_id, pl.UInt32))
    return frame.lazy(), rejected, leaf_fields(frame.schema)


def read_parquet(spec: Spec, path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, list, dict]:
    """Parquet: typed columns, scanned lazily; rows are numbered from 1 in each file."""
    records = pl.scan_parquet(path).with_row_index("_row", offset=1)
    records = records.with_columns(pl.col("_row").cast(pl.Int64), _file=pl.lit(file_id, pl.UInt32))
    return records, [], leaf_fields(records.collect_schema())


READERS = {"ndjson": read_ndjson, "json": read_json, "csv": read_csv, "parquet": read_parquet}


# -- drift and conforming --------------------------------------------------------------------


def leaf_fields(schema: dict, prefix: str = "") -> dict[str, pl.DataType]:
    """A nested schema as dotted leaf paths ('properties.email'); lists stay whole."""
    leaves = {}
    for field_name, dtype in schema.items():
        if isinstance(dtype, pl.Struct) and dtype.fields:
            nested = {inner.name: inner.dtype for inner in dtype.fields}
            leaves.update(leaf_fields(nested, f"{prefix}{field_name}."))
        elif field_name not in ("_file", "_row"):
            leaves[f"{prefix}{field_name}"] = dtype
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


def check_drift(spec: Spec, name: str, actual: dict) -> dict[str, tuple[str, pl.DataType]]:
    """Compare a file's fields with the expected ones, per the spec's drift settings; map
    each expected field to its path and type."""
    expected = spec.expected_fields
    by_name = {spec.field_name(path): path for path in actual}
    found = {field: (by_name[field], actual[by_name[field]]) for field in expected if field in by_name}
    drift = {
        "missing": [field for field in expected if field not in found],
        "new": [field for field in by_name if field not in expected],
        "retyped": [
            f"{field} is {dtype}, expected {expected[field]}"
            for field, (_, dtype) in found.items()
            if not compatible(dtype, expected[field])
        ],
    }
    errors, warnings = [], []
    for kind, fields in drift.items():
        if not fields or spec.drift[kind] == "ignore":
            continue
        message = f"{name}: schema drift, {kind} field(s): {', '.join(fields)}"
        (errors if spec.drift[kind] == "error" else warnings).append(message)
    for message in warnings:
        warn(f"{spec.name}: {message}")
    if errors:
        raise EnrichError(
            "\n".join(errors) + "\nUpdate input.fields (or input.drift) in the spec if the change is expected."
        )
    return found


def join_reasons(*reasons: pl.Expr) -> pl.Expr:
    """The non-null reasons joined with '; ', or null when there are none."""
    joined = pl.concat_str(reasons, separator="; ", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def conform(spec: Spec, records: pl.LazyFrame, found: dict) -> pl.LazyFrame:
    """One flat column per expected field, named by its path and typed as expected."""
    columns, reasons = [pl.col("_file"), pl.col("_row")], []
    for field_name, expected in spec.expected_fields.items():
        if field_name not in found:
            columns.append(pl.lit(None, expected).alias(field_name))
            continue
        path, actual = found[field_name]
        value = value_at(path)
        columns.append(value.alias(field_name))
        if actual != expected and actual != pl.Null:
            reasons.append(
                pl.when(value.is_not_null() & value.cast(expected, strict=False).is_null()).then(
                    pl.format(
                        "{}: '{}' is not {}",
                        pl.lit(field_name),
                        value.cast(pl.String),
                        pl.lit(str(expected)),
                    )
                )
            )
    conformed = records.select(*columns, _error=join_reasons(*reasons, pl.lit(None, pl.String)))
    return conformed.with_columns(
        pl.col(name).cast(dtype, strict=False) for name, dtype in spec.expected_fields.items()
    )


def snake_case(path: str) -> str:
    """'Currency Code ' -> 'currency_code', 'updatedAt' -> 'updated_at', per path segment."""
    parts = []
    for part in path.split("."):
        part = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", part.strip())
        part = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", part)
        parts.append(re.sub(r"[^0-9a-zA-Z]+", "_", part).strip("_").lower())
    return ".".join(parts)


# -- casts -----------------------------------------------------------------------------------


def cast_with_reasons(
    rows: pl.LazyFrame, casts: dict[str, pl.Expr], failures: list[tuple[str, str, str]]
) -> pl.LazyFrame:
    """Each cast applied; a value that was there but did not cast is a reason in `_error`.

    `failures` lists the casts that can fail: (column, input field, type name).
    """
    if not failures:
        return rows.with_columns(**casts)
    # Cast under temporary names first: an output may reuse an input field's name,
    # and each reason compares the value read with the value cast.
    rows = rows.with_columns(**{f"cast:{name}": value for name, value in casts.items()})
    reasons = [
        pl.when(pl.col(field).is_not_null() & pl.col(f"cast:{column}").is_null()).then(
            pl.format(
                "{}: cannot parse '{}' as {}",
                pl.lit(column),
                pl.col(field).cast(pl.String),
                pl.lit(kind),
            )
        )
        for column, field, kind in failures
    ]
    rows = rows.with_columns(_error=join_reasons(pl.col("_error"), *reasons))
    return rows.select(pl.col("^_.*$"), *[pl.col(f"cast:{name}").alias(name) for name in casts])


def first_parse(text: pl.Expr, parsers: list[Callable[[pl.Series], pl.Series]], dtype) -> pl.Expr:
    """Text parsed by the first parser that reads it (null when none does).

    Each parser after the first sees only the values those before it left unread, so a
    column in one format is parsed once, however many formats the spec allows.
    """

    def parse(values: pl.Series) -> pl.Series:
        values = values.str.strip_chars()
        parsed = parsers[0](values)
        for parser in parsers[1:]:
            unread = (parsed.is_null() & values.is_not_null()).arg_true()
            if unread.is_empty():
                break
            parsed = parsed.scatter(unread, parser(values.gather(unread)))
        return parsed

    return text.map_batches(parse, return_dtype=dtype, is_elementwise=True)


def parse_timestamp(text: pl.Expr, formats: list[str], time_zone: str) -> pl.Expr:
    """Text as a UTC timestamp: the first format that parses wins; naive text is in time_zone."""

    def parser(fmt: str) -> Callable[[pl.Series], pl.Series]:
        def parse(values: pl.Series) -> pl.Series:
            value = values.str.to_datetime(fmt, time_unit="us", strict=False)
            if "%z" not in fmt and "%#z" not in fmt:
                value = value.dt.replace_time_zone(time_zone, ambiguous="null", non_existent="null")
            return value.dt.convert_time_zone("UTC")

        return parse

    return first_parse(text, [parser(fmt) for fmt in formats], pl.Datetime("us", "UTC"))


def parse_date(text: pl.Expr, formats: list[str]) -> pl.Expr:
    """Text as a date: the first format that parses wins."""
    parsers = [lambda values, fmt=fmt: values.str.to_date(fmt, strict=False) for fmt in formats]
    return first_parse(text, parsers, pl.Date)


def parse_time(text: pl.Expr, formats: list[str]) -> pl.Expr:
    """Text as a time of day: the first format that parses wins."""
    parsers = [lambda values, fmt=fmt: values.str.to_time(fmt, strict=False) for fmt in formats]
    return first_parse(text, parsers, pl.Time)


def parse_boolean(text: pl.Expr, true_values: list[str], false_values: list[str]) -> pl.Expr:
    """Text as a boolean, case-insensitively; anything else is null (and an error)."""
    mapping = {value: True for value in true_values} | {value: False for value in false_values}
    cleaned = text.str.strip_chars().str.to_lowercase()
    return cleaned.replace_strict(mapping, default=None, return_dtype=pl.Boolean)


def parse_number(text: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Text as a number of `dtype` (decimals are rounded to its scale); else null."""
    return text.str.strip_chars().cast(dtype, strict=False)


# -- checked rows ----------------------------------------------------------------------------


def load(spec: Spec, raw_dir: Path, path: Path, file_id: int) -> tuple:
    """One input file opened and drift-checked.

    Returns its records (NDJSON: decoded a chunk at a time, on each pass over them; the
    other formats: a lazy plan), the records that could not be read at all (row, text,
    reason; complete once the records are read), and where each expected field is.
    """
    name = path.relative_to(raw_dir).as_posix()
    try:
        records, unreadable, fields = READERS[spec.format](spec, path, name, file_id)
    except (OSError, UnicodeDecodeError, pl.exceptions.PolarsError) as error:
        raise EnrichError(f"{name}: cannot be read: {error}") from None
    return records, unreadable, check_drift(spec, name, fields)


def checked(spec: Spec, records: pl.LazyFrame, found: dict) -> pl.LazyFrame:
    """Records conformed to the expected fields, cast and checked row by row (`_error`).

    A checked model keeps the record as read (`_raw`, before a cast overwrites a field of
    the same name): a bad row's record goes to the quarantine.
    """
    rows = conform(spec, records, found)
    if spec.checked:
        rows = rows.with_columns(_raw=pl.struct(list(spec.expected_fields)))
    rows = spec.cast_fields(rows)
    if spec.derive is not None:
        rows = spec.derive(rows)
    return spec.check_rows(rows)


def checked_batches(spec: Spec, path: Path, file_id: int, records, found: dict) -> Iterator[pl.DataFrame]:
    """A file's rows checked a batch at a time, by input format."""
    if spec.format == "ndjson":
        for frame in records:
            batch = checked(spec, frame.lazy(), found).collect()
            del frame  # the lines decoded are freed while the batch is used
            yield batch
    elif spec.format == "parquet":
        # Polars' reader decodes a whole row group at once, and a monthly drop is often one
        # row group: reading batches keeps memory to a few of them. Rows are numbered as
        # `records` numbers them (from 1), in the same order.
        parquet = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 20)
        first = 1
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            numbers = pl.int_range(first, first + batch.num_rows, dtype=pl.Int64)
            chunk = pl.from_arrow(batch).lazy().with_columns(_row=numbers, _file=pl.lit(file_id))
            yield checked(spec, chunk.with_columns(pl.col("_file").cast(pl.UInt32)), found).collect()
            first += batch.num_rows
    else:
        yield from checked(spec, records, found).collect_batches(chunk_size=BATCH_ROWS)


def bad_records(spec: Spec, rows: pl.DataFrame) -> pl.DataFrame:
    """Bad rows as `_file`, `_row`, `_record` (the record as read, when kept) and `_error`."""
    record = pl.col("_raw").struct.json_encode() if "_raw" in rows.columns else pl.lit(None, pl.String)
    return rows.select("_file", "_row", record.alias("_record"), "_error")


def copied(frame: pl.DataFrame) -> pl.DataFrame:
    """A few rows kept for later, copied out of their batch: filtered text still points
    into the whole batch's buffers, which would stay in memory with it."""
    return pl.from_arrow(frame.to_arrow())


# -- keys and dedupe -------------------------------------------------------------------------


def key_value(spec: Spec) -> pl.Expr:
    """The key as one value: its column, or a struct of its columns."""
    return pl.col(spec.key[0]) if len(spec.key) == 1 else pl.struct(spec.key)


def key_hash(spec: Spec) -> pl.Expr:
    """A 64-bit hash of the key: equal keys hash alike, different ones almost never."""
    return key_value(spec).hash()


def repeated_keys(spec: Spec, loaded: list[tuple]) -> pl.Series:
    """The hashes of keys read more than once, from a first pass over the files' rows that
    computes only what the key needs (a Parquet file's key columns, say).

    Rows with these keys (a few) wait until every row is read, to choose a version or
    report the duplicate; the others stream straight through. A hash shared by two
    different keys only holds back a few more rows: the choice itself compares keys.
    """
    hashes = [pl.Series("_hash", [], pl.UInt64)]
    for records, _, found in loaded:
        rows = checked(spec, records, found).select(_hash=key_hash(spec))
        hashes.append(rows.collect(engine="streaming")["_hash"])
    every = pl.concat(hashes).sort()
    return every.filter(every == every.shift(1)).unique()


def dedupe(spec: Spec, rows: pl.DataFrame) -> pl.DataFrame:
    """One row per key, as the spec's dedupe chooses: the latest or earliest by a column
    (ties go to the row read last or first), or the first or last read.

    `rows` are numbered in read order by `_file` and `_row`.
    """
    keep, by = spec.dedupe["keep"], spec.dedupe.get("by")
    ascending = [False] * len(spec.key)
    if keep in ("latest", "earliest"):
        latest = keep == "latest"
        order, descending = [*spec.key, by, "_file", "_row"], [*ascending, latest, latest, latest]
    else:
        last = keep == "last"
        order, descending = [*spec.key, "_file", "_row"], [*ascending, last, last]
    chosen = rows.sort(order, descending=descending, nulls_last=True)
    return chosen.unique(subset=spec.key, keep="first", maintain_order=True)


def duplicates(spec: Spec, rows: pl.DataFrame) -> pl.DataFrame:
    """Rows whose key was read more than once are bad rows: the spec has no dedupe."""
    message = f"duplicate key {', '.join(spec.key)} (the spec has no dedupe)"
    return rows.with_columns(_error=pl.when(key_value(spec).is_duplicated()).then(pl.lit(message)))


def left_out(spec: Spec, keys: list[pl.DataFrame]) -> pl.DataFrame:
    """The spilled good rows that must not load (`_file`, `_row`, `_error`): without dedupe,
    every copy of a key read more than once; with it, the versions it passes over (usually
    far fewer than those it chooses; no reason: they are not errors)."""
    schema = {"_file": pl.UInt32, "_row": pl.Int64, "_error": pl.String}
    if not keys:
        return pl.DataFrame(schema=schema)
    every = pl.concat(keys)
    if spec.dedupe is None:
        flagged = duplicates(spec, every)
        return flagged.filter(pl.col("_error").is_not_null()).select(list(schema))
    chosen = dedupe(spec, every).select("_file", "_row")
    passed_over = every.join(chosen, on=["_file", "_row"], how="anti")
    return passed_over.select("_file", "_row", pl.lit(None, pl.String).alias("_error"))


# -- output ----------------------------------------------------------------------------------


def finish(spec: Spec, rows: pl.DataFrame) -> pl.DataFrame:
    """The output columns in contract order, checked against the output schema."""
    frame = rows.select(list(spec.output_schema))
    wrong = [
        f"{column} is {frame.schema.get(column)}, expected {dtype}"
        for column, dtype in spec.output_schema.items()
        if frame.schema.get(column) != dtype
    ]
    if wrong:
        raise EnrichError(f"{spec.name}: the output does not match its contract: {'; '.join(wrong)}")
    return frame


def arrow_batches(spec: Spec, frame: pl.DataFrame) -> list[pa.RecordBatch]:
    """A frame as Arrow record batches of the stream's schema (status columns null)."""
    if spec.checked:
        frame = frame.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in STATUS_SCHEMA.items())
    return frame.to_arrow().cast(spec.arrow_schema).to_batches()


def output(spec: Spec, rows: pl.DataFrame, candidates: pl.DataFrame | None) -> list[pa.RecordBatch]:
    """Checked good rows filtered, joined to the lookup and finished, as Arrow batches."""
    if spec.filter_rows is not None:
        rows = spec.filter_rows(rows)
    if spec.attach_lookup is not None:
        rows = spec.attach_lookup(rows, candidates)
    return arrow_batches(spec, finish(spec, rows))


def location(spec: Spec, file: str, row: int) -> str:
    """Where a row came from, as the build log shows it."""
    return LOCATIONS[spec.format].format(file=file, row=row)


def describe_errors(spec: Spec, errors: pl.DataFrame, files: list[str]) -> str:
    """The first bad rows, one per line, for the build log."""
    shown = errors.sort("_file", "_row").head(10)
    lines = [
        f"  {location(spec, files[file], row)}: {reason}"
        for file, row, reason in shown.select("_file", "_row", "_error").iter_rows()
    ]
    if errors.height > shown.height:
        lines.append(f"  ... and {errors.height - shown.height} more")
    summary = f"{spec.name}: {errors.height} bad row(s) in {spec.input}; nothing was loaded (on_error: fail)"
    advice = (
        "Fix the input, or set on_error: quarantine in the spec to load the good rows "
        f"and keep the bad ones in {spec.quarantine}."
    )
    return "\n".join([summary, *lines, advice])


def report_errors(spec: Spec, errors: pl.DataFrame, files: list[str]) -> None:
    """Once every row is read: a bad row fails the stream (on_error: fail), or is counted in
    a warning (it goes to the quarantine)."""
    if not errors.height:
        return
    if not spec.checked:
        raise EnrichError(describe_errors(spec, errors, files))
    warn(f"{spec.name}: {errors.height} bad row(s) in {spec.input} were set aside in {spec.quarantine}")


def quarantine_batches(spec: Spec, errors: list[pl.DataFrame], files: list[str]) -> list[pa.RecordBatch]:
    """The bad rows in file order, as the checked stream's last batches (output columns null)."""
    bad = pl.concat([pl.DataFrame(schema=ERRORS_SCHEMA), *errors]).sort("_file", "_row")
    frame = bad.select(
        *[pl.lit(None, dtype).alias(name) for name, dtype in spec.output_schema.items()],
        _source_file=pl.col("_file").replace_strict(list(range(len(files))), files, return_dtype=pl.String),
        _source_row=pl.col("_row"),
        _source_record=pl.col("_record"),
        _error=pl.col("_error"),
    )
    return frame.to_arrow().cast(spec.arrow_schema).to_batches()


def held_batches(spec: Spec, files: list[Path], names: list[str], loaded: list, lookup) -> Iterator[pa.RecordBatch]:
    """The rows of the formats read twice (key columns first, then every row).

    Rows are streamed in read order, file by file and batch by batch. Rows whose key was
    read more than once are held back and deduplicated (or reported as duplicates) once
    every row is read; they come last, sorted by the key.
    """
    repeated = repeated_keys(spec, loaded).implode()
    candidates = spec.lookup_candidates(lookup) if spec.lookup_candidates else None

    def batches() -> Iterator[pa.RecordBatch]:
        errors, held = [], []
        for file_id, (records, unreadable, found) in enumerate(loaded):
            errors.append(rejected_rows(file_id, unreadable))
            for batch in checked_batches(spec, files[file_id], file_id, records, found):
                batch = batch.select("_file", "_row", "_error", *spec.columns, pl.col("^_raw$"))
                batch = batch.with_columns(_held=key_hash(spec).is_in(repeated))
                errors.append(copied(bad_records(spec, batch.filter(pl.col("_error").is_not_null()))))
                kept = batch.filter(pl.col("_error").is_null())
                held.append(copied(kept.filter(pl.col("_held"))))
                yield from output(spec, kept.filter(~pl.col("_held")), candidates)
        repeats = None
        if held and spec.dedupe is not None:
            repeats = dedupe(spec, pl.concat(held))
        elif held:
            # Without dedupe a repeated key is a bad row: every copy of it goes to the errors.
            flagged = duplicates(spec, pl.concat(held))
            errors.append(bad_records(spec, flagged.filter(pl.col("_error").is_not_null())))
            repeats = flagged.filter(pl.col("_error").is_null()).sort(spec.key)
        report_errors(spec, pl.concat(errors), names)
        if repeats is not None:
            yield from output(spec, repeats, candidates)
        if spec.checked:
            yield from quarantine_batches(spec, errors, names)

    return batches()


def spilled_batches(spec: Spec, files: list[Path], names: list[str], loaded: list, lookup) -> Iterator[pa.RecordBatch]:
    """The rows of an NDJSON input: decoded once, good rows spilled, read back once chosen.

    Each file is decoded and checked once, a batch of lines at a time, and the good rows
    are set aside in a temporary Arrow file, so memory holds a batch and every row's key,
    not the input. Once every row is read, the rows that load are known (dedupe's choice,
    or the keys read once); they are read back and streamed, in read order.
    """
    order = list(spec.key)
    by = (spec.dedupe or {}).get("by")
    if by is not None and by not in order:
        order.append(by)
    # Without dedupe a repeated key is a bad row, whose record a checked model reports.
    keep_raw = spec.checked and spec.dedupe is None
    with tempfile.TemporaryDirectory(prefix=f"{spec.name}_") as spill:
        parts, keys, errors = [], [], []
        for file_id, (records, unreadable, found) in enumerate(loaded):
            for batch in checked_batches(spec, files[file_id], file_id, records, found):
                batch = batch.select("_file", "_row", "_error", *spec.columns, pl.col("^_raw$"))
                errors.append(copied(bad_records(spec, batch.filter(pl.col("_error").is_not_null()))))
                kept = batch.filter(pl.col("_error").is_null()).drop("_error")
                keys.append(kept.select(*order, "_file", "_row"))
                parts.append(Path(spill) / f"{len(parts):06}.arrow")
                kept = kept if keep_raw else kept.drop("_raw", strict=False)
                kept.write_ipc(parts[-1], compression="uncompressed")
                del batch, kept  # freed before the next batch is read
            errors.append(rejected_rows(file_id, unreadable))
        passed_over = left_out(spec, keys)
        keys.clear()
        repeated = passed_over.filter(pl.col("_error").is_not_null())
        report_errors(spec, pl.concat([*errors, bad_records(spec, repeated)]), names)
        candidates = spec.lookup_candidates(lookup) if spec.lookup_candidates else None
        for part in parts:
            rows = pl.read_ipc(part)
            if keep_raw:
                errors.append(bad_records(spec, rows.join(repeated, on=["_file", "_row"])))
                rows = rows.drop("_raw")
            rows = rows.join(passed_over, on=["_file", "_row"], how="anti", maintain_order="left")
            yield from output(spec, rows, candidates)
        if spec.checked:
            yield from quarantine_batches(spec, errors, names)


def stream(spec: Spec, raw_dir: Path, lookup: pl.DataFrame | None = None) -> pa.RecordBatchReader:
    """The model's rows as a stream of Arrow batches, which DuckDB writes as it reads them.

    Memory holds a few batches, not the input. The input files are opened and
    drift-checked before the stream is returned. A bad row fails the stream once every
    row is read, so DuckDB writes nothing (on_error: fail); a checked model streams the
    bad rows last instead, for the quarantine.
    """
    files = input_files(spec, raw_dir)
    names = [path.relative_to(raw_dir).as_posix() for path in files]
    loaded = [load(spec, raw_dir, path, file_id) for file_id, path in enumerate(files)]
    batches = spilled_batches if spec.format == "ndjson" else held_batches
    return pa.RecordBatchReader.from_batches(spec.arrow_schema, batches(spec, files, names, loaded, lookup))


def build(spec: Spec, raw_dir: Path, lookup: pl.DataFrame | None = None) -> pl.DataFrame:
    """The model's rows in memory (for tests and notebooks): the stream, collected."""
    return pl.from_arrow(stream(spec, raw_dir, lookup).read_all())
