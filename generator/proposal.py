"""The proposal: what an LLM (or a person, or any tool) hands the gates.

It is data, validated like untrusted user input: unknown fields are errors, missing ones
are named, names follow the project's layer conventions. The same JSON schema is the LLM
tool's `input_schema` and the `gen-model apply` file format (YAML or JSON).

Two kinds share that one schema (an LLM fills one flat object more reliably than a
`oneOf`): `kind: sql` (the default) carries `sql`, `grain` and `columns`; `kind: enrich`
carries `spec`, an enrichment spec (`generator.enrich.spec`) normalising a raw file, whose
key is the grain and whose columns are the output. `validate_proposal` enforces that a
proposal has exactly one of `sql` and `spec`, matching its kind.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from generator import limits
from generator.errors import ConfigError, Problem, ProposalError

LAYERS = ("staging", "intermediate", "marts")
LAYER_PREFIXES = {"staging": "stg_", "intermediate": "int_"}
MATERIALIZATIONS = ("view", "table")
KINDS = ("sql", "enrich")
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"

if TYPE_CHECKING:
    import jsonschema


def _proposal_spec_schema() -> dict:
    """The enrichment spec as a proposal carries it: name, description and the format
    version come from the proposal; version and provenance are gen-model's to write."""
    import copy

    from generator.enrich.spec import SPEC_SCHEMA

    schema = copy.deepcopy(SPEC_SCHEMA)
    for key in ("version", "provenance"):
        schema["properties"].pop(key)
    schema["required"] = [k for k in schema["required"] if k not in ("enrich", "name", "description")]
    schema["description"] = (
        "kind enrich only: an enrichment spec (data, never code) that reads one raw file "
        "(input.path relative to the raw dir, as the catalog's `spec input.path` shows it), "
        "casts and renames its fields into columns, and may dedupe, filter and look up a "
        "model. name and description default to the proposal's."
    )
    return schema


@functools.cache
def proposal_schema() -> dict:
    """The JSON schema of a proposal (the LLM's tool input, what `validate_proposal` checks).

    Built on first use, not at import: every command's CLI imports this module, and the
    enrichment spec's part of it imports the spec module and jsonschema (0.05 s)."""
    return {
        "type": "object",
        "additionalProperties": False,
        # kind sql also requires grain, sql and columns; kind enrich requires spec (checked in
        # validate_proposal, so that one flat schema serves both).
        "required": ["name", "layer", "description"],
        "properties": {
            "name": {
                "type": "string",
                "pattern": NAME_PATTERN,
                "maxLength": 63,
                "description": "Model name, snake_case. Staging models start with stg_ "
                "(stg_<source>__<entity>s), intermediate ones with int_; marts are plain entity "
                "names. No version suffix.",
            },
            "layer": {"type": "string", "enum": list(LAYERS)},
            "kind": {
                "type": "string",
                "enum": list(KINDS),
                "description": "sql (default): a select over catalog relations, in `sql`. enrich: "
                "normalise a raw file (a catalog entry starting with `file`) with `spec` instead of "
                "sql, grain and columns; staging layer.",
            },
            "description": {
                "type": "string",
                "minLength": 1,
                "description": "One or two sentences: what one row is and what it is for.",
            },
            "grain": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "minLength": 1},
                "description": "The output columns that together identify one row (kind sql; "
                "an enrich proposal's grain is its spec's key).",
            },
            "materialized": {"type": "string", "enum": list(MATERIALIZATIONS)},
            "request": {"type": "string"},
            "sql": {
                "type": "string",
                "minLength": 1,
                "description": "kind sql: one DuckDB select statement (CTEs allowed). Refer to "
                "models with {{ ref('name') }} and to sources with {{ source('source', 'table') }}; "
                "no other Jinja.",
            },
            "spec": _proposal_spec_schema(),
            "columns": {
                "type": "array",
                "minItems": 1,
                "description": "kind sql: every output column, in the order the select returns them.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name", "description"],
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "description": {"type": "string"},
                    },
                },
            },
        },
    }


def __getattr__(name: str):
    # PROPOSAL_SCHEMA stays importable as a module constant (one object), built when first read.
    if name == "PROPOSAL_SCHEMA":
        return proposal_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class ColumnSpec:
    """An output column the proposal promises."""

    name: str
    description: str = ""


