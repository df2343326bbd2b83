"""The YAML a spec compiles to: the model's (or every version's) and its quarantine's."""

from __future__ import annotations

import yaml

from generator.enrich.emit import COMPILER_VERSION
from generator.enrich.formatting import LINE_LENGTH, comment
from generator.enrich.spec import EnrichSpec

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
        comment(
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


def render_checked_yaml(spec: EnrichSpec, spec_file: str) -> str:
    """The YAML of `<name>__checked`: where the raw files are, and which model it is read for.

    It carries no `gen_model` provenance: it is part of its model (compiled, verified and
    locked with it), not a model of its own, nor a second reader of the input.
    """
    model = {
        "name": spec.checked_name,
        "description": (
            f"{spec.model_file}'s input read once and checked: the rows of {spec.model_file} "
            f"and of {spec.quarantine_name} (those with an _error). Select from those two, not this."
        ),
        "config": {
            "materialized": "table",
            "meta": {"gen_model_raw_path": RAW_PATH_META, "gen_model_checked_for": spec.model_file},
        },
        # The model's columns (null on a bad row), then the quarantine's under internal names.
        "columns": [{"name": name, "data_type": dtype.name} for name, dtype, _ in spec.output_columns]
        + [
            {"name": f"_{column}", "description": description, "data_type": dtype}
            for column, dtype, description in QUARANTINE_COLUMNS
        ],
    }
    header = f"# Compiled by gen-model from {spec_file}: edit the spec, then recompile.\n"
    return _yaml({"version": 2, "models": [model]}, header)


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
    """The YAML of `<name>__quarantine`: the bad rows' columns and their tests."""
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
