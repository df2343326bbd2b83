"""LLM settings: which provider, which models, how many attempts, what prices.

Each setting is resolved from, highest first: CLI flags, the environment, a config file,
then defaults. Environment variables: `GEN_MODEL_PROVIDER`, `GEN_MODEL_MODELS` (comma
separated), `GEN_MODEL_MAX_ATTEMPTS`, `GEN_MODEL_LLM_TIMEOUT`, `GEN_MODEL_LLM_RUN_TIMEOUT`,
and `GEN_MODEL_CONFIG` (path of the config file).

The config file is `.gen-model.yml` in the project directory, or the file `GEN_MODEL_CONFIG`
names. Every key is optional; an unknown key is an error naming the file and the key:

    provider: anthropic        # anthropic (default) | openai | scripted
    models:                    # the ladder, cheapest first; a comma-separated string works too.
      - claude-haiku-5-5       # Attempt 1 uses the first model, each repair the next one,
      - claude-sonnet-5-5      # the last one repeats. openai has no default: name your model.
    max_attempts: 3            # 1 call + at most 2 repair calls (1-10)
    max_output_tokens: 16000   # per call; an answer cut off there is a failed attempt
    llm_timeout: 120           # seconds one LLM call may take in all, the SDK's retries
                               # included (also GEN_MODEL_LLM_TIMEOUT, or --llm-timeout)
    llm_run_timeout: 300       # seconds all LLM calls of one run may take together
                               # (also GEN_MODEL_LLM_RUN_TIMEOUT, or --llm-run-timeout)
    base_url: http://localhost:11434/v1  # the provider's endpoint. Default: the SDK's own
                               # (it reads ANTHROPIC_BASE_URL / OPENAI_BASE_URL)
    effort: low                # anthropic only: output_config.effort; default: the model's
    temperature: 0             # openai only (default 0); null leaves it out of the request
    budget_tokens: 6000        # token budget of the catalog slice sent to the LLM
    layers:                    # where generated models of each layer go, relative to the
      staging: models/staging  # project (default: the layer's existing folder under a
      marts: models            # model path, the model path itself in a flat project)
    deprecation_days: 90       # how long a version superseded by a breaking change stays
                               # (also GEN_MODEL_DEPRECATION_DAYS, or --deprecation-days)
    script: answers.yml        # scripted provider: the answers to replay (relative to this file)
    pricing:                   # USD per million tokens, added to or overriding the built-in table
      llama3.1:8b: {input: 0, output: 0}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from generator.errors import ConfigError
from generator.llm.pricing import DEFAULT_LADDER, ModelPrice
from generator.llm.retrieve import DEFAULT_BUDGET_TOKENS
from generator.suggest import did_you_mean

PROVIDERS = ("anthropic", "openai", "scripted")
CONFIG_FILE = ".gen-model.yml"
EFFORTS = ("low", "medium", "high", "xhigh", "max")
CONFIG_KEYS = (
    "provider",
    "models",
    "max_attempts",
    "max_output_tokens",
    "llm_timeout",
    "llm_run_timeout",
    "base_url",
    "effort",
    "temperature",
    "budget_tokens",
    "layers",
    "script",
    "pricing",
    "deprecation_days",
)
MAX_ATTEMPTS_LIMIT = 10
# How long gen-model waits for the LLM. Without a bound of its own a hanging provider holds
# the project lock and the warehouse for the SDK's read timeout (600 s) times its retries.
DEFAULT_LLM_TIMEOUT_S = 120.0
DEFAULT_LLM_RUN_TIMEOUT_S = 300.0
LLM_TIMEOUT_LIMIT_S = 3600.0


@dataclass(frozen=True)
class Settings:
    """Resolved LLM settings; `origins` says where each came from (flag, env, file, default)."""

    provider: str = "anthropic"
    models: tuple[str, ...] = DEFAULT_LADDER
    max_attempts: int = 3
    max_output_tokens: int = 16_000
    llm_timeout: float = DEFAULT_LLM_TIMEOUT_S  # seconds per call, the SDK's retries included
    llm_run_timeout: float = DEFAULT_LLM_RUN_TIMEOUT_S  # seconds for every call of one run
    base_url: str | None = None
    effort: str | None = None
    temperature: float | None = 0.0
    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    layers: Mapping[str, str] = field(default_factory=dict)  # layer -> folder (project-relative)
    deprecation_days: int = 90  # a version superseded by a breaking change stays this long
    script: str | None = None
    pricing: Mapping[str, ModelPrice] = field(default_factory=dict)
    config_file: str | None = None
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)

    def model_for_attempt(self, attempt: int) -> str:
        """The model for attempt `attempt` (1-based): climbs the ladder, the last one repeats."""
        if not self.models:
            raise ConfigError(
                f"no model configured for the {self.provider} provider: pass --model NAME, "
                f"set GEN_MODEL_MODELS=NAME, or add `models: [NAME]` to {CONFIG_FILE}"
            )
        return self.models[min(max(attempt, 1), len(self.models)) - 1]


def _models(value: object, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        items = [item.strip() for item in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [item.strip() if isinstance(item, str) else item for item in value]
    else:
        raise ConfigError(f"{where}: models must be a list of model ids or a comma-separated string")
    if not items or any(not isinstance(item, str) or not item for item in items):
        raise ConfigError(f"{where}: models must name at least one model, with no empty entries")
    return tuple(dict.fromkeys(items))


def _provider(value: object, where: str) -> str:
    if not isinstance(value, str) or value not in PROVIDERS:
        hint = did_you_mean(str(value), PROVIDERS)
        raise ConfigError(
            f"{where}: unknown provider {value!r}; expected one of {', '.join(PROVIDERS)}."
            + (f" {hint}" if hint else "")
        )
    return value


def _integer(value: object, where: str, key: str, low: int, high: int) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ConfigError(f"{where}: {key} must be a whole number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{where}: {key} must be a whole number from {low} to {high}, got {value!r}")
    return value


def _seconds(value: object, where: str, key: str) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise ConfigError(f"{where}: {key} must be a number of seconds, got {value!r}") from None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value <= LLM_TIMEOUT_LIMIT_S
        or value != value  # NaN
    ):
        raise ConfigError(
            f"{where}: {key} must be a number of seconds above 0 and at most {LLM_TIMEOUT_LIMIT_S:g}, got {value!r}"
        )
    return float(value)


def _pricing(value: object, where: str) -> dict[str, ModelPrice]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: pricing must map model ids to {{input: USD, output: USD}} per million tokens")
    prices = {}
    for model, entry in value.items():
        if not isinstance(entry, dict) or set(entry) != {"input", "output"}:
            raise ConfigError(
                f"{where}: pricing.{model} must be {{input: USD, output: USD}} per million tokens, got {entry!r}"
            )
        rates = []
        for key in ("input", "output"):
            rate = entry[key]
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or rate < 0:
                raise ConfigError(f"{where}: pricing.{model}.{key} must be a number >= 0, got {rate!r}")
            rates.append(float(rate))
        prices[str(model)] = ModelPrice(rates[0], rates[1], f"{where} (user-supplied)")
    return prices


LAYER_NAMES = ("staging", "intermediate", "marts")


def _layers(value: object, where: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: layers must map a layer ({', '.join(LAYER_NAMES)}) to a folder")
    folders = {}
    for layer, folder in value.items():
        if layer not in LAYER_NAMES:
            hint = did_you_mean(str(layer), LAYER_NAMES)
            raise ConfigError(
                f"{where}: unknown layer {layer!r}; expected {', '.join(LAYER_NAMES)}." + (f" {hint}" if hint else "")
            )
        path = Path(str(folder or ""))
        if not isinstance(folder, str) or not folder.strip() or path.is_absolute() or ".." in path.parts:
            raise ConfigError(f"{where}: layers.{layer} must be a folder inside the project, got {folder!r}")
        folders[layer] = path.as_posix()
    return folders


def _read_config(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read the gen-model config {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: not valid YAML: {str(error).splitlines()[0]}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(data).__name__}")
    for key in data:
        if key not in CONFIG_KEYS:
            hint = did_you_mean(str(key), CONFIG_KEYS)
            raise ConfigError(
                f"{path}: unknown key {key!r}."
                + (f" {hint}" if hint else "")
                + f" Known keys: {', '.join(CONFIG_KEYS)}."
            )
    return data


def _config_path(project_dir: Path | None, environ: Mapping[str, str]) -> tuple[Path | None, str]:
    named = environ.get("GEN_MODEL_CONFIG")
    if named:
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"GEN_MODEL_CONFIG names {path}, which is not a file")
        return path, "GEN_MODEL_CONFIG"
    if project_dir is not None:
        path = Path(project_dir) / CONFIG_FILE
        if path.is_file():
            return path, str(path)
    return None, ""


def resolve_settings(
    project_dir: str | Path | None = None,
    *,
    provider: str | None = None,
    models: str | list[str] | tuple[str, ...] | None = None,
    max_attempts: int | None = None,
    llm_timeout: float | None = None,
    llm_run_timeout: float | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from CLI flags (the keyword arguments), the environment, the config file, defaults.

    Raises ConfigError naming the flag, variable or file (and key) of any bad value.
    """
    environ = os.environ if environ is None else environ
    path, _ = _config_path(Path(project_dir) if project_dir else None, environ)
    config = _read_config(path) if path else {}
    file_label = str(path) if path else ""
    values: dict[str, object] = {}
    origins: dict[str, str] = {}

    def take(key: str, flag_value: object, flag: str, env_name: str | None, parse) -> None:
        if flag_value is not None:
            values[key], origins[key] = parse(flag_value, flag), flag
        elif env_name and environ.get(env_name):
            values[key], origins[key] = parse(environ[env_name], env_name), env_name
        elif key in config:
            values[key], origins[key] = parse(config[key], f"{file_label}: {key}"), file_label
        else:
            origins[key] = "default"

    take("provider", provider, "--provider", "GEN_MODEL_PROVIDER", _provider)
    take("models", models, "--model", "GEN_MODEL_MODELS", _models)
    take(
        "max_attempts",
        max_attempts,
        "--max-attempts",
        "GEN_MODEL_MAX_ATTEMPTS",
        lambda v, w: _integer(v, w, "max_attempts", 1, MAX_ATTEMPTS_LIMIT),
    )
    take(
        "max_output_tokens",
        None,
        "",
        None,
        lambda v, w: _integer(v, w, "max_output_tokens", 256, 1_000_000),
    )
    take(
        "llm_timeout",
        llm_timeout,
        "--llm-timeout",
        "GEN_MODEL_LLM_TIMEOUT",
        lambda v, w: _seconds(v, w, "llm_timeout"),
    )
    take(
        "llm_run_timeout",
        llm_run_timeout,
        "--llm-run-timeout",
        "GEN_MODEL_LLM_RUN_TIMEOUT",
        lambda v, w: _seconds(v, w, "llm_run_timeout"),
    )
    take("budget_tokens", None, "", None, lambda v, w: _integer(v, w, "budget_tokens", 0, 1_000_000))
    take("layers", None, "", None, _layers)
    take("pricing", None, "", None, _pricing)
    take(
        "deprecation_days",
        None,
        "",
        "GEN_MODEL_DEPRECATION_DAYS",
        lambda v, w: _integer(v, w, "deprecation_days", 0, 3650),
    )

    def text(value: object, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{where}: expected a non-empty string, got {value!r}")
        return value.strip()

    take("base_url", None, "", None, text)
    take("script", None, "", None, text)

    def effort(value: object, where: str) -> str:
        if value not in EFFORTS:
            raise ConfigError(f"{where}: effort must be one of {', '.join(EFFORTS)}, got {value!r}")
        return value

    take("effort", None, "", None, effort)
    if "temperature" in config:
        value = config["temperature"]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2
        ):
            raise ConfigError(f"{file_label}: temperature must be a number from 0 to 2, or null, got {value!r}")
        values["temperature"] = None if value is None else float(value)
        origins["temperature"] = file_label
    else:
        origins["temperature"] = "default"

    chosen_provider = values.get("provider", "anthropic")
    if "models" not in values:
        # Only Claude has a built-in ladder; an OpenAI-compatible server's models are yours.
        values["models"] = DEFAULT_LADDER if chosen_provider == "anthropic" else ()
    if values.get("script") and path is not None and not Path(str(values["script"])).is_absolute():
        values["script"] = str((path.parent / str(values["script"])).resolve())
    return Settings(**values, config_file=file_label or None, origins=origins)
