"""Spec -> a dbt-duckdb Python model (Polars, streaming) and its model YAML. Deterministic.

The generated file depends only on Polars, pyarrow and the standard library, so it reads
top to bottom: constants from the spec, fixed helpers (reading, drift, parsing), then one
function per spec step (`cast_fields`, `derive`, `check_rows`, `dedupe`, `filter_rows`,
`attach_lookup`, `finish`), `stream` and dbt's `model(dbt, session)`. Recompiling an
unchanged spec gives byte-identical files; every line fits in 100 columns so `ruff check`
passes.

The model returns an Arrow stream (`pyarrow.RecordBatchReader`), which dbt-duckdb's
`materialize` registers and DuckDB writes while it reads: memory holds a few batches, not
the input. Dedupe needs no whole frame either: a first pass hashes every key (only the
columns the key needs are read), rows whose key hash repeats (a few) are held back and
chosen among once every row is read, and every other row streams straight through, in
read order. A bad row under `on_error: fail` raises at the end of the stream, so DuckDB's
`create table ... as select` fails and nothing is written. `build()` collects the stream
into a DataFrame for tests and notebooks.

With `on_error: quarantine` a second model, `<name>__quarantine`, is compiled from the same
spec: a dbt Python model returns one relation, and a separate model keeps the bad rows in
the DAG (documented, testable, selectable) instead of a side table dbt does not know.
Versioned specs (`version: N`) compile to `<name>_vN.py` with one YAML for every version.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from generator.enrich import runtime_blocks as blocks
from generator.enrich.expressions import HELPERS, py_literal
from generator.enrich.spec import (
    ISO_DATE_FORMATS,
    ISO_NAIVE_FORMATS,
    ISO_TIMESTAMP_FORMATS,
    SPEC_SUFFIX,
    ColumnSpec,
    EnrichSpec,
    load_spec,
)
from generator.enrich.types import DataType
from generator.errors import WriteError

COMPILER_VERSION = 1
LINE_LENGTH = 100
RAW_PATH_META = '{{ env_var("GEN_MODEL_RAW_PATH", var("gen_model_raw_path", "data/raw")) }}'
QUARANTINE_COLUMNS = (
    ("source_file", "varchar", "The input file, relative to the raw dir."),
    (
        "source_row",
        "bigint",
        "Where in the file: the line (ndjson, csv), the record number in the array (json) "
        "or the row number (parquet), counting from 1.",
    ),
    ("source_record", "varchar", "The record as read (JSON), or the raw text that did not parse."),
    ("error", "varchar", "Why the row was rejected; several reasons are joined with '; '."),
)
LOCATIONS = {
    "ndjson": 'f"{file}:{row}"',
    "csv": 'f"{file}:{row}"',
    "json": 'f"{file} record {row}"',
    "parquet": 'f"{file} row {row}"',
}


@dataclass(frozen=True)
class CompiledModel:
    """The files one spec compiles to: file name (beside the spec) -> content."""

    name: str
    files: dict[str, str]
    removed: tuple[str, ...] = ()  # compiled files of an earlier spec this one no longer makes


# -- layout helpers ------------------------------------------------------------------------


def _brackets(text: str) -> list[tuple[int, int]]:
    """(open, close) index pairs of the top-level brackets of one line of Python source."""
    pairs, stack, quote, index = [], [], None, 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "([{":
            stack.append(index)
        elif char in ")]}":
            start = stack.pop()
            if not stack:
                pairs.append((start, index))
        index += 1
    return pairs


def _split_commas(text: str) -> list[str]:
    """Split source on its top-level commas."""
    parts, depth, quote, current, index = [], 0, None, [], 0
    while index < len(text):
        char = text[index]
        if quote:
            current.append(char)
            if char == "\\":
                current.append(text[index + 1])
                index += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
            current.append(char)
        elif char in "([{":
            depth += 1
            current.append(char)
        elif char in ")]}":
            depth -= 1
            current.append(char)
        elif char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    if "".join(current).strip():
        parts.append("".join(current).strip())
    return parts


def _top_level(text: str) -> list[tuple[int, str]]:
    """(index, char) of the characters outside strings and brackets."""
    out, depth, quote, index = [], 0, None, 0
    while index < len(text):
        char = text[index]
        if quote:
            if char == "\\":
                index += 2
                continue
            if char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif depth == 0:
            out.append((index, char))
        index += 1
    return out


def _fluent(line: str, indent: str) -> list[str] | None:
    """A method chain with two or more calls after its head, one call per line (ruff's style).

    Only for a value inside brackets (a keyword argument, a dict or list item), which is
    where the compiler puts expressions.
    """
    match = re.match(r'([A-Za-z_][A-Za-z0-9_]*=(?!=)|"[^"]*": )?(.*?)(,?)$', line)
    if not match:
        return None
    prefix, value, comma = match.groups()
    prefix = prefix or ""
    top = _top_level(value)
    if any(char in " ~-" for _, char in top):
        return None  # an operator at the top: not a pure chain
    dots = [index for index, char in top if char == "."]
    parts, start = [], 0
    for dot in dots:
        parts.append(value[start:dot])
        start = dot
    parts.append(value[start:])
    links: list[str] = []
    for part in parts:
        if links and not links[-1].endswith(")"):
            links[-1] += part  # `.str` joins the call that follows it
        else:
            links.append(part)
    head_end = next((i for i, link in enumerate(links) if link.endswith(")")), None)
    if head_end is None:
        return None
    head, rest = "".join(links[: head_end + 1]), links[head_end + 1 :]
    if sum(link.endswith(")") for link in rest) < 2:
        return None
    lines = wrap(prefix + head, indent)
    for position, link in enumerate(rest):
        last = position == len(rest) - 1
        lines.extend(wrap(link + (comma if last else ""), indent))
    return lines


def wrap(line: str, indent: str) -> list[str]:
    """Fit one logical line into LINE_LENGTH by splitting its last bracket, black-style."""
    if len(indent) + len(line) <= LINE_LENGTH:
        return [indent + line]
    fluent = _fluent(line, indent)
    if fluent is not None:
        return fluent
    for start, end in reversed(_brackets(line)):
        head, body, tail = line[: start + 1], line[start + 1 : end], line[end:]
        if not body.strip() or len(indent) + len(head) > LINE_LENGTH:
            continue
        inner = indent + "    "
        items = _split_commas(body)
        lines = [indent + head]
        if len(items) > 1 or body.rstrip().endswith(","):
            single = ", ".join(items)
            if len(inner) + len(single) <= LINE_LENGTH and not body.rstrip().endswith(","):
                lines.append(inner + single)
            else:
                for item in items:
                    lines.extend(wrap(item + ",", inner))
        else:
            lines.extend(wrap(items[0], inner))
        lines.extend(wrap(tail, indent) if len(indent) + len(tail) > LINE_LENGTH else [indent + tail])
        return lines
    return [indent + line]  # nothing to split: leave it, ruff will say so


def _lines(text: str, indent: str) -> str:
    return "\n".join(wrap(text, indent)) + "\n"


def _parenthesised(source: str) -> str:
    """Source safe to call a method on."""
    depth = 0
    for char in source:
        depth += char in "([{"
        depth -= char in ")]}"
        if depth == 0 and char in " ~-":
            return f"({source})"
    return source


def _docstring(text: str, indent: str = "") -> str:
    """Wrap prose into a docstring body (Jinja markers defused: dbt renders model code)."""
    import textwrap

    safe = text.replace("{{", "{ {").replace("{%", "{ %").replace("{#", "{ #")
    safe = safe.replace("\\", "\\\\")
    safe = '"""' + safe[3:].replace('"""', "'''") if safe.startswith('"""') else safe.replace('"""', "'''")
    return "\n".join(
        textwrap.wrap(
            safe,
            width=LINE_LENGTH - len(indent),
            initial_indent=indent,
            subsequent_indent=indent,
            break_on_hyphens=False,
        )
    )


def _one_docstring(text: str, indent: str) -> str:
    """A complete docstring: on one line when it fits, else wrapped with the quotes alone."""
    single = f'{indent}"""{text}"""'
    if len(single) <= LINE_LENGTH:
        return single + "\n"
    return _docstring('"""' + text, indent) + f'\n{indent}"""\n'


def _comment(text: str, indent: str = "") -> str:
    import textwrap

    safe = text.replace("{{", "{ {").replace("{%", "{ %").replace("{#", "{ #")
    return "\n".join(
        textwrap.wrap(
            safe,
            width=LINE_LENGTH - len(indent),
            initial_indent=indent + "# ",
            subsequent_indent=indent + "# ",
            break_on_hyphens=False,
        )
    )


def _list(values) -> str:
    return "[" + ", ".join(py_literal(value) for value in values) + "]"


# -- casts ---------------------------------------------------------------------------------


ISO_8601 = list(ISO_TIMESTAMP_FORMATS + ISO_NAIVE_FORMATS)


def _formats(column: ColumnSpec, target: DataType) -> list[str]:
    formats: list[str] = []
    for fmt in column.formats:
        if fmt != "iso8601":
            formats.append(fmt)
        elif target.kind == "date":
            formats.extend(ISO_DATE_FORMATS)
        elif target.kind == "time":
            formats.append("%H:%M:%S%.f")
        else:
            formats.extend(ISO_TIMESTAMP_FORMATS + ISO_NAIVE_FORMATS)
    return list(dict.fromkeys(formats))


def cast_source(column: ColumnSpec) -> tuple[str, bool, set[str]]:
    """Polars source turning the column's input field into its cast type.

    Returns (source, can_fail, helper blocks needed). `can_fail`: a non-null input value
    can come out null, which the model reports as a bad row.
    """
    assert column.source is not None and column.source_type is not None
    assert column.cast_to is not None
    source, target = column.source_type, column.cast_to
    value = f"pl.col({py_literal(column.source)})"
    if source.name == target.name:
        return value, False, set()
    if source.kind == "null":
        return f"pl.lit(None, {target.polars()})", False, set()
    if source.kind == "text":
        if target.kind in ("integer", "float", "decimal"):
            return f"parse_number({value}, {target.polars()})", True, {"parse_number"}
        if target.kind == "boolean":
            call = f"parse_boolean({value}, {_list(column.true_values)}, {_list(column.false_values)})"
            return call, True, {"parse_boolean"}
        formats = _formats(column, target)
        formats = "ISO_8601" if formats == ISO_8601 else _list(formats)
        if target.kind == "date":
            return f"parse_date({value}, {formats})", True, {"parse_date"}
        if target.kind == "time":
            return f"parse_time({value}, {formats})", True, {"parse_time"}
        parsed = f"parse_timestamp({value}, {formats}, {py_literal(column.time_zone)})"
        if target.kind == "timestamp":
            parsed += ".dt.replace_time_zone(None)"
        if target.kind in ("timestamp", "timestamptz"):
            return parsed, True, {"parse_timestamp"}
        return f"{value}.cast({target.polars()}, strict=False)", True, set()
    if target.kind == "text":
        return f"{value}.cast(pl.String)", False, set()
    if source.kind == "timestamp" and target.kind == "timestamptz":
        return (
            f'{value}.dt.cast_time_unit("us").dt.replace_time_zone('
            f'{py_literal(column.time_zone)}, ambiguous="null", non_existent="null")'
            '.dt.convert_time_zone("UTC")',
            True,
            set(),
        )
    if source.kind == "timestamptz" and target.kind == "timestamp":
        return f'{value}.dt.convert_time_zone("UTC").dt.replace_time_zone(None)', False, set()
    if source.kind in ("timestamp", "timestamptz") and target.kind == "date":
        return f"{value}.dt.date()", False, set()
    widening = (source.kind == "integer" and target.kind == "float") or (
        source.kind in ("date", "timestamp") and target.kind == "timestamp"
    )
    return f"{value}.cast({target.polars()}, strict=False)", not widening, set()


# -- the generated model -------------------------------------------------------------------


class _ModelWriter:
    def __init__(self, spec: EnrichSpec, spec_file: str):
        self.spec = spec
        self.spec_file = spec_file
        self.helpers: set[str] = set()
        self.casts: list[tuple[str, str]] = []
        self.failures: list[tuple[str, str, str]] = []  # (column, input field, type name)
        self.uses_iso = False
        for column in spec.columns:
            if column.source is None:
                continue
            source, can_fail, helpers = cast_source(column)
            self.uses_iso |= "ISO_8601" in source
            self.helpers |= helpers
            self.casts.append((column.name, source))
            if can_fail:
                assert column.cast_to is not None
                self.failures.append((column.name, column.source, column.cast_to.name))
        self.expression_helpers: set[str] = set()
        for column in spec.columns:
            if column.expr is not None:
                self.expression_helpers |= column.expr.helpers
        for compiled in spec.filters:
            self.expression_helpers |= compiled.helpers
        if spec.lookup:
            self.expression_helpers |= spec.lookup.key.helpers | spec.lookup.lookup_key.helpers

    # -- sections ----------------------------------------------------------------------

    def header(self, quarantine: bool) -> str:
        spec = self.spec
        if quarantine:
            title = (
                f"{spec.quarantine_name}: the rows of {spec.model_file}'s input that did not "
                "load, with the file, the row and the reason."
            )
        else:
            title = f"{spec.model_file}: {spec.description}"
        lines = [
            _docstring('"""' + title),
            "",
            _docstring(
                f"Compiled by gen-model (enrich compiler {COMPILER_VERSION}) from "
                f"{self.spec_file}, sha256 {spec.sha256[:16]}. Do not edit: change the spec "
                "and recompile."
            ),
            "",
            _docstring(
                f"Input: {spec.input.path} ({spec.input.format}) under the raw dir, the dbt var "
                f"gen_model_raw_path (relative to the dbt project). Bad rows: "
                + (
                    "the build fails and nothing is loaded."
                    if spec.on_error == "fail"
                    else f"kept in {spec.quarantine_name}; the good rows load."
                )
            ),
        ]
        return "\n".join(lines) + '\n"""\n'

    def imports(self, quarantine: bool = False) -> str:
        stdlib = []
        if self.spec.input.format == "csv":
            stdlib.append("import csv")
        if self.spec.input.format in ("ndjson", "json"):
            stdlib.append("import json")
        if self.spec.input.field_names == "snake_case":
            stdlib.append("import re")
        if not quarantine and self.spec.input.format == "ndjson":
            stdlib.append("import tempfile")
        abc = []
        if self.helpers & blocks.NEEDS_FIRST_PARSE:
            abc.append("Callable")
        if not quarantine or self.spec.input.format == "ndjson":
            abc.append("Iterator")
        if abc:
            stdlib.append(f"from collections.abc import {', '.join(abc)}")
        stdlib.append("from pathlib import Path")
        third_party = "import polars as pl\n" + ("" if quarantine else "import pyarrow as pa\n")
        if not quarantine and self.spec.input.format == "parquet":
            third_party += "import pyarrow.parquet as pq\n"
        return "\n".join(stdlib) + "\n\n" + third_party

    def constants(self, quarantine: bool) -> str:
        spec = self.spec
        out = [f"NAME = {py_literal(spec.model_file)}", f"INPUT = {py_literal(spec.input.path)}"]
        if spec.input.format == "json":
            record_path = spec.input.record_path.split(".") if spec.input.record_path else []
            out.append(f"RECORD_PATH = {_list(record_path)}")
        if spec.input.format == "csv":
            encoding = spec.input.encoding
            if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
                encoding = "utf-8-sig"  # a byte order mark is common in spreadsheet exports
            out += [
                f"ENCODING = {py_literal(encoding)}",
                f"DELIMITER = {py_literal(spec.input.delimiter)}",
                f"QUOTE = {py_literal(spec.input.quote)}",
                f"HEADER = {spec.input.header!r}",
            ]
        out.append(f"KEY = {_list(spec.key)}")
        if self.uses_iso:
            out.append("")
            out.append(_comment("ISO 8601 timestamps; naive ones are read in the column's time_zone."))
            out.append(_lines(f"ISO_8601 = {_list(ISO_8601)}", "").rstrip())
        text = "\n".join(out) + "\n\n"
        text += _comment(
            "The input fields the spec expects, by path, typed as read; each file is checked "
            "against them (drift) and conformed to them."
        )
        text += "\nEXPECTED_FIELDS = {\n"
        for path, dtype in spec.input.fields:
            text += _lines(f"{py_literal(path)}: {dtype.polars()},  # {dtype.name}", "    ")
        text += "}\n"
        drift = spec.input.drift
        text += (
            f'DRIFT = {{"missing": {py_literal(drift.missing)}, "new": '
            f'{py_literal(drift.new)}, "retyped": {py_literal(drift.retyped)}}}\n'
        )
        if not quarantine:
            text += "\n" + _comment("The output in order, as the model YAML declares it (DuckDB types in comments).")
            text += "\nOUTPUT_SCHEMA = {\n"
            for name, dtype, _ in spec.output_columns:
                text += _lines(f"{py_literal(name)}: {dtype.polars()},  # {dtype.name}", "    ")
            text += "}\n"
        return text

    def fixed_blocks(self) -> str:
        spec = self.spec
        snake = spec.input.field_names == "snake_case"
        drift = blocks.DRIFT.replace("FIELD_NAME(path)", "snake_case(path)" if snake else "path")
        reader = blocks.READERS[spec.input.format].replace("FIELD_NAME(path)", "snake_case(path)" if snake else "path")
        # Expected fields the sample did not show are decoded too, unless paths are renamed
        # (their raw names are then unknown).
        reader = reader.replace("UNSEEN_FIELDS(fields)", "fields" if snake else "EXPECTED_FIELDS | fields")
        parts = [blocks.ERROR_AND_WARN, reader]
        if spec.input.field_names == "snake_case":
            parts.append(blocks.SNAKE_CASE)
        parts.append(drift)
        if self.helpers & blocks.NEEDS_FIRST_PARSE:
            parts.append(blocks.FIRST_PARSE)
        for helper in sorted(self.helpers):
            parts.append(blocks.BLOCKS[helper])
        for helper in sorted(self.expression_helpers):
            parts.append("\n" + HELPERS[helper])
        return "\n\n\n".join(part.strip("\n") for part in parts) + "\n"

    def cast_fields(self) -> str:
        text = "def cast_fields(rows: pl.LazyFrame) -> pl.LazyFrame:\n"
        text += '    """Each column with `from`: its input field, cast; bad values become reasons."""\n'
        text += "    casts = {\n"
        for name, source in self.casts:
            text += _lines(f"{py_literal(name)}: {source},", "        ")
        text += "    }\n"
        if self.failures:
            text += "    # (column, input field, type): a value that was there but did not cast\n"
            text += "    failures = [\n"
            for name, field, type_name in self.failures:
                text += _lines(
                    f"({py_literal(name)}, {py_literal(field)}, {py_literal(type_name)}),",
                    "        ",
                )
            text += "    ]\n"
            text += (
                "    # Cast under temporary names first: an output may reuse an input field's "
                "name,\n    # and each reason compares the value read with the value cast.\n"
                '    rows = rows.with_columns(**{f"cast:{name}": value '
                "for name, value in casts.items()})\n"
                "    reasons = [\n"
                "        pl.when(pl.col(field).is_not_null() & "
                'pl.col(f"cast:{column}").is_null()).then(\n'
                "            pl.format(\n"
                "                \"{}: cannot parse '{}' as {}\",\n"
                "                pl.lit(column),\n"
                "                pl.col(field).cast(pl.String),\n"
                "                pl.lit(kind),\n"
                "            )\n"
                "        )\n"
                "        for column, field, kind in failures\n"
                "    ]\n"
                '    rows = rows.with_columns(_error=join_reasons(pl.col("_error"), *reasons))\n'
                '    return rows.select(pl.col("^_.*$"), *[pl.col(f"cast:{name}").alias(name) '
                "for name in casts])\n"
            )
        else:
            text += "    return rows.with_columns(**casts)\n"
        return text

    def derive(self) -> str:
        derived = [column for column in self.spec.columns if column.expr is not None]
        if not derived:
            return ""
        text = "def derive(rows: pl.LazyFrame) -> pl.LazyFrame:\n"
        text += '    """Columns computed by the spec\'s expressions, in order; each sees those before."""\n'
        text += "    return (\n        rows\n"
        for column in derived:
            assert column.expr is not None
            source = column.expr.expr
            if column.expr.dtype is None or column.expr.dtype.name != column.type.name:
                source = f"{_parenthesised(source)}.cast({column.type.polars()})"
            text += _comment(f"{column.name}: {column.expr_text}", "        ") + "\n"
            text += _lines(f".with_columns({column.name}={source})", "        ")
        text += "    )\n"
        return text

    def check_rows(self) -> str:
        spec = self.spec
        reasons = ['pl.col("_error")']
        for name in spec.key:
            message = py_literal(f"{name} (key) is null")
            reasons.append(f"pl.when(pl.col({py_literal(name)}).is_null()).then(pl.lit({message}))")
        for column in spec.columns:
            if column.not_null and column.name not in spec.key:
                reasons.append(
                    f"pl.when(pl.col({py_literal(column.name)}).is_null()).then("
                    f"pl.lit({py_literal(column.name + ' is null (not_null in the spec)')}))"
                )
        text = "def check_rows(rows: pl.LazyFrame) -> pl.LazyFrame:\n"
        text += '    """The rows\' remaining reasons to be rejected: null keys, nulls the spec forbids."""\n'
        text += "    reasons = [\n"
        for reason in reasons:
            text += _lines(reason + ",", "        ")
        text += "    ]\n"
        text += "    return rows.with_columns(_error=join_reasons(*reasons))\n"
        return text

    def load(self, quarantine: bool) -> str:
        spec = self.spec
        records = (
            "    # The record as read, kept before a cast overwrites a field of the same name.\n"
            "    rows = rows.with_columns("
            "_record=pl.struct(list(EXPECTED_FIELDS)).struct.json_encode())\n"
            if quarantine
            else ""
        )
        steps = "cast_fields(rows)"
        if any(column.expr is not None for column in spec.columns):
            steps = f"derive({steps})"
        if spec.input.format == "ndjson":
            records_type = "Records"
            records_text = "decoded a chunk at a time, on each pass over them"
        else:
            records_type = "pl.LazyFrame"
            records_text = "a lazy plan: they are read when it is collected, once per pass"
        returns = _docstring(
            f"Returns its records ({records_text}), the records that could not be read at all "
            "(row, text, reason; complete once the records are read), and where each expected "
            "field is.",
            "    ",
        )
        return f'''def load(raw_dir: Path, path: Path, file_id: int) -> tuple[{records_type}, list, dict]:
    """One input file opened and drift-checked.

{returns}
    """
    name = path.relative_to(raw_dir).as_posix()
    try:
        records, unreadable, fields = read_file(path, name, file_id)
    except (OSError, UnicodeDecodeError, pl.exceptions.PolarsError) as error:
        raise EnrichError(f"{{name}}: cannot be read: {{error}}") from None
    return records, unreadable, check_drift(name, fields)


def checked(records: pl.LazyFrame, found: dict) -> pl.LazyFrame:
    """Records conformed to the expected fields, cast and checked row by row (`_error`)."""
    rows = conform(records, found)
{records}    return check_rows({steps})
'''

    def checked_batches(self) -> str:
        if self.spec.input.format == "parquet":
            return '''def checked_batches(
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
        if self.spec.input.format == "ndjson":
            return '''def checked_batches(
    path: Path, file_id: int, records: Records, found: dict
) -> Iterator[pl.DataFrame]:
    """The file's rows checked, BATCH_LINES at a time, as they are decoded."""
    for frame in records:
        batch = checked(frame.lazy(), found).collect()
        del frame  # the lines decoded are freed while the batch is used
        yield batch
