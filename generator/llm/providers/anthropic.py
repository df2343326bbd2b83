"""Claude through the official `anthropic` SDK: one tool call per attempt.

The SDK reads `ANTHROPIC_API_KEY` (or its other credentials) and honours
`ANTHROPIC_BASE_URL` for gateways; we pass `base_url` only when gen-model is configured
with one. The SDK retries 408/409/429/5xx itself (2 retries by default, honouring
`retry-after`), so there is no retry loop here: what still fails after its retries is a
`ProviderError`. So is a call that outlasts its time budget (`TimeBudget`), and a 2xx body
that is not a Messages response (an HTML page from a proxy, an empty body, other JSON),
which the SDK would raise as JSONDecodeError or return as a plain string.

Two things the current API decides for us (API version 2026-10-21, SDK 2.x):
- No `temperature`: the SDK no longer has sampling parameters and the API rejects them
  (even temperature 0) with a 400. Determinism comes from the gates, not the sampler.
- Forced tool choice (`{"type": "tool"}`) is rejected by the 5.1+ Fable/Mythos models and by
  Sonnet/Opus 5.5, whose thinking cannot be turned off. For those models the tool is
  offered with `tool_choice: auto` and the prompt demands the call; an answer without it is
  a failed attempt. Any other model that answers a forced choice with a 400 naming
  `tool_choice` is retried once the same way and remembered.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import anthropic

from generator.errors import ConfigError, ProviderError
from generator.llm.pricing import DEFAULT_LADDER
from generator.llm.prompt import TOOL_NAME, Prompt
from generator.llm.providers.base import (
    Completion,
    Provider,
    TimeBudget,
    json_object_body,
    tool_input_to_proposal,
    truncated_message,
)

DEFAULT_MAX_OUTPUT_TOKENS = 16_000
# The SDK refuses non-streaming calls whose max_tokens could run past 10 minutes.
MAX_NONSTREAMING_OUTPUT_TOKENS = 21_333

# Documented as answering tool_choice "tool"/"any" with a 400 (Fable 5.1 and Mythos 5.1
# migration guide; Sonnet 5.5 and Opus 5.5 migration guides). The 5.2 models are assumed
# to keep their predecessors' rule; the runtime fallback covers any model missing here.
FORCED_TOOL_CHOICE_REJECTED = frozenset(
    {
        "claude-fable-5-1",
        "claude-mythos-5-1",
        "claude-fable-5-2",
        "claude-mythos-5-2",
        "claude-sonnet-5-5",
        "claude-opus-5-5",
    }
)

MISSING_KEY = (
    "no Anthropic API key: export ANTHROPIC_API_KEY=sk-ant-... "
    "(or, without an LLM, apply a proposal file: gen-model apply PROPOSAL_FILE)"
)


def _rejects_forced_tool_choice(error: anthropic.BadRequestError) -> bool:
    text = f"{error.api_message or ''} {error.message}".lower()
    return "tool_choice" in text


def _text_of(message) -> str:
    return "".join(getattr(block, "text", "") for block in message.content if getattr(block, "type", "") == "text")


class AnthropicProvider(Provider):
    """`complete()` sends one Messages API request and returns its outcome."""

    name = "anthropic"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        max_output_tokens: int = DEFAULT_MAX_OUTPUT_TOKENS,
        effort: str | None = None,
        http_client=None,
        max_retries: int | None = None,
        budget: TimeBudget | None = None,
    ):
        if max_output_tokens > MAX_NONSTREAMING_OUTPUT_TOKENS:
            raise ConfigError(
                f"max_output_tokens {max_output_tokens} is above {MAX_NONSTREAMING_OUTPUT_TOKENS}, "
                "the most the anthropic SDK allows without streaming; lower it in .gen-model.yml"
            )
        options: dict = {}
        if base_url:
            options["base_url"] = base_url
        if http_client is not None:
            options["http_client"] = http_client
        if max_retries is not None:
            options["max_retries"] = max_retries
        try:
            self.client = anthropic.Anthropic(**options)
        except anthropic.AnthropicError as error:
            raise ConfigError(f"cannot set up the Anthropic client ({error}); {MISSING_KEY}") from None
        if not (self.client.api_key or self.client.auth_token or self.client.credentials):
            raise ConfigError(MISSING_KEY)
        self.max_output_tokens = max_output_tokens
        self.effort = effort
        self.budget = budget or TimeBudget()
        self._unforced: set[str] = set()

    @property
    def endpoint(self) -> str:
        return str(self.client.base_url).rstrip("/")

    def _request(self, prompt: Prompt, model: str, forced: bool) -> dict:
        tool = prompt.tool
        request = {
            "model": model,
            "max_tokens": self.max_output_tokens,
            "system": prompt.system,
            "messages": [{"role": m["role"], "content": m["content"]} for m in prompt.messages],
            "tools": [
                {
                    "name": tool["name"],
                    "description": tool["description"],
                    "input_schema": tool["input_schema"],
                }
            ],
            "tool_choice": {"type": "tool", "name": tool["name"]} if forced else {"type": "auto"},
        }
        if self.effort:
            request["output_config"] = {"effort": self.effort}
        return request

    def complete(self, prompt: Prompt, model: str) -> Completion:
        try:
            message = self.budget.call(lambda timeout: self._send(prompt, model, timeout), self.endpoint)
        except anthropic.APIError as error:
            raise self._translate(error, model) from None
        return self._completion(message, model)

    def _send(self, prompt: Prompt, model: str, timeout: float):
        """The Messages API answer, the forced-tool-choice fallback included (worker thread)."""
        forced = model not in FORCED_TOOL_CHOICE_REJECTED and model not in self._unforced
        try:
            return self._create(self._request(prompt, model, forced), timeout)
        except anthropic.BadRequestError as error:
            if not (forced and _rejects_forced_tool_choice(error)):
                raise
            self._unforced.add(model)
            return self._create(self._request(prompt, model, forced=False), timeout)

    def _create(self, request: dict, timeout: float):
        raw = self.client.messages.with_raw_response.create(**request, timeout=timeout)
        body = json_object_body(
            raw.http_response,
            self.endpoint,
            "an Anthropic Messages response",
            "content",
            "check that base_url (or ANTHROPIC_BASE_URL) points at the Anthropic API or a gateway "
            "that speaks it, or try again later",
        )
        if body.get("type", "message") != "message":
            raise ProviderError(
                f"{self.endpoint} answered with a JSON object of type {str(body.get('type'))[:40]!r}, "
                "not an Anthropic Messages response; check base_url (or ANTHROPIC_BASE_URL)"
            )
        return raw.parse()

    def _completion(self, message, model: str) -> Completion:
        usage = getattr(message, "usage", None)
        common = {
            "model": getattr(message, "model", None) or model,
            "input_tokens": getattr(usage, "input_tokens", None),
            "output_tokens": getattr(usage, "output_tokens", None),
            "stop_reason": message.stop_reason,
            "provider": self.name,
            "request_id": getattr(message, "_request_id", None),
        }
        calls = [
            block
            for block in message.content
            if getattr(block, "type", "") == "tool_use" and getattr(block, "name", "") == TOOL_NAME
        ]
        raw = calls[0].input if calls else (_text_of(message) or None)
        stop = message.stop_reason
        if stop == "max_tokens":
            return Completion(error=truncated_message(self.max_output_tokens), raw=raw, **common)
        if stop == "refusal":
            return Completion(error="the model declined to answer (stop_reason: refusal)", raw=raw, **common)
        if stop == "model_context_window_exceeded":
            return Completion(
                error="the prompt filled the model's context window; lower budget_tokens",
                raw=raw,
                **common,
            )
        if not calls:
            return Completion(
                error=f"the model answered without calling {TOOL_NAME} (stop_reason: {stop})",
                raw=raw,
                **common,
            )
        proposal, error = tool_input_to_proposal(calls[0].input)
        return Completion(proposal=proposal, error=error, raw=raw, **common)

    def _translate(self, error: anthropic.APIError, model: str) -> Exception:
        host = urlsplit(self.endpoint).netloc or self.endpoint
        retries = self.client.max_retries
        if isinstance(error, anthropic.APIStatusError):
            detail = error.api_message or error.message
            status = error.status_code
            request = f" (request id {error.request_id})" if error.request_id else ""
            if isinstance(error, anthropic.AuthenticationError):
                return ConfigError(
                    f"{host} rejected the API key (401: {detail}); set a valid one: export ANTHROPIC_API_KEY=sk-ant-..."
                )
            if isinstance(error, anthropic.PermissionDeniedError):
                return ConfigError(
                    f"{host} refused access to {model} with this API key (403: {detail}); "
                    "use a key with access, or another model (--model, GEN_MODEL_MODELS)"
                )
            if isinstance(error, anthropic.NotFoundError):
                return ConfigError(
                    f"model {model!r} is not available at {host} (404: {detail}); choose another "
                    "with --model or GEN_MODEL_MODELS (default ladder: "
                    f"{', '.join(DEFAULT_LADDER)})"
                )
            if isinstance(error, anthropic.RateLimitError):
                return ProviderError(
                    f"{host} is rate limiting requests (429) and still was after {retries} "
                    f"retries{request}; "
                    "wait a minute and run again, or raise your rate limit"
                )
            if status == 529 or isinstance(error, anthropic.OverloadedError):
                return ProviderError(
                    f"{host} is overloaded (529) and still was after {retries} retries{request}; "
                    "try again in a few minutes, or another model (--model)"
                )
            if status >= 500:
                return ProviderError(
                    f"{host} failed with {status} ({detail}) after {retries} retries{request}; try again later"
                )
            return ProviderError(f"{host} rejected the request for {model} ({status}: {detail}){request}")
        if isinstance(error, anthropic.APITimeoutError):
            return ProviderError(
                f"no answer from {self.endpoint} before the timeout (after {retries} retries); try again later"
            )
        if isinstance(error, anthropic.APIConnectionError):
            cause = error.__cause__ or error
            return ProviderError(
                f"could not reach {self.endpoint} ({type(cause).__name__}: {cause}) after "
                f"{retries} retries; "
                "check the network, or ANTHROPIC_BASE_URL if you use a gateway"
            )
        return ProviderError(f"the Anthropic SDK failed: {error}")
