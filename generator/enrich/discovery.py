"""Discovery: which raw files a project has, in what format, with what schema.

Walks the raw dir (the dbt var `gen_model_raw_path`, default `data/raw`), sniffs each file's
format and options (NDJSON vs JSON and the JSON record path, CSV delimiter, header and
encoding), reads its schema with Polars (nested structs flattened to dotted paths, lists
kept whole), counts rows cheaply, and returns `generator.project.catalog.RawFile`s with DuckDB type
names, so requests and enrichment specs can use them. Monthly drops that share a schema
(`events-2024-01.parquet`, `events-2024-02.parquet`) are listed once, as a glob.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

from generator.enrich.types import flatten_polars_schema, from_polars
from generator.project.catalog import Column, RawFile

SAMPLE_BYTES = 256 * 1024  # what format sniffing and NDJSON schema inference look at
SAMPLE_RECORDS = 2000
SAMPLE_VALUES = 5
# Bounds that keep discovery cheap on big files (it runs on every gen-model call): line
# counts are exact up to COUNT_EXACT_BYTES and extrapolated above; a JSON document up to
# JSON_PARSE_BYTES is parsed whole, a bigger one only its first JSON_HEAD_BYTES.
COUNT_EXACT_BYTES = 256 * 2**20
COUNT_SAMPLE_BYTES = 4 * 2**20
JSON_PARSE_BYTES = 4 * 2**20
JSON_HEAD_BYTES = 2**20
EXTENSIONS = {
    ".ndjson": "ndjson",
    ".jsonl": "ndjson",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
RECORD_KEYS = ("data", "results", "items", "records", "rows")


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str
    header: bool
    encoding: str


def resolve_raw_dir(project_dir: str | Path, raw_dir: str | Path | None = None, environment: bool = True) -> Path:
    """The raw dir: `raw_dir` if given, else $GEN_MODEL_RAW_PATH (unless `environment` is
    False), else the dbt var `gen_model_raw_path` from dbt_project.yml (when it is a plain
    path), else `data/raw`. Relative paths are relative to the project, as dbt resolves them."""
    project_dir = Path(project_dir)
    from_environment = os.environ.get("GEN_MODEL_RAW_PATH") if environment else None
    setting = str(raw_dir) if raw_dir is not None else from_environment
    if not setting:
        try:
            config = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
            value = ((config or {}).get("vars") or {}).get("gen_model_raw_path")
        except (OSError, yaml.YAMLError):
            value = None
        setting = value if isinstance(value, str) and "{" not in value else "data/raw"
    path = Path(setting).expanduser()
    return path if path.is_absolute() else project_dir / path


def unsaved_raw_path(project_dir: str | Path, raw_dir: str | Path | None = None) -> str | None:
    """The raw dir in effect, as a dbt var value, when a plain `dbt build` would not find it.

    The compiled models read $GEN_MODEL_RAW_PATH, else the var `gen_model_raw_path`, else
    data/raw: a dir given by --raw-dir or by the variable of this shell alone is lost on
    the next `dbt build` (the model fails with "no file matches ..."). None when the
    project's own var (or the default) already resolves to it.
    """
    project_dir = Path(project_dir)
    if raw_dir is None and not os.environ.get("GEN_MODEL_RAW_PATH"):
        return None
    wanted = resolve_raw_dir(project_dir, raw_dir).resolve()
    if resolve_raw_dir(project_dir, environment=False).resolve() == wanted:
        return None
    return _relative(wanted, project_dir)


def save_raw_path_var(project_dir: str | Path, value: str) -> Path:
    """Set `vars: {gen_model_raw_path: value}` in dbt_project.yml, keeping its comments."""
    from ruamel.yaml import YAML

    from generator.write.transaction import atomic_write

    path = Path(project_dir) / "dbt_project.yml"
    yaml = YAML(typ="rt")
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(path.read_text(encoding="utf-8"))
    variables = document.get("vars")
    if variables is None:
        document["vars"] = variables = {}
    variables["gen_model_raw_path"] = value
    stream = io.StringIO()
    yaml.dump(document, stream)
    atomic_write(path, stream.getvalue())
    return path


def _relative(path: Path, project_dir: Path) -> str:
    try:
        return path.resolve().relative_to(project_dir.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def sniff_encoding(head: bytes) -> str:
    """utf-8-sig (BOM), utf-16 (BOM), utf-8, else latin-1 (which decodes anything)."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.start < len(head) - 4:  # not just a character cut at the sample's end
            return "latin-1"
    return "utf-8"


