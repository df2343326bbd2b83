"""The enrichment spec: its JSON schema, loader and validation.

A spec is data, never code: the JSON schema rejects unknown keys (with did-you-mean), the
semantic checks below tie names together (a column's `from` is a declared input field, a
key is a column, a cast has the formats it needs), and expressions are checked against
the closed vocabulary in `generator.enrich.expressions`. Every problem names the file, the
key path and, for YAML, the line and column. All problems are reported at once.

Specs live beside the model they compile to: `models/.../<name>.enrich.yml` compiles to
`<name>.py` and `<name>.yml` (and `<name>__quarantine.py` with `on_error: quarantine`).
"""

from __future__ import annotations

import hashlib
import keyword
import re
import zoneinfo
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path, PurePosixPath

import jsonschema
import yaml

from generator.enrich.expressions import Compiled, ExpressionError, compile_expression, default_type
from generator.enrich.types import DataType, TypeSyntaxError, parse_type
from generator.enrich.yaml_positions import DuplicateKeyError, Positions, load_with_positions
from generator.errors import ConfigError, Problem, ProposalError
from generator.suggest import did_you_mean

SPEC_SUFFIX = ".enrich.yml"
FORMATS = ("ndjson", "json", "csv", "parquet")
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
RULE = "enrich-spec"

_POLICY = {"type": "string", "enum": ["error", "warn", "ignore"]}
_NAME = {"type": "string", "pattern": NAME_PATTERN, "maxLength": 63}
_EXPRESSION = {"type": "string", "minLength": 1}
_SCALAR = {"type": ["string", "number", "boolean"]}

SPEC_SCHEMA: dict = {
    "type": "object",
    "additionalProperties": False,
    "required": ["enrich", "name", "description", "input", "key", "columns"],
    "properties": {
        "enrich": {"const": 1, "description": "The spec format version."},
        "name": {**_NAME, "description": "The dbt model this spec compiles to."},
        "version": {
            "type": "integer",
            "minimum": 1,
            "description": "The model version this spec compiles to (<name>_v<version>.py); "
            "the file is then <name>_v<version>.enrich.yml. gen-model writes it.",
        },
        "provenance": {
            "type": "object",
            "description": "Where a generated spec came from (request, provider, proposal "
            "hash); gen-model writes it and the compiler copies it into the model's meta.",
        },
        "description": {"type": "string", "minLength": 1},
        "input": {
            "type": "object",
            "additionalProperties": False,
            "required": ["path", "format", "fields"],
            "properties": {
                "path": {
                    "type": "string",
                    "minLength": 1,
                    "description": "File or glob, relative to the raw dir (dbt var gen_model_raw_path).",
                },
                "format": {"type": "string", "enum": list(FORMATS)},
                "record_path": {
                    "type": "string",
                    "minLength": 1,
                    "description": "json only: the key (dotted for nested) holding the records.",
                },
                "delimiter": {"type": "string", "minLength": 1, "maxLength": 1},
                "header": {"type": "boolean"},
                "encoding": {"type": "string", "minLength": 1},
                "quote": {"type": "string", "minLength": 1, "maxLength": 1},
                "field_names": {
                    "type": "string",
                    "enum": ["as_is", "snake_case"],
                    "description": "snake_case: fields are renamed (every level) before use.",
                },
                "fields": {
                    "type": "object",
                    "minProperties": 1,
                    "additionalProperties": {"type": "string", "minLength": 1},
                    "description": "The expected input schema: field path -> type as read.",
                },
                "drift": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {"missing": _POLICY, "new": _POLICY, "retyped": _POLICY},
                },
            },
        },
        "on_error": {"type": "string", "enum": ["fail", "quarantine"]},
        "key": {"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
        "columns": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name"],
                "properties": {
                    "name": _NAME,
                    "description": {"type": "string"},
                    "from": {"type": "string", "minLength": 1},
                    "expr": _EXPRESSION,
                    "type": {"type": "string", "minLength": 1},
                    "format": {
                        "oneOf": [
                            {"type": "string", "minLength": 1},
                            {
                                "type": "array",
                                "minItems": 1,
                                "items": {"type": "string", "minLength": 1},
                            },
                        ]
                    },
                    "time_zone": {"type": "string", "minLength": 1},
                    "true_values": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "false_values": {"type": "array", "minItems": 1, "items": {"type": "string"}},
                    "not_null": {"type": "boolean"},
                    "accepted_values": {"type": "array", "minItems": 1, "items": _SCALAR},
                },
            },
        },
        "dedupe": {
            "type": "object",
            "additionalProperties": False,
            "required": ["keep"],
            "properties": {
                "keep": {"type": "string", "enum": ["latest", "earliest", "first", "last"]},
                "by": {"type": "string", "minLength": 1},
            },
        },
        "filter": {"type": "array", "minItems": 1, "items": _EXPRESSION},
        "lookup": {
            "type": "object",
            "additionalProperties": False,
            "required": ["model", "key", "lookup_key", "columns"],
            "properties": {
                "model": _NAME,
                "version": {"type": "integer", "minimum": 1},
                "key": _EXPRESSION,
                "lookup_key": _EXPRESSION,
                "on_ambiguous": {"type": "string", "enum": ["null", "first"]},
                "columns": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "from", "type"],
                        "properties": {
                            "name": _NAME,
                            "from": {"type": "string", "minLength": 1},
                            "type": {"type": "string", "minLength": 1},
                            "description": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
}

DEFAULT_TRUE = ("true", "t", "yes", "y", "1")
DEFAULT_FALSE = ("false", "f", "no", "n", "0")
# Strings that name "parse ISO 8601" instead of listing strptime formats.
ISO_TIMESTAMP_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%.f%#z",
    "%Y-%m-%d %H:%M:%S%.f%#z",
)
ISO_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f")
ISO_DATE_FORMATS = ("%Y-%m-%d",)


