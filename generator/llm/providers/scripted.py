"""A provider that replays predefined answers: for the pipeline's tests and offline demos.

Each answer is, in order of calls:
- a dict: the proposal the "model" sends (a successful tool call);
- a str: a failed attempt with that error (as a truncated or malformed answer would be);
- a `Completion`: returned as it is;
- an exception instance: raised (a `ProviderError` to play an outage).

Every prompt it is sent is recorded in `conversations`, so tests can check what a repair
turn contained.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

import yaml

from generator.errors import ConfigError, ProviderError
from generator.llm.prompt import Prompt
from generator.llm.providers.base import Completion, Provider
from generator.llm.tokens import estimate_tokens


class ScriptedProvider(Provider):
    """Returns `answers` one per call; running out is a ProviderError."""

    name = "scripted"

    def __init__(self, answers: Iterable[dict | str | Completion | BaseException]):
        self.answers = list(answers)
        self.conversations: list[Prompt] = []
        self.models: list[str] = []

    @property
    def calls(self) -> int:
        return len(self.conversations)

    def complete(self, prompt: Prompt, model: str) -> Completion:
        index = len(self.conversations)
        self.conversations.append(prompt)
        self.models.append(model)
        if index >= len(self.answers):
            raise ProviderError(
                f"the scripted provider has {len(self.answers)} answer(s) and was called {index + 1} times"
            )
        answer = self.answers[index]
        if isinstance(answer, BaseException):
            raise answer
        if isinstance(answer, Completion):
            return answer
        # Token counts are estimates here (there is no real model); they let demos show costs.
        usage = {"input_tokens": prompt.token_estimate, "provider": self.name, "model": model}
        if isinstance(answer, str):
            return Completion(error=answer, raw=None, output_tokens=0, stop_reason="scripted", **usage)
        if isinstance(answer, dict):
            output = estimate_tokens(json.dumps(answer))
            return Completion(
                proposal=dict(answer),
                raw=dict(answer),
                output_tokens=output,
                stop_reason="tool_use",
                **usage,
            )
        raise TypeError(f"unsupported scripted answer: {type(answer).__name__}")


def load_script(path: str | Path) -> list[dict | str]:
    """Answers from a YAML or JSON file: a list whose items are proposals or `{error: "..."}`."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read the script {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {str(error).splitlines()[0]}") from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list) or not data:
        raise ConfigError(f"{path}: a script is a list of proposals (or {{error: ...}} entries)")
    answers: list[dict | str] = []
    for number, item in enumerate(data, start=1):
        if isinstance(item, dict) and set(item) == {"error"}:
            answers.append(str(item["error"]))
        elif isinstance(item, dict):
            answers.append(item)
        else:
            raise ConfigError(f"{path}: answer {number} must be a proposal mapping or {{error: ...}}")
    return answers