def sniff_csv(head: bytes) -> CsvDialect:
    """Delimiter and header from a sample; `,` and a header when the sniffer cannot tell."""
    encoding = sniff_encoding(head)
    text = head.decode(encoding, errors="ignore")
    lines = text.splitlines()
    sample = "\n".join(lines[:50])
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        header = csv.Sniffer().has_header(sample)
    except csv.Error:
        header = True
    if not header and lines:
        # The sniffer says no header when every column is text; names that look like
        # names (letters, no digits-only values) are a header in practice.
        first = next(csv.reader([lines[0]], delimiter=delimiter), [])
        header = bool(first) and all(re.search(r"[A-Za-z]", value) for value in first)
    return CsvDialect(delimiter=delimiter, header=header, encoding=encoding)


def _count_lines(path: Path) -> tuple[int, bool]:
    """(lines, estimated): exact up to COUNT_EXACT_BYTES, else extrapolated from the head.

    Discovery runs on every gen-model call: its cost must not grow with the file.
    """
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size > COUNT_EXACT_BYTES:
            head = handle.read(COUNT_SAMPLE_BYTES)
            return round(head.count(b"\n") * size / max(len(head), 1)), True
        count, last = 0, b"\n"
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1), False


def _samples(frame, path: str) -> tuple[str, ...]:
    """A few distinct text values of a leaf (what format a date is written in, say)."""
    import polars as pl

    head, *rest = path.split(".")
    expression = pl.col(head)
    for part in rest:
        expression = expression.struct.field(part)
    try:
        values = frame.select(expression.alias("v")).get_column("v")
    except pl.exceptions.PolarsError:
        return ()
    if values.dtype != pl.String:
        return ()
    distinct = values.drop_nulls().unique(maintain_order=True).head(SAMPLE_VALUES)
    return tuple(distinct.to_list())


def _columns(frame) -> tuple[Column, ...]:
    return tuple(
        Column(name=path, data_type=from_polars(dtype), sample_values=_samples(frame, path))
        for path, dtype in flatten_polars_schema(frame.schema)
    )