@dataclass(frozen=True)
class Proposal:
    """A validated proposal for one model."""

    name: str
    layer: str
    description: str
    grain: tuple[str, ...]
    sql: str
    columns: tuple[ColumnSpec, ...]
    materialized: str | None = None
    request: str | None = None
    kind: str = "sql"
    # kind enrich: the spec as proposed (plain data, name and description filled in) and
    # its validated form (generator.enrich.spec.EnrichSpec).
    spec: dict | None = field(default=None, hash=False)
    enrich_spec: object = field(default=None, compare=False, hash=False, repr=False)
    source_file: str | None = field(default=None, compare=False)
    # Where the SQL's first line sits in `source_file` (1-based line, indentation), when the
    # SQL is a YAML literal block: problems are then reported at file positions.
    sql_position: tuple[int, int] | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        """Canonical plain data, in schema order (what is hashed and locked)."""
        data: dict = {
            "name": self.name,
            "layer": self.layer,
            "description": self.description,
            "grain": list(self.grain),
        }
        if self.materialized:
            data["materialized"] = self.materialized
        if self.request:
            data["request"] = self.request
        if self.kind == "enrich":
            # grain and columns are the spec's; the hash covers the spec itself.
            del data["grain"]
            data["kind"] = self.kind
            data["spec"] = self.spec
            return data
        data["sql"] = self.sql
        data["columns"] = [{"name": c.name, "description": c.description} for c in self.columns]
        return data

    def sha256(self) -> str:
        """Stable hash of the proposal's content."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def sql_file(self) -> str:
        """Where problems in the SQL are reported: the proposal file, or `<name>.sql`."""
        return self.source_file or f"{self.name}.sql"

    def locate(self, problem: Problem) -> Problem:
        """A problem found at SQL line/col, moved to its position in the proposal file."""
        if problem.file != self.source_file or problem.line is None or self.source_file is None:
            return problem
        if self.sql_position is None:
            # A quoted or JSON string: positions are within the SQL text, and say so.
            return replace(problem, file=f"{self.source_file}#sql")
        first_line, indent = self.sql_position
        return replace(
            problem,
            line=first_line + problem.line - 1,
            col=None if problem.col is None else problem.col + indent,
        )


def _json_path(path) -> str:
    parts = []
    for part in path:
        part = part if isinstance(part, int) else _clip(str(part), 80)
        parts.append(f"[{part}]" if isinstance(part, int) else (f".{part}" if parts else part))
    return "".join(parts) or "<proposal>"


def _schema_problem(error: jsonschema.ValidationError, file: str | None) -> Problem:
    where = _json_path(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        # Keys from YAML need not be strings (`1: x`, `null: y`).
        unknown = sorted({str(key) for key in error.instance} - set(allowed))
        from difflib import get_close_matches

        hints = []
        for key in unknown:
            close = get_close_matches(key, allowed, n=1)
            hints.append(f"{_clip(repr(key), 80)} (did you mean {close[0]!r}?)" if close else _clip(repr(key), 80))
        return Problem(
            rule="schema",
            message=f"unknown field{'s' if len(unknown) > 1 else ''} at {where}: {', '.join(hints)}",
            file=file,
            identifier=_clip(unknown[0], 80) if unknown else None,
            suggestion=f"Allowed fields: {', '.join(allowed)}.",
        )
    if error.validator == "required":
        missing = [key for key in error.validator_value if key not in error.instance]
        return Problem(
            rule="schema",
            message=f"missing required field{'s' if len(missing) > 1 else ''}"
            + ("" if where == "<proposal>" else f" at {where}")
            + ": "
            + ", ".join(missing),
            file=file,
            identifier=missing[0] if missing else None,
        )
    if error.validator == "pattern" and error.absolute_path and error.absolute_path[-1] == "name":
        return Problem(
            rule="schema",
            message=f"{where} {_clip(repr(error.instance), 80)} is not a snake_case name",
            file=file,
            identifier=_clip(str(error.instance), 80),
            suggestion="Use lowercase letters, digits and underscores, starting with a letter.",
        )
    return Problem(rule="schema", message=_clip(f"{where}: {error.message}", 300), file=file)


def _name_problems(name: str, layer: str, file: str | None) -> list[Problem]:
    """The naming conventions: the layer's prefix (stg_, int_; none for marts), no version suffix."""
    problems = []
    prefix = LAYER_PREFIXES.get(layer)
    if prefix and not name.startswith(prefix):
        problems.append(
            Problem(
                rule="schema",
                message=f"{layer} model name {name!r} must start with {prefix!r}",
                file=file,
                identifier=name,
                suggestion=f"Did you mean {prefix + name!r}?",
            )
        )
    if layer == "marts":
        for other in LAYER_PREFIXES.values():
            if name.startswith(other):
                problems.append(
                    Problem(
                        rule="schema",
                        message=f"marts model name {name!r} must not start with {other!r}",
                        file=file,
                        identifier=name,
                        suggestion=f"Did you mean {name[len(other) :]!r}?",
                    )
                )
    if re.search(r"_v\d+$", name):
        problems.append(
            Problem(
                rule="schema",
                message=f"model name {name!r} ends in a version suffix",
                file=file,
                identifier=name,
                suggestion="Drop the suffix; gen-model writes versions itself (<name>_v<N>).",
            )
        )
    return problems


