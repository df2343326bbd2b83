"""Fixed code blocks the compiler copies into generated models, by what a spec needs.

They are plain text, not imported anywhere: a generated model depends only on Polars and
the standard library, so a reviewer reads everything that runs in the one file. The
compiler picks the blocks a spec needs (one reader per input format, the parse helpers
its casts use) and fills in the spec-specific functions around them.
"""

ERROR_AND_WARN = '''
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
'''

READ_NDJSON = '''
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
        expected = EXPECTED_FIELDS.get(FIELD_NAME(path))
        if expected is not None:
            fields[path] = expected if compatible(dtype, expected) else dtype
    return UNSEEN_FIELDS(fields)


def line_chunks(path: Path) -> Iterator[tuple[int, int, bytes]]:
    """The file in pieces of whole lines: the number of a piece's first line, its count of
    lines and its text."""
    number, rest = 1, b""
    with path.open("rb") as handle:
        while block := handle.read(CHUNK_BYTES):
            block = rest + block
            end = block.rfind(b"\\n") + 1
            chunk, rest = block[:end], block[end:]
            if chunk:
                line_count = chunk.count(b"\\n")
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
        frame = pl.read_ndjson("\\n".join(lines).encode(), schema=struct_of(fields).to_schema())
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
        for index, line in enumerate(chunk.decode("utf-8").split("\\n"))
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
'''

READ_JSON = '''
def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, list, dict]:
    """JSON: the records under RECORD_PATH, numbered from 1; non-objects are rejected."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise EnrichError(
            f"{name}:{error.lineno}:{error.colno}: not valid JSON ({error.msg}); "
            "a broken document cannot be loaded in part"
        ) from None
    records = document
    for key in RECORD_PATH:
        if not isinstance(records, dict) or key not in records:
            raise EnrichError(f"{name}: no {'.'.join(RECORD_PATH)!r} holding the records")
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
'''

READ_CSV = '''
def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, list, dict]:
    """CSV: every value as text (empty is null); rows with a wrong field count are rejected."""
    rows, numbers, rejected = [], [], []
    names: list[str] | None = None
    with path.open(encoding=ENCODING, newline="") as handle:
        reader = csv.reader(handle, delimiter=DELIMITER, quotechar=QUOTE, strict=True)
        start = 1
        try:
            for values in reader:
                line, start = start, reader.line_num + 1
                if not values:
                    continue
                if names is None:
                    names = values if HEADER else [f"column_{i + 1}" for i in range(len(values))]
                    if HEADER:
                        continue
                if len(values) != len(names):
                    text = DELIMITER.join(values)
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
'''

READ_PARQUET = '''
def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, list, dict]:
    """Parquet: typed columns, scanned lazily; rows are numbered from 1 in each file."""
    records = pl.scan_parquet(path).with_row_index("_row", offset=1)
    records = records.with_columns(pl.col("_row").cast(pl.Int64), _file=pl.lit(file_id, pl.UInt32))
    return records, [], leaf_fields(records.collect_schema())
'''

DRIFT = '''
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
    by_name = {FIELD_NAME(path): path for path in actual}
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
            "\\n".join(errors) + "\\nUpdate input.fields (or input.drift) in the spec if the "
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
'''

SNAKE_CASE = '''
def snake_case(path: str) -> str:
    """'Currency Code ' -> 'currency_code', 'updatedAt' -> 'updated_at', per path segment."""
    parts = []
    for part in path.split("."):
        part = re.sub(r"([a-z0-9])([A-Z])", r"\\1_\\2", part.strip())
        part = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\\1_\\2", part)
        parts.append(re.sub(r"[^0-9a-zA-Z]+", "_", part).strip("_").lower())
    return ".".join(parts)
'''

FIRST_PARSE = '''
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
'''

PARSE_TIMESTAMP = '''
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
'''

PARSE_DATE = '''
def parse_date(text: pl.Expr, formats: list[str]) -> pl.Expr:
    """Text as a date: the first format that parses wins."""
    parsers = [lambda values, fmt=fmt: values.str.to_date(fmt, strict=False) for fmt in formats]
    return first_parse(text, parsers, pl.Date)
'''

PARSE_TIME = '''
def parse_time(text: pl.Expr, formats: list[str]) -> pl.Expr:
    """Text as a time of day: the first format that parses wins."""
    parsers = [lambda values, fmt=fmt: values.str.to_time(fmt, strict=False) for fmt in formats]
    return first_parse(text, parsers, pl.Time)
'''

