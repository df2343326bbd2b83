"""Settings: flags > environment > config file > defaults, and errors that name the culprit."""

from __future__ import annotations

import pytest

from generator.errors import ConfigError
from generator.llm.pricing import DEFAULT_LADDER, ModelPrice
from generator.llm.providers import make_provider
from generator.llm.providers.scripted import ScriptedProvider
from generator.llm.settings import CONFIG_FILE, Settings, resolve_settings


def write_config(directory, text: str):
    path = directory / CONFIG_FILE
    path.write_text(text)
    return path


def test_defaults_without_any_configuration(tmp_path):
    settings = resolve_settings(tmp_path, environ={})
    assert settings.provider == "anthropic"
    assert settings.models == DEFAULT_LADDER
    assert settings.max_attempts == 3
    assert settings.base_url is None
    assert settings.config_file is None
    assert settings.origins["models"] == "default"


def test_config_file_is_read(tmp_path):
    path = write_config(
        tmp_path,
        """
provider: openai
models: [llama3.1:8b, qwen3-coder:30b]
max_attempts: 2
max_output_tokens: 4000
base_url: http://localhost:11434/v1
temperature: null
budget_tokens: 3000
pricing:
  llama3.1:8b: {input: 0, output: 0.5}
""",
    )
    settings = resolve_settings(tmp_path, environ={})
    assert settings.provider == "openai"
    assert settings.models == ("llama3.1:8b", "qwen3-coder:30b")
    assert (settings.max_attempts, settings.max_output_tokens, settings.budget_tokens) == (
        2,
        4000,
        3000,
    )
    assert settings.base_url == "http://localhost:11434/v1"
    assert settings.temperature is None
    assert settings.pricing == {"llama3.1:8b": ModelPrice(0.0, 0.5, f"{path}: pricing (user-supplied)")}
    assert settings.origins["models"] == str(path)


def test_environment_beats_the_file_and_flags_beat_both(tmp_path):
    write_config(tmp_path, "provider: openai\nmodels: from-file\nmax_attempts: 2\n")
    environ = {
        "GEN_MODEL_PROVIDER": "anthropic",
        "GEN_MODEL_MODELS": "a, b",
        "GEN_MODEL_MAX_ATTEMPTS": "4",
    }
    from_env = resolve_settings(tmp_path, environ=environ)
    assert (from_env.provider, from_env.models, from_env.max_attempts) == (
        "anthropic",
        ("a", "b"),
        4,
    )
    assert from_env.origins["models"] == "GEN_MODEL_MODELS"

    from_flags = resolve_settings(tmp_path, provider="openai", models=["m1"], max_attempts=1, environ=environ)
    assert (from_flags.provider, from_flags.models, from_flags.max_attempts) == (
        "openai",
        ("m1",),
        1,
    )
    assert from_flags.origins == {
        **from_flags.origins,
        "provider": "--provider",
        "models": "--model",
    }


def test_gen_model_config_names_another_file(tmp_path):
    other = tmp_path / "elsewhere.yml"
    other.write_text("max_attempts: 5\n")
    write_config(tmp_path, "max_attempts: 2\n")
    assert resolve_settings(tmp_path, environ={"GEN_MODEL_CONFIG": str(other)}).max_attempts == 5
    with pytest.raises(ConfigError, match="GEN_MODEL_CONFIG names .*missing.yml, which is not a file"):
        resolve_settings(tmp_path, environ={"GEN_MODEL_CONFIG": str(tmp_path / "missing.yml")})


def test_unknown_key_names_the_file_and_the_key(tmp_path):
    path = write_config(tmp_path, "provider: anthropic\nmax_atempts: 2\n")
    with pytest.raises(ConfigError) as raised:
        resolve_settings(tmp_path, environ={})
    assert raised.value.exit_code == 2
    assert str(path) in raised.value.message
    assert "unknown key 'max_atempts'" in raised.value.message
    assert "Did you mean 'max_attempts'?" in raised.value.message


