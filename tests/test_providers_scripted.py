"""The scripted provider: the pipeline's stand-in for an LLM in tests and offline demos."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generator.errors import ConfigError, Problem, ProviderError
from generator.llm.prompt import build_prompt, repair_prompt
from generator.llm.providers.base import Completion
from generator.llm.providers.scripted import ScriptedProvider, load_script
from generator.llm.retrieve import retrieve
from generator.project.catalog import Catalog

FIXTURE = Path(__file__).parent / "fixtures" / "llm_catalog.json"
PROPOSAL = {
    "name": "x",
    "layer": "marts",
    "description": "d",
    "grain": ["a"],
    "sql": "select 1 as a",
    "columns": [{"name": "a", "description": ""}],
}


@pytest.fixture(scope="module")
def prompt():
    catalog = Catalog.from_dict(json.loads(FIXTURE.read_text()))
    return build_prompt(retrieve(catalog, "accounts"), "accounts")


def test_answers_in_order_and_conversations_recorded(prompt):
    provider = ScriptedProvider(["the answer was cut off", PROPOSAL])
    first = provider.complete(prompt, "m1")
    assert (first.ok, first.error) == (False, "the answer was cut off")
    repaired = repair_prompt(prompt, first.raw, [first.error])
    second = provider.complete(repaired, "m2")
    assert second.ok and second.proposal == PROPOSAL
    assert provider.conversations == [prompt, repaired]
    assert provider.models == ["m1", "m2"]
    assert "1. the answer was cut off" in provider.conversations[1].messages[-1]["content"]
    assert second.input_tokens == repaired.token_estimate


def test_exceptions_are_raised_and_completions_returned(prompt):
    canned = Completion(model="m", error="custom")
    provider = ScriptedProvider([canned, ProviderError("overloaded")])
    assert provider.complete(prompt, "m") is canned
    with pytest.raises(ProviderError, match="overloaded"):
        provider.complete(prompt, "m")


def test_running_out_of_answers_is_a_provider_error(prompt):
    provider = ScriptedProvider([PROPOSAL])
    provider.complete(prompt, "m")
    with pytest.raises(ProviderError, match="has 1 answer"):
        provider.complete(prompt, "m")


def test_returned_proposals_are_copies(prompt):
    provider = ScriptedProvider([PROPOSAL])
    provider.complete(prompt, "m").proposal["name"] = "changed"
    assert PROPOSAL["name"] == "x"


def test_load_script(tmp_path):
    path = tmp_path / "answers.yml"
    path.write_text("- error: truncated\n- name: x\n  layer: marts\n")
    assert load_script(path) == ["truncated", {"name": "x", "layer": "marts"}]
    path.write_text("- 42\n")
    with pytest.raises(ConfigError, match="answer 1 must be a proposal mapping"):
        load_script(path)
    with pytest.raises(ConfigError, match="cannot read the script"):
        load_script(tmp_path / "missing.yml")


def test_problems_objects_work_in_scripted_repairs(prompt):
    provider = ScriptedProvider([PROPOSAL])
    repaired = repair_prompt(prompt, PROPOSAL, [Problem(rule="grain", message="not unique")])
    provider.complete(repaired, "m")
    assert "[grain] not unique" in provider.conversations[0].messages[-1]["content"]