'''
        return '''def checked_batches(
    path: Path, file_id: int, records: pl.LazyFrame, found: dict
) -> Iterator[pl.DataFrame]:
    """The file's rows checked, BATCH_ROWS at a time, by Polars' streaming engine."""
    return checked(records, found).collect_batches(chunk_size=BATCH_ROWS)
'''

    def key_hash(self) -> str:
        key = self.spec.key
        value = f"pl.col({py_literal(key[0])})" if len(key) == 1 else "pl.struct(KEY)"
        return (
            "def key_hash() -> pl.Expr:\n"
            '    """A 64-bit hash of the key: equal keys hash alike, different ones almost never."""\n'
            f"    return {value}.hash()\n"
        )

    def repeated_keys(self) -> str:
        if self.spec.input.format == "ndjson":
            # Only a quarantine without dedupe asks: NDJSON models choose from a spill.
            records_type = "Records"
            summary = "The hashes of keys read more than once, from a first pass over the files' rows."
            use = (
                "Rows with these keys wait until every row is read, to report the duplicate. A hash "
                "shared by two different keys only holds back a few more rows: the report compares keys."
            )
            first_pass = (
                "    for records, _, found in loaded:\n"
                "        for frame in records:\n"
                "            rows = checked(frame.lazy(), found).select(_hash=key_hash())\n"
                '            hashes.append(rows.collect()["_hash"])\n'
            )
        else:
            records_type = "pl.LazyFrame"
            summary = (
                "The hashes of keys read more than once, from a first pass over the files' rows that "
                "computes only what the key needs (a Parquet file's key columns, say)."
            )
            use = (
                "Rows with these keys (a few) wait until every row is read, to choose a version or "
                "report the duplicate; the others stream straight through. A hash shared by two "
                "different keys only holds back a few more rows: the choice itself compares keys."
            )
            first_pass = (
                "    for records, _, found in loaded:\n"
                "        rows = checked(records, found).select(_hash=key_hash())\n"
                '        hashes.append(rows.collect(engine="streaming")["_hash"])\n'
            )
        text = f"def repeated_keys(loaded: list[tuple[{records_type}, list, dict]]) -> pl.Series:\n"
        text += _docstring('"""' + summary, "    ") + "\n\n"
        text += _docstring(use, "    ") + '\n    """\n'
        text += '    hashes = [pl.Series("_hash", [], pl.UInt64)]\n'
        text += first_pass
        text += "    every = pl.concat(hashes).sort()\n"
        text += "    return every.filter(every == every.shift(1)).unique()\n"
        return text

    def location(self) -> str:
        return (
            "def location(file: str, row: int) -> str:\n"
            '    """Where a row came from, as the build log shows it."""\n'
            f"    return {LOCATIONS[self.spec.input.format]}\n"
        )

    def dedupe(self) -> str:
        dedupe = self.spec.dedupe
        if dedupe is None:
            message = py_literal(f"duplicate key {', '.join(self.spec.key)} (the spec has no dedupe)")
            key = f"pl.col({py_literal(self.spec.key[0])})" if len(self.spec.key) == 1 else "pl.struct(KEY)"
            text = "def duplicates(rows: pl.DataFrame) -> pl.DataFrame:\n"
            text += _one_docstring(
                "Rows whose key was read more than once are bad rows: the spec has no dedupe.",
                "    ",
            )
            text += "    return rows.with_columns(\n"
            text += _lines(f"_error=pl.when({key}.is_duplicated()).then(pl.lit({message}))", "        ")
            text += "    )\n"
            return text
        key = list(self.spec.key)
        if dedupe.keep in ("latest", "earliest"):
            assert dedupe.by is not None
            latest = dedupe.keep == "latest"
            order = [*key, dedupe.by, "_file", "_row"]
            descending = [False] * len(key) + [latest, latest, latest]
            summary = f"One row per key: the {dedupe.keep} by {dedupe.by}; ties go to the row read " + (
                "last." if latest else "first."
            )
        else:
            last = dedupe.keep == "last"
            order = [*key, "_file", "_row"]
            descending = [False] * len(key) + [last, last]
            summary = f"One row per key: the {dedupe.keep} one read."
        text = "def dedupe(rows: pl.DataFrame) -> pl.DataFrame:\n"
        text += _one_docstring(summary, "    ").rstrip("\n")[:-3].rstrip() + "\n\n"
        if self.spec.input.format == "ndjson":
            rows_text = (
                "`rows` are the good rows' keys, numbered in read order by `_file` and `_row`; "
                "the rows chosen are the ones that load."
            )
        else:
            rows_text = (
                "`rows` are the rows whose key was read more than once (see repeated_keys), "
                "numbered in read order by `_file` and `_row`. The result is sorted by the key."
            )
        text += _docstring(rows_text, "    ")
        text += '\n    """\n'
        text += "    chosen = rows.sort(\n"
        text += _lines(f"{_list(order)},", "        ")
        text += _lines(f"descending={descending!r},", "        ")
        text += "        nulls_last=True,\n    )\n"
        text += '    return chosen.unique(subset=KEY, keep="first", maintain_order=True)\n'
        return text

    def left_out(self) -> str:
        if self.spec.dedupe is None:
            return '''def left_out(keys: list[pl.DataFrame]) -> pl.DataFrame:
    """The good rows that must not load (`_file`, `_row`, `_error`): every copy of a key read
    more than once."""
    if not keys:
        return pl.DataFrame(schema={"_file": pl.UInt32, "_row": pl.Int64, "_error": pl.String})
    flagged = duplicates(pl.concat(keys))
    return flagged.filter(pl.col("_error").is_not_null()).select("_file", "_row", "_error")