def _is_json_object(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _looks_like_ndjson(head: bytes) -> bool:
    lines = [line for line in head.splitlines() if line.strip()][:3]
    if len(lines) < 2:
        return False
    try:
        return all(isinstance(json.loads(line), dict) for line in lines[:2])
    except ValueError:
        return False


def _record_path(document) -> str | None:
    """The key holding the records: a list of objects (preferring usual names), or None."""
    if isinstance(document, list):
        return None
    candidates = [
        key
        for key, value in document.items()
        if isinstance(value, list) and value and 2 * sum(isinstance(v, dict) for v in value[:10]) >= len(value[:10])
    ]
    if not candidates:
        return None
    for key in RECORD_KEYS:
        if key in candidates:
            return key
    return max(candidates, key=lambda key: len(document[key]))


_DECODER = json.JSONDecoder()
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def _skip(text: str, index: int) -> int:
    return _WHITESPACE.match(text, index).end()


def _array_prefix(text: str, index: int) -> tuple[list, int, bool]:
    """The complete items of the array opening at text[index], which may be cut short.

    Returns (items, where they end, whether the closing bracket was reached).
    """
    items: list = []
    index = _skip(text, index + 1)
    while index < len(text) and text[index] != "]":
        try:
            value, index = _DECODER.raw_decode(text, index)
        except ValueError:
            return items, index, False
        items.append(value)
        index = _skip(text, index)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
    return items, index, index < len(text)


def _is_record_list(items: list) -> bool:
    return bool(items) and 2 * sum(isinstance(v, dict) for v in items[:10]) >= len(items[:10])


def json_head(text: str) -> tuple[str | None, list, int]:
    """Records from the start of a JSON document that may be cut short.

    Returns (record path, the complete records read, how many characters they span), for
    a document too big to parse whole. The record path is a top-level key holding a list
    of objects, as `_record_path` chooses it, among the keys the head reaches.
    """
    index = _skip(text, 0)
    if text.startswith("[", index):
        items, end, _ = _array_prefix(text, index)
        return None, items, end - index
    if not text.startswith("{", index):
        raise ValueError("the document is neither a JSON object nor an array")
    index = _skip(text, index + 1)
    found: dict[str, tuple[list, int]] = {}
    while index < len(text) and text[index] != "}":
        try:
            key, index = _DECODER.raw_decode(text, index)
        except ValueError:
            break
        index = _skip(text, index)
        if not text.startswith(":", index):
            break
        index = _skip(text, index + 1)
        if text.startswith("[", index):
            items, end, closed = _array_prefix(text, index)
            if _is_record_list(items):
                found[str(key)] = (items, end - index)
            if not closed:
                break
            index = end + 1
        else:
            try:
                _, index = _DECODER.raw_decode(text, index)
            except ValueError:
                break
        index = _skip(text, index)
        if text.startswith(",", index):
            index = _skip(text, index + 1)
    if not found:
        return None, [], 0
    key = next((k for k in RECORD_KEYS if k in found), max(found, key=lambda k: len(found[k][0])))
    return key, *found[key]


def _raw_file(path: Path, project_dir: Path, raw_dir: Path | None, fmt: str, **fields) -> RawFile:
    input_path = None
    if raw_dir is not None:
        try:
            input_path = path.resolve().relative_to(raw_dir.resolve()).as_posix()
        except ValueError:
            input_path = None
    return RawFile(_relative(path, project_dir), fmt, input_path=input_path, **fields)


def _about(count: int, estimated: bool) -> str:
    return f"about {count:,} (estimated from the first MiBs)" if estimated else f"{count:,}"


def sniff_file(path: str | Path, project_dir: str | Path = ".", raw_dir: str | Path | None = None) -> RawFile | None:
    """Format, options, schema and row count of one raw file; None if not a data file.

    Reads a bounded sample (SAMPLE_BYTES, the first SAMPLE_RECORDS records, Parquet
    metadata); row counts of very big text files are estimates, and say so.
    """
    import polars as pl

    path, project_dir = Path(path), Path(project_dir)
    raw_dir = Path(raw_dir) if raw_dir is not None else None
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        return None
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if fmt == "json" and _looks_like_ndjson(head):
        fmt = "ndjson"
    if fmt == "parquet":
        frame = pl.scan_parquet(path)
        schema = frame.collect_schema()
        sample = frame.head(SAMPLE_RECORDS).collect()
        columns = tuple(
            Column(name=name, data_type=from_polars(dtype), sample_values=_samples(sample, name))
            for name, dtype in flatten_polars_schema(schema)
        )
        return _raw_file(
            path,
            project_dir,
            raw_dir,
            "parquet",
            columns=columns,
            row_count=parquet_rows(path),
            description="Parquet",
        )
    if fmt == "ndjson":
        complete = head if len(head) < SAMPLE_BYTES else head[: head.rfind(b"\n") + 1]
        lines = [line for line in complete.splitlines() if line.strip()][:SAMPLE_RECORDS]
        objects = [line for line in lines if _is_json_object(line)]
        frame = pl.read_ndjson(io.BytesIO(b"\n".join(objects)), infer_schema_length=None) if objects else pl.DataFrame()
        count, estimated = _count_lines(path)
        description = f"NDJSON, one object per line; schema from the first {len(lines)} lines"
        if len(objects) < len(lines):
            description += f" ({len(lines) - len(objects)} of them not JSON objects)"
        if estimated:
            description += f"; {_about(count, True)} lines"
        return _raw_file(
            path,
            project_dir,
            raw_dir,
            "ndjson",
            columns=_columns(frame),
            row_count=count,
            description=description,
        )
    if fmt == "json":
        encoding = sniff_encoding(head)
        size = path.stat().st_size
        if size <= JSON_PARSE_BYTES:
            document = json.loads(path.read_text(encoding=encoding))
            record_path = _record_path(document) if isinstance(document, dict) else None
            records = document[record_path] if record_path else document
            if not isinstance(records, list):
                records = [records]
            count, estimated = len(records), False
        else:
            with path.open("rb") as handle:
                text = handle.read(JSON_HEAD_BYTES).decode(encoding, errors="ignore")
            record_path, records, span = json_head(text)
            count = round(len(records) * size / span) if span else 0
            estimated = True
        dicts = [record for record in records[:SAMPLE_RECORDS] if isinstance(record, dict)]
        frame = pl.from_dicts(dicts, infer_schema_length=None) if dicts else pl.DataFrame()
        description = f"JSON object, records under {record_path!r}" if record_path else "JSON array"
        if estimated:
            description += f"; schema from the first {len(dicts)} records, {_about(count, True)} records"
        return _raw_file(
            path,
            project_dir,
            raw_dir,
            "json",
            columns=_columns(frame),
            row_count=count,
            record_path=record_path,
            description=description,
        )
    dialect = sniff_csv(head)
    encoding = dialect.encoding
    text = head.decode(encoding, errors="ignore")
    if len(head) == SAMPLE_BYTES:
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter))
    rows = [row for row in rows if row]
    names = (rows[0] if dialect.header and rows else [f"column_{i + 1}" for i in range(len(rows[0]))]) if rows else []
    body = rows[1:] if dialect.header else rows
    width = len(names)
    data = {name: [row[i] if i < len(row) and row[i] != "" else None for row in body] for i, name in enumerate(names)}
    frame = pl.DataFrame(data, schema={name: pl.String for name in names}) if width else pl.DataFrame()
    lines, estimated = _count_lines(path)
    row_count = lines - (1 if dialect.header else 0)
    bom = " with a byte order mark" if encoding == "utf-8-sig" else ""
    plain_encoding = "utf-8" if encoding == "utf-8-sig" else encoding
    description = (
        f"CSV, delimiter {dialect.delimiter!r}, {'a header row' if dialect.header else 'no header'}"
        f", encoding {plain_encoding}{bom}; values are text"
    )
    if estimated:
        description += f"; {_about(row_count, True)} rows"
    return _raw_file(
        path,
        project_dir,
        raw_dir,
        "csv",
        columns=_columns(frame),
        row_count=row_count,
        description=description,
        options={"delimiter": dialect.delimiter, "header": dialect.header, "encoding": plain_encoding},
    )


