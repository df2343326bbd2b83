"""The openai provider through the real openai SDK; only the network is faked."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import pytest

from generator.errors import ConfigError, ProviderError
from generator.llm.prompt import build_prompt
from generator.llm.providers import TimeBudget, make_provider
from generator.llm.providers.openai import NO_KEY_PLACEHOLDER, OpenAIProvider
from generator.llm.retrieve import retrieve
from generator.llm.settings import Settings
from generator.project.catalog import Catalog
from generator.proposal import PROPOSAL_SCHEMA
from tests.provider_server_support import LoopbackProvider

FIXTURE = Path(__file__).parent / "fixtures" / "llm_catalog.json"
PROPOSAL = {
    "name": "account_revenue",
    "layer": "marts",
    "description": "One row per account.",
    "grain": ["account_id"],
    "sql": "select account_id from {{ ref('stg_app__accounts') }}",
    "columns": [{"name": "account_id", "description": "Account."}],
}
MODEL = "qwen3-coder:30b"
LOCAL = "http://localhost:11434/v1"
FAST_RETRY = {"retry-after": "0", "retry-after-ms": "1"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in (
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "OPENAI_CUSTOM_HEADERS",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def prompt():
    catalog = Catalog.from_dict(json.loads(FIXTURE.read_text()))
    return build_prompt(retrieve(catalog, "accounts"), "accounts")


def chat(
    arguments=None,
    finish_reason="tool_calls",
    content=None,
    prompt_tokens=900,
    completion_tokens=120,
):
    message = {"role": "assistant", "content": content}
    if arguments is not None:
        message["tool_calls"] = [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "propose_model", "arguments": arguments},
            }
        ]
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": 1020,
        },
    }


class Recorder:
    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request):
        self.requests.append(request)
        response = self.responses[min(len(self.requests), len(self.responses)) - 1]
        if isinstance(response, Exception):
            raise response
        return response

    def body(self, index=-1):
        return json.loads(self.requests[index].content)


def provider_with(recorder, base_url=LOCAL, **options):
    return OpenAIProvider(
        base_url=base_url,
        http_client=httpx2.Client(transport=httpx2.MockTransport(recorder)),
        **options,
    )


def test_function_call_gives_the_proposal_and_usage(prompt):
    recorder = Recorder(httpx2.Response(200, json=chat(json.dumps(PROPOSAL))))
    completion = provider_with(recorder).complete(prompt, MODEL)

    assert completion.ok
    assert completion.proposal == PROPOSAL
    assert (completion.input_tokens, completion.output_tokens) == (900, 120)
    body = recorder.body()
    assert body["tool_choice"] == {"type": "function", "function": {"name": "propose_model"}}
    assert body["tools"][0]["function"]["parameters"] == PROPOSAL_SCHEMA
    assert body["messages"][0] == {"role": "system", "content": prompt.system}
    assert body["messages"][1:] == prompt.messages
    assert body["temperature"] == 0
    request = recorder.requests[0]
    assert (request.url.host, request.url.port, request.url.path) == (
        "localhost",
        11434,
        "/v1/chat/completions",
    )
    # A local server needs no key; a placeholder satisfies the SDK.
    assert request.headers["authorization"] == f"Bearer {NO_KEY_PLACEHOLDER}"


def test_stop_with_tool_calls_is_accepted(prompt):
    # Ollama reports finish_reason "stop" even when it made a tool call.
    recorder = Recorder(httpx2.Response(200, json=chat(json.dumps(PROPOSAL), finish_reason="stop")))
    assert provider_with(recorder).complete(prompt, MODEL).proposal == PROPOSAL


def test_length_is_a_truncated_attempt(prompt):
    cut = json.dumps(PROPOSAL)[:40]
    recorder = Recorder(httpx2.Response(200, json=chat(cut, finish_reason="length")))
    completion = provider_with(recorder, max_output_tokens=2000).complete(prompt, MODEL)
    assert not completion.ok
    assert "cut off at the output limit (2000 tokens)" in completion.error
    assert completion.raw == cut


def test_invalid_json_arguments_are_a_failed_attempt_with_the_parse_error(prompt):
    recorder = Recorder(httpx2.Response(200, json=chat('{"name": "x",, }')))
    completion = provider_with(recorder).complete(prompt, MODEL)
    assert not completion.ok
    assert completion.error.startswith("the propose_model arguments are not valid JSON: Expecting property name")
    assert "line 1 column 14" in completion.error


def test_arguments_that_are_not_an_object_are_a_failed_attempt(prompt):
    recorder = Recorder(httpx2.Response(200, json=chat("[1, 2]")))
    assert "not a JSON object (got list)" in provider_with(recorder).complete(prompt, MODEL).error


def test_text_instead_of_a_call_is_a_failed_attempt(prompt):
    recorder = Recorder(httpx2.Response(200, json=chat(None, finish_reason="stop", content="Sure! Here is SQL")))
    completion = provider_with(recorder).complete(prompt, MODEL)
    assert completion.error == "the model answered without calling propose_model (finish_reason: stop)"
    assert completion.raw == "Sure! Here is SQL"


def test_429_then_success_uses_the_sdk_retry(prompt):
    recorder = Recorder(
        httpx2.Response(429, headers=FAST_RETRY, json={"error": {"message": "slow down", "type": "rate_limit"}}),
        httpx2.Response(200, json=chat(json.dumps(PROPOSAL))),
    )
    assert provider_with(recorder).complete(prompt, MODEL).ok
    assert len(recorder.requests) == 2


def test_503_exhausted_is_a_provider_error(prompt):
    recorder = Recorder(httpx2.Response(503, headers=FAST_RETRY, json={"error": {"message": "loading model"}}))
    with pytest.raises(ProviderError) as raised:
        provider_with(recorder).complete(prompt, MODEL)
    assert raised.value.exit_code == 3
    assert "failed with 503" in raised.value.message
    assert len(recorder.requests) == 3


def test_connection_error_names_the_server(prompt):
    recorder = Recorder(httpx2.ConnectError("connection refused"))
    with pytest.raises(ProviderError) as raised:
        provider_with(recorder).complete(prompt, MODEL)
    assert f"could not reach {LOCAL}" in raised.value.message
    assert "is the server running?" in raised.value.message


def test_openai_hosted_endpoint_requires_a_key():
    with pytest.raises(ConfigError) as raised:
        OpenAIProvider()
    assert raised.value.exit_code == 2
    assert "export OPENAI_API_KEY=" in raised.value.message


def test_key_and_base_url_come_from_the_environment(prompt, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://llm.example.com/v1")
    recorder = Recorder(httpx2.Response(200, json=chat(json.dumps(PROPOSAL))))
    provider_with(recorder, base_url=None).complete(prompt, MODEL)
    request = recorder.requests[0]
    assert request.url.host == "llm.example.com"
    assert request.headers["authorization"] == "Bearer sk-real"


def test_rejected_key_is_a_config_error(prompt):
    recorder = Recorder(httpx2.Response(401, json={"error": {"message": "Incorrect API key provided"}}))
    with pytest.raises(ConfigError, match="rejected the API key"):
        provider_with(recorder).complete(prompt, MODEL)


def test_unknown_model_is_a_config_error(prompt):
    recorder = Recorder(httpx2.Response(404, json={"error": {"message": "model 'nope' not found"}}))
    with pytest.raises(ConfigError, match="model 'nope' is not available"):
        provider_with(recorder).complete(prompt, "nope")


def test_no_model_configured_is_a_config_error_saying_how_to_set_it():
    with pytest.raises(ConfigError) as raised:
        make_provider("openai", Settings(provider="openai", models=(), base_url=LOCAL))
    assert "--model" in raised.value.message and "GEN_MODEL_MODELS" in raised.value.message


def test_temperature_can_be_left_out(prompt):
    recorder = Recorder(httpx2.Response(200, json=chat(json.dumps(PROPOSAL))))
    provider_with(recorder, temperature=None).complete(prompt, MODEL)
    assert "temperature" not in recorder.body()


def test_a_server_without_named_tool_choice_gets_auto(prompt):
    recorder = Recorder(
        httpx2.Response(400, json={"error": {"message": "tool_choice of type function is not supported"}}),
        httpx2.Response(200, json=chat(json.dumps(PROPOSAL))),
    )
    assert provider_with(recorder).complete(prompt, MODEL).ok
    assert [json.loads(r.content)["tool_choice"] for r in recorder.requests] == [
        {"type": "function", "function": {"name": "propose_model"}},
        "auto",
    ]


# -- bodies that are not a chat completion, and the time budget --------------------------------


@pytest.mark.parametrize(
    "body, content_type, what",
    [
        (b"<!DOCTYPE html><html><title>Login</title></html>", "text/html; charset=utf-8", "not JSON"),
        (b"", "application/json", "not JSON"),
        (b'{"object": "list", "data": []}', "application/json", "JSON that is not a chat completion"),
        (b'"ok"', "application/json", "JSON that is not a chat completion"),
    ],
)
def test_a_200_that_is_not_a_chat_completion_is_a_provider_error(prompt, body, content_type, what):
    recorder = Recorder(httpx2.Response(200, content=body, headers={"content-type": content_type}))
    with pytest.raises(ProviderError) as raised:
        provider_with(recorder).complete(prompt, MODEL)
    message = raised.value.message
    assert raised.value.exit_code == 3
    assert what in message
    assert f"status 200, content-type {content_type}, {len(body)} bytes" in message
    assert "OPENAI_BASE_URL" in message
    assert "\n" not in message


def test_an_error_object_with_status_200_quotes_the_error(prompt):
    body = {"error": {"message": "model 'x' is loading", "type": "server_error"}}
    recorder = Recorder(httpx2.Response(200, json=body))
    with pytest.raises(ProviderError, match="the body is an error, \"model 'x' is loading\""):
        provider_with(recorder).complete(prompt, MODEL)


def test_a_hanging_server_ends_the_call_at_its_budget(prompt):
    with LoopbackProvider() as server:
        server.hang()
        provider = OpenAIProvider(base_url=f"{server.url}/v1", budget=TimeBudget(call_s=1.0, run_s=10.0))
        started = time.monotonic()
        with pytest.raises(ProviderError) as raised:
            provider.complete(prompt, MODEL)
        elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 20.0, elapsed  # the budget, not the SDK's 600 s (room for a loaded machine)
    assert raised.value.exit_code == 3
    assert "within 1 s: the per-call LLM budget of 1 s is spent" in raised.value.message


def test_an_answer_within_the_budget_is_used(prompt):
    with LoopbackProvider() as server:
        server.answer(200, chat(json.dumps(PROPOSAL)))
        provider = OpenAIProvider(base_url=f"{server.url}/v1", budget=TimeBudget(call_s=5.0, run_s=10.0))
        assert provider.complete(prompt, MODEL).proposal == PROPOSAL
        assert provider.budget.spent_s < 5.0