@pytest.mark.parametrize(
    "text, expected",
    [
        ("provider: antropic\n", r"unknown provider 'antropic'.*Did you mean 'anthropic'\?"),
        ("max_attempts: 0\n", r"max_attempts must be a whole number from 1 to 10, got 0"),
        ("max_attempts: two\n", r"max_attempts must be a whole number, got 'two'"),
        ("models: []\n", r"models must name at least one model"),
        ("models: {a: 1}\n", r"models must be a list"),
        ("effort: extreme\n", r"effort must be one of low, medium, high, xhigh, max"),
        ("temperature: hot\n", r"temperature must be a number from 0 to 2, or null"),
        ("pricing: {m: {input: 1}}\n", r"pricing.m must be \{input: USD, output: USD\}"),
        ("pricing: {m: {input: -1, output: 1}}\n", r"pricing.m.input must be a number >= 0"),
        ("- just\n- a list\n", r"expected a mapping of settings, got list"),
        ("provider: [unclosed\n", r":2:1: not valid YAML"),
    ],
)
def test_bad_values_are_config_errors_naming_the_file(tmp_path, text, expected):
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError, match=expected) as raised:
        resolve_settings(tmp_path, environ={})
    assert str(path) in raised.value.message


def test_bad_environment_values_name_the_variable(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"GEN_MODEL_MAX_ATTEMPTS: max_attempts must be a whole number, got 'lots'",
    ):
        resolve_settings(tmp_path, environ={"GEN_MODEL_MAX_ATTEMPTS": "lots"})
    with pytest.raises(ConfigError, match=r"--provider: unknown provider 'bedrock'"):
        resolve_settings(tmp_path, provider="bedrock", environ={})


def test_openai_has_no_default_model(tmp_path):
    settings = resolve_settings(tmp_path, provider="openai", environ={})
    assert settings.models == ()
    with pytest.raises(ConfigError) as raised:
        settings.model_for_attempt(1)
    assert "--model" in raised.value.message and "GEN_MODEL_MODELS" in raised.value.message


def test_attempts_climb_the_ladder_and_the_last_model_repeats():
    settings = Settings(models=("cheap", "better"))
    assert [settings.model_for_attempt(n) for n in (1, 2, 3, 4)] == [
        "cheap",
        "better",
        "better",
        "better",
    ]


def test_scripted_provider_reads_its_script_relative_to_the_config(tmp_path):
    (tmp_path / "answers.yml").write_text("- {error: cut off}\n- name: x\n  layer: marts\n")
    write_config(tmp_path, "provider: scripted\nscript: answers.yml\n")
    settings = resolve_settings(tmp_path, environ={})
    provider = make_provider(settings.provider, settings)
    assert isinstance(provider, ScriptedProvider)
    assert provider.answers == ["cut off", {"name": "x", "layer": "marts"}]


def test_unknown_provider_name_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown provider 'openia'.*Did you mean 'openai'"):
        make_provider("openia", Settings())


def test_llm_time_budgets_come_from_flags_environment_file_or_defaults(tmp_path, monkeypatch):
    defaults = resolve_settings(tmp_path, environ={})
    assert (defaults.llm_timeout, defaults.llm_run_timeout) == (120.0, 300.0)
    write_config(tmp_path, "llm_timeout: 30\nllm_run_timeout: 90\n")
    from_file = resolve_settings(tmp_path, environ={})
    assert (from_file.llm_timeout, from_file.llm_run_timeout) == (30.0, 90.0)
    environ = {"GEN_MODEL_LLM_TIMEOUT": "2.5", "GEN_MODEL_LLM_RUN_TIMEOUT": "4"}
    from_env = resolve_settings(tmp_path, environ=environ)
    assert (from_env.llm_timeout, from_env.llm_run_timeout) == (2.5, 4.0)
    assert from_env.origins["llm_timeout"] == "GEN_MODEL_LLM_TIMEOUT"
    flags = resolve_settings(tmp_path, llm_timeout=1, llm_run_timeout=2, environ=environ)
    assert (flags.llm_timeout, flags.llm_run_timeout) == (1.0, 2.0)
    assert flags.origins["llm_run_timeout"] == "--llm-run-timeout"
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    budget = make_provider("anthropic", flags).budget
    assert (budget.call_s, budget.run_s) == (1.0, 2.0)


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "7200"])
def test_bad_llm_time_budgets_name_the_variable(tmp_path, value):
    with pytest.raises(ConfigError, match=r"GEN_MODEL_LLM_TIMEOUT: llm_timeout must be a number of seconds"):
        resolve_settings(tmp_path, environ={"GEN_MODEL_LLM_TIMEOUT": value})
