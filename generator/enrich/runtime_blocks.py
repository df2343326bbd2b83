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
SAMPLE_LINES = 10_000  # lines read for field types: the first ones and as many spread out


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


def value_at(record: pl.Expr, path: str) -> pl.Expr:
    """The value at a dotted path inside a record."""
    for part in path.split("."):
        record = record.struct.field(part)
    return record


def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, pl.DataFrame, dict]:
    """NDJSON: one object per line; other non-blank lines are rejected with their number.

    Field types come from a sample of lines (new fields are looked for there) joined with
    EXPECTED_FIELDS; every line is then decoded with that type, lazily, in parallel batches.
    One streaming pass checks that every line decodes and which expected fields the sample
    missed have values further down; only a file with bad lines is checked line by line.
    """
    lines = pl.scan_lines(path, row_index_name="_row", row_index_offset=1)
    lines = lines.filter(pl.col("line").str.strip_chars() != "")
    head = lines.head(SAMPLE_LINES).collect()
    # About SAMPLE_LINES more lines spread over the file (its size says how far apart).
    head_bytes = max(1, head["line"].str.len_bytes().sum() + head.height)
    step = max(1, round(path.stat().st_size / head_bytes))
    sample = pl.concat([head, lines.gather_every(step).collect()])["line"]
    try:
        inferred = sample.str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:  # some sampled lines are not JSON: leave them out
        sample = sample.filter(pl.Series([json_problem(text) is None for text in sample]))
        inferred = sample.str.json_decode(infer_schema_length=None) if sample.len() else None
    found = {}
    if inferred is not None and sample.len():
        found = leaf_fields(inferred.dtype.to_schema())
    # Fields only ever null in the sample may hold text further down: decode them as text.
    wanted = {path: pl.String if dtype == pl.Null else dtype for path, dtype in found.items()}
    dtype = struct_of(EXPECTED_BY_PATH(wanted))
    unseen = [path for path in leaf_fields(dtype.to_schema()) if path not in found]
    decoded = pl.col("line").str.json_decode(dtype)
    checks = [decoded.is_null().sum().alias("_invalid")]
    checks += [value_at(decoded, p).is_not_null().any().alias(p) for p in unseen]
    rejected = []
    try:
        checked = lines.select(checks).collect(engine="streaming").row(0, named=True)
        valid = checked.pop("_invalid") == 0
    except pl.exceptions.PolarsError:
        valid = False
    if not valid:
        text = lines.collect()
        problems = [json_problem(line) for line in text["line"]]
        rejected = [
            (row, line, problem)
            for row, line, problem in zip(text["_row"], text["line"], problems, strict=True)
            if problem is not None
        ]
        bad = pl.Series([row for row, _, _ in rejected], dtype=text["_row"].dtype)
        lines = lines.filter(~pl.col("_row").is_in(bad.implode()))
        try:
            checked = lines.select(checks[1:]).collect(engine="streaming").row(0, named=True)
        except pl.exceptions.PolarsError:
            # A value the sampled type cannot hold: infer from every line (slower).
            good = lines.collect()["line"]
            dtype = good.str.json_decode(infer_schema_length=None).dtype
            found = leaf_fields(dtype.to_schema())
            checked = {}
    # An expected field the sample did not show is there if any line has a value for it.
    types = leaf_fields(dtype.to_schema())
    found.update({path: types[path] for path, present in checked.items() if present})
    records = lines.select(
        pl.col("_row").cast(pl.Int64), pl.col("line").str.json_decode(dtype).alias("_record")
    ).unnest("_record")
    records = records.with_columns(_file=pl.lit(file_id, pl.UInt32))
    return records, rejected_rows(file_id, rejected), found
'''

READ_JSON = '''
def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, pl.DataFrame, dict]:
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
    return frame.lazy(), rejected_rows(file_id, rejected), leaf_fields(frame.schema)
'''

READ_CSV = '''
def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, pl.DataFrame, dict]:
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
    return frame.lazy(), rejected_rows(file_id, rejected), leaf_fields(frame.schema)
'''

READ_PARQUET = '''
def read_file(path: Path, name: str, file_id: int) -> tuple[pl.LazyFrame, pl.DataFrame, dict]:
    """Parquet: typed columns, scanned lazily; rows are numbered from 1 in each file."""
    records = pl.scan_parquet(path).with_row_index("_row", offset=1)
    records = records.with_columns(pl.col("_row").cast(pl.Int64), _file=pl.lit(file_id, pl.UInt32))
    return records, rejected_rows(file_id, []), leaf_fields(records.collect_schema())
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

PARSE_TIMESTAMP = '''
def parse_timestamp(text: pl.Expr, formats: list[str], time_zone: str) -> pl.Expr:
    """Text as a UTC timestamp: the first format that parses wins; naive text is in time_zone."""
    text = text.str.strip_chars()
    parsed = []
    for fmt in formats:
        value = text.str.to_datetime(fmt, time_unit="us", strict=False)
        if "%z" not in fmt and "%#z" not in fmt:
            value = value.dt.replace_time_zone(time_zone, ambiguous="null", non_existent="null")
        parsed.append(value.dt.convert_time_zone("UTC"))
    return pl.coalesce(parsed)
'''

PARSE_DATE = '''
def parse_date(text: pl.Expr, formats: list[str]) -> pl.Expr:
    """Text as a date: the first format that parses wins."""
    text = text.str.strip_chars()
    return pl.coalesce([text.str.to_date(fmt, strict=False) for fmt in formats])
'''

PARSE_TIME = '''
def parse_time(text: pl.Expr, formats: list[str]) -> pl.Expr:
    """Text as a time of day: the first format that parses wins."""
    text = text.str.strip_chars()
    return pl.coalesce([text.str.to_time(fmt, strict=False) for fmt in formats])
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

BLOCKS = {
    "parse_number": PARSE_NUMBER,
    "parse_timestamp": PARSE_TIMESTAMP,
    "parse_date": PARSE_DATE,
    "parse_time": PARSE_TIME,
    "parse_boolean": PARSE_BOOLEAN,
}

READERS = {"ndjson": READ_NDJSON, "json": READ_JSON, "csv": READ_CSV, "parquet": READ_PARQUET}
