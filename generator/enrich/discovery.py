"""Discovery: which raw files a project has, in what format, with what schema.

Walks the raw dir (the dbt var `gen_model_raw_path`, default `data/raw`), sniffs each file's
format and options (NDJSON vs JSON and the JSON record path, CSV delimiter, header and
encoding), reads its schema with Polars (nested structs flattened to dotted paths, lists
kept whole), counts rows cheaply, and returns `generator.catalog.RawFile`s with DuckDB type
names, so requests and enrichment specs can use them. Monthly drops that share a schema
(`events-2024-01.parquet`, `events-2024-02.parquet`) are listed once, as a glob.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.catalog import Column, RawFile
from generator.enrich.types import flatten_polars_schema, from_polars

SAMPLE_BYTES = 256 * 1024  # what format sniffing and NDJSON schema inference look at
SAMPLE_RECORDS = 2000
SAMPLE_VALUES = 5
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


def resolve_raw_dir(project_dir: str | Path, raw_dir: str | Path | None = None) -> Path:
    """The raw dir: `raw_dir` if given, else $GEN_MODEL_RAW_PATH, else the dbt var
    `gen_model_raw_path` from dbt_project.yml (when it is a plain path), else `data/raw`.
    Relative paths are relative to the project, as dbt resolves them."""
    project_dir = Path(project_dir)
    setting = str(raw_dir) if raw_dir is not None else os.environ.get("GEN_MODEL_RAW_PATH")
    if not setting:
        try:
            config = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
            value = ((config or {}).get("vars") or {}).get("gen_model_raw_path")
        except (OSError, yaml.YAMLError):
            value = None
        setting = value if isinstance(value, str) and "{" not in value else "data/raw"
    path = Path(setting).expanduser()
    return path if path.is_absolute() else project_dir / path


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


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (0 if last == b"\n" else 1)


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
        if isinstance(value, list)
        and value
        and 2 * sum(isinstance(v, dict) for v in value[:10]) >= len(value[:10])
    ]
    if not candidates:
        return None
    for key in RECORD_KEYS:
        if key in candidates:
            return key
    return max(candidates, key=lambda key: len(document[key]))


def sniff_file(path: str | Path, project_dir: str | Path = ".") -> RawFile | None:
    """Format, options, schema and row count of one raw file; None if not a data file."""
    import polars as pl

    path, project_dir = Path(path), Path(project_dir)
    fmt = EXTENSIONS.get(path.suffix.lower())
    if fmt is None:
        return None
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if fmt == "json" and _looks_like_ndjson(head):
        fmt = "ndjson"
    relative = _relative(path, project_dir)
    if fmt == "parquet":
        frame = pl.scan_parquet(path)
        schema = frame.collect_schema()
        sample = frame.head(SAMPLE_RECORDS).collect()
        row_count = frame.select(pl.len()).collect().item()
        columns = tuple(
            Column(name=name, data_type=from_polars(dtype), sample_values=_samples(sample, name))
            for name, dtype in flatten_polars_schema(schema)
        )
        return RawFile(relative, "parquet", columns, row_count, None, "Parquet")
    if fmt == "ndjson":
        complete = head if len(head) < SAMPLE_BYTES else head[: head.rfind(b"\n") + 1]
        lines = [line for line in complete.splitlines() if line.strip()][:SAMPLE_RECORDS]
        objects = [line for line in lines if _is_json_object(line)]
        frame = (
            pl.read_ndjson(io.BytesIO(b"\n".join(objects)), infer_schema_length=None)
            if objects
            else pl.DataFrame()
        )
        description = f"NDJSON, one object per line; schema from the first {len(lines)} lines"
        if len(objects) < len(lines):
            description += f" ({len(lines) - len(objects)} of them not JSON objects)"
        return RawFile(relative, "ndjson", _columns(frame), _count_lines(path), None, description)
    if fmt == "json":
        encoding = sniff_encoding(head)
        document = json.loads(path.read_text(encoding=encoding))
        record_path = _record_path(document) if isinstance(document, dict) else None
        records = document[record_path] if record_path else document
        if not isinstance(records, list):
            records = [records]
        dicts = [record for record in records[:SAMPLE_RECORDS] if isinstance(record, dict)]
        frame = pl.from_dicts(dicts, infer_schema_length=None) if dicts else pl.DataFrame()
        description = f"JSON object, records under {record_path!r}" if record_path else "JSON array"
        return RawFile(relative, "json", _columns(frame), len(records), record_path, description)
    dialect = sniff_csv(head)
    encoding = dialect.encoding
    text = head.decode(encoding, errors="ignore")
    if len(head) == SAMPLE_BYTES:
        text = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(io.StringIO(text), delimiter=dialect.delimiter))
    rows = [row for row in rows if row]
    names = (
        (rows[0] if dialect.header and rows else [f"column_{i + 1}" for i in range(len(rows[0]))])
        if rows
        else []
    )
    body = rows[1:] if dialect.header else rows
    width = len(names)
    data = {
        name: [row[i] if i < len(row) and row[i] != "" else None for row in body]
        for i, name in enumerate(names)
    }
    frame = (
        pl.DataFrame(data, schema={name: pl.String for name in names}) if width else pl.DataFrame()
    )
    row_count = _count_lines(path) - (1 if dialect.header else 0)
    bom = " with a byte order mark" if encoding == "utf-8-sig" else ""
    description = (
        f"CSV, delimiter {dialect.delimiter!r}, {'a header row' if dialect.header else 'no header'}"
        f", encoding {'utf-8' if encoding == 'utf-8-sig' else encoding}{bom}; values are text"
    )
    return RawFile(relative, "csv", _columns(frame), row_count, None, description)


def _group_key(raw: RawFile) -> tuple:
    """Files whose names differ only in their numbers (dates, sequence) form a series."""
    directory, _, name = raw.path.rpartition("/")
    return (directory, raw.format, re.sub(r"\d+(?:[-_.]\d+)*", "*", name), raw.record_path)


def discover_raw_files(
    project_dir: str | Path, raw_dir: str | Path | None = None
) -> tuple[RawFile, ...]:
    """Every data file under the raw dir, sorted by path; same-schema series as one glob."""
    project_dir = Path(project_dir)
    root = resolve_raw_dir(project_dir, raw_dir)
    if not root.is_dir():
        return ()
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
            continue
        try:
            raw = sniff_file(path, project_dir)
        except (OSError, ValueError, UnicodeDecodeError) as error:
            raw = RawFile(
                _relative(path, project_dir),
                EXTENSIONS.get(path.suffix.lower(), "unknown"),
                description=f"could not be read: {str(error).splitlines()[0][:200]}",
            )
        except Exception as error:  # a Polars error on a broken file must not stop discovery
            raw = RawFile(
                _relative(path, project_dir),
                EXTENSIONS.get(path.suffix.lower(), "unknown"),
                description=f"could not be read: {str(error).splitlines()[0][:200]}",
            )
        if raw is not None:
            found.append(raw)
    grouped: dict[tuple, list[RawFile]] = {}
    for raw in found:
        grouped.setdefault(_group_key(raw), []).append(raw)
    result = []
    for (directory, _, pattern, _), members in grouped.items():
        same_schema = all(
            [(c.name, c.data_type) for c in m.columns]
            == [(c.name, c.data_type) for c in members[0].columns]
            for m in members
        )
        if len(members) == 1 or not same_schema or "*" not in pattern:
            result.extend(members)
            continue
        first = members[0]
        counts = [m.row_count for m in members]
        result.append(
            RawFile(
                path=f"{directory}/{pattern}" if directory else pattern,
                format=first.format,
                columns=first.columns,
                row_count=sum(counts) if all(c is not None for c in counts) else None,
                record_path=first.record_path,
                description=f"{first.description}; {len(members)} files with one schema",
            )
        )
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
    absolute = project_dir / raw.path
    try:
        input_path = absolute.relative_to(root).as_posix()
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
        first = sorted(root.glob(input_path)) if "*" in input_path else [absolute]
        dialect = sniff_csv(first[0].read_bytes()[:SAMPLE_BYTES]) if first else None
        if dialect:
            spec_input["delimiter"] = dialect.delimiter
            spec_input["header"] = dialect.header
            encoding = dialect.encoding
            spec_input["encoding"] = "utf-8" if encoding == "utf-8-sig" else encoding
    spec_input["fields"] = {
        column.name: (column.data_type if column.data_type != "null" else "varchar")
        for column in raw.columns
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
