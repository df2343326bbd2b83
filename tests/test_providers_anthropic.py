"""The anthropic provider through the real anthropic SDK; only the network is faked."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx2
import pytest

from generator.errors import ConfigError, Problem, ProviderError
from generator.llm.prompt import build_prompt, repair_prompt
from generator.llm.providers import TimeBudget, make_provider
from generator.llm.providers.anthropic import FORCED_TOOL_CHOICE_REJECTED, AnthropicProvider
from generator.llm.retrieve import retrieve
from generator.llm.settings import Settings
from generator.project.catalog import Catalog
from generator.proposal import PROPOSAL_SCHEMA
from tests.provider_server_support import LoopbackProvider

FIXTURE = Path(__file__).parent / "fixtures" / "llm_catalog.json"
PROPOSAL = {
    "name": "account_revenue",
    "layer": "marts",
    "description": "One row per account: paid invoice revenue.",
    "grain": ["account_id"],
    "sql": "select account_id, sum(amount) as revenue from {{ ref('stg_billing__invoices') }} group by account_id",
    "columns": [
        {"name": "account_id", "description": "Account."},
        {"name": "revenue", "description": "Paid."},
    ],
}
MODEL = "claude-haiku-5-5"


@pytest.fixture(autouse=True)
def clean_credentials(monkeypatch, tmp_path):
    """No real credential or gateway from the developer's machine leaks into a test."""
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_FEDERATION_RULE_ID",
        "ANTHROPIC_ORGANIZATION_ID",
        "ANTHROPIC_IDENTITY_TOKEN",
        "ANTHROPIC_IDENTITY_TOKEN_FILE",
        "ANTHROPIC_CUSTOM_HEADERS",
        "ANTHROPIC_CONFIG_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    # The SDK also discovers profiles under ~/.config/anthropic: point HOME at nothing.
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")


@pytest.fixture(scope="module")
def prompt():
    catalog = Catalog.from_dict(json.loads(FIXTURE.read_text()))
    request = "revenue per account"
    return build_prompt(retrieve(catalog, request), request)


