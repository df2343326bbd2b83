"""Enrichment specs: every problem names the file, the key path and the YAML line.

Each invalid case is a complete spec with one thing wrong; the test checks the message,
the line (and, for expressions, the column) the problem points at, and the suggestion.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from generator.enrich.spec import load_spec, validate_spec
from generator.errors import ConfigError, ProposalError

REPO = Path(__file__).resolve().parents[1]
SAMPLE_SPECS = sorted((REPO / "models" / "staging").rglob("*.enrich.yml"))

VALID = """\
enrich: 1
name: stg_crm__contacts
description: One row per contact.
input:
  path: crm/contacts.ndjson
  format: ndjson
  fields:
    id: varchar
    properties.email: varchar
    updatedAt: varchar
    archived: boolean
key: [contact_id]
columns:
  - name: contact_id
    from: id
  - name: email
    from: properties.email
    expr: nullif(lower(trim(email)), '')
  - name: email_domain
    expr: email_domain(email)
  - name: updated_at
    from: updatedAt
    type: timestamp with time zone
    format: iso8601
  - name: is_archived
    from: archived
dedupe:
  keep: latest
  by: updated_at
filter:
  - not is_archived
"""


def write(tmp_path: Path, text: str, name: str = "stg_crm__contacts.enrich.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, name: str = "stg_crm__contacts.enrich.yml"):
    path = write(tmp_path, text, name)
    with pytest.raises(ProposalError) as raised:
        load_spec(path)
    for problem in raised.value.problems:
        assert problem.file == str(path), "every problem names the spec file"
    return raised.value.problems


def test_valid_spec_loads_with_typed_columns(tmp_path):
    spec = load_spec(write(tmp_path, VALID))
    assert spec.name == "stg_crm__contacts"
    assert [column.name for column in spec.columns] == [
        "contact_id",
        "email",
        "email_domain",
        "updated_at",
        "is_archived",
    ]
    assert spec.column("updated_at").type.name == "timestamp with time zone"
    assert spec.column("contact_id").type.name == "varchar"  # the field's type when none given
    assert spec.column("email_domain").type.name == "varchar"  # inferred from the expression
    assert spec.column("email").cast_to.name == "varchar"
    assert spec.dedupe.keep == "latest" and spec.dedupe.by == "updated_at"
    assert spec.filter_texts == ("not is_archived",)
    assert len(spec.sha256) == 64


@pytest.mark.parametrize("path", SAMPLE_SPECS, ids=lambda p: p.name)
def test_sample_project_specs_are_valid(path):
    spec = load_spec(path)
    assert path.name == f"{spec.name}.enrich.yml"


# case -> ((what to replace in VALID, with what), message fragment, text on the line the
# problem must point at, suggestion fragment)
INVALID = {
    "unknown top-level key": (
        ("dedupe:\n", "dedup:\n"),
        "unknown key 'dedup'",
        "dedup:",
        "Did you mean 'dedupe'?",
    ),
    "unknown column key": (
        ("    format: iso8601\n", "    formats: iso8601\n"),
        "columns[3].formats: unknown key 'formats'",
        "formats:",
        "Did you mean 'format'?",
    ),
    "missing required key": (
        ("key: [contact_id]\n", ""),
        "missing required key 'key'",
        None,
        None,
    ),
    "format not in the enum": (
        ("  format: ndjson\n", "  format: ndjsn\n"),
        "input.format: 'ndjsn' is not one of ndjson, json, csv, parquet",
        "ndjsn",
        "Did you mean 'ndjson'?",
    ),
    "from names an undeclared field": (
        ("    from: properties.email\n", "    from: properties.emial\n"),
        "columns[1].from: 'properties.emial' is not a field listed in input.fields",
        "emial",
        "Did you mean 'properties.email'?",
    ),
    "timestamp without format": (
        ("    format: iso8601\n", ""),
        "needs `format`",
        "name: updated_at",
        "format: iso8601",
    ),
    "unknown type": (
        ("    type: timestamp with time zone\n", "    type: timestamp with timezone\n"),
        "unknown type 'timestamp with timezone'",
        "timezone",
        None,
    ),
    "key is not a column": (
        ("key: [contact_id]\n", "key: [contact]\n"),
        "key column 'contact' is not among the columns",
        "key: [contact]",
        "Did you mean 'contact_id'?",
    ),
    "dedupe by an unknown column": (
        ("  by: updated_at\n", "  by: updatedAt\n"),
        "dedupe.by: 'updatedAt' is not among the columns",
        "by: updatedAt",
        "Did you mean 'updated_at'?",
    ),
    "record_path on ndjson": (
        ("  format: ndjson\n", "  format: ndjson\n  record_path: data\n"),
        "record_path applies to json files, not ndjson",
        "record_path",
        None,
    ),
    "csv option on ndjson": (
        ("  format: ndjson\n", "  format: ndjson\n  delimiter: ';'\n"),
        "delimiter applies to csv files, not ndjson",
        "delimiter",
        None,
    ),
    "name differs from the file": (
        ("name: stg_crm__contacts\n", "name: stg_crm__people\n"),
        "must be named 'stg_crm__contacts', not 'stg_crm__people'",
        "name: stg_crm__people",
        None,
    ),
    "raw path escapes the raw dir": (
        ("  path: crm/contacts.ndjson\n", "  path: ../secrets/contacts.ndjson\n"),
        "must be relative to the raw dir, without '..'",
        "../secrets",
        None,
    ),
    "reserved column name": (
        ("  - name: email_domain\n", "  - name: class\n"),
        "'class' is a reserved word",
        "name: class",
        None,
    ),
    "filter that is not boolean": (
        ("  - not is_archived\n", "  - email_domain\n"),
        "a filter must be true or false for each row",
        "- email_domain",
        None,
    ),
    "decimal without precision": (
        ("    type: timestamp with time zone\n", "    type: decimal\n"),
        "needs an explicit precision and scale",
        "type: decimal",
        None,
    ),
    "time zone that does not exist": (
        ("    format: iso8601\n", "    format: iso8601\n    time_zone: Europe/Berlinn\n"),
        "unknown time zone 'Europe/Berlinn'",
        "Berlinn",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID), ids=str)
def test_invalid_spec_names_key_and_line(tmp_path, case):
    (old, new), message, marker, suggestion = INVALID[case]
    assert old in VALID, "the case must change the valid spec"
    text = VALID.replace(old, new, 1)
    found = problems(tmp_path, text)
    matching = [problem for problem in found if message in problem.message]
    assert matching, f"expected {message!r} among {[p.message for p in found]}"
    problem = matching[0]
    if marker is not None:
        line = next(n for n, row in enumerate(text.splitlines(), 1) if marker in row)
        assert problem.line == line, problem.format()
    if suggestion is not None:
        assert suggestion in (problem.suggestion or ""), problem.format()
    assert problem.rule == "enrich-spec"


def test_every_problem_is_reported_at_once(tmp_path):
    text = VALID.replace("dedupe:\n", "dedup:\n").replace("  format: ndjson\n", "  format: x\n")
    found = problems(tmp_path, text)
    messages = " | ".join(problem.message for problem in found)
    assert "unknown key 'dedup'" in messages and "'x' is not one of" in messages


@pytest.mark.parametrize(
    "expression, message, column_offset, suggestion",
    [
        ("lowr(trim(email))", "unknown function 'lowr'", 0, "Did you mean 'lower'?"),
        ("lower(trim(emial))", "unknown column 'emial'", 11, "Did you mean 'email'?"),
        ("year(email)", "year() expects a date", 5, None),
        ("lower(updated_at)", "unknown column 'updated_at'", 6, None),  # defined later
        ("__import__('os').system('x')", "is not a function name", 0, None),
        ("open('x')", "unknown function 'open'", 0, None),
        ("email.upper()", "is not a function name", 0, None),
        ("lower(email", "not a valid expression", None, None),
        ("[email][0]", "is not part of the expression vocabulary", 0, None),
        ("properties.email", "refer to this model's columns by name", 0, "from: properties.email"),
    ],
)
def test_expressions_outside_the_vocabulary_are_located(tmp_path, expression, message, column_offset, suggestion):
    text = VALID.replace("expr: email_domain(email)", f'expr: "{expression}"')
    found = problems(tmp_path, text)
    matching = [problem for problem in found if message in problem.message]
    assert matching, [p.message for p in found]
    problem = matching[0]
    assert problem.line == 20
    if column_offset is not None:
        # The value starts after `    expr: "` (col 11, 1-based) on that line.
        assert problem.col == 11 + 1 + column_offset, problem.format()
        assert problem.highlight.splitlines()[1].index("^") == problem.col - 1
    if suggestion:
        assert suggestion in (problem.suggestion or "")


def test_duplicate_yaml_keys_are_errors(tmp_path):
    text = VALID.replace("on_error", "x").replace("key: [contact_id]\n", "key: [contact_id]\nkey: [email]\n")
    found = problems(tmp_path, text)
    assert found[0].message.startswith("duplicate key 'key'")
    assert found[0].line == 13  # the second `key:`


def test_invalid_yaml_is_located(tmp_path):
    found = problems(tmp_path, VALID.replace("key: [contact_id]", "key: [contact_id"))
    assert "not valid YAML" not in found[0].message  # the message is YAML's own
    assert found[0].line is not None


def test_missing_file_and_wrong_suffix_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_spec(tmp_path / "nope.enrich.yml")
    other = write(tmp_path, VALID, "stg_crm__contacts.yml")
    with pytest.raises(ConfigError, match=r"named <model>\.enrich\.yml"):
        load_spec(other)


def test_validate_spec_accepts_plain_data_without_positions():
    import yaml

    spec = validate_spec(yaml.safe_load(VALID), file="inline")
    assert spec.key == ("contact_id",)
    with pytest.raises(ProposalError) as raised:
        validate_spec(["not", "a", "mapping"], file="inline")
    assert "a spec is a mapping" in raised.value.problems[0].message


def test_formats_and_casts_are_checked(tmp_path):
    text = VALID.replace(
        "  - name: is_archived\n    from: archived\n",
        "  - name: is_archived\n    from: archived\n    type: date\n",
    )
    found = problems(tmp_path, text)
    assert any("cannot cast 'archived' (boolean) to date" in p.message for p in found)
    text = VALID.replace("    format: iso8601\n", "    format: YYYY-MM-DD\n")
    found = problems(tmp_path, text)
    assert any("is not a strptime format" in p.message for p in found)


def test_lookup_is_validated(tmp_path):
    text = VALID + textwrap.dedent(
        """\
        lookup:
          model: stg_app__accounts
          key: email_domian
          lookup_key: domain(domain)
          columns:
            - name: email
              from: id
              type: varchar
        """
    )
    found = problems(tmp_path, text)
    messages = [problem.message for problem in found]
    assert any("unknown column 'email_domian'" in m for m in messages), messages
    assert any("'email' is already a column of this model" in m for m in messages), messages