@dataclass(frozen=True)
class DriftPolicy:
    """What to do when the input's fields differ from the spec's: error | warn | ignore."""

    missing: str = "error"
    new: str = "warn"
    retyped: str = "error"


@dataclass(frozen=True)
class InputSpec:
    path: str
    format: str
    fields: tuple[tuple[str, DataType], ...]
    record_path: str | None = None
    delimiter: str = ","
    header: bool = True
    encoding: str = "utf-8"
    quote: str = '"'
    field_names: str = "as_is"
    drift: DriftPolicy = DriftPolicy()

    def field_type(self, path: str) -> DataType | None:
        return dict(self.fields).get(path)


@dataclass(frozen=True)
class ColumnSpec:
    """One output column: a cast input field, an expression, or a cast field then an expression."""

    name: str
    type: DataType  # the output type
    description: str = ""
    source: str | None = None  # the input field path (`from`)
    source_type: DataType | None = None  # its type as read (input.fields)
    cast_to: DataType | None = None  # what the field is cast to before `expr` sees it
    expr: Compiled | None = None
    expr_text: str | None = None
    formats: tuple[str, ...] = ()
    time_zone: str = "UTC"
    true_values: tuple[str, ...] = DEFAULT_TRUE
    false_values: tuple[str, ...] = DEFAULT_FALSE
    not_null: bool = False
    accepted_values: tuple | None = None


@dataclass(frozen=True)
class DedupeSpec:
    keep: str  # latest | earliest (by a column) | first | last (in file order)
    by: str | None = None


@dataclass(frozen=True)
class LookupColumn:
    name: str
    source: str
    type: DataType
    description: str = ""


@dataclass(frozen=True)
class LookupSpec:
    model: str
    key: Compiled
    key_text: str
    lookup_key: Compiled
    lookup_key_text: str
    columns: tuple[LookupColumn, ...]
    version: int | None = None
    on_ambiguous: str = "null"