def message(content, stop_reason="tool_use", input_tokens=1200, output_tokens=300, model=MODEL):
    return {
        "id": "msg_01",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def tool_use(tool_input, name="propose_model"):
    return {"type": "tool_use", "id": "toolu_01", "name": name, "input": tool_input}


class Recorder:
    """A MockTransport handler that replays responses and keeps every request it saw."""

    def __init__(self, *responses):
        self.responses = list(responses)
        self.requests: list[httpx2.Request] = []

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        response = self.responses[min(len(self.requests), len(self.responses)) - 1]
        if isinstance(response, Exception):
            raise response
        return response

    def body(self, index=-1) -> dict:
        return json.loads(self.requests[index].content)


FAST_RETRY = {"retry-after": "0", "retry-after-ms": "1"}  # the SDK's backoff, without the wait


def provider_with(recorder, **options) -> AnthropicProvider:
    return AnthropicProvider(http_client=httpx2.Client(transport=httpx2.MockTransport(recorder)), **options)


def test_tool_use_answer_gives_the_proposal_and_usage(prompt):
    recorder = Recorder(httpx2.Response(200, json=message([tool_use(PROPOSAL)])))
    completion = provider_with(recorder).complete(prompt, MODEL)

    assert completion.ok
    assert completion.proposal == PROPOSAL
    assert (completion.input_tokens, completion.output_tokens) == (1200, 300)
    assert completion.stop_reason == "tool_use"
    assert completion.model == MODEL
    body = recorder.body()
    assert body["tool_choice"] == {"type": "tool", "name": "propose_model"}
    assert body["tools"] == [
        {
            "name": "propose_model",
            "description": prompt.tool["description"],
            "input_schema": PROPOSAL_SCHEMA,
        }
    ]
    assert body["system"] == prompt.system
    assert body["messages"] == prompt.messages
    assert body["model"] == MODEL
    # The API (2026-10-21) rejects sampling parameters, even temperature 0.
    assert "temperature" not in body
    assert recorder.requests[0].url.host == "api.anthropic.com"


def test_thinking_and_text_blocks_around_the_tool_call_are_ignored(prompt):
    content = [
        {"type": "thinking", "thinking": "plan", "signature": "sig"},
        {"type": "text", "text": "Here it is."},
        tool_use(PROPOSAL),
    ]
    recorder = Recorder(httpx2.Response(200, json=message(content)))
    assert provider_with(recorder).complete(prompt, MODEL).proposal == PROPOSAL


def test_max_tokens_is_a_failed_attempt_not_a_crash(prompt):
    partial = {"name": "account_revenue", "layer": "marts"}
    recorder = Recorder(httpx2.Response(200, json=message([tool_use(partial)], stop_reason="max_tokens")))
    completion = provider_with(recorder, max_output_tokens=4000).complete(prompt, MODEL)

    assert not completion.ok
    assert completion.proposal is None
    assert "cut off at the output limit (4000 tokens)" in completion.error
    assert "max_output_tokens" in completion.error
    assert completion.raw == partial  # kept for the repair turn
    assert completion.output_tokens == 300


def test_answer_without_tool_call_is_a_failed_attempt(prompt):
    recorder = Recorder(httpx2.Response(200, json=message([{"type": "text", "text": "I cannot."}], "end_turn")))
    completion = provider_with(recorder).complete(prompt, MODEL)
    assert completion.error == "the model answered without calling propose_model (stop_reason: end_turn)"
    assert completion.raw == "I cannot."


@pytest.mark.parametrize(
    "tool_input, expected",
    [
        (["not", "an", "object"], "is not a JSON object (got list)"),
        ('{"name": "x", ', "arguments are not valid JSON"),
    ],
)
def test_malformed_tool_input_is_a_failed_attempt(prompt, tool_input, expected):
    recorder = Recorder(httpx2.Response(200, json=message([tool_use(tool_input)])))
    completion = provider_with(recorder).complete(prompt, MODEL)
    assert not completion.ok
    assert expected in completion.error
    assert completion.raw == tool_input


def test_refusal_is_a_failed_attempt(prompt):
    recorder = Recorder(httpx2.Response(200, json=message([], stop_reason="refusal")))
    completion = provider_with(recorder).complete(prompt, MODEL)
    assert "refusal" in completion.error


def test_429_then_success_uses_the_sdk_retry(prompt):
    recorder = Recorder(
        httpx2.Response(
            429,
            headers=FAST_RETRY,
            json={"type": "error", "error": {"type": "rate_limit_error", "message": "slow down"}},
        ),
        httpx2.Response(200, json=message([tool_use(PROPOSAL)])),
    )
    completion = provider_with(recorder).complete(prompt, MODEL)
    assert completion.ok
    assert len(recorder.requests) == 2


def test_529_exhausted_is_a_provider_error_with_exit_code_3(prompt):
    overloaded = httpx2.Response(
        529,
        headers=FAST_RETRY,
        json={"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
    )
    recorder = Recorder(overloaded)
    with pytest.raises(ProviderError) as raised:
        provider_with(recorder).complete(prompt, MODEL)
    assert len(recorder.requests) == 3  # the first try and the SDK's 2 retries
    assert raised.value.exit_code == 3
    assert "overloaded (529)" in raised.value.message
    assert "after 2 retries" in raised.value.message
    assert "try again" in raised.value.message


def test_connection_error_is_a_provider_error(prompt):
    recorder = Recorder(httpx2.ConnectError("connection refused"))
    with pytest.raises(ProviderError) as raised:
        provider_with(recorder).complete(prompt, MODEL)
    assert raised.value.exit_code == 3
    assert "could not reach https://api.anthropic.com" in raised.value.message
    assert "connection refused" in raised.value.message
    assert len(recorder.requests) == 3


def test_missing_key_is_a_config_error_with_the_fix(monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(ConfigError) as raised:
        make_provider("anthropic", Settings())
    assert raised.value.exit_code == 2
    assert "export ANTHROPIC_API_KEY=" in raised.value.message
    assert "gen-model apply PROPOSAL_FILE" in raised.value.message
    assert "\n" not in raised.value.message


def test_rejected_key_is_a_config_error(prompt):
    recorder = Recorder(
        httpx2.Response(
            401,
            json={
                "type": "error",
                "error": {"type": "authentication_error", "message": "invalid x-api-key"},
            },
        )
    )
    with pytest.raises(ConfigError) as raised:
        provider_with(recorder).complete(prompt, MODEL)
    assert raised.value.exit_code == 2
    assert "rejected the API key (401: invalid x-api-key)" in raised.value.message
    assert len(recorder.requests) == 1  # a bad key is not retried


def test_unknown_model_is_a_config_error(prompt):
    recorder = Recorder(
        httpx2.Response(
            404,
            json={
                "type": "error",
                "error": {"type": "not_found_error", "message": "model: claude-nope"},
            },
        )
    )
    with pytest.raises(ConfigError, match="model 'claude-nope' is not available"):
        provider_with(recorder).complete(prompt, "claude-nope")


def test_base_url_environment_variable_is_honoured(prompt, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://gateway.example.internal/anthropic")
    recorder = Recorder(httpx2.Response(200, json=message([tool_use(PROPOSAL)])))
    assert provider_with(recorder).complete(prompt, MODEL).ok
    assert recorder.requests[0].url.host == "gateway.example.internal"
    assert recorder.requests[0].url.path == "/anthropic/v1/messages"


def test_configured_base_url_wins(prompt, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "https://ignored.example")
    recorder = Recorder(httpx2.Response(200, json=message([tool_use(PROPOSAL)])))
    provider_with(recorder, base_url="https://configured.example").complete(prompt, MODEL)
    assert recorder.requests[0].url.host == "configured.example"


def test_models_that_reject_forced_tool_choice_get_auto(prompt):
    model = sorted(FORCED_TOOL_CHOICE_REJECTED)[0]
    recorder = Recorder(httpx2.Response(200, json=message([tool_use(PROPOSAL)], model=model)))
    assert provider_with(recorder).complete(prompt, model).ok
    assert recorder.body()["tool_choice"] == {"type": "auto"}


def test_a_400_about_tool_choice_falls_back_to_auto_once_and_is_remembered(prompt):
    rejected = httpx2.Response(
        400,
        json={
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": 'tool_choice: type "tool" and "any" are not supported for this model.',
            },
        },
    )
    ok = httpx2.Response(200, json=message([tool_use(PROPOSAL)]))
    recorder = Recorder(rejected, ok, ok)
    provider = provider_with(recorder)
    assert provider.complete(prompt, "claude-future-model").ok
    assert provider.complete(prompt, "claude-future-model").ok
    choices = [json.loads(request.content)["tool_choice"] for request in recorder.requests]
    assert choices == [
        {"type": "tool", "name": "propose_model"},
        {"type": "auto"},
        {"type": "auto"},
    ]


def test_other_400s_are_provider_errors(prompt):
    recorder = Recorder(
        httpx2.Response(
            400,
            json={
                "type": "error",
                "error": {"type": "invalid_request_error", "message": "prompt is too long"},
            },
        )
    )
    with pytest.raises(
        ProviderError,
        match=r"rejected the request for claude-haiku-5-5 \(400: prompt is too long\)",
    ):
        provider_with(recorder).complete(prompt, MODEL)
    assert len(recorder.requests) == 1


def test_repair_turn_is_sent_as_plain_alternating_messages(prompt):
    recorder = Recorder(httpx2.Response(200, json=message([tool_use(PROPOSAL)])))
    problem = Problem(rule="binding", message="column 'amont' does not exist", identifier="amont")
    repaired = repair_prompt(prompt, PROPOSAL, [problem])
    provider_with(recorder).complete(repaired, MODEL)
    roles = [m["role"] for m in recorder.body()["messages"]]
    assert roles == ["user", "assistant", "user"]
    assert "column 'amont' does not exist" in recorder.body()["messages"][-1]["content"]


def test_effort_is_sent_only_when_configured(prompt):
    recorder = Recorder(httpx2.Response(200, json=message([tool_use(PROPOSAL)])))
    provider_with(recorder, effort="low").complete(prompt, MODEL)
    assert recorder.body()["output_config"] == {"effort": "low"}
    provider_with(recorder).complete(prompt, MODEL)
    assert "output_config" not in recorder.body()


def test_output_limit_beyond_non_streaming_is_a_config_error():
    with pytest.raises(ConfigError, match="without streaming"):
        AnthropicProvider(max_output_tokens=64_000)


# -- bodies that are not a Messages response, and the time budget -----------------------------

MALFORMED_BODIES = [
    (b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html", "not JSON", "content-type text/html"),
    (b"", "application/json", "not JSON", "0 bytes, empty"),
    (b"upstream connect error", "application/json", "not JSON", "starting 'upstream connect error'"),
    (b'{"hello": "world"}', "application/json", "JSON that is not an Anthropic Messages response", "18 bytes"),
    (b"[1, 2]", "application/json", "JSON that is not an Anthropic Messages response", "starting '[1, 2]'"),
    (b"plain text", None, "not JSON", "content-type none"),
]


@pytest.mark.parametrize("body, content_type, what, detail", MALFORMED_BODIES)
def test_a_200_that_is_not_a_messages_response_is_a_provider_error(prompt, body, content_type, what, detail):
    headers = {"content-type": content_type} if content_type else {}
    recorder = Recorder(httpx2.Response(200, content=body, headers=headers))
    with pytest.raises(ProviderError) as raised:
        provider_with(recorder).complete(prompt, MODEL)
    message = raised.value.message
    assert raised.value.exit_code == 3
    assert what in message
    assert "status 200" in message and detail in message
    assert "ANTHROPIC_BASE_URL" in message  # what to do
    assert "\n" not in message
    assert len(recorder.requests) == 1  # a 200 is not retried


def test_a_200_error_object_quotes_the_error(prompt):
    body = {"type": "error", "error": {"type": "api_error", "message": "gateway lost upstream"}}
    recorder = Recorder(httpx2.Response(200, json=body))
    with pytest.raises(ProviderError, match="the body is an error, 'gateway lost upstream'"):
        provider_with(recorder).complete(prompt, MODEL)


def test_control_characters_of_a_hostile_body_do_not_reach_the_terminal(prompt):
    hostile = b"\x1b]0;owned\x07\x1b[2J<html>"
    recorder = Recorder(httpx2.Response(200, content=hostile, headers={"content-type": "text/html"}))
    with pytest.raises(ProviderError) as raised:
        provider_with(recorder).complete(prompt, MODEL)
    assert "\x1b" not in raised.value.message and "\x07" not in raised.value.message


def test_a_hanging_provider_ends_the_call_at_its_budget(prompt):
    with LoopbackProvider() as server:
        server.hang()
        provider = AnthropicProvider(base_url=server.url, budget=TimeBudget(call_s=1.0, run_s=10.0))
        started = time.monotonic()
        with pytest.raises(ProviderError) as raised:
            provider.complete(prompt, MODEL)
        elapsed = time.monotonic() - started
    assert 0.9 < elapsed < 20.0, elapsed  # the budget, not the SDK's 600 s (room for a loaded machine)
    assert raised.value.exit_code == 3
    assert f"no complete answer from {server.url} within 1 s" in raised.value.message
    assert "--llm-timeout" in raised.value.message


def test_the_run_budget_bounds_every_call_together(prompt):
    with LoopbackProvider() as server:
        server.hang()
        provider = AnthropicProvider(base_url=server.url, budget=TimeBudget(call_s=1.0, run_s=1.5))
        with pytest.raises(ProviderError, match="within 1 s: the per-call"):
            provider.complete(prompt, MODEL)
        started = time.monotonic()
        with pytest.raises(ProviderError, match=r"within 0\.\d+ s: the run's LLM budget of 1\.5 s"):
            provider.complete(prompt, MODEL)
        assert time.monotonic() - started < 10.0  # cut to what was left of the run's budget
        started = time.monotonic()
        with pytest.raises(ProviderError, match=r"no time left to ask .*\(--llm-run-timeout"):
            provider.complete(prompt, MODEL)
        assert time.monotonic() - started < 2.0  # refused before sending anything
