"""What every provider returns: one attempt's outcome, never a crash for a bad answer.

An answer that yields no usable proposal (cut off at max_tokens, no tool call, tool input
that is not a JSON object, a refusal) is a *failed attempt*: `Completion.error` says why,
and the caller repairs or gives up. Only failures of the service itself raise:
`ProviderError` (network, overload and 5xx after the SDK's retries, a body that is not
the API's answer, no answer within the time budget) or `ConfigError` (no key, a rejected
key, an unknown model).
"""

from __future__ import annotations

import json
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from generator.errors import ProviderError
from generator.llm.prompt import TOOL_NAME, Prompt
from generator.llm.settings import DEFAULT_LLM_RUN_TIMEOUT_S, DEFAULT_LLM_TIMEOUT_S

T = TypeVar("T")
# How much of a malformed body an error message quotes.
BODY_EXCERPT_CHARS = 80


@dataclass(frozen=True)
class Completion:
    """One call's outcome."""

    model: str
    proposal: dict | None = None  # the tool input, when it is a JSON object
    error: str | None = None  # why this attempt produced no usable proposal
    raw: dict | str | None = None  # what the model sent (tool input or text), for the repair turn
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    provider: str = ""
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.proposal is not None and self.error is None


class Provider(ABC):
    """An LLM endpoint that can be asked for one proposal through a forced tool call."""

    name: str = ""

    @abstractmethod
    def complete(self, prompt: Prompt, model: str) -> Completion:
        """Send `prompt` (system, messages, tool) to `model` and return the attempt's outcome.

        A repair attempt is the same call with `prompt.with_messages(repair_messages(...))`.
        """


def tool_input_to_proposal(value: object) -> tuple[dict | None, str | None]:
    """(proposal, None) if `value` is a JSON object (or a string holding one), else (None, why)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            return None, (
                f"the {TOOL_NAME} arguments are not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
            )
    if not isinstance(value, dict):
        return None, f"the {TOOL_NAME} input is not a JSON object (got {type(value).__name__})"
    return value, None


def truncated_message(limit: int) -> str:
    return (
        f"the answer was cut off at the output limit ({limit} tokens), so the proposal is "
        "incomplete; raise max_output_tokens in .gen-model.yml or ask for a smaller model"
    )


class TimeBudget:
    """How long a run waits for its provider: each call, and every call of the run together.

    The SDKs bound each socket read (600 s by default), not a call, and retry on their own,
    so a provider that hangs or trickles bytes could hold the project lock and the warehouse
    for half an hour. `call()` runs the request in a daemon thread and stops waiting when
    the budget is spent: the run ends (exit 3) and releases its locks at once, while the
    abandoned request dies with its own, equally bounded, socket timeout or with the process.
    """

    def __init__(self, call_s: float = DEFAULT_LLM_TIMEOUT_S, run_s: float = DEFAULT_LLM_RUN_TIMEOUT_S):
        self.call_s = call_s
        self.run_s = run_s
        self.spent_s = 0.0

    def limit(self) -> float:
        """Seconds the next call may take: its own budget, or what is left of the run's."""
        return min(self.call_s, self.run_s - self.spent_s)

    def _exhausted(self, endpoint: str, limit: float) -> ProviderError:
        if limit >= self.call_s:
            which = f"the per-call LLM budget of {self.call_s:g} s"
            knob = "--llm-timeout, GEN_MODEL_LLM_TIMEOUT or llm_timeout in .gen-model.yml"
        else:
            which = f"the run's LLM budget of {self.run_s:g} s (all calls together)"
            knob = "--llm-run-timeout, GEN_MODEL_LLM_RUN_TIMEOUT or llm_run_timeout in .gen-model.yml"
        if limit > 0:
            head = f"no complete answer from {endpoint} within {limit:.3g} s"
        else:
            head = f"no time left to ask {endpoint}"
        return ProviderError(f"{head}: {which} is spent; try again later, or raise it ({knob})")

    def call(self, send: Callable[[float], T], endpoint: str) -> T:
        """`send(timeout_s)` in a worker thread; its result, its exception, or a ProviderError.

        `send` gets the seconds it may take, to pass on as the SDK's own request timeout.
        """
        limit = self.limit()
        if limit <= 0:
            raise self._exhausted(endpoint, limit)
        outcome: dict = {}

        def work() -> None:
            try:
                outcome["value"] = send(limit)
            except BaseException as error:  # handed to the waiting thread, raised there
                outcome["error"] = error

        worker = threading.Thread(target=work, name="gen-model-llm-call", daemon=True)
        started = time.monotonic()
        worker.start()
        try:
            worker.join(limit)
        finally:
            self.spent_s += time.monotonic() - started
        if worker.is_alive():
            raise self._exhausted(endpoint, limit)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]


def _printable(text: str) -> str:
    """`text` on one line without control characters (a hostile body must not drive the terminal)."""
    return "".join(ch if ch.isprintable() else " " for ch in " ".join(text.split()))


def describe_body(status: int, content_type: str | None, body: bytes) -> str:
    """Status, content type, size and first characters of an HTTP answer, for one line of error."""
    excerpt = _printable(body[: BODY_EXCERPT_CHARS * 4].decode("utf-8", errors="replace"))
    if len(excerpt) > BODY_EXCERPT_CHARS:
        excerpt = excerpt[:BODY_EXCERPT_CHARS] + "..."
    shown = f"starting {excerpt!r}" if body else "empty"
    return f"status {status}, content-type {_printable(content_type or 'none')}, {len(body)} bytes, {shown}"


def json_object_body(response, endpoint: str, api: str, required: str, fix: str) -> dict:
    """The JSON object of a 2xx `response` (an httpx2.Response) that holds the list `required`.

    A body that is not JSON (an HTML error page from a proxy, an empty answer) or a JSON
    value that is not `api`'s answer raises ProviderError saying what came back and `fix`.
    The SDKs would instead raise JSONDecodeError, or hand back the text as if it were a
    message.
    """
    body = response.content
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        data = None
        what = "something that is not JSON"
    else:
        if isinstance(data, dict) and isinstance(data.get(required), list):
            return data
        what = f"JSON that is not {api}"
    described = describe_body(response.status_code, response.headers.get("content-type"), body)
    error = data.get("error") if isinstance(data, dict) else None
    if isinstance(error, dict) and error.get("message"):
        said = f": the body is an error, {_printable(str(error['message']))[:BODY_EXCERPT_CHARS]!r}"
    else:
        said = ""
    raise ProviderError(f"{endpoint} answered with {what}{said} ({described}); {fix}")