def _convention_problems(data: dict, file: str | None) -> list[Problem]:
    problems = _name_problems(data["name"], data["layer"], file)
    column_names = [column["name"] for column in data["columns"]]
    lowered = [c.lower() for c in column_names]
    for duplicate in sorted({c for c in lowered if lowered.count(c) > 1}):
        problems.append(
            Problem(
                rule="schema",
                message=f"column {duplicate!r} is listed more than once in columns",
                file=file,
                identifier=duplicate,
            )
        )
    for key in data["grain"]:
        if key.lower() not in lowered:
            from difflib import get_close_matches

            close = get_close_matches(key, column_names, n=1)
            problems.append(
                Problem(
                    rule="schema",
                    message=f"grain column {key!r} is not among the proposal's columns",
                    file=file,
                    identifier=key,
                    suggestion=f"Did you mean {close[0]!r}?" if close else None,
                )
            )
    return problems


def _top_level_schema() -> dict:
    """PROPOSAL_SCHEMA with `spec` checked only for being a mapping: the spec has its own
    validator, which locates every problem and suggests fixes."""
    schema = dict(proposal_schema())
    schema["properties"] = {**schema["properties"], "spec": {"type": "object"}}
    return schema


def proposal_kind(data: dict) -> str:
    """`kind` as given, else what the fields say: a spec without sql is an enrich proposal."""
    if data.get("kind") in KINDS:
        return data["kind"]
    return "enrich" if "spec" in data and "sql" not in data else "sql"


def _missing_fields(data: dict, file: str | None) -> list[Problem]:
    """One problem naming every missing field: the ones every proposal needs, then its kind's."""
    if "kind" not in data and "sql" in data and "spec" in data:
        return []  # which kind is meant is the problem; _kind_problems says so
    kind = proposal_kind(data)
    required = ("name", "layer", "description") + (("grain", "sql", "columns") if kind == "sql" else ("spec",))
    missing = [key for key in required if key not in data]
    if not missing:
        return []
    return [
        Problem(
            rule="schema",
            message=f"missing required field{'s' if len(missing) > 1 else ''}: "
            + ", ".join(missing)
            + ("" if kind == "sql" else " (kind: enrich)"),
            file=file,
            identifier=missing[0],
        )
    ]


def _kind_problems(data: dict, file: str | None) -> list[Problem]:
    """Exactly one of sql and spec, with the fields its kind requires."""
    kind = proposal_kind(data)
    if "kind" not in data and "sql" in data and "spec" in data:
        return [
            Problem(
                rule="schema",
                message="a proposal has either sql (kind: sql) or spec (kind: enrich), not both",
                file=file,
                identifier="spec",
                suggestion="Keep spec to normalise a raw file, sql to query the warehouse.",
            )
        ]
    problems = []
    unwanted = ("spec",) if kind == "sql" else ("sql", "columns")
    for key in unwanted:
        if key in data:
            problems.append(
                Problem(
                    rule="schema",
                    message=(
                        f"spec belongs to kind: enrich, and this proposal is kind: {kind}"
                        if key == "spec"
                        else f"a kind: enrich proposal has no {key}: its spec defines "
                        + ("the transformation" if key == "sql" else "the output columns")
                    ),
                    file=file,
                    identifier=key,
                    suggestion=f"Remove {key}, or set kind: {'enrich' if key == 'spec' else 'sql'}.",
                )
            )
    return problems


