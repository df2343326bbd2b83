"""The proposal's enrich variant: one flat schema, exactly one of sql and spec, located errors."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from generator.errors import ProposalError
from generator.llm.prompt import SYSTEM_PROMPT, TOOL_DESCRIPTION, tool_definition
from generator.proposal import PROPOSAL_SCHEMA, load_proposal, validate_proposal

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "proposals"
ENRICH_EXAMPLE = EXAMPLES / "stg_crm__active_contacts.yml"
# proposal file -> (model, version) it made
SQL_EXAMPLES = {
    "account_mrr": ("account_mrr", 1),
    "account_mrr_v2": ("account_mrr", 2),
    "account_payment_health": ("account_payment_health", 1),
    "account_payment_health_v2": ("account_payment_health", 2),
    "monthly_revenue_by_tier": ("monthly_revenue_by_tier", 1),
}


def enrich_data() -> dict:
    return yaml.safe_load(ENRICH_EXAMPLE.read_text())


def problems_of(data: dict, **kwargs) -> list:
    with pytest.raises(ProposalError) as error:
        validate_proposal(data, **kwargs)
    return list(error.value.problems)


@pytest.mark.parametrize("name", SQL_EXAMPLES)
def test_sql_proposals_keep_their_meaning_and_their_hash(name):
    proposal = load_proposal(EXAMPLES / f"{name}.yml")
    assert proposal.kind == "sql" and proposal.spec is None
    # The committed generated models recorded these hashes: an unchanged hash means an
    # unchanged proposal (lockfiles and "unchanged" detection depend on it).
    model, version = SQL_EXAMPLES[name]
    committed = yaml.safe_load((REPO / "models" / "marts" / f"{model}.yml").read_text())
    entry = next(item for item in committed["models"][0]["versions"] if item["v"] == version)
    meta = entry["config"]["meta"]["gen_model"]
    assert proposal.sha256() == meta["proposal_sha256"]


def test_the_enrich_example_validates_into_a_proposal_with_its_spec():
    proposal = load_proposal(ENRICH_EXAMPLE)
    assert (proposal.kind, proposal.layer, proposal.materialized) == ("enrich", "staging", "table")
    assert proposal.grain == ("contact_id",)
    assert [c.name for c in proposal.columns][-2:] == ["is_archived", "account_id"]
    assert proposal.sql == ""
    spec = proposal.enrich_spec
    assert spec.name == "stg_crm__active_contacts" and spec.lookup.model == "stg_app__accounts"
    assert proposal.spec["name"] == proposal.name, "the spec's name defaults to the proposal's"
    assert list(proposal.spec)[:3] == ["enrich", "name", "description"]
    data = proposal.to_dict()
    assert data["kind"] == "enrich" and "sql" not in data and "columns" not in data
    again = validate_proposal(json.loads(json.dumps(enrich_data())))
    assert again.sha256() == proposal.sha256(), "the same content hashes the same from JSON"


def test_kind_is_inferred_from_the_field_present():
    data = enrich_data()
    del data["kind"]
    assert validate_proposal(data).kind == "enrich"


def test_both_sql_and_spec_is_an_error():
    data = enrich_data()
    del data["kind"]
    data["sql"] = "select 1 as x"
    (problem,) = problems_of(data)
    assert problem.message == ("a proposal has either sql (kind: sql) or spec (kind: enrich), not both")


def test_a_kind_enrich_proposal_with_sql_and_columns_names_both():
    data = enrich_data()
    data["sql"] = "select 1 as x"
    data["columns"] = [{"name": "x", "description": ""}]
    messages = [p.message for p in problems_of(data)]
    assert messages == [
        "a kind: enrich proposal has no sql: its spec defines the transformation",
        "a kind: enrich proposal has no columns: its spec defines the output columns",
    ]


def test_missing_fields_are_named_per_kind():
    data = enrich_data()
    del data["spec"]
    (problem,) = problems_of(data)
    assert problem.message == "missing required field: spec (kind: enrich)"
    sql = yaml.safe_load((EXAMPLES / "account_mrr.yml").read_text())
    del sql["sql"], sql["grain"]
    (problem,) = problems_of(sql)
    assert problem.message == "missing required fields: grain, sql"
    sql = yaml.safe_load((EXAMPLES / "account_mrr.yml").read_text())
    sql["spec"] = enrich_data()["spec"]
    sql["kind"] = "sql"
    (problem,) = problems_of(sql)
    assert problem.message == "spec belongs to kind: enrich, and this proposal is kind: sql"


def test_unknown_fields_are_still_errors():
    data = enrich_data()
    data["speck"] = {}
    (problem,) = problems_of(data)
    assert problem.message == "unknown field at <proposal>: 'speck' (did you mean 'spec'?)"


def test_spec_problems_point_into_the_proposal_file(tmp_path):
    text = ENRICH_EXAMPLE.read_text().replace("      expr: email_domain(email)\n", "      expr: emial_domain(email)\n")
    text = text.replace("  dedupe:\n", "  dedup:\n")
    path = tmp_path / "proposal.yml"
    path.write_text(text)
    with pytest.raises(ProposalError) as error:
        load_proposal(path)
    (problem,) = error.value.problems
    assert problem.message == "spec.dedup: unknown key 'dedup'"
    assert problem.file == str(path)
    assert problem.line == text.splitlines().index("  dedup:") + 1
    assert problem.suggestion.startswith("Did you mean 'dedupe'?")
    # With the schema fixed, the expression is checked and located inside its line.
    path.write_text(text.replace("  dedup:\n", "  dedupe:\n"))
    with pytest.raises(ProposalError) as error:
        load_proposal(path)
    (problem,) = error.value.problems
    assert problem.message.startswith("spec.columns[2].expr: unknown function 'emial_domain'")
    line = text.splitlines().index("      expr: emial_domain(email)") + 1
    assert (problem.line, problem.col) == (line, len("      expr: ") + 1)
    assert "Did you mean 'email_domain'?" in problem.suggestion


def test_an_llm_answer_without_positions_still_names_the_key_path():
    data = enrich_data()
    data["spec"]["columns"][0]["from"] = "identifier"
    problems = problems_of(json.loads(json.dumps(data)))
    assert problems[0].message.startswith("spec.columns[0].from: ")
    assert problems[0].line is None


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"layer": "marts", "name": "active_contacts"}, "its layer is staging, not marts"),
        ({"name": "crm_contacts"}, "staging model name 'crm_contacts' must start with 'stg_'"),
        ({"materialized": "view"}, "always materialized as a table"),
        ({"grain": ["email"]}, "grain ['email'] differs from the spec's key ['contact_id']"),
    ],
)
def test_enrich_conventions(change, message):
    data = enrich_data()
    data.update(change)
    assert any(message in p.message for p in problems_of(data)), message


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("name", "stg_other", "spec.name 'stg_other' differs from the proposal's name"),
        ("version", 3, "spec.version is written by gen-model, not proposed"),
        ("provenance", {"a": 1}, "spec.provenance is written by gen-model, not proposed"),
    ],
)
def test_the_spec_cannot_contradict_the_proposal_or_claim_provenance(key, value, message):
    data = enrich_data()
    data["spec"][key] = value
    assert any(p.message.startswith(message) for p in problems_of(data))


def test_the_tool_schema_is_one_flat_valid_json_schema():
    schema = tool_definition()["input_schema"]
    assert schema is PROPOSAL_SCHEMA
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["type"] == "object" and not {"oneOf", "anyOf", "allOf"} & set(schema)
    assert schema["properties"]["kind"]["enum"] == ["sql", "enrich"]
    spec = schema["properties"]["spec"]
    assert spec["additionalProperties"] is False
    assert "version" not in spec["properties"] and "provenance" not in spec["properties"]
    assert set(spec["required"]) == {"input", "key", "columns"}
    # Both committed kinds are instances of it (what an LLM sends is checked against it).
    for path in [ENRICH_EXAMPLE, *(EXAMPLES / f"{name}.yml" for name in SQL_EXAMPLES)]:
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)


def test_the_prompt_teaches_when_and_how_to_propose_a_spec():
    for phrase in (
        "propose kind: enrich instead of SQL",
        "A spec is data, never code",
        "spec input.path",
        "staged by ref('m')",
        "email_domain(text)",
        "on_error fail|quarantine",
    ):
        assert phrase in SYSTEM_PROMPT, phrase
    assert "kind enrich" in TOOL_DESCRIPTION


def test_the_schema_is_not_mutated_by_validation():
    before = copy.deepcopy(PROPOSAL_SCHEMA)
    validate_proposal(enrich_data())
    assert PROPOSAL_SCHEMA == before