def parquet_rows(path: Path) -> int:
    """A Parquet file's row count, from its footer."""
    import polars as pl

    return pl.scan_parquet(path).select(pl.len()).collect().item()


def _parquet_shape(path: Path) -> list[tuple[str, str]]:
    """(leaf path, DuckDB type) from a Parquet footer alone."""
    import polars as pl

    return [(name, from_polars(dtype)) for name, dtype in flatten_polars_schema(pl.read_parquet_schema(path))]


def _series_key(path: Path, root: Path) -> tuple:
    """Files whose names differ only in their numbers (dates, sequence) form a series."""
    relative = path.relative_to(root)
    pattern = re.sub(r"\d+(?:[-_.]\d+)*", "*", relative.name)
    return (relative.parent.as_posix(), path.suffix.lower(), pattern)


def _unreadable(path: Path, project_dir: Path, root: Path, error: Exception) -> RawFile:
    return _raw_file(
        path,
        project_dir,
        root,
        EXTENSIONS.get(path.suffix.lower(), "unknown"),
        description=f"could not be read: {str(error).splitlines()[0][:200] if str(error) else error!r}",
    )


def _sniff(path: Path, project_dir: Path, root: Path) -> RawFile | None:
    try:
        return sniff_file(path, project_dir, root)
    except Exception as error:  # a Polars error on a broken file must not stop discovery
        return _unreadable(path, project_dir, root, error)


def _as_series(members: list[Path], project_dir: Path, root: Path) -> list[RawFile]:
    """One RawFile for a same-schema series (the first file sampled, the rest read only
    from their footers when Parquet), else one per file."""
    first = _sniff(members[0], project_dir, root)
    if first is None:
        return []
    if len(members) == 1 or first.description.startswith("could not be read"):
        return [first] + [raw for raw in (_sniff(m, project_dir, root) for m in members[1:]) if raw]
    shape = [(c.name, c.data_type) for c in first.columns]
    counts: list[int | None] = [first.row_count]
    same = True
    for member in members[1:]:
        try:
            if first.format == "parquet":
                same = _parquet_shape(member) == shape
                counts.append(parquet_rows(member) if same else None)
            else:
                other = sniff_file(member, project_dir, root)
                same = other is not None and [(c.name, c.data_type) for c in other.columns] == shape
                same = same and (other.format, other.record_path) == (
                    first.format,
                    first.record_path,
                )
                counts.append(other.row_count if same else None)
        except Exception:  # noqa: BLE001 - a broken member is listed on its own below
            same = False
        if not same:
            break
    if not same:
        return [raw for raw in (_sniff(m, project_dir, root) for m in members) if raw]
    directory, _, name = first.path.rpartition("/")
    pattern = re.sub(r"\d+(?:[-_.]\d+)*", "*", name)
    input_path = None
    if first.input_path is not None:
        parent = first.input_path.rpartition("/")[0]
        input_path = f"{parent}/{pattern}" if parent else pattern
    return [
        replace(
            first,
            path=f"{directory}/{pattern}" if directory else pattern,
            input_path=input_path,
            row_count=sum(counts) if all(c is not None for c in counts) else None,
            description=f"{first.description}; {len(members)} files with one schema",
        )
    ]