def _spec_of(data: dict, file: str | None, positions, text: str | None) -> tuple[dict, object | None, list[Problem]]:
    """The proposal's spec with name/description filled in, validated; or its problems."""
    from generator.enrich.spec import validate_spec

    spec = dict(data["spec"])
    problems = []
    for key, value in (("name", data["name"]), ("description", data["description"])):
        if key in spec and spec[key] != value:
            problems.append(
                Problem(
                    rule="schema",
                    message=f"spec.{key} {spec[key]!r} differs from the proposal's {key} {value!r}",
                    file=file,
                    identifier=str(spec[key]),
                    suggestion=f"Leave spec.{key} out: it defaults to the proposal's.",
                )
            )
    for key in ("version", "provenance"):
        if key in spec:
            problems.append(
                Problem(
                    rule="schema",
                    message=f"spec.{key} is written by gen-model, not proposed",
                    file=file,
                    identifier=key,
                    suggestion=f"Remove spec.{key}.",
                )
            )
    if problems:
        return spec, None, problems
    # Key order as a person writes a spec: format version, name, description first.
    spec = {"enrich": spec.pop("enrich", 1), "name": data["name"], "description": data["description"]} | {
        key: value for key, value in spec.items() if key not in ("name", "description")
    }
    try:
        validated = validate_spec(spec, file=file, positions=positions, text=text, prefix=("spec",))
    except ProposalError as error:
        return spec, None, list(error.problems)
    return spec, validated, []


def _enrich_problems(data: dict, validated, file: str | None) -> list[Problem]:
    problems = []
    name, layer = data["name"], data["layer"]
    if layer != "staging":
        problems.append(
            Problem(
                rule="schema",
                message=f"a kind: enrich proposal normalises a raw file: its layer is staging, not {layer}",
                file=file,
                identifier=layer,
                suggestion="Set layer: staging (and name it stg_<source>__<entity>s).",
            )
        )
    else:
        problems += _name_problems(name, layer, file)
    if data.get("materialized", "table") != "table":
        problems.append(
            Problem(
                rule="schema",
                message="an enrichment model is a dbt Python model, always materialized as a table",
                file=file,
                identifier="materialized",
                suggestion="Remove materialized.",
            )
        )
    if "grain" in data and validated is not None and tuple(data["grain"]) != validated.key:
        problems.append(
            Problem(
                rule="schema",
                message=f"grain {data['grain']} differs from the spec's key {list(validated.key)}",
                file=file,
                identifier="grain",
                suggestion="Leave grain out of an enrich proposal: the spec's key is its grain.",
            )
        )
    return problems


def _clip(text: str, limit: int = 200) -> str:
    """Text quoted in a message, cut short: an input may hold megabytes in one value."""
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"


def _too_long(value: object, limit: int) -> int | None:
    return len(value) if isinstance(value, (str, list)) and len(value) > limit else None