'''
        return '''def left_out(keys: list[pl.DataFrame]) -> pl.DataFrame:
    """The good rows that do not load (`_file`, `_row`): the versions dedupe passes over,
    usually far fewer than those it chooses."""
    if not keys:
        return pl.DataFrame(schema={"_file": pl.UInt32, "_row": pl.Int64})
    every = pl.concat(keys)
    chosen = dedupe(every).select("_file", "_row")
    return every.join(chosen, on=["_file", "_row"], how="anti").select("_file", "_row")
'''

    def filter_rows(self) -> str:
        if not self.spec.filters:
            return ""
        text = "def filter_rows(rows: pl.DataFrame) -> pl.DataFrame:\n"
        text += '    """Rows the spec keeps, after dedupe; a null condition drops the row."""\n'
        text += "    return rows.filter(\n"
        for compiled, source in zip(self.spec.filters, self.spec.filter_texts, strict=True):
            text += _comment(source, "        ") + "\n"
            text += _lines(compiled.expr + ",", "        ")
        text += "    )\n"
        return text

    def attach_lookup(self) -> str:
        lookup = self.spec.lookup
        if lookup is None:
            return ""
        names = ", ".join(column.name for column in lookup.columns)
        ambiguous = (
            "A key that several rows share matches none of them (on_ambiguous: null)."
            if lookup.on_ambiguous == "null"
            else "A key that several rows share takes the first by the looked-up values (on_ambiguous: first)."
        )
        key_type = self.spec_key_type()
        right_key = lookup.lookup_key.expr
        if key_type is not None:
            right_key = f"{_parenthesised(right_key)}.cast({key_type.polars()})"
        text = "def lookup_candidates(lookup: pl.DataFrame) -> pl.DataFrame:\n"
        summary = f"{names} from {lookup.model}, by {lookup.lookup_key_text}, one row per key value."
        text += _docstring('"""' + summary, "    ") + "\n\n"
        text += _docstring(ambiguous, "    ") + '\n    """\n'
        text += "    candidates = lookup.select(\n"
        text += _lines(f"_lookup_key={right_key},", "        ")
        for column in lookup.columns:
            text += _lines(
                f"{column.name}=pl.col({py_literal(column.source)}).cast({column.type.polars()}),",
                "        ",
            )
        text += "    )\n"
        text += '    candidates = candidates.filter(pl.col("_lookup_key").is_not_null()).unique()\n'
        if lookup.on_ambiguous == "null":
            text += '    return candidates.filter(pl.len().over("_lookup_key") == 1)\n'
        else:
            order = ["_lookup_key", *[column.name for column in lookup.columns]]
            text += _lines(
                f"return candidates.sort({_list(order)}, nulls_last=True).unique("
                'subset=["_lookup_key"], keep="first", maintain_order=True)',
                "    ",
            )
        text += "\n\n"
        text += "def attach_lookup(rows: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:\n"
        text += _one_docstring(
            f"{names} of the candidate where {lookup.key_text} = {lookup.lookup_key_text}; row order kept.",
            "    ",
        )
        text += _lines(f"keyed = rows.with_columns(_lookup_key={lookup.key.expr})", "    ")
        text += (
            '    joined = keyed.join(candidates, on="_lookup_key", how="left", '
            'maintain_order="left")\n'
            '    return joined.drop("_lookup_key")\n'
        )
        return text

    def spec_key_type(self) -> DataType | None:
        lookup = self.spec.lookup
        assert lookup is not None
        return lookup.key.dtype

    def finish(self) -> str:
        return '''def finish(rows: pl.DataFrame) -> pl.DataFrame:
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

    def describe_errors(self) -> str:
        spec = self.spec
        advice = (
            "Fix the input, or set on_error: quarantine in the spec to load the good rows "
            f"and keep the bad ones in {spec.quarantine_name}."
        )
        return f'''def describe_errors(errors: pl.DataFrame, files: list[str]) -> str:
    """The first bad rows, one per line, for the build log."""
    shown = errors.sort("_file", "_row").head(10)
    lines = [
        f"  {{location(files[file], row)}}: {{reason}}"
        for file, row, reason in shown.select("_file", "_row", "_error").iter_rows()
    ]
    if errors.height > shown.height:
        lines.append(f"  ... and {{errors.height - shown.height}} more")
    summary = f"{{NAME}}: {{errors.height}} bad row(s) in {{INPUT}}; {_NOTHING_LOADED}"
    advice = (
{"".join(_lines(py_literal(part), "        ") for part in _split_words(advice))}    )
    return "\\n".join([summary, *lines, advice])
'''

    def output_steps(self, value: str) -> str:
        spec = self.spec
        if spec.filters:
            value = f"filter_rows({value})"
        if spec.lookup:
            value = f"attach_lookup({value}, candidates)"
        return f"finish({value})"

    def report_errors(self, indent: str) -> str:
        """The stream's handling of its bad rows, once every row is read: fail or warn."""
        text = indent + "errors = pl.concat(errors)\n" + indent + "if errors.height:\n"
        if self.spec.on_error == "fail":
            return text + indent + "    raise EnrichError(describe_errors(errors, names))\n"
        return text + (
            f"{indent}    warn(\n"
            f'{indent}        f"{{NAME}}: {{errors.height}} bad row(s) in {{INPUT}} were set aside in "\n'
            f"{indent}        {py_literal(self.spec.quarantine_name)}\n"
            f"{indent}    )\n"
        )

    def stream(self) -> str:
        spec = self.spec
        lookup = spec.lookup
        signature = "raw_dir: Path, lookup: pl.DataFrame" if lookup else "raw_dir: Path"
        steps = ["checked"]
        if spec.filters:
            steps.append("filtered")
        if lookup:
            steps.append(f"joined to {lookup.model}")
        steps_text = ", ".join(steps[:-1]) + (" and " if len(steps) > 1 else "") + steps[-1] + " "
        fail = spec.on_error == "fail"
        bad_rows = (
            "A bad row fails the whole stream once every row is read, so DuckDB writes nothing (on_error: fail)."
            if fail
            else f"Bad rows are left out; {spec.quarantine_name} lists them."
        )
        text = f"def stream({signature}) -> pa.RecordBatchReader:\n"
        text += (
            _docstring(
                '"""The model\'s rows as a stream of Arrow batches, which DuckDB writes as it reads them.',
                "    ",
            )
            + "\n\n"
        )
        text += _docstring(
            f"Rows are {steps_text}and streamed in read order, file by file and batch "
            "by batch, so memory holds a few batches, not the input. Rows whose key was read "
            "more than once are held back and "
            + ("deduplicated" if spec.dedupe else "reported as duplicates")
            + " once every row is read; they come last, sorted by the key. "
            + bad_rows,
            "    ",
        )
        text += '\n    """\n'
        text += "    files = input_files(raw_dir)\n"
        if fail:
            text += "    names = [path.relative_to(raw_dir).as_posix() for path in files]\n"
        text += "    loaded = [load(raw_dir, path, file_id) for file_id, path in enumerate(files)]\n"
        text += "    repeated = repeated_keys(loaded).implode()\n"
        if lookup:
            text += "    candidates = lookup_candidates(lookup)\n"
        text += "\n    def batches() -> Iterator[pa.RecordBatch]:\n"
        text += "        errors, held = [], []\n"
        text += "        for file_id, (records, unreadable, found) in enumerate(loaded):\n"
        text += "            unread = rejected_rows(file_id, unreadable)\n"
        text += '            errors.append(unread.select("_file", "_row", "_error"))\n'
        text += "            for batch in checked_batches(files[file_id], file_id, records, found):\n"
        text += '                batch = batch.select("_file", "_row", "_error", *COLUMNS)\n'
        text += "                batch = batch.with_columns(_held=key_hash().is_in(repeated))\n"
        text += '                failed = batch.filter(pl.col("_error").is_not_null())\n'
        text += '                errors.append(copied(failed.select("_file", "_row", "_error")))\n'
        text += '                kept = batch.filter(pl.col("_error").is_null())\n'
        text += '                held.append(copied(kept.filter(pl.col("_held"))))\n'
        text += '                ready = kept.filter(~pl.col("_held"))\n'
        text += f"                yield from arrow_batches({self.output_steps('ready')})\n"
        if spec.dedupe:
            text += "        repeats = dedupe(pl.concat(held)) if held else None\n"
        else:
            text += "        repeats = None\n"
            text += "        if held:\n"
            text += "            flagged = duplicates(pl.concat(held))\n"
            text += '            failed = flagged.filter(pl.col("_error").is_not_null())\n'
            text += '            errors.append(failed.select("_file", "_row", "_error"))\n'
            text += '            repeats = flagged.filter(pl.col("_error").is_null()).sort(KEY)\n'
        text += self.report_errors(" " * 8)
        text += "        if repeats is not None:\n"
        text += f"            yield from arrow_batches({self.output_steps('repeats')})\n"
        text += "\n    return pa.RecordBatchReader.from_batches(ARROW_SCHEMA, batches())\n"
        return text

    def stream_ndjson(self) -> str:
        spec = self.spec
        lookup = spec.lookup
        signature = "raw_dir: Path, lookup: pl.DataFrame" if lookup else "raw_dir: Path"
        fail = spec.on_error == "fail"
        order = list(spec.key)
        if spec.dedupe is not None and spec.dedupe.by is not None and spec.dedupe.by not in order:
            order.append(spec.dedupe.by)
        choice = (
            "the " + spec.dedupe.keep + " version of each key"
            if spec.dedupe
            else "the rows whose key was read once (a repeated key is a bad row)"
        )
        bad_rows = (
            "A bad row fails the stream before DuckDB is handed any row (on_error: fail)."
            if fail
            else f"Bad rows are left out; {spec.quarantine_name} lists them."
        )
        text = f"def stream({signature}) -> pa.RecordBatchReader:\n"
        text += (
            _docstring(
                '"""The model\'s rows as a stream of Arrow batches, which DuckDB writes as it reads them.',
                "    ",
            )
            + "\n\n"
        )
        text += _docstring(
            "Each file is decoded and checked once, a batch of lines at a time, and the good rows "
            "are set aside in a temporary Arrow file, so memory holds a batch and every row's key, "
            f"not the input. Once every row is read, {choice} is known; those rows are read back "
            "and streamed, in read order" + (f", joined to {lookup.model}" if lookup else "") + ". " + bad_rows,
            "    ",
        )
        text += '\n    """\n'
        text += "    files = input_files(raw_dir)\n"
        if fail:
            text += "    names = [path.relative_to(raw_dir).as_posix() for path in files]\n"
        text += "    loaded = [load(raw_dir, path, file_id) for file_id, path in enumerate(files)]\n"
        text += "\n    def batches() -> Iterator[pa.RecordBatch]:\n"
        text += '        with tempfile.TemporaryDirectory(prefix=f"{NAME}_") as spill:\n'
        text += "            parts, keys, errors = [], [], []\n"
        text += "            for file_id, (records, unreadable, found) in enumerate(loaded):\n"
        text += "                for batch in checked_batches(files[file_id], file_id, records, found):\n"
        text += '                    batch = batch.select("_file", "_row", "_error", *COLUMNS)\n'
        text += '                    failed = batch.filter(pl.col("_error").is_not_null())\n'
        text += '                    errors.append(copied(failed.select("_file", "_row", "_error")))\n'
        text += '                    kept = batch.filter(pl.col("_error").is_null()).drop("_error")\n'
        text += _lines(f"keys.append(kept.select({_list([*order, '_file', '_row'])[1:-1]}))", " " * 20)
        text += '                    parts.append(Path(spill) / f"{len(parts):06}.arrow")\n'
        text += '                    kept.write_ipc(parts[-1], compression="uncompressed")\n'
        text += "                    del batch, failed, kept  # freed before the next batch is read\n"
        text += "                unread = rejected_rows(file_id, unreadable)\n"
        text += '                errors.append(unread.select("_file", "_row", "_error"))\n'
        text += "            passed_over = left_out(keys)\n"
        text += "            keys.clear()\n"
        if not spec.dedupe:
            text += "            errors.append(passed_over)\n"
        text += self.report_errors(" " * 12)
        if lookup:
            text += "            candidates = lookup_candidates(lookup)\n"
        text += "            for part in parts:\n"
        text += "                rows = pl.read_ipc(part)\n"
        text += "                rows = rows.join(\n"
        text += '                    passed_over, on=["_file", "_row"], how="anti", maintain_order="left"\n'
        text += "                )\n"
        text += f"                yield from arrow_batches({self.output_steps('rows')})\n"
        text += "\n    return pa.RecordBatchReader.from_batches(ARROW_SCHEMA, batches())\n"
        return text

    def build(self) -> str:
        lookup = self.spec.lookup
        signature = "raw_dir: Path, lookup: pl.DataFrame" if lookup else "raw_dir: Path"
        call = "stream(raw_dir, lookup)" if lookup else "stream(raw_dir)"
        return (
            f"def build({signature}) -> pl.DataFrame:\n"
            '    """The model\'s rows in memory (for tests and notebooks): the stream, collected."""\n'
            f"    return pl.from_arrow({call}.read_all())\n"
        )

    def model(self) -> str:
        lookup = self.spec.lookup
        text = "def model(dbt, session):\n"
        text += '    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""\n'
        text += '    raw_dir = raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))\n'
        if lookup:
            args = [py_literal(lookup.model)]
            if lookup.version is not None:
                args.append(f"v={lookup.version}")
            text += _lines(f"lookup = dbt.ref({', '.join(args)}).pl()", "    ")
            text += "    return stream(raw_dir, lookup)\n"
        else:
            text += "    return stream(raw_dir)\n"
        return text

    def quarantined(self) -> str:
        spec = self.spec
        no_dedupe = spec.dedupe is None
        text = "def quarantined(raw_dir: Path) -> pl.DataFrame:\n"
        text += '    """Every row that did not load, with its file, row, record and reason, in file order."""\n'
        text += "    files = input_files(raw_dir)\n"
        text += "    names = [path.relative_to(raw_dir).as_posix() for path in files]\n"
        if no_dedupe:
            text += "    held = []\n"
        text += "    bad = []\n"
        text += "    loaded = [load(raw_dir, path, file_id) for file_id, path in enumerate(files)]\n"
        if no_dedupe:
            text += "    repeated = repeated_keys(loaded).implode()\n"
        text += "    for file_id, (records, unreadable, found) in enumerate(loaded):\n"
        if spec.input.format == "ndjson":
            # A batch of lines at a time: the file is decoded a chunk at a time.
            indent = " " * 12
            text += "        for frame in records:\n"
            text += "            rows = checked(frame.lazy(), found)\n"
            collect = "collect()"
        else:
            indent = " " * 8
            text += "        rows = checked(records, found)\n"
            collect = 'collect(engine="streaming")'
        text += indent + 'failed = rows.filter(pl.col("_error").is_not_null())\n'
        text += indent + f'bad.append(failed.select("_file", "_row", "_record", "_error").{collect})\n'
        if no_dedupe:
            text += indent + 'kept = rows.filter(pl.col("_error").is_null() & key_hash().is_in(repeated))\n'
            text += indent + f'held.append(kept.select("_file", "_row", "_record", *KEY).{collect})\n'
        text += "        bad.append(rejected_rows(file_id, unreadable))\n"
        if no_dedupe:
            text += "    if held:\n"
            text += '        flagged = duplicates(pl.concat(held)).filter(pl.col("_error").is_not_null())\n'
            text += '        bad.append(flagged.select("_file", "_row", "_record", "_error"))\n'
        text += '    bad = pl.concat(bad).sort("_file", "_row")\n'
        text += '''    file_ids = list(range(len(files)))
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
        return text

    # -- assembly ----------------------------------------------------------------------

    def render(self, quarantine: bool = False) -> str:
        spec = self.spec
        ndjson = spec.input.format == "ndjson"
        sections = [self.header(quarantine), self.imports(quarantine), self.constants(quarantine)]
        if not quarantine:
            sections[-1] += _lines(f"COLUMNS = {_list([c.name for c in spec.columns])}", "")
            sections[-1] += "ARROW_SCHEMA = pl.DataFrame(schema=OUTPUT_SCHEMA).to_arrow().schema\n"
            if not ndjson:
                sections[-1] += (
                    "BATCH_ROWS = 100_000  # rows per batch handed to DuckDB: memory holds a few, not the input\n"
                )
        sections.append(self.fixed_blocks())
        sections += [self.cast_fields(), self.derive(), self.check_rows(), self.load(quarantine)]
        # NDJSON is decoded once and the rows set aside, so only a quarantine without dedupe
        # needs a pass for repeated keys; the other formats read their key columns first.
        needs_keys = spec.dedupe is None if quarantine else not ndjson
        if needs_keys:
            sections += [self.key_hash(), self.repeated_keys()]
        if not quarantine:
            sections.append(self.checked_batches())
        if quarantine:
            if spec.dedupe is None:
                sections.append(self.dedupe())
            sections.append(self.quarantined())
        else:
            sections += [
                self.dedupe(),
                self.left_out() if ndjson else "",
                self.filter_rows(),
                self.attach_lookup(),
                self.finish(),
                self.location() if spec.on_error == "fail" else "",
                self.describe_errors() if spec.on_error == "fail" else "",
                self.stream_ndjson() if ndjson else self.stream(),
                self.build(),
                self.model(),
            ]
        head, imports, *rest = [section.strip("\n") for section in sections if section.strip()]
        return head + "\n\n" + imports + "\n\n" + "\n\n\n".join(rest) + "\n"


_NOTHING_LOADED = "nothing was loaded (on_error: fail)"


def _split_words(text: str, width: int = 80) -> list[str]:
    import textwrap

    parts = textwrap.wrap(text, width=width, break_on_hyphens=False)
    return [part + (" " if index < len(parts) - 1 else "") for index, part in enumerate(parts)]


# -- model YAML ------------------------------------------------------------------------------


class _IndentedDumper(yaml.SafeDumper):
    """Lists indented under their key, as dbt projects usually write them."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _yaml(data: dict, header: str) -> str:
    body = yaml.dump(
        data,
        Dumper=_IndentedDumper,
        sort_keys=False,
        allow_unicode=True,
        width=LINE_LENGTH,
        default_flow_style=False,
    )
    return header + body


def _provenance(spec: EnrichSpec, spec_file: str) -> dict:
    provenance = {
        "kind": "enrich",
        "spec": spec_file,
        "spec_sha256": spec.sha256,
        "compiler": COMPILER_VERSION,
        "input": spec.input.path,
        "grain": list(spec.key),
    }
    # A generated spec says where it came from (request, provider, proposal hash); the
    # compiler's own facts win over anything of the same name there.
    return {**provenance, **{k: v for k, v in spec.provenance.items() if k not in provenance}}


def _quarantine_provenance(spec: EnrichSpec, spec_file: str, model: str) -> dict:
    """The model's provenance, minus its grain: rejected rows have no key (the same bad
    record can fail twice), so the companion claims none."""
    provenance = {key: value for key, value in _provenance(spec, spec_file).items() if key != "grain"}
    return {**provenance, "quarantine_of": model}


def _model_config(spec: EnrichSpec, spec_file: str | None) -> dict:
    meta: dict = {"gen_model_raw_path": RAW_PATH_META}
    if spec_file is not None:
        meta["gen_model"] = _provenance(spec, spec_file)
    return {"materialized": "table", "meta": meta}


def _column_entries(spec: EnrichSpec) -> list[dict]:
    """Each output column with its DuckDB data type and the tests the spec implies."""
    columns = []
    for name, dtype, description in spec.output_columns:
        entry: dict = {"name": name}
        if description:
            entry["description"] = description
        entry["data_type"] = dtype.name
        tests: list = []
        column = spec.column(name)
        if name in spec.key or (column is not None and column.not_null):
            tests.append("not_null")
        if spec.key == (name,):
            tests.append("unique")
        if column is not None and column.accepted_values is not None:
            tests.append({"accepted_values": {"arguments": {"values": list(column.accepted_values)}}})
        if tests:
            entry["data_tests"] = tests
        columns.append(entry)
    return columns


def _key_tests(spec: EnrichSpec) -> list[dict]:
    """A composite key is tested as one, column by column (joining the columns into one
    string would let ('a|b', 'c') collide with ('a', 'b|c') and skip nulls)."""
    if len(spec.key) < 2:
        return []
    return [
        {
            "gen_model.unique_combination_of_columns": {
                "name": f"{spec.model_file}__key_is_unique",
                "arguments": {"combination_of_columns": list(spec.key)},
            }
        }
    ]


_CONTRACT_NOTE = (
    "# A dbt Python model cannot enforce a contract; the model checks its own output\n"
    "# against these data types before dbt writes it.\n"
)


def render_model_yaml(spec: EnrichSpec, spec_file: str) -> str:
    """The model YAML: description, data types, tests derived from the spec."""
    model: dict = {
        "name": spec.name,
        "description": spec.description,
        "config": _model_config(spec, spec_file),
    }
    if _key_tests(spec):
        model["data_tests"] = _key_tests(spec)
    model["columns"] = _column_entries(spec)
    header = f"# Compiled by gen-model from {spec_file}: edit the spec, then recompile.\n" + _CONTRACT_NOTE
    return _yaml({"version": 2, "models": [model]}, header)


def _versioned_header(specs: list[EnrichSpec]) -> str:
    files = ", ".join(spec.spec_file_name for spec in specs)
    return (
        _comment(
            f"Compiled by gen-model from {files}: one version per spec. Edit a spec, then "
            "recompile (gen-model enrich compile); a new version is a new spec file."
        )
        + "\n"
    )


def render_versioned_yaml(specs: list[EnrichSpec]) -> str:
    """The YAML of a versioned enrichment model: one `versions:` item per spec."""
    specs = sorted(specs, key=lambda spec: spec.version or 0)
    latest = specs[-1]
    versions = []
    for spec in specs:
        entry: dict = {
            "v": spec.version,
            "description": spec.description,
            "config": {"meta": {"gen_model": _provenance(spec, spec.spec_file_name)}},
            "columns": _column_entries(spec),
        }
        if _key_tests(spec):
            entry["data_tests"] = _key_tests(spec)
        versions.append(entry)
    model = {
        "name": latest.name,
        "description": latest.description,
        "latest_version": latest.version,
        "config": _model_config(latest, None),
        "versions": versions,
    }
    return _yaml({"version": 2, "models": [model]}, _versioned_header(specs) + _CONTRACT_NOTE)


def _quarantine_columns(model_file: str) -> list[dict]:
    columns = [
        {"name": column, "description": description, "data_type": dtype}
        | ({"data_tests": ["not_null"]} if column != "source_record" else {})
        for column, dtype, description in QUARANTINE_COLUMNS
    ]
    # Bad rows must never pass silently: `dbt build` warns while the quarantine holds any.
    columns[3]["data_tests"] = [
        "not_null",
        {
            "accepted_values": {
                "name": f"{model_file}_is_empty",
                "arguments": {"values": ["(no rows expected)"]},
                "config": {"severity": "warn"},
            }
        },
    ]
    return columns


def _quarantine_description(spec: EnrichSpec) -> str:
    return (
        f"Rows of {spec.model_file}'s input that did not load, one per bad row, with the file, "
        "the row and the reason. Empty when the input is clean."
    )


def render_quarantine_yaml(spec: EnrichSpec, spec_file: str) -> str:
    name = f"{spec.name}__quarantine"
    model = {
        "name": name,
        "description": _quarantine_description(spec),
        "config": {
            "materialized": "table",
            "meta": {
                "gen_model_raw_path": RAW_PATH_META,
                "gen_model": _quarantine_provenance(spec, spec_file, spec.name),
            },
        },
        "columns": _quarantine_columns(name),
    }
    header = f"# Compiled by gen-model from {spec_file}: edit the spec, then recompile.\n"
    return _yaml({"version": 2, "models": [model]}, header)


def render_versioned_quarantine_yaml(specs: list[EnrichSpec]) -> str | None:
    """`<name>__quarantine`, versioned like its model: one version per spec that quarantines."""
    specs = sorted((spec for spec in specs if spec.on_error == "quarantine"), key=lambda s: s.version or 0)
    if not specs:
        return None
    versions = [
        {
            "v": spec.version,
            "description": _quarantine_description(spec),
            "config": {"meta": {"gen_model": _quarantine_provenance(spec, spec.spec_file_name, spec.model_file)}},
            "columns": _quarantine_columns(spec.quarantine_name),
        }
        for spec in specs
    ]
    model = {
        "name": f"{specs[-1].name}__quarantine",
        "description": f"Rows of {specs[-1].name}'s input that did not load, by version.",
        "latest_version": specs[-1].version,
        "config": {"materialized": "table", "meta": {"gen_model_raw_path": RAW_PATH_META}},
        "versions": versions,
    }
    return _yaml({"version": 2, "models": [model]}, _versioned_header(specs))


# -- entry points ----------------------------------------------------------------------------


def render_spec(
    spec: EnrichSpec, spec_file: str | None = None, versions: list[EnrichSpec] | None = None
) -> CompiledModel:
    """Every file a spec compiles to, as text. Pure: the same spec gives the same bytes.

    A versioned spec (`version: N`) compiles to `<name>_vN.py` (and
    `<name>__quarantine_vN.py`); the model YAML `<name>.yml` describes every version, so
    `versions` passes all the model's versioned specs (this one included; default: only it).
    Unchanged files are never written; a file no spec produces any more is listed in
    `CompiledModel.removed`.
    """
    spec_file = spec_file or spec.spec_file_name
    writer = _ModelWriter(spec, spec_file)
    files = {f"{spec.model_file}.py": writer.render()}
    removed: list[str] = []
    if spec.version is None:
        files[f"{spec.name}.yml"] = render_model_yaml(spec, spec_file)
        if spec.on_error == "quarantine":
            files[f"{spec.name}__quarantine.py"] = writer.render(quarantine=True)
            files[f"{spec.name}__quarantine.yml"] = render_quarantine_yaml(spec, spec_file)
        else:
            removed += [f"{spec.name}__quarantine.py", f"{spec.name}__quarantine.yml"]
    else:
        siblings = {other.version: other for other in versions or [spec] if other.version}
        siblings[spec.version] = spec
        everything = [siblings[version] for version in sorted(siblings)]
        files[f"{spec.name}.yml"] = render_versioned_yaml(everything)
        if spec.on_error == "quarantine":
            files[f"{spec.quarantine_name}.py"] = writer.render(quarantine=True)
        else:
            removed.append(f"{spec.quarantine_name}.py")
        quarantine_yaml = render_versioned_quarantine_yaml(everything)
        if quarantine_yaml is None:
            removed.append(f"{spec.name}__quarantine.yml")
        else:
            files[f"{spec.name}__quarantine.yml"] = quarantine_yaml
    for file_name, content in files.items():
        for marker in ("{{", "{%", "{#"):
            if file_name.endswith(".py") and marker in content:
                raise WriteError(
                    f"{spec_file}: the compiled {file_name} would contain {marker!r}, which dbt "
                    "reads as Jinja in Python models; remove it from the spec's literals"
                )
    return CompiledModel(name=spec.name, files=files, removed=tuple(removed))


def _write_atomic(path: Path, content: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(content)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def versioned_specs(directory: Path, name: str) -> list[Path]:
    """The `<name>_v<N>.enrich.yml` files in `directory`, by version."""
    pattern = re.compile(rf"^{re.escape(name)}_v(\d+){re.escape(SPEC_SUFFIX)}$")
    found = [
        (int(match.group(1)), path)
        for path in directory.glob(f"{name}_v*{SPEC_SUFFIX}")
        if (match := pattern.match(path.name))
    ]
    return [path for _, path in sorted(found)]


def compile_files(path: Path) -> CompiledModel:
    """What the spec at `path` compiles to, versioned siblings considered (pure: no writes)."""
    spec = load_spec(path)
    versions = None
    if spec.version is not None:
        versions = [spec if other == path else load_spec(other) for other in versioned_specs(path.parent, spec.name)]
    return render_spec(spec, path.name, versions)


def _compiled_by_us(path: Path) -> bool:
    return path.is_file() and "Compiled by gen-model" in path.read_text(encoding="utf-8")


def compile_spec(path: str | Path) -> list[Path]:
    """Compile `<name>.enrich.yml` into the files beside it; return the files written.

    Unchanged files are not rewritten (their bytes would be identical anyway). A stale
    compiled `<name>__quarantine.*` from an earlier `on_error: quarantine` is removed.
    """
    path = Path(path)
    compiled = compile_files(path)
    written = []
    for file_name, content in compiled.files.items():
        target = path.parent / file_name
        if target.is_file() and target.read_text(encoding="utf-8") == content:
            continue
        _write_atomic(target, content)
        written.append(target)
    for file_name in compiled.removed:
        stale = path.parent / file_name
        if _compiled_by_us(stale):
            stale.unlink()
    return written


def find_specs(paths: list[str | Path]) -> list[Path]:
    """The `*.enrich.yml` files among `paths` (files, or directories searched recursively)."""
    found: set[Path] = set()
    for item in map(Path, paths):
        if item.is_dir():
            found.update(p for p in item.rglob(f"*{SPEC_SUFFIX}") if p.is_file())
        elif item.name.endswith(SPEC_SUFFIX):
            found.add(item)
    return sorted(found)


def stale_files(path: str | Path) -> list[Path]:
    """Files beside the spec that differ from what it compiles to, are missing, or are
    compiled leftovers it no longer produces."""
    path = Path(path)
    compiled = compile_files(path)
    stale = []
    for file_name, content in compiled.files.items():
        target = path.parent / file_name
        if not target.is_file() or target.read_text(encoding="utf-8") != content:
            stale.append(target)
    stale += [path.parent / name for name in compiled.removed if _compiled_by_us(path.parent / name)]
    return stale


def sha256_of(files: dict[str, str]) -> str:
    """One digest over compiled files, for determinism checks."""
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + files[name].encode() + b"\0")
    return digest.hexdigest()
