"""What every provider returns: one attempt's outcome, never a crash for a bad answer.

An answer that yields no usable proposal (cut off at max_tokens, no tool call, tool input
that is not a JSON object, a refusal) is a *failed attempt*: `Completion.error` says why,
and the caller repairs or gives up. Only failures of the service itself raise:
`ProviderError` (network, overload and 5xx after the SDK's retries) or `ConfigError` (no
key, a rejected key, an unknown model).
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass

from generator.prompt import TOOL_NAME, Prompt


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
