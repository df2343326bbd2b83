"""A broken provider through the real CLI: a hang, an HTML page, answers cut off at max_tokens.

Real dbt, real DuckDB, the real anthropic and openai SDKs speaking real HTTP to a loopback
server (tests/provider_server_support.py); nothing inside gen-model is replaced.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from generator.cli import cli
from generator.write.transaction import LOCK_NAME
from tests.provider_server_support import LoopbackProvider

pytestmark = pytest.mark.dbt

REQUEST = "seats and subscriptions per plan, asked of a broken provider"


@pytest.fixture
def llm_environment(monkeypatch, tmp_path):
    """A fake key, no credential or gateway of the developer's, no gen-model settings."""
    for name in (
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_PROFILE",
        "ANTHROPIC_CUSTOM_HEADERS",
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        "GEN_MODEL_PROVIDER",
        "GEN_MODEL_MODELS",
        "GEN_MODEL_MAX_ATTEMPTS",
        "GEN_MODEL_CONFIG",
        "GEN_MODEL_LLM_TIMEOUT",
        "GEN_MODEL_LLM_RUN_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    return monkeypatch


def project_files(project: Path) -> dict[str, bytes]:
    """Every file a run could write (models, YAML, the lockfile), with its bytes."""
    files = {p: p.read_bytes() for p in (project / "models").rglob("*") if p.is_file()}
    files[project / "gen_model.lock"] = (project / "gen_model.lock").read_bytes()
    return {str(p.relative_to(project)): data for p, data in files.items()}


def run(project: Path, *args: str):
    return CliRunner().invoke(cli, [REQUEST, "--project-dir", str(project), *args])


def assert_clean_exit_3(result, *expected: str) -> str:
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    error = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(error) == 1, result.stderr
    for text in expected:
        assert text in error[0], error[0]
    return error[0]


def test_a_hanging_provider_ends_the_run_at_the_budget_and_releases_the_locks(sample_project, llm_environment):
    before = project_files(sample_project)
    with LoopbackProvider() as server:
        server.hang()
        llm_environment.setenv("ANTHROPIC_BASE_URL", server.url)
        result = run(sample_project, "--llm-timeout", "1.5", "--max-attempts", "1")
        returned = time.monotonic()
        assert_clean_exit_3(result, f"no complete answer from {server.url} within 1.5 s", "--llm-timeout")
        assert server.arrived  # (the abandoned request may be retried by the SDK later: not counted)
        # From the request reaching the provider to the command returning: the budget, not 600 s.
        assert 1.0 < returned - server.arrived[0] < 30.0  # generous: CI machines are loaded

        # The locks are released at once, though the abandoned request is still waiting:
        # the project lock is gone, the warehouse opens read-write (as `dbt build` opens it),
        # and the next run gets as far as the provider again.
        assert not (sample_project / LOCK_NAME).exists()
        duckdb.connect(str(sample_project / "warehouse.duckdb")).close()
        server.answer(200, b"<html><body>Service Unavailable</body></html>", "text/html")
        again = run(sample_project)
    assert_clean_exit_3(again, "not JSON", "status 200, content-type text/html")
    assert project_files(sample_project) == before


def test_the_gen_model_process_itself_exits_at_the_budget(sample_project, llm_environment):
    """The abandoned request must not keep the interpreter alive (a daemon thread, no pool)."""
    with LoopbackProvider() as server:
        server.hang()
        env = dict(os.environ, ANTHROPIC_BASE_URL=server.url, GEN_MODEL_LLM_TIMEOUT="1")
        result = subprocess.run(
            [sys.executable, "-m", "generator", REQUEST, "--project-dir", str(sample_project), "--max-attempts", "1"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        exited = time.monotonic()
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "within 1 s: the per-call LLM budget of 1 s is spent" in result.stderr
    # Far below what the SDK alone would wait (600 s a try), with room for a loaded 2-core machine.
    assert 0.5 < exited - server.arrived[0] < 30.0
    assert not (sample_project / LOCK_NAME).exists()


def test_the_run_budget_from_the_environment_bounds_the_openai_provider(sample_project, llm_environment):
    with LoopbackProvider() as server:
        server.hang()
        llm_environment.setenv("GEN_MODEL_PROVIDER", "openai")
        llm_environment.setenv("GEN_MODEL_MODELS", "llama3.1:8b")
        llm_environment.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
        llm_environment.setenv("GEN_MODEL_LLM_RUN_TIMEOUT", "1")
        result = run(sample_project)
        returned = time.monotonic()
    assert_clean_exit_3(result, "within 1 s: the run's LLM budget of 1 s", "GEN_MODEL_LLM_RUN_TIMEOUT")
    assert returned - server.arrived[0] < 30.0  # the SDK alone would wait 600 s a try


@pytest.mark.parametrize(
    "provider, body, content_type, expected",
    [
        ("anthropic", b"", "application/json", "0 bytes, empty"),
        ("anthropic", b'{"id": "x", "object": "thing"}', "application/json", "not an Anthropic Messages response"),
        ("openai", b"<!doctype html><title>Sign in</title>", "text/html", "starting '<!doctype html><title>Sign in"),
    ],
)
def test_a_malformed_body_is_exit_3_with_one_line_saying_what_came_back(
    sample_project, llm_environment, provider, body, content_type, expected
):
    before = project_files(sample_project)
    with LoopbackProvider() as server:
        server.answer(200, body, content_type)
        if provider == "openai":
            llm_environment.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
            result = run(sample_project, "--provider", "openai", "--model", "llama3.1:8b")
        else:
            llm_environment.setenv("ANTHROPIC_BASE_URL", server.url)
            result = run(sample_project)
    assert len(server.requests) == 1  # a 200 is not retried
    assert_clean_exit_3(result, expected, f"content-type {content_type}", "status 200")
    assert project_files(sample_project) == before
    assert not (sample_project / LOCK_NAME).exists()


CUT_OFF_PROPOSAL = {
    "name": "plan_seat_totals",
    "layer": "marts",
    "description": "Seats per plan.",
    "grain": ["plan_id"],
    "sql": "select plan_id, count(*) as subscription_count\n"
    "from {{ ref('stg_billing__subscriptions') }}\ngroup by plan_id\n",
    "columns": [
        {"name": "plan_id", "description": "The plan."},
        {"name": "subscription_count", "description": "Subscriptions."},
    ],
}
ANTHROPIC_CUT_OFF = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-haiku-5-5",
    "content": [{"type": "tool_use", "id": "toolu_1", "name": "propose_model", "input": CUT_OFF_PROPOSAL}],
    "stop_reason": "max_tokens",
    "stop_sequence": None,
    "usage": {"input_tokens": 2000, "output_tokens": 16000},
}
OPENAI_CUT_OFF = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "llama3.1:8b",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "propose_model", "arguments": json.dumps(CUT_OFF_PROPOSAL)},
                    }
                ],
            },
            "finish_reason": "length",
        }
    ],
    "usage": {"prompt_tokens": 2000, "completion_tokens": 16000, "total_tokens": 18000},
}


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_answers_cut_off_at_max_tokens_are_never_accepted(sample_project, llm_environment, provider):
    """Even a complete-looking proposal is refused when the provider says it was cut off."""
    before = project_files(sample_project)
    with LoopbackProvider() as server:
        if provider == "openai":
            server.answer(200, OPENAI_CUT_OFF)
            llm_environment.setenv("OPENAI_BASE_URL", f"{server.url}/v1")
            result = run(sample_project, "--max-attempts", "2", "--provider", "openai", "--model", "llama3.1:8b")
        else:
            server.answer(200, ANTHROPIC_CUT_OFF)
            llm_environment.setenv("ANTHROPIC_BASE_URL", server.url)
            result = run(sample_project, "--max-attempts", "2")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "no proposal passed the gates in 2 attempt(s)" in result.stderr
    assert "cut off at the output limit (16000 tokens)" in result.stderr
    assert len(server.requests) == 2  # the repair turn was asked for, and cut off too
    assert project_files(sample_project) == before
