"""LLM providers behind one interface: `make_provider(name, settings)` -> `Provider`.

from generator.llm.settings import resolve_settings
from generator.llm.providers import make_provider

settings = resolve_settings(project_dir)
provider = make_provider(settings.provider, settings)
completion = provider.complete(prompt, settings.model_for_attempt(1))
if completion.ok: ...completion.proposal...
else: ...completion.error... (repair with generator.llm.prompt.repair_prompt, or give up)
"""

from __future__ import annotations

from generator.errors import ConfigError
from generator.llm.providers.base import Completion, Provider, TimeBudget
from generator.llm.settings import PROVIDERS, Settings
from generator.suggest import did_you_mean

__all__ = ["Completion", "Provider", "TimeBudget", "make_provider"]


def make_provider(name: str, settings: Settings | None = None, http_client=None) -> Provider:
    """The provider called `name`, configured from `settings`.

    `http_client` (an `httpx2.Client`) replaces the SDK's HTTP client, so tests can fake
    the network with `httpx2.MockTransport`. Raises ConfigError for an unknown provider, a
    missing key, or (openai) no model configured.
    """
    settings = settings or Settings(provider=name)
    if name == "anthropic":
        from generator.llm.providers.anthropic import AnthropicProvider

        return AnthropicProvider(
            base_url=settings.base_url,
            max_output_tokens=settings.max_output_tokens,
            effort=settings.effort,
            http_client=http_client,
            budget=TimeBudget(settings.llm_timeout, settings.llm_run_timeout),
        )
    if name == "openai":
        from generator.llm.providers.openai import OpenAIProvider

        if not settings.models:
            settings.model_for_attempt(1)  # raises the ConfigError that says how to name one
        return OpenAIProvider(
            base_url=settings.base_url,
            max_output_tokens=settings.max_output_tokens,
            temperature=settings.temperature,
            http_client=http_client,
            budget=TimeBudget(settings.llm_timeout, settings.llm_run_timeout),
        )
    if name == "scripted":
        from generator.llm.providers.scripted import ScriptedProvider, load_script

        if not settings.script:
            raise ConfigError(
                "the scripted provider replays answers from a file: set `script: answers.yml` in .gen-model.yml"
            )
        return ScriptedProvider(load_script(settings.script))
    hint = did_you_mean(name, PROVIDERS)
    raise ConfigError(
        f"unknown provider {name!r}; expected one of {', '.join(PROVIDERS)}." + (f" {hint}" if hint else "")
    )