@dataclass(frozen=True)
class EnrichSpec:
    """A validated enrichment spec."""

    name: str
    description: str
    input: InputSpec
    key: tuple[str, ...]
    columns: tuple[ColumnSpec, ...]
    on_error: str = "fail"
    dedupe: DedupeSpec | None = None
    filters: tuple[Compiled, ...] = ()
    filter_texts: tuple[str, ...] = ()
    lookup: LookupSpec | None = None
    file: str | None = None  # where it was read from, as given
    sha256: str = ""
    version: int | None = None  # a versioned spec compiles to <name>_v<version>.py
    provenance: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def model_file(self) -> str:
        """The compiled model's file stem: `<name>` or `<name>_v<version>`."""
        return self.name if self.version is None else f"{self.name}_v{self.version}"

    @property
    def spec_file_name(self) -> str:
        """The file this spec must be saved as."""
        return f"{self.model_file}{SPEC_SUFFIX}"

    @property
    def checked_name(self) -> str:
        """The model that reads the input once for the model and its quarantine
        (`on_error: quarantine`): `<name>__checked[_v<version>]`."""
        base = f"{self.name}__checked"
        return base if self.version is None else f"{base}_v{self.version}"

    @property
    def quarantine_name(self) -> str:
        """The quarantine model's relation: `<name>__quarantine[_v<version>]`."""
        base = f"{self.name}__quarantine"
        return base if self.version is None else f"{base}_v{self.version}"

    @property
    def output_columns(self) -> list[tuple[str, DataType, str]]:
        """(name, type, description) of every column the model returns, in order."""
        columns = [(c.name, c.type, c.description) for c in self.columns]
        if self.lookup:
            columns += [(c.name, c.type, c.description) for c in self.lookup.columns]
        return columns

    def column(self, name: str) -> ColumnSpec | None:
        return next((column for column in self.columns if column.name == name), None)


# -- problems ------------------------------------------------------------------------------