def discover_raw_files(project_dir: str | Path, raw_dir: str | Path | None = None) -> tuple[RawFile, ...]:
    """Every data file under the raw dir, sorted by path; same-schema series as one glob.

    The cost is bounded per file (see SAMPLE_BYTES, COUNT_EXACT_BYTES, JSON_PARSE_BYTES)
    and a series of Parquet files costs one sample plus a footer read per file.
    """
    project_dir = Path(project_dir)
    root = resolve_raw_dir(project_dir, raw_dir)
    if not root.is_dir():
        return ()
    series: dict[tuple, list[Path]] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        if path.suffix.lower() not in EXTENSIONS:
            continue
        series.setdefault(_series_key(path, root), []).append(path)
    result = []
    for members in series.values():
        result.extend(_as_series(members, project_dir, root))
    return tuple(sorted(result, key=lambda raw: raw.path))


def _snake(path: str) -> str:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", path.strip())
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    name = re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()
    return name if re.match(r"[a-z]", name) else f"field_{name}"


def draft_spec(
    raw: RawFile,
    project_dir: str | Path,
    raw_dir: str | Path | None = None,
    name: str | None = None,
) -> str:
    """A starting enrichment spec for a discovered file: input, fields and one column each.

    Every field keeps its type; keys, casts, dedupe and filters are left for a person or
    the LLM to decide (marked TODO). The draft validates and compiles as it is.
    """
    import yaml as _yaml

    project_dir = Path(project_dir)
    root = resolve_raw_dir(project_dir, raw_dir)
    input_path = raw.input_path
    if input_path is None:
        try:
            input_path = (project_dir / raw.path).relative_to(root).as_posix()
        except ValueError:
            input_path = raw.path
    stem = re.sub(r"\W+", "_", Path(input_path).name.split(".")[0].replace("*", "")).strip("_")
    source = Path(input_path).parts[0] if len(Path(input_path).parts) > 1 else "raw"
    name = name or f"stg_{_snake(source)}__{_snake(stem) or 'records'}"
    columns, used = [], set()
    for column in raw.columns:
        column_name = _snake(column.name.replace(".", "_"))
        while column_name in used:
            column_name += "_"
        used.add(column_name)
        columns.append({"name": column_name, "from": column.name})
    key = next((c["name"] for c in columns if c["name"] == "id" or c["name"].endswith("_id")), None)
    spec_input: dict = {"path": input_path, "format": raw.format}
    if raw.record_path:
        spec_input["record_path"] = raw.record_path
    if raw.format == "csv":
        options = dict(raw.options)
        if not options:
            first = sorted(root.glob(input_path))
            dialect = sniff_csv(first[0].read_bytes()[:SAMPLE_BYTES]) if first else None
            if dialect:
                encoding = "utf-8" if dialect.encoding == "utf-8-sig" else dialect.encoding
                options = {
                    "delimiter": dialect.delimiter,
                    "header": dialect.header,
                    "encoding": encoding,
                }
        for option in ("delimiter", "header", "encoding"):
            if option in options:
                spec_input[option] = options[option]
    spec_input["fields"] = {
        column.name: (column.data_type if column.data_type != "null" else "varchar") for column in raw.columns
    }
    data = {
        "enrich": 1,
        "name": name,
        "description": f"TODO: what one row of {input_path} is.",
        "input": spec_input,
        "on_error": "fail",
        "key": [key or columns[0]["name"]],
        "columns": columns,
    }
    header = (
        f"# Drafted by gen-model from {raw.path} ({raw.description}).\n"
        "# TODO: check the key, add types and formats for text that holds dates or numbers,\n"
        "# dedupe (keep: latest, by: ...) if the key repeats, and filters.\n"
    )
    return header + _yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
