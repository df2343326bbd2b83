"""Any OpenAI-compatible chat-completions endpoint through the official `openai` SDK.

Ollama, vLLM, llama.cpp's server, LM Studio and many vendors speak this protocol. The
endpoint is `base_url` from the gen-model config, else `OPENAI_BASE_URL`, else OpenAI's.
`OPENAI_API_KEY` is required only by api.openai.com: local servers usually need no key, so
a placeholder is sent when none is set. There is no default model (a local server has the
models you pulled): name it with --model, GEN_MODEL_MODELS or `models:` in .gen-model.yml.

The proposal comes back as a forced function call with the proposal schema as its
parameters. `finish_reason == "length"` is a truncated attempt; arguments that are not a
JSON object are a failed attempt with the parser's message. The SDK retries 408/409/429/5xx
itself; what still fails is a ProviderError, as is a call that outlasts its time budget
(`TimeBudget`) and a 2xx body that is not a chat completion (an HTML page, an empty body,
other JSON), which the SDK would raise as JSONDecodeError or return as a plain string.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import openai

from generator.errors import ConfigError, ProviderError
from generator.llm.prompt import TOOL_NAME, Prompt
from generator.llm.providers.base import (
    Completion,
    Provider,
    TimeBudget,
    json_object_body,
    tool_input_to_proposal,
    truncated_message,
)

OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY_PLACEHOLDER = "no-key-needed"  # local servers ignore it; the SDK insists on some key


def _is_openai_hosted(base_url: str) -> bool:
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "api.openai.com" or host.endswith(".openai.com")


class OpenAIProvider(Provider):
    """`complete()` sends one chat-completions request and returns its outcome."""

    name = "openai"

    def __init__(
        self,
        *,
        base_url: str | None = None,
        max_output_tokens: int = 16_000,
        temperature: float | None = 0.0,
        http_client=None,
        max_retries: int | None = None,
        budget: TimeBudget | None = None,
    ):
        endpoint = base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_DEFAULT_BASE_URL
        api_key = os.environ.get("OPENAI_API_KEY") or None
        if api_key is None:
            if _is_openai_hosted(endpoint):
                raise ConfigError(
                    "no OpenAI API key: export OPENAI_API_KEY=sk-..., or point base_url (or "
                    "OPENAI_BASE_URL) at your own OpenAI-compatible server "
                    "(or, without an LLM: gen-model apply PROPOSAL_FILE)"
                )
            api_key = NO_KEY_PLACEHOLDER
        options: dict = {"api_key": api_key, "base_url": endpoint}
        if http_client is not None:
            options["http_client"] = http_client
        if max_retries is not None:
            options["max_retries"] = max_retries
        try:
            self.client = openai.OpenAI(**options)
        except openai.OpenAIError as error:
            raise ConfigError(f"cannot set up the OpenAI client: {error}") from None
        self.endpoint = endpoint.rstrip("/")
        self.max_output_tokens = max_output_tokens
        self.temperature = temperature
        self.budget = budget or TimeBudget()
        self._unforced: set[str] = set()

    def _request(self, prompt: Prompt, model: str, forced: bool) -> dict:
        tool = prompt.tool
        request = {
            "model": model,
            "max_tokens": self.max_output_tokens,
            "messages": [{"role": "system", "content": prompt.system}]
            + [{"role": m["role"], "content": m["content"]} for m in prompt.messages],
            "tools": [
                {
                    "type": "function",
                    "function": {
                        "name": tool["name"],
                        "description": tool["description"],
                        "parameters": tool["input_schema"],
                    },
                }
            ],
            "tool_choice": {"type": "function", "function": {"name": tool["name"]}} if forced else "auto",
        }
        if self.temperature is not None:
            request["temperature"] = self.temperature
        return request

    def complete(self, prompt: Prompt, model: str) -> Completion:
        try:
            response = self.budget.call(lambda timeout: self._send(prompt, model, timeout), self.endpoint)
        except openai.APIError as error:
            raise self._translate(error, model) from None
        return self._completion(response, model)

    def _send(self, prompt: Prompt, model: str, timeout: float):
        """The chat completion, the named-tool-choice fallback included (worker thread)."""
        forced = model not in self._unforced
        try:
            return self._create(self._request(prompt, model, forced), timeout)
        except openai.BadRequestError as error:
            # Some servers (older llama.cpp, some vendors) accept tools but not a named choice.
            if not (forced and "tool_choice" in str(error).lower()):
                raise
            self._unforced.add(model)
            return self._create(self._request(prompt, model, forced=False), timeout)

    def _create(self, request: dict, timeout: float):
        raw = self.client.chat.completions.with_raw_response.create(**request, timeout=timeout)
        json_object_body(
            raw.http_response,
            self.endpoint,
            "a chat completion",
            "choices",
            "check that base_url (or OPENAI_BASE_URL) is the server's OpenAI-compatible /v1 endpoint, "
            "or try again later",
        )
        return raw.parse()

    def _completion(self, response, model: str) -> Completion:
        usage = getattr(response, "usage", None)
        choices = getattr(response, "choices", None) or []
        choice = choices[0] if choices else None
        finish = getattr(choice, "finish_reason", None)
        common = {
            "model": getattr(response, "model", None) or model,
            "input_tokens": getattr(usage, "prompt_tokens", None),
            "output_tokens": getattr(usage, "completion_tokens", None),
            "stop_reason": finish,
            "provider": self.name,
            "request_id": getattr(response, "_request_id", None),
        }
        if choice is None:
            return Completion(error="the server returned no choices", **common)
        message = choice.message
        calls = [
            call
            for call in (message.tool_calls or [])
            if getattr(call, "type", "function") == "function" and call.function.name == TOOL_NAME
        ]
        raw = calls[0].function.arguments if calls else (message.content or None)
        if finish == "length":
            return Completion(error=truncated_message(self.max_output_tokens), raw=raw, **common)
        if finish == "content_filter":
            return Completion(error="the server's content filter stopped the answer", raw=raw, **common)
        if not calls:
            return Completion(
                error=f"the model answered without calling {TOOL_NAME} (finish_reason: {finish})",
                raw=raw,
                **common,
            )
        proposal, error = tool_input_to_proposal(calls[0].function.arguments)
        return Completion(proposal=proposal, error=error, raw=raw, **common)

    def _translate(self, error: openai.APIError, model: str) -> Exception:
        host = urlsplit(self.endpoint).netloc or self.endpoint
        retries = self.client.max_retries
        if isinstance(error, openai.APIStatusError):
            status = error.status_code
            detail = error.message
            if isinstance(error, openai.AuthenticationError):
                return ConfigError(
                    f"{host} rejected the API key (401: {detail}); set a valid one: export OPENAI_API_KEY=..."
                )
            if isinstance(error, openai.PermissionDeniedError):
                return ConfigError(
                    f"{host} refused access to {model} (403: {detail}); check OPENAI_API_KEY and the model"
                )
            if isinstance(error, openai.NotFoundError):
                return ConfigError(
                    f"model {model!r} is not available at {self.endpoint} (404: {detail}); name "
                    "one the "
                    "server has with --model or GEN_MODEL_MODELS (for Ollama: ollama pull MODEL)"
                )
            if isinstance(error, openai.RateLimitError):
                return ProviderError(
                    f"{host} is rate limiting requests (429) and still was after {retries} "
                    "retries; "
                    "wait a minute and run again"
                )
            if status >= 500:
                return ProviderError(f"{host} failed with {status} ({detail}) after {retries} retries; try again later")
            return ProviderError(f"{host} rejected the request for {model} ({status}: {detail})")
        if isinstance(error, openai.APITimeoutError):
            return ProviderError(f"no answer from {self.endpoint} before the timeout (after {retries} retries)")
        if isinstance(error, openai.APIConnectionError):
            cause = error.__cause__ or error
            return ProviderError(
                f"could not reach {self.endpoint} ({type(cause).__name__}: {cause}) after "
                f"{retries} retries; "
                "is the server running? (base_url in .gen-model.yml, or OPENAI_BASE_URL)"
            )
        return ProviderError(f"the OpenAI SDK failed: {error}")