PARSE_BOOLEAN = '''
def parse_boolean(text: pl.Expr, true_values: list[str], false_values: list[str]) -> pl.Expr:
    """Text as a boolean, case-insensitively; anything else is null (and an error)."""
    mapping = {value: True for value in true_values} | {value: False for value in false_values}
    cleaned = text.str.strip_chars().str.to_lowercase()
    return cleaned.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
'''

PARSE_NUMBER = '''
def parse_number(text: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Text as a number of `dtype` (decimals are rounded to its scale); else null."""
    return text.str.strip_chars().cast(dtype, strict=False)
'''

# Helpers that parse with a list of formats share first_parse.
NEEDS_FIRST_PARSE = {"parse_timestamp", "parse_date", "parse_time"}

BLOCKS = {
    "parse_number": PARSE_NUMBER,
    "parse_timestamp": PARSE_TIMESTAMP,
    "parse_date": PARSE_DATE,
    "parse_time": PARSE_TIME,
    "parse_boolean": PARSE_BOOLEAN,
}

READERS = {"ndjson": READ_NDJSON, "json": READ_JSON, "csv": READ_CSV, "parquet": READ_PARQUET}

# `checked_batches` by input format: a file's checked rows, a batch at a time.
CHECKED_PARQUET_BATCHES = '''
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
'''

CHECKED_NDJSON_BATCHES = '''
def checked_batches(
    path: Path, file_id: int, records: Records, found: dict
) -> Iterator[pl.DataFrame]:
    """The file's rows checked, BATCH_LINES at a time, as they are decoded."""
    for frame in records:
        batch = checked(frame.lazy(), found).collect()
        del frame  # the lines decoded are freed while the batch is used
        yield batch
'''

CHECKED_LAZY_BATCHES = '''
def checked_batches(
    path: Path, file_id: int, records: pl.LazyFrame, found: dict
) -> Iterator[pl.DataFrame]:
    """The file's rows checked, BATCH_ROWS at a time, by Polars' streaming engine."""
    return checked(records, found).collect_batches(chunk_size=BATCH_ROWS)
'''
CHECKED_BATCHES = {
    "parquet": CHECKED_PARQUET_BATCHES,
    "ndjson": CHECKED_NDJSON_BATCHES,
    "json": CHECKED_LAZY_BATCHES,
    "csv": CHECKED_LAZY_BATCHES,
}

# `left_out` for NDJSON, without dedupe and with it: the spilled good rows that must not load.
LEFT_OUT_DUPLICATES = '''
def left_out(keys: list[pl.DataFrame]) -> pl.DataFrame:
    """The good rows that must not load (`_file`, `_row`, `_error`): every copy of a key read
    more than once."""
    if not keys:
        return pl.DataFrame(schema={"_file": pl.UInt32, "_row": pl.Int64, "_error": pl.String})
    flagged = duplicates(pl.concat(keys))
    return flagged.filter(pl.col("_error").is_not_null()).select("_file", "_row", "_error")
'''

LEFT_OUT_PASSED_OVER = '''
def left_out(keys: list[pl.DataFrame]) -> pl.DataFrame:
    """The good rows that do not load (`_file`, `_row`): the versions dedupe passes over,
    usually far fewer than those it chooses."""
    if not keys:
        return pl.DataFrame(schema={"_file": pl.UInt32, "_row": pl.Int64})
    every = pl.concat(keys)
    chosen = dedupe(every).select("_file", "_row")
    return every.join(chosen, on=["_file", "_row"], how="anti").select("_file", "_row")
'''

# The output checked against its contract and handed to DuckDB as Arrow batches.
FINISH = '''
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
'''

# The end of `quarantined` (its rows as the quarantine's columns) and the quarantine's entry point.
QUARANTINE_COLUMNS_AND_MODEL = '''
    file_ids = list(range(len(files)))
    return bad.select(
        source_file=pl.col("_file").replace_strict(file_ids, names, return_dtype=pl.String),
        source_row=pl.col("_row"),
        source_record=pl.col("_record"),
        error=pl.col("_error"),
    )


def model(dbt, session):
    """dbt-duckdb entry point: a Polars DataFrame of the bad rows, which dbt writes as the table."""
    return quarantined(raw_dir_from(dbt.config.meta_get("gen_model_raw_path")))
'''

# The end of `cast_fields` when a cast can fail: each value read that did not cast is a reason.
CAST_WITH_REASONS = """
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
"""
