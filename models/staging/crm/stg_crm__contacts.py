"""stg_crm__contacts: One row per CRM contact (HubSpot export), its latest version: the email
trimmed and lowercased, linked to the account whose web domain is the email's domain; archived
contacts are kept and flagged.

Compiled by gen-model (enrich compiler 1) from stg_crm__contacts.enrich.yml, sha256
02ed6b58f72ef1c7. Do not edit: change the spec and recompile.

Input: crm/contacts.ndjson (ndjson) under the raw dir, the dbt var gen_model_raw_path (relative to
the dbt project). Bad rows: kept in stg_crm__contacts__quarantine; the good rows load.
"""

import json
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pyarrow as pa

NAME = "stg_crm__contacts"
INPUT = "crm/contacts.ndjson"
KEY = ["contact_id"]

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
DRIFT = {"missing": "error", "new": "warn", "retyped": "error"}

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
COLUMNS = [
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
]
ARROW_SCHEMA = pl.DataFrame(schema=OUTPUT_SCHEMA).to_arrow().schema


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


SAMPLE_LINES = 1_000  # lines read for field types: the first ones and as many spread out
CHUNK_BYTES = 4 << 20  # text decoded at a time: memory holds a chunk of it, not the file
BATCH_LINES = 20_000  # lines checked at a time: memory holds a batch of them, not the file


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


def decoded_fields(found: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    """The fields each line is decoded into: the expected ones, typed as EXPECTED_FIELDS says
    unless the sample shows a type they cannot be read as (drift then decides what happens).
    Fields the spec does not use are not decoded, so their values cannot reject a line."""
    fields = {}
    for path, dtype in found.items():
        expected = EXPECTED_FIELDS.get(path)
        if expected is not None:
            fields[path] = expected if compatible(dtype, expected) else dtype
    return EXPECTED_FIELDS | fields


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
    numbered = [
        (first + index, line)
        for index, line in enumerate(chunk.decode("utf-8").split("\n"))
        if line.strip()
    ]
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


def read_file(path: Path, name: str, file_id: int) -> tuple[Records, list, dict]:
    """NDJSON: one object per line; other non-blank lines are rejected with their number.

    Field types come from a sample of lines (new fields are looked for there); each pass
    over the records decodes the file a chunk at a time, into the expected fields only.
    """
    found = sample_types(path)
    fields = decoded_fields(found)
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


def load(raw_dir: Path, path: Path, file_id: int) -> tuple[Records, list, dict]:
    """One input file opened and drift-checked.

    Returns its records (decoded a chunk at a time, on each pass over them), the records that
    could not be read at all (row, text, reason; complete once the records are read), and where
    each expected field is.
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
    return check_rows(derive(cast_fields(rows)))


def checked_batches(
    path: Path, file_id: int, records: Records, found: dict
) -> Iterator[pl.DataFrame]:
    """The file's rows checked, BATCH_LINES at a time, as they are decoded."""
    for frame in records:
        batch = checked(frame.lazy(), found).collect()
        del frame  # the lines decoded are freed while the batch is used
        yield batch


def dedupe(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per key: the latest by updated_at; ties go to the row read last.

    `rows` are the good rows' keys, numbered in read order by `_file` and `_row`; the rows
    chosen are the ones that load.
    """
    chosen = rows.sort(
        ["contact_id", "updated_at", "_file", "_row"],
        descending=[False, True, True, True],
        nulls_last=True,
    )
    return chosen.unique(subset=KEY, keep="first", maintain_order=True)


def left_out(keys: list[pl.DataFrame]) -> pl.DataFrame:
    """The good rows that do not load (`_file`, `_row`): the versions dedupe passes over,
    usually far fewer than those it chooses."""
    if not keys:
        return pl.DataFrame(schema={"_file": pl.UInt32, "_row": pl.Int64})
    every = pl.concat(keys)
    chosen = dedupe(every).select("_file", "_row")
    return every.join(chosen, on=["_file", "_row"], how="anti").select("_file", "_row")


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


def stream(raw_dir: Path, lookup: pl.DataFrame) -> pa.RecordBatchReader:
    """The model's rows as a stream of Arrow batches, which DuckDB writes as it reads them.

    Each file is decoded and checked once, a batch of lines at a time, and the good rows are set
    aside in a temporary Arrow file, so memory holds a batch and every row's key, not the input.
    Once every row is read, the latest version of each key is known; those rows are read back
    and streamed, in read order, joined to stg_app__accounts. Bad rows are left out;
    stg_crm__contacts__quarantine lists them.
    """
    files = input_files(raw_dir)
    loaded = [load(raw_dir, path, file_id) for file_id, path in enumerate(files)]

    def batches() -> Iterator[pa.RecordBatch]:
        with tempfile.TemporaryDirectory(prefix=f"{NAME}_") as spill:
            parts, keys, errors = [], [], []
            for file_id, (records, unreadable, found) in enumerate(loaded):
                for batch in checked_batches(files[file_id], file_id, records, found):
                    batch = batch.select("_file", "_row", "_error", *COLUMNS)
                    failed = batch.filter(pl.col("_error").is_not_null())
                    errors.append(copied(failed.select("_file", "_row", "_error")))
                    kept = batch.filter(pl.col("_error").is_null()).drop("_error")
                    keys.append(kept.select("contact_id", "updated_at", "_file", "_row"))
                    parts.append(Path(spill) / f"{len(parts):06}.arrow")
                    kept.write_ipc(parts[-1], compression="uncompressed")
                    del batch, failed, kept  # freed before the next batch is read
                unread = rejected_rows(file_id, unreadable)
                errors.append(unread.select("_file", "_row", "_error"))
            passed_over = left_out(keys)
            keys.clear()
            errors = pl.concat(errors)
            if errors.height:
                warn(
                    f"{NAME}: {errors.height} bad row(s) in {INPUT} were set aside in "
                    "stg_crm__contacts__quarantine"
                )
            candidates = lookup_candidates(lookup)
            for part in parts:
                rows = pl.read_ipc(part)
                rows = rows.join(
                    passed_over, on=["_file", "_row"], how="anti", maintain_order="left"
                )
                yield from arrow_batches(finish(attach_lookup(rows, candidates)))

    return pa.RecordBatchReader.from_batches(ARROW_SCHEMA, batches())


def build(raw_dir: Path, lookup: pl.DataFrame) -> pl.DataFrame:
    """The model's rows in memory (for tests and notebooks): the stream, collected."""
    return pl.from_arrow(stream(raw_dir, lookup).read_all())


def model(dbt, session):
    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""
    raw_dir = raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))
    lookup = dbt.ref("stg_app__accounts").pl()
    return stream(raw_dir, lookup)
