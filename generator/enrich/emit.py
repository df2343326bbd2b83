"""The compiled model's Python text: one method per section of the generated file.

`ModelWriter(spec, spec_file).render()` is the model; `render(quarantine=True)` its
`<name>__quarantine` companion. Fixed code comes from `runtime_blocks`, layout from
`formatting`, casts from `casts`.
"""

from __future__ import annotations

from generator.enrich import runtime_blocks as blocks
from generator.enrich.casts import ISO_8601, cast_source
from generator.enrich.expressions import HELPERS, py_literal
from generator.enrich.formatting import (
    comment,
    docstring,
    one_docstring,
    parenthesised,
    py_list,
    split_words,
    wrapped,
)
from generator.enrich.spec import EnrichSpec
from generator.enrich.types import DataType

COMPILER_VERSION = 1
LOCATIONS = {
    "ndjson": 'f"{file}:{row}"',
    "csv": 'f"{file}:{row}"',
    "json": 'f"{file} record {row}"',
    "parquet": 'f"{file} row {row}"',
}


_NOTHING_LOADED = "nothing was loaded (on_error: fail)"


class ModelWriter:
    """The Python text of one spec's model (or its quarantine), section by section."""

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
        """The module docstring: what the model is, where it came from, what its input is."""
        spec = self.spec
        if quarantine:
            title = (
                f"{spec.quarantine_name}: the rows of {spec.model_file}'s input that did not "
                "load, with the file, the row and the reason."
            )
        else:
            title = f"{spec.model_file}: {spec.description}"
        lines = [
            docstring('"""' + title),
            "",
            docstring(
                f"Compiled by gen-model (enrich compiler {COMPILER_VERSION}) from "
                f"{self.spec_file}, sha256 {spec.sha256[:16]}. Do not edit: change the spec "
                "and recompile."
            ),
            "",
            docstring(
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
        """The imports the chosen blocks use, standard library first."""
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
        """The spec as data: name, input, key, the expected fields, drift, the output schema."""
        spec = self.spec
        out = [f"NAME = {py_literal(spec.model_file)}", f"INPUT = {py_literal(spec.input.path)}"]
        if spec.input.format == "json":
            record_path = spec.input.record_path.split(".") if spec.input.record_path else []
            out.append(f"RECORD_PATH = {py_list(record_path)}")
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
        out.append(f"KEY = {py_list(spec.key)}")
        if self.uses_iso:
            out.append("")
            out.append(comment("ISO 8601 timestamps; naive ones are read in the column's time_zone."))
            out.append(wrapped(f"ISO_8601 = {py_list(ISO_8601)}", "").rstrip())
        text = "\n".join(out) + "\n\n"
        text += comment(
            "The input fields the spec expects, by path, typed as read; each file is checked "
            "against them (drift) and conformed to them."
        )
        text += "\nEXPECTED_FIELDS = {\n"
        for path, dtype in spec.input.fields:
            text += wrapped(f"{py_literal(path)}: {dtype.polars()},  # {dtype.name}", "    ")
        text += "}\n"
        drift = spec.input.drift
        text += (
            f'DRIFT = {{"missing": {py_literal(drift.missing)}, "new": '
            f'{py_literal(drift.new)}, "retyped": {py_literal(drift.retyped)}}}\n'
        )
        if not quarantine:
            text += "\n" + comment("The output in order, as the model YAML declares it (DuckDB types in comments).")
            text += "\nOUTPUT_SCHEMA = {\n"
            for name, dtype, _ in spec.output_columns:
                text += wrapped(f"{py_literal(name)}: {dtype.polars()},  # {dtype.name}", "    ")
            text += "}\n"
        return text

    def fixed_blocks(self) -> str:
        """The runtime blocks this spec needs: errors, its reader, drift, parse helpers."""
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
        """`cast_fields`: each `from` column cast, with a reason for each value that did not cast."""
        text = "def cast_fields(rows: pl.LazyFrame) -> pl.LazyFrame:\n"
        text += '    """Each column with `from`: its input field, cast; bad values become reasons."""\n'
        text += "    casts = {\n"
        for name, source in self.casts:
            text += wrapped(f"{py_literal(name)}: {source},", "        ")
        text += "    }\n"
        if self.failures:
            text += "    # (column, input field, type): a value that was there but did not cast\n"
            text += "    failures = [\n"
            for name, field, type_name in self.failures:
                text += wrapped(
                    f"({py_literal(name)}, {py_literal(field)}, {py_literal(type_name)}),",
                    "        ",
                )
            text += "    ]\n"
            text += blocks.CAST_WITH_REASONS.lstrip("\n")
        else:
            text += "    return rows.with_columns(**casts)\n"
        return text

    def derive(self) -> str:
        """`derive`: the spec's expression columns, in order (empty when there are none)."""
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
                source = f"{parenthesised(source)}.cast({column.type.polars()})"
            text += comment(f"{column.name}: {column.expr_text}", "        ") + "\n"
            text += wrapped(f".with_columns({column.name}={source})", "        ")
        text += "    )\n"
        return text

    def check_rows(self) -> str:
        """`check_rows`: null keys and forbidden nulls as reasons."""
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
            text += wrapped(reason + ",", "        ")
        text += "    ]\n"
        text += "    return rows.with_columns(_error=join_reasons(*reasons))\n"
        return text

    def load(self, quarantine: bool) -> str:
        """`load` (open and drift-check a file) and `checked` (its rows cast and checked)."""
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
        returns = docstring(
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
        """`checked_batches`: a file's checked rows a batch at a time, by input format."""
        return blocks.CHECKED_BATCHES[self.spec.input.format]

    def key_hash(self) -> str:
        """`key_hash`: a 64-bit hash of the key."""
        key = self.spec.key
        value = f"pl.col({py_literal(key[0])})" if len(key) == 1 else "pl.struct(KEY)"
        return (
            "def key_hash() -> pl.Expr:\n"
            '    """A 64-bit hash of the key: equal keys hash alike, different ones almost never."""\n'
            f"    return {value}.hash()\n"
        )

    def repeated_keys(self) -> str:
        """`repeated_keys`: the first pass that finds the keys read more than once."""
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
        text += docstring('"""' + summary, "    ") + "\n\n"
        text += docstring(use, "    ") + '\n    """\n'
        text += '    hashes = [pl.Series("_hash", [], pl.UInt64)]\n'
        text += first_pass
        text += "    every = pl.concat(hashes).sort()\n"
        text += "    return every.filter(every == every.shift(1)).unique()\n"
        return text

    def location(self) -> str:
        """`location`: where a row came from, as the build log shows it."""
        return (
            "def location(file: str, row: int) -> str:\n"
            '    """Where a row came from, as the build log shows it."""\n'
            f"    return {LOCATIONS[self.spec.input.format]}\n"
        )

    def dedupe(self) -> str:
        """`dedupe` (the spec's choice of one row per key), or `duplicates` without one."""
        dedupe = self.spec.dedupe
        if dedupe is None:
            message = py_literal(f"duplicate key {', '.join(self.spec.key)} (the spec has no dedupe)")
            key = f"pl.col({py_literal(self.spec.key[0])})" if len(self.spec.key) == 1 else "pl.struct(KEY)"
            text = "def duplicates(rows: pl.DataFrame) -> pl.DataFrame:\n"
            text += one_docstring(
                "Rows whose key was read more than once are bad rows: the spec has no dedupe.",
                "    ",
            )
            text += "    return rows.with_columns(\n"
            text += wrapped(f"_error=pl.when({key}.is_duplicated()).then(pl.lit({message}))", "        ")
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
        text += one_docstring(summary, "    ").rstrip("\n")[:-3].rstrip() + "\n\n"
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
        text += docstring(rows_text, "    ")
        text += '\n    """\n'
        text += "    chosen = rows.sort(\n"
        text += wrapped(f"{py_list(order)},", "        ")
        text += wrapped(f"descending={descending!r},", "        ")
        text += "        nulls_last=True,\n    )\n"
        text += '    return chosen.unique(subset=KEY, keep="first", maintain_order=True)\n'
        return text

    def left_out(self) -> str:
        """`left_out`: the good rows of an NDJSON spill that must not load."""
        if self.spec.dedupe is None:
            return blocks.LEFT_OUT_DUPLICATES
        return blocks.LEFT_OUT_PASSED_OVER

    def filter_rows(self) -> str:
        """`filter_rows`: the spec's filters (empty when there are none)."""
        if not self.spec.filters:
            return ""
        text = "def filter_rows(rows: pl.DataFrame) -> pl.DataFrame:\n"
        text += '    """Rows the spec keeps, after dedupe; a null condition drops the row."""\n'
        text += "    return rows.filter(\n"
        for compiled, source in zip(self.spec.filters, self.spec.filter_texts, strict=True):
            text += comment(source, "        ") + "\n"
            text += wrapped(compiled.expr + ",", "        ")
        text += "    )\n"
        return text

    def attach_lookup(self) -> str:
        """`lookup_candidates` and `attach_lookup` (empty without a lookup)."""
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
            right_key = f"{parenthesised(right_key)}.cast({key_type.polars()})"
        text = "def lookup_candidates(lookup: pl.DataFrame) -> pl.DataFrame:\n"
        summary = f"{names} from {lookup.model}, by {lookup.lookup_key_text}, one row per key value."
        text += docstring('"""' + summary, "    ") + "\n\n"
        text += docstring(ambiguous, "    ") + '\n    """\n'
        text += "    candidates = lookup.select(\n"
        text += wrapped(f"_lookup_key={right_key},", "        ")
        for column in lookup.columns:
            text += wrapped(
                f"{column.name}=pl.col({py_literal(column.source)}).cast({column.type.polars()}),",
                "        ",
            )
        text += "    )\n"
        text += '    candidates = candidates.filter(pl.col("_lookup_key").is_not_null()).unique()\n'
        if lookup.on_ambiguous == "null":
            text += '    return candidates.filter(pl.len().over("_lookup_key") == 1)\n'
        else:
            order = ["_lookup_key", *[column.name for column in lookup.columns]]
            text += wrapped(
                f"return candidates.sort({py_list(order)}, nulls_last=True).unique("
                'subset=["_lookup_key"], keep="first", maintain_order=True)',
                "    ",
            )
        text += "\n\n"
        text += "def attach_lookup(rows: pl.DataFrame, candidates: pl.DataFrame) -> pl.DataFrame:\n"
        text += one_docstring(
            f"{names} of the candidate where {lookup.key_text} = {lookup.lookup_key_text}; row order kept.",
            "    ",
        )
        text += wrapped(f"keyed = rows.with_columns(_lookup_key={lookup.key.expr})", "    ")
        text += (
            '    joined = keyed.join(candidates, on="_lookup_key", how="left", '
            'maintain_order="left")\n'
            '    return joined.drop("_lookup_key")\n'
        )
        return text

    def spec_key_type(self) -> DataType | None:
        """The type of the lookup's key on the model's side."""
        lookup = self.spec.lookup
        assert lookup is not None
        return lookup.key.dtype

    def finish(self) -> str:
        """`finish`, `arrow_batches` and `copied`: the output checked and handed to DuckDB."""
        return blocks.FINISH

    def describe_errors(self) -> str:
        """`describe_errors`: the first bad rows, for the build log (on_error: fail)."""
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
{"".join(wrapped(py_literal(part), "        ") for part in split_words(advice))}    )
    return "\\n".join([summary, *lines, advice])
'''

    def output_steps(self, value: str) -> str:
        """The calls that turn checked rows `value` into output rows."""
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
        """`stream` for the formats read twice (key columns first, then every row)."""
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
            docstring(
                '"""The model\'s rows as a stream of Arrow batches, which DuckDB writes as it reads them.',
                "    ",
            )
            + "\n\n"
        )
        text += docstring(
            f"Rows are {steps_text}and streamed in read order, file by file and batch "
            "by batch, so memory holds a few batches, not the input. Rows whose key was read "
            "more than once are held back and "
            + ("deduplicated" if spec.dedupe else "reported as duplicates")
            + " once every row is read; they come last, sorted by the key. "
            + bad_rows,
            "    ",
        )
        text += '\n    """\n'
        text += self.opening(fail)
        text += "    repeated = repeated_keys(loaded).implode()\n"
        if lookup:
            text += "    candidates = lookup_candidates(lookup)\n"
        text += f"""
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
                yield from arrow_batches({self.output_steps("ready")})
"""
        if spec.dedupe:
            text += "        repeats = dedupe(pl.concat(held)) if held else None\n"
        else:
            # Without dedupe a repeated key is a bad row: every copy of it goes to the errors.
            text += """\
        repeats = None
        if held:
            flagged = duplicates(pl.concat(held))
            failed = flagged.filter(pl.col("_error").is_not_null())
            errors.append(failed.select("_file", "_row", "_error"))
            repeats = flagged.filter(pl.col("_error").is_null()).sort(KEY)
"""
        text += self.report_errors(" " * 8)
        text += f"""\
        if repeats is not None:
            yield from arrow_batches({self.output_steps("repeats")})

    return pa.RecordBatchReader.from_batches(ARROW_SCHEMA, batches())
"""
        return text

    def opening(self, fail: bool) -> str:
        """The stream's first lines: the input files, opened and drift-checked."""
        names = "    names = [path.relative_to(raw_dir).as_posix() for path in files]\n" if fail else ""
        return (
            "    files = input_files(raw_dir)\n"
            + names
            + "    loaded = [load(raw_dir, path, file_id) for file_id, path in enumerate(files)]\n"
        )

    def stream_ndjson(self) -> str:
        """`stream` for NDJSON: decoded once, good rows spilled, read back once chosen."""
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
            docstring(
                '"""The model\'s rows as a stream of Arrow batches, which DuckDB writes as it reads them.',
                "    ",
            )
            + "\n\n"
        )
        text += docstring(
            "Each file is decoded and checked once, a batch of lines at a time, and the good rows "
            "are set aside in a temporary Arrow file, so memory holds a batch and every row's key, "
            f"not the input. Once every row is read, {choice} is known; those rows are read back "
            "and streamed, in read order" + (f", joined to {lookup.model}" if lookup else "") + ". " + bad_rows,
            "    ",
        )
        text += '\n    """\n'
        text += self.opening(fail)
        keys = wrapped(f"keys.append(kept.select({py_list([*order, '_file', '_row'])[1:-1]}))", " " * 20)
        text += f"""
    def batches() -> Iterator[pa.RecordBatch]:
        with tempfile.TemporaryDirectory(prefix=f"{{NAME}}_") as spill:
            parts, keys, errors = [], [], []
            for file_id, (records, unreadable, found) in enumerate(loaded):
                for batch in checked_batches(files[file_id], file_id, records, found):
                    batch = batch.select("_file", "_row", "_error", *COLUMNS)
                    failed = batch.filter(pl.col("_error").is_not_null())
                    errors.append(copied(failed.select("_file", "_row", "_error")))
                    kept = batch.filter(pl.col("_error").is_null()).drop("_error")
{keys}\
                    parts.append(Path(spill) / f"{{len(parts):06}}.arrow")
                    kept.write_ipc(parts[-1], compression="uncompressed")
                    del batch, failed, kept  # freed before the next batch is read
                unread = rejected_rows(file_id, unreadable)
                errors.append(unread.select("_file", "_row", "_error"))
            passed_over = left_out(keys)
            keys.clear()
"""
        if not spec.dedupe:
            text += "            errors.append(passed_over)\n"
        text += self.report_errors(" " * 12)
        if lookup:
            text += "            candidates = lookup_candidates(lookup)\n"
        text += f"""\
            for part in parts:
                rows = pl.read_ipc(part)
                rows = rows.join(
                    passed_over, on=["_file", "_row"], how="anti", maintain_order="left"
                )
                yield from arrow_batches({self.output_steps("rows")})

    return pa.RecordBatchReader.from_batches(ARROW_SCHEMA, batches())
"""
        return text

    def build(self) -> str:
        """`build`: the stream collected, for tests and notebooks."""
        lookup = self.spec.lookup
        signature = "raw_dir: Path, lookup: pl.DataFrame" if lookup else "raw_dir: Path"
        call = "stream(raw_dir, lookup)" if lookup else "stream(raw_dir)"
        return (
            f"def build({signature}) -> pl.DataFrame:\n"
            '    """The model\'s rows in memory (for tests and notebooks): the stream, collected."""\n'
            f"    return pl.from_arrow({call}.read_all())\n"
        )

    def model(self) -> str:
        """`model(dbt, session)`: dbt-duckdb's entry point."""
        lookup = self.spec.lookup
        text = "def model(dbt, session):\n"
        text += '    """dbt-duckdb entry point: an Arrow stream, which dbt writes as the table while it is read."""\n'
        text += '    raw_dir = raw_dir_from(dbt.config.meta_get("gen_model_raw_path"))\n'
        if lookup:
            args = [py_literal(lookup.model)]
            if lookup.version is not None:
                args.append(f"v={lookup.version}")
            text += wrapped(f"lookup = dbt.ref({', '.join(args)}).pl()", "    ")
            text += "    return stream(raw_dir, lookup)\n"
        else:
            text += "    return stream(raw_dir)\n"
        return text

    def quarantined(self) -> str:
        """`quarantined` and the quarantine model's `model(dbt, session)`."""
        spec = self.spec
        no_dedupe = spec.dedupe is None
        held = "    held = []\n" if no_dedupe else ""
        repeated = "    repeated = repeated_keys(loaded).implode()\n" if no_dedupe else ""
        if spec.input.format == "ndjson":
            # A batch of lines at a time: the file is decoded a chunk at a time.
            indent, collect = " " * 12, "collect()"
            rows = "        for frame in records:\n            rows = checked(frame.lazy(), found)\n"
        else:
            indent, collect = " " * 8, 'collect(engine="streaming")'
            rows = "        rows = checked(records, found)\n"
        per_file = [
            'failed = rows.filter(pl.col("_error").is_not_null())',
            f'bad.append(failed.select("_file", "_row", "_record", "_error").{collect})',
        ]
        if no_dedupe:
            per_file += [
                'kept = rows.filter(pl.col("_error").is_null() & key_hash().is_in(repeated))',
                f'held.append(kept.select("_file", "_row", "_record", *KEY).{collect})',
            ]
        duplicates = (
            """\
    if held:
        flagged = duplicates(pl.concat(held)).filter(pl.col("_error").is_not_null())
        bad.append(flagged.select("_file", "_row", "_record", "_error"))
"""
            if no_dedupe
            else ""
        )
        text = f"""\
def quarantined(raw_dir: Path) -> pl.DataFrame:
    \"\"\"Every row that did not load, with its file, row, record and reason, in file order.\"\"\"
    files = input_files(raw_dir)
    names = [path.relative_to(raw_dir).as_posix() for path in files]
{held}    bad = []
    loaded = [load(raw_dir, path, file_id) for file_id, path in enumerate(files)]
{repeated}    for file_id, (records, unreadable, found) in enumerate(loaded):
{rows}{"".join(indent + line + chr(10) for line in per_file)}\
        bad.append(rejected_rows(file_id, unreadable))
{duplicates}\
    bad = pl.concat(bad).sort("_file", "_row")
"""
        return text + blocks.QUARANTINE_COLUMNS_AND_MODEL.lstrip("\n")

    # -- assembly ----------------------------------------------------------------------

    def render(self, quarantine: bool = False) -> str:
        """The whole file, sections in order; `quarantine` renders `<name>__quarantine`."""
        spec = self.spec
        ndjson = spec.input.format == "ndjson"
        sections = [self.header(quarantine), self.imports(quarantine), self.constants(quarantine)]
        if not quarantine:
            sections[-1] += wrapped(f"COLUMNS = {py_list([c.name for c in spec.columns])}", "")
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