def _size_problems(data: dict, file: str | None, positions) -> list[Problem]:
    """Fields over the input limits (`generator.limits`), located; checked before the schema."""
    problems = []

    def add(path: tuple, message: str, suggestion: str) -> None:
        line, col = positions.at(path, prefer_value=True) if positions is not None else (None, None)
        where = ".".join(str(p) if not isinstance(p, int) else f"[{p}]" for p in path).replace(".[", "[")
        problems.append(
            Problem(
                rule=limits.RULE,
                message=f"{where} {message}",
                file=file,
                line=line,
                col=col,
                identifier=where,
                suggestion=suggestion,
            )
        )

    checks = (
        ("sql", limits.MAX_SQL_CHARS, "characters", "Split the model into smaller models that ref() each other."),
        ("description", limits.MAX_DESCRIPTION_CHARS, "characters", "Say what one row is in a sentence or two."),
        ("request", limits.MAX_DESCRIPTION_CHARS, "characters", "Shorten the request."),
        ("columns", limits.MAX_COLUMNS, "columns", "Split the model; no model needs this many columns."),
        ("grain", limits.MAX_COLUMNS, "grain columns", "The grain is the few columns that identify a row."),
    )
    for key, limit, unit, suggestion in checks:
        size = _too_long(data.get(key), limit)
        if size is not None:
            add((key,), f"has {size:,} {unit}; the limit is {limit:,}", suggestion)
    for index, column in enumerate(data.get("columns") if isinstance(data.get("columns"), list) else []):
        if not isinstance(column, dict):
            continue
        for key, limit in (("name", limits.MAX_NAME_CHARS), ("description", limits.MAX_DESCRIPTION_CHARS)):
            size = _too_long(column.get(key), limit) if isinstance(column.get(key), str) else None
            if size is not None:
                add(("columns", index, key), f"has {size:,} characters; the limit is {limit:,}", "Shorten it.")
        if len(problems) >= 20:
            break
    for index, key in enumerate(data.get("grain") if isinstance(data.get("grain"), list) else []):
        if isinstance(key, str) and len(key) > limits.MAX_NAME_CHARS:
            add(("grain", index), f"has {len(key):,} characters; the limit is {limits.MAX_NAME_CHARS:,}", "Shorten it.")
            break
    return problems


def validate_proposal(
    data: object,
    file: str | None = None,
    sql_position: tuple[int, int] | None = None,
    positions=None,
    text: str | None = None,
) -> Proposal:
    """Check plain data against the proposal schema and conventions; report every problem.

    `positions` and `text` (from `generator.enrich.yaml_positions.load_with_positions` on
    the proposal file) locate problems in an enrich proposal's spec.
    """
    if not isinstance(data, dict):
        raise ProposalError(
            "the proposal is not a mapping of fields",
            [Problem(rule="schema", message=f"expected an object, got {type(data).__name__}", file=file)],
        )
    # Limits first: jsonschema recurses, and a multi-megabyte field is no proposal.
    shape = limits.data_shape_problem(data, file)
    if shape is not None:
        raise ProposalError("the proposal is not accepted", [shape])
    too_large = _size_problems(data, file, positions)
    long_value = None if too_large else limits.data_shape_problem(data, file, max_chars=limits.MAX_SQL_CHARS)
    too_large += [long_value] if long_value is not None else []
    if too_large:
        raise ProposalError(f"the proposal is over the input limits ({len(too_large)} problem(s))", too_large)
    # Imported here: every command's CLI imports this module, few validate a proposal (0.05 s).
    import jsonschema

    validator = jsonschema.Draft202012Validator(_top_level_schema())
    errors = sorted(validator.iter_errors(data), key=lambda e: (list(e.absolute_path), e.message))
    # Missing top-level fields, and those the proposal's kind requires, are named in one line.
    errors = [e for e in errors if not (e.validator == "required" and not e.absolute_path)]
    problems = _missing_fields(data, file)
    # jsonschema reports each missing key of a nested object separately; one line says it all.
    problems += list(dict.fromkeys(_schema_problem(error, file) for error in errors))
    if not problems:
        problems = _kind_problems(data, file)
    kind = proposal_kind(data)
    if not problems and kind == "enrich":
        spec, validated, problems = _spec_of(data, file, positions, text)
        problems += _enrich_problems(data, validated, file)
        if problems:
            raise ProposalError(f"the proposal is invalid ({len(problems)} problem(s))", problems)
        return Proposal(
            name=data["name"],
            layer=data["layer"],
            description=data["description"].strip(),
            grain=tuple(validated.key),
            sql="",
            columns=tuple(ColumnSpec(name, description) for name, _, description in validated.output_columns),
            materialized="table",
            request=data.get("request"),
            kind="enrich",
            spec=spec,
            enrich_spec=validated,
            source_file=file,
        )
    if not problems:
        problems = _convention_problems(data, file)
    if problems:
        raise ProposalError(f"the proposal is invalid ({len(problems)} problem(s))", problems)
    sql = data["sql"]
    # Only blank lines are dropped in front, so line/column positions keep their meaning.
    leading = len(sql) - len(sql.lstrip("\n"))
    if sql_position is not None:
        sql_position = (sql_position[0] + leading, sql_position[1])
    return Proposal(
        name=data["name"],
        layer=data["layer"],
        description=data["description"].strip(),
        grain=tuple(data["grain"]),
        sql=sql.lstrip("\n").rstrip() + "\n",
        sql_position=sql_position,
        columns=tuple(ColumnSpec(c["name"], c.get("description", "").strip()) for c in data["columns"]),
        materialized=data.get("materialized"),
        request=data.get("request"),
        source_file=file,
    )