def _path_text(path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "<spec>"


class _Reporter:
    def __init__(self, file: str | None, positions: Positions, text: str | None, prefix: tuple = ()):
        self.file = file
        self.positions = positions
        self.lines = text.splitlines() if text else []
        self.problems: list[Problem] = []
        # Where the spec sits in a bigger document (a proposal's `spec`): key paths in
        # positions and messages start with it.
        self.prefix = tuple(prefix)

    def add(self, path, message: str, *, identifier=None, suggestion=None, value=False, col=None):
        path = self.prefix + tuple(path)
        line, column = self.positions.at(path, prefer_value=value)
        where = _path_text(path)
        self.problems.append(
            Problem(
                rule=RULE,
                message=f"{where}: {message}",
                file=self.file,
                line=line,
                col=col if col is not None else column,
                identifier=identifier,
                suggestion=suggestion,
                highlight=self._highlight(line, col if col is not None else column),
            )
        )

    def _highlight(self, line: int | None, col: int | None) -> str | None:
        if line is None or not self.lines or line > len(self.lines):
            return None
        text = self.lines[line - 1]
        caret = " " * max((col or 1) - 1, 0) + "^"
        return f"{text}\n{caret}"

    def expression(self, path, error: ExpressionError, text: str) -> None:
        """An expression problem, located inside the YAML scalar when it is on one line."""
        line, col = self.positions.at(self.prefix + tuple(path), prefer_value=True)
        style = self.positions.styles.get(self.prefix + tuple(path))
        located = None
        if error.offset is not None and col is not None and style in (None, "'", '"'):
            leading = len(text) - len(text.lstrip())
            located = col + (1 if style else 0) + leading + error.offset
        message = f"{error.message} (in {text.strip()!r})"
        self.add(
            path,
            message,
            identifier=error.identifier,
            suggestion=error.suggestion,
            value=True,
            col=located if located is not None else col,
        )


def _schema_problem(error: jsonschema.ValidationError, report: _Reporter) -> None:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in sorted(set(error.instance) - set(allowed), key=str):
            close = get_close_matches(str(key), allowed, n=1)
            report.add(
                path + [key],
                f"unknown key {key!r}",
                identifier=str(key),
                suggestion=(f"Did you mean {close[0]!r}? " if close else "") + f"Allowed keys: {', '.join(allowed)}.",
            )
        return
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        for key in missing:
            report.add(path, f"missing required key {key!r}", identifier=key)
        return
    if error.validator == "enum":
        hint = did_you_mean(str(error.instance), [str(v) for v in error.validator_value])
        report.add(
            path,
            f"{error.instance!r} is not one of {', '.join(map(str, error.validator_value))}",
            identifier=str(error.instance),
            suggestion=hint,
            value=True,
        )
        return
    if error.validator == "const":
        report.add(path, f"must be {error.validator_value!r}, not {error.instance!r}", value=True)
        return
    if error.validator == "pattern":
        report.add(
            path,
            f"{error.instance!r} is not a snake_case name",
            identifier=str(error.instance),
            suggestion="Use lowercase letters, digits and underscores, starting with a letter.",
            value=True,
        )
        return
    if error.validator == "oneOf" and path and path[-1] == "format":
        report.add(path, "must be a strptime format or a list of them", value=True)
        return
    report.add(path, error.message, value=True)


# -- semantic checks -----------------------------------------------------------------------

_CSV_KEYS = ("delimiter", "header", "encoding", "quote")
_SNAKE = re.compile(NAME_PATTERN)

# (input kind, output kind) pairs the compiler can cast; text parses into anything scalar.
_CASTS = {
    ("integer", "integer"),
    ("integer", "float"),
    ("integer", "decimal"),
    ("integer", "text"),
    ("float", "float"),
    ("float", "decimal"),
    ("float", "text"),
    ("decimal", "decimal"),
    ("decimal", "float"),
    ("decimal", "text"),
    ("boolean", "boolean"),
    ("boolean", "text"),
    ("date", "date"),
    ("date", "timestamp"),
    ("date", "text"),
    ("timestamp", "timestamp"),
    ("timestamp", "timestamptz"),
    ("timestamp", "date"),
    ("timestamp", "text"),
    ("timestamptz", "timestamptz"),
    ("timestamptz", "date"),
    ("timestamptz", "timestamp"),
    ("timestamptz", "text"),
    ("time", "time"),
    ("list", "list"),
    ("struct", "struct"),
}
_PARSEABLE = (
    "text",
    "integer",
    "float",
    "decimal",
    "boolean",
    "date",
    "time",
    "timestamp",
    "timestamptz",
)


def can_cast(source: DataType, target: DataType) -> bool:
    """Whether the compiler knows how to turn `source` values into `target` values."""
    if source.kind == "null" or source.name == target.name:
        return True
    if source.kind == "text":
        return target.kind in _PARSEABLE
    if source.kind == "list" and target.kind == "list":
        assert source.element is not None and target.element is not None
        return can_cast(source.element, target.element)
    if source.kind == "struct" and target.kind == "struct":
        return False  # flatten with dotted paths instead
    return (source.kind, target.kind) in _CASTS


class _AnyColumns(dict):
    """The columns of a model we do not know yet: every name exists, with an unknown type."""

    def __contains__(self, key) -> bool:
        return True

    def __getitem__(self, key):
        return None


def _parse_type(report: _Reporter, path, text: str) -> DataType | None:
    try:
        return parse_type(text)
    except TypeSyntaxError as error:
        report.add(path, str(error), value=True, identifier=text)
        return None


def _check_input(data: dict, report: _Reporter) -> InputSpec | None:
    raw = data["input"]
    fmt = raw["format"]
    path = raw["path"]
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts or "\\" in path:
        report.add(
            ["input", "path"],
            f"{path!r} must be relative to the raw dir, without '..'",
            value=True,
            suggestion="The raw dir is the dbt var gen_model_raw_path (default data/raw).",
        )
    if "record_path" in raw and fmt != "json":
        report.add(["input", "record_path"], f"record_path applies to json files, not {fmt}")
    for key in _CSV_KEYS:
        if key in raw and fmt != "csv":
            report.add(["input", key], f"{key} applies to csv files, not {fmt}")
    if "encoding" in raw:
        import codecs

        try:
            codecs.lookup(raw["encoding"])
        except LookupError:
            report.add(["input", "encoding"], f"unknown encoding {raw['encoding']!r}", value=True)
    field_names = raw.get("field_names", "as_is")
    fields = []
    for field_path, type_text in raw["fields"].items():
        where = ["input", "fields", field_path]
        segments = str(field_path).split(".")
        if any(not segment for segment in segments):
            report.add(where, f"field path {field_path!r} has an empty segment")
            continue
        if field_names == "snake_case" and not all(_SNAKE.match(s) for s in segments):
            report.add(
                where,
                f"with field_names: snake_case, list fields by their snake_case names, not {field_path!r}",
                identifier=str(field_path),
            )
        dtype = _parse_type(report, where, type_text)
        if dtype is not None:
            fields.append((str(field_path), dtype))
    names = [name for name, _ in fields]
    for name, _ in fields:
        children = [other for other in names if other.startswith(name + ".")]
        if children:
            report.add(
                ["input", "fields", name],
                f"{name!r} is listed both whole and by its fields ({', '.join(children)})",
                suggestion="List the struct's leaf fields only.",
            )
    drift = raw.get("drift", {})
    defaults = DriftPolicy()
    return InputSpec(
        path=path,
        format=fmt,
        fields=tuple(fields),
        record_path=raw.get("record_path"),
        delimiter=raw.get("delimiter", ","),
        header=raw.get("header", True),
        encoding=raw.get("encoding", "utf-8"),
        quote=raw.get("quote", '"'),
        field_names=field_names,
        drift=DriftPolicy(
            missing=drift.get("missing", defaults.missing),
            new=drift.get("new", defaults.new),
            retyped=drift.get("retyped", defaults.retyped),
        ),
    )


def _check_column(  # noqa: C901 - one branch per column option of the spec schema; each is a located message
    index: int,
    raw: dict,
    input_spec: InputSpec,
    known: dict[str, DataType | None],
    report: _Reporter,
) -> ColumnSpec | None:
    where = ["columns", index]
    name = raw["name"]
    source = raw.get("from")
    expr_text = raw.get("expr")
    ok = True
    if source is None and expr_text is None:
        report.add(where, f"column {name!r} needs `from` (an input field) or `expr`")
        return None
    source_type = None
    if source is not None:
        source_type = input_spec.field_type(source)
        if source_type is None:
            fields = [path for path, _ in input_spec.fields]
            report.add(
                where + ["from"],
                f"{source!r} is not a field listed in input.fields",
                identifier=source,
                value=True,
                suggestion=did_you_mean(source, fields) or "Add it to input.fields with its type as read.",
            )
            ok = False
    declared = _parse_type(report, where + ["type"], raw["type"]) if "type" in raw else None
    if "type" in raw and declared is None:
        ok = False
    # With both `from` and `expr`, the field is cast to `type` and the expression works on
    # that value under the column's own name.
    cast_target = declared or source_type
    compiled = None
    if expr_text is not None:
        scope = dict(known)
        if source is not None:
            scope[name] = cast_target
        try:
            compiled = compile_expression(expr_text, scope)
        except ExpressionError as error:
            report.expression(where + ["expr"], error, expr_text)
            ok = False
    if not ok:
        return None
    if compiled is not None and source is None:
        output = declared or default_type(compiled)
        if output is None:
            report.add(
                where,
                f"cannot tell the type of {expr_text!r}; add `type:`",
                identifier=name,
            )
            return None
    else:
        output = cast_target
    assert output is not None
    target_for_cast = cast_target if source is not None else None
    formats = raw.get("format")
    formats = tuple([formats] if isinstance(formats, str) else formats or ())
    if source is not None and source_type is not None and target_for_cast is not None:
        if not can_cast(source_type, target_for_cast):
            report.add(
                where + ["type"],
                f"cannot cast {source!r} ({source_type.name}) to {target_for_cast.name}",
                value=True,
            )
            return None
        needs_format = source_type.kind == "text" and target_for_cast.kind in (
            "date",
            "timestamp",
            "timestamptz",
            "time",
        )
        if needs_format and not formats:
            report.add(
                where,
                f"parsing {source!r} (varchar) as {target_for_cast.name} needs `format`: a "
                "strptime format or an ordered list of them",
                identifier=name,
                suggestion="Use format: iso8601 for ISO 8601 text such as '2024-01-02T03:04:05.123Z'.",
            )
            ok = False
        if formats and not needs_format:
            report.add(
                where + ["format"],
                "`format` applies only when text is parsed as a date, time or timestamp",
            )
            ok = False
        for position, fmt in enumerate(formats):
            if fmt != "iso8601" and "%" not in fmt:
                report.add(
                    where + ["format", position] if len(formats) > 1 else where + ["format"],
                    f"{fmt!r} is not a strptime format (e.g. '%Y-%m-%d') or 'iso8601'",
                    value=True,
                )
                ok = False
        # Naive values are read in time_zone; every timestamp is stored in UTC.
        parse_tz = (source_type.kind == "text" and target_for_cast.kind in ("timestamp", "timestamptz")) or (
            source_type.kind == "timestamp" and target_for_cast.kind == "timestamptz"
        )
        if "time_zone" in raw:
            if not parse_tz:
                report.add(
                    where + ["time_zone"],
                    "time_zone applies when text or a naive timestamp is read as a timestamp",
                )
                ok = False
            else:
                try:
                    zoneinfo.ZoneInfo(raw["time_zone"])
                except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                    report.add(
                        where + ["time_zone"],
                        f"unknown time zone {raw['time_zone']!r}",
                        value=True,
                        suggestion="Use an IANA name such as 'UTC' or 'Europe/Berlin'.",
                    )
                    ok = False
        boolean_parse = source_type.kind == "text" and target_for_cast.kind == "boolean"
        for key in ("true_values", "false_values"):
            if key in raw and not boolean_parse:
                report.add(where + [key], f"{key} applies when text is parsed as a boolean")
                ok = False
    elif source is None:
        for key in ("format", "time_zone", "true_values", "false_values"):
            if key in raw:
                report.add(where + [key], f"{key} applies to a `from` field, not to `expr`")
                ok = False
    true_values = tuple(v.lower() for v in raw.get("true_values", DEFAULT_TRUE))
    false_values = tuple(v.lower() for v in raw.get("false_values", DEFAULT_FALSE))
    overlap = sorted(set(true_values) & set(false_values))
    if overlap:
        report.add(where, f"{', '.join(map(repr, overlap))} is both a true and a false value")
        ok = False
    accepted = raw.get("accepted_values")
    if accepted is not None and output.kind not in ("text", "integer", "boolean"):
        report.add(
            where + ["accepted_values"],
            f"accepted_values applies to text, integer or boolean columns, not {output.name}",
        )
        ok = False
    if not ok:
        return None
    column = ColumnSpec(
        name=name,
        type=output,
        description=str(raw.get("description", "")).strip(),
        source=source,
        source_type=source_type,
        cast_to=target_for_cast,
        expr=compiled,
        expr_text=expr_text.strip() if expr_text else None,
        formats=formats,
        time_zone=raw.get("time_zone", "UTC"),
        true_values=true_values,
        false_values=false_values,
        not_null=bool(raw.get("not_null", False)),
        accepted_values=tuple(accepted) if accepted is not None else None,
    )
    return column


def _check_semantics(data: dict, file: str | None, report: _Reporter) -> EnrichSpec | None:  # noqa: C901 - one check per cross-field rule of the spec; splitting scatters the rule list
    name = data["name"]
    version = data.get("version")
    if file is not None:
        found = Path(file).name
        stem = found[: -len(SPEC_SUFFIX)] if found.endswith(SPEC_SUFFIX) else None
        expected = name if version is None else f"{name}_v{version}"
        if stem is not None and stem != expected:
            match = re.fullmatch(r"(.+)_v(\d+)", stem)
            if version is None and match and match.group(1) == name:
                report.add(
                    ["name"],
                    f"{found} is version {match.group(2)} of {name!r}, but the spec has no `version`",
                    identifier=name,
                    suggestion=f"Add `version: {match.group(2)}`.",
                )
            elif version is not None:
                report.add(
                    ["version"],
                    f"the spec for {name!r} version {version} must be saved as {expected}{SPEC_SUFFIX}, not {found}",
                    value=True,
                    identifier=name,
                    suggestion="The file is <name>_v<version>.enrich.yml; rename one of them.",
                )
            else:
                report.add(
                    ["name"],
                    f"the spec in {found} must be named {stem!r}, not {name!r}",
                    value=True,
                    identifier=name,
                    suggestion="The file is <name>.enrich.yml; rename one of them.",
                )
    if re.search(r"_v\d+$", name):
        report.add(["name"], f"{name!r} ends in a version suffix", value=True, identifier=name)
    input_spec = _check_input(data, report)
    if input_spec is None:
        return None

    columns: list[ColumnSpec] = []
    known: dict[str, DataType | None] = {}
    seen: dict[str, int] = {}
    for index, raw in enumerate(data["columns"]):
        if keyword.iskeyword(raw["name"]) or raw["name"] in ("true", "false", "null", "none"):
            report.add(
                ["columns", index, "name"],
                f"{raw['name']!r} is a reserved word; expressions could not refer to it",
                value=True,
                identifier=raw["name"],
                suggestion=f"Did you mean {raw['name'] + '_value'!r}?",
            )
            continue
        if raw["name"] in seen:
            report.add(
                ["columns", index, "name"],
                f"column {raw['name']!r} is already defined at columns[{seen[raw['name']]}]",
                value=True,
                identifier=raw["name"],
            )
            continue
        seen[raw["name"]] = index
        column = _check_column(index, raw, input_spec, known, report)
        known[raw["name"]] = column.type if column else None
        if column is not None:
            columns.append(column)

    names = list(seen)
    for index, key in enumerate(data["key"]):
        if key not in seen:
            report.add(
                ["key", index],
                f"key column {key!r} is not among the columns",
                value=True,
                identifier=key,
                suggestion=did_you_mean(key, names),
            )
    if len(set(data["key"])) != len(data["key"]):
        report.add(["key"], "a key column is listed twice")

    dedupe = None
    if "dedupe" in data:
        raw = data["dedupe"]
        keep, by = raw["keep"], raw.get("by")
        if keep in ("latest", "earliest") and by is None:
            report.add(["dedupe"], f"keep: {keep} needs `by`, the column that orders versions")
        elif keep in ("first", "last") and by is not None:
            report.add(
                ["dedupe", "by"],
                f"keep: {keep} keeps rows in file order; `by` applies to latest/earliest",
            )
        elif by is not None and by not in seen:
            report.add(
                ["dedupe", "by"],
                f"{by!r} is not among the columns",
                value=True,
                identifier=by,
                suggestion=did_you_mean(by, names),
            )
        elif by is not None and known.get(by) is not None and known[by].kind in ("list", "struct"):
            report.add(["dedupe", "by"], f"cannot order versions by {by!r} ({known[by].name})")
        dedupe = DedupeSpec(keep=keep, by=by)

    filters, filter_texts = [], []
    for index, text in enumerate(data.get("filter", [])):
        try:
            compiled = compile_expression(text, known)
        except ExpressionError as error:
            report.expression(["filter", index], error, text)
            continue
        if compiled.kind not in ("boolean", "*"):
            report.add(
                ["filter", index],
                f"a filter must be true or false for each row; {text.strip()!r} is "
                f"{compiled.dtype.name if compiled.dtype else compiled.kind}",
                value=True,
            )
            continue
        filters.append(compiled)
        filter_texts.append(text.strip())

    lookup = None
    if "lookup" in data:
        lookup = _check_lookup(data["lookup"], known, seen, report)

    if report.problems:
        return None
    return EnrichSpec(
        name=name,
        description=" ".join(data["description"].split()),
        input=input_spec,
        key=tuple(data["key"]),
        columns=tuple(columns),
        on_error=data.get("on_error", "fail"),
        dedupe=dedupe,
        filters=tuple(filters),
        filter_texts=tuple(filter_texts),
        lookup=lookup,
        file=file,
        version=version,
        provenance=dict(data.get("provenance") or {}),
    )


def _check_lookup(raw: dict, known, seen, report: _Reporter) -> LookupSpec | None:
    ok = True
    compiled = {}
    for key, scope in (("key", known), ("lookup_key", _AnyColumns())):
        try:
            compiled[key] = compile_expression(raw[key], scope)
        except ExpressionError as error:
            report.expression(["lookup", key], error, raw[key])
            ok = False
    if ok and compiled["key"].kind in ("list", "struct", "boolean"):
        report.add(["lookup", "key"], "a lookup key must be text, a number or a date", value=True)
        ok = False
    columns = []
    for index, item in enumerate(raw["columns"]):
        if item["name"] in seen:
            report.add(
                ["lookup", "columns", index, "name"],
                f"{item['name']!r} is already a column of this model",
                value=True,
                identifier=item["name"],
            )
            ok = False
            continue
        dtype = _parse_type(report, ["lookup", "columns", index, "type"], item["type"])
        if dtype is None:
            ok = False
            continue
        columns.append(LookupColumn(item["name"], item["from"], dtype, str(item.get("description", "")).strip()))
    if not ok:
        return None
    return LookupSpec(
        model=raw["model"],
        version=raw.get("version"),
        key=compiled["key"],
        key_text=raw["key"].strip(),
        lookup_key=compiled["lookup_key"],
        lookup_key_text=raw["lookup_key"].strip(),
        columns=tuple(columns),
        on_ambiguous=raw.get("on_ambiguous", "null"),
    )


# -- entry points --------------------------------------------------------------------------


def validate_spec(
    data: object,
    file: str | None = None,
    positions: Positions | None = None,
    text: str | None = None,
    prefix: tuple = (),
) -> EnrichSpec:
    """Check plain data against the spec schema and semantics; report every problem.

    `prefix` is the key path of the spec inside a bigger document (('spec',) in a
    proposal): `positions` and `text` are then the whole document's, and problems name
    their keys from its root.
    """
    report = _Reporter(file, positions or Positions(), text, prefix)
    if not isinstance(data, dict):
        report.add([], f"a spec is a mapping of keys, not {type(data).__name__}")
        raise ProposalError(f"{file or 'the spec'} is invalid", report.problems)
    validator = jsonschema.Draft202012Validator(SPEC_SCHEMA)
    errors = sorted(validator.iter_errors(data), key=lambda e: ([str(p) for p in e.absolute_path], e.message))
    for error in errors:
        _schema_problem(error, report)
    spec = None
    if not report.problems:
        spec = _check_semantics(data, file, report)
    if report.problems or spec is None:
        count = len(report.problems)
        raise ProposalError(
            f"{file or 'the spec'} is invalid ({count} problem{'s' if count != 1 else ''})",
            report.problems,
        )
    canonical = text if text and not prefix else yaml.safe_dump(data, sort_keys=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    object.__setattr__(spec, "sha256", digest)
    return spec


def load_spec(path: str | Path, display: str | None = None) -> EnrichSpec:
    """Read `<name>.enrich.yml` and validate it. `display` is the path shown in problems."""
    path = Path(path)
    shown = display or str(path)
    if not path.is_file():
        raise ConfigError(f"enrichment spec not found: {shown}")
    if not path.name.endswith(SPEC_SUFFIX):
        raise ConfigError(f"{shown}: enrichment specs are named <model>{SPEC_SUFFIX}")
    text = path.read_text(encoding="utf-8")
    try:
        data, positions = load_with_positions(text)
    except DuplicateKeyError as error:
        raise ProposalError(
            f"{shown} is invalid (1 problem)",
            [
                Problem(
                    rule=RULE,
                    message=str(error),
                    file=shown,
                    line=error.line,
                    col=error.col,
                    identifier=error.key,
                )
            ],
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise ProposalError(
            f"{shown} is not valid YAML",
            [
                Problem(
                    rule=RULE,
                    message=str(getattr(error, "problem", None) or error).splitlines()[0],
                    file=shown,
                    line=mark.line + 1 if mark else None,
                    col=mark.column + 1 if mark else None,
                )
            ],
        ) from None
    return validate_spec(data, file=shown, positions=positions, text=text)