def load_proposal(path: str | Path) -> Proposal:
    """Read a proposal file (YAML or JSON) and validate it.

    The file is checked against the input limits (`generator.limits`) before it is parsed:
    its size, that it is UTF-8 text, how deep it nests, and (YAML) that it uses no anchors
    or aliases, so a hostile file is refused in milliseconds with a located error.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"proposal file not found: {path}")
    file = str(path)
    is_json = path.suffix == ".json"
    data_bytes = limits.read_limited(path, limits.MAX_PROPOSAL_BYTES, "the proposal file", ProposalError)
    text = limits.decode_text(
        data_bytes, file, "a proposal is YAML or JSON", ProposalError, fix="Save the proposal as UTF-8 YAML or JSON."
    )
    positions = None
    kind = "JSON" if is_json else "YAML"
    if not is_json:
        problem = limits.yaml_shape_problem(text, file)
        if problem is not None:
            raise ProposalError(f"{path} is not accepted as a proposal", [problem])
    try:
        if is_json:
            data = json.loads(text)
        else:
            from generator.enrich.yaml_positions import DuplicateKeyError, load_with_positions

            try:
                data, positions = load_with_positions(text)
            except DuplicateKeyError as error:
                raise ProposalError(
                    f"{path} is not valid YAML",
                    [
                        Problem(
                            rule="schema",
                            message=str(error),
                            file=file,
                            line=error.line,
                            col=error.col,
                            identifier=error.key,
                        )
                    ],
                ) from None
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        mark = getattr(error, "problem_mark", None)
        line = getattr(error, "lineno", None) or (mark.line + 1 if mark else None)
        col = getattr(error, "colno", None) or (mark.column + 1 if mark else None)
        raise ProposalError(
            f"{path} is not valid {kind}",
            [Problem(rule="schema", message=_clip(str(error).splitlines()[0]), file=file, line=line, col=col)],
        ) from None
    except RecursionError:
        raise ProposalError(
            f"{path} is not accepted as a proposal",
            [
                Problem(
                    rule=limits.RULE,
                    message=f"mappings and lists nested more than {limits.MAX_DATA_DEPTH} deep",
                    file=file,
                    suggestion="Flatten the structure; no valid proposal nests this deep.",
                )
            ],
        ) from None
    except (ValueError, TypeError, OverflowError) as error:
        # A value the parser cannot build: an integer of thousands of digits, a date that
        # does not exist, a key that cannot be one (a set).
        raise ProposalError(
            f"{path} is not valid {kind}",
            [
                Problem(
                    rule="schema",
                    message=f"a value cannot be read: {_clip((str(error) or type(error).__name__).splitlines()[0])}",
                    file=file,
                    suggestion="Write names, descriptions and SQL as plain strings.",
                )
            ],
        ) from None
    position = None if is_json else _yaml_sql_position(text)
    return validate_proposal(data, file=file, sql_position=position, positions=positions, text=text)


def _yaml_sql_position(text: str) -> tuple[int, int] | None:
    """File line and indentation of the first line of a literal-block (`sql: |`) SQL value."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "sql" and isinstance(value, yaml.ScalarNode) and value.style == "|":
            lines = text.splitlines()
            first = value.start_mark.line + 1  # 0-based index of the line after `|`
            content = next((line for line in lines[first:] if line.strip()), None)
            if content is None:
                return None
            # Blank lines at the top of the block are counted by validate_proposal, which
            # strips them from the SQL.
            return first + 1, len(content) - len(content.lstrip(" "))
    return None
