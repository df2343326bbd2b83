"""`gen-model review`: deterministic Markdown, the mutation score when there is one, and
`--changed` finding the generated models a branch touched (real git, real dbt)."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from click.testing import CliRunner

from generator.cli import cli

pytestmark = pytest.mark.dbt

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def git(project, *args: str) -> str:
    environment = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
    }
    return subprocess.run(
        ["git", "-C", str(project), *args], check=True, capture_output=True, text=True, env=environment
    ).stdout


def test_review_is_deterministic_and_complete(locked_sample_project):
    project = str(locked_sample_project)
    first = run("review", "account_mrr", "--project-dir", project)
    second = run("review", "account_mrr", "--project-dir", project)
    assert first.exit_code == 0, first.output
    assert first.output == second.output
    lines = first.output.splitlines()
    # the latest version, v2: the same rows as v1 with a series that never starts past its stop
    count = count_tests_on(locked_sample_project, "model.gen_model.account_mrr.v2")
    assert count >= 8  # grain, column and unit tests (none from today's data alone)
    for line in (
        "# gen-model review",
        "## `account_mrr` v2 (marts): non-breaking change from v1",
        "> monthly recurring revenue per account, by plan",
        "| **Files** | `models/marts/account_mrr_v2.sql`, `models/marts/account_mrr.yml` |",
        "| **Lockfile** | files match `gen_model.lock` |",
        "| **Grain** | `account_id`, `month`, `plan_id` |",
        f"| **dbt build** | model success; {count} test(s): {count} pass |",
        "```sql",
        "| `mrr` | decimal(38,2) | `ref('int_subscriptions_joined_to_plans').monthly_amount` | aggregate:sum |",
        "| `not_null` | `plan_id` | grain column (verified on 4,468 rows in the dry run) |",
        "Mutation score: not measured (no `target/gen_model/mutation/account_mrr.json`).",
        "### Data diff: v1 → v2",
        "Joined on the grain (`account_id`, `month`, `plan_id`): 4,468 keys in both.",
        "| `mrr` | 0 | decimal(38,2) | decimal(38,2) |",
        "Applied from the proposal file `account_mrr_v2.yml`; no LLM call.",
        "Total: 0 LLM call(s), 0 tokens in, 0 out, est. $0.0000.",
    ):
        assert line in lines, line
    sql = (locked_sample_project / "models" / "marts" / "account_mrr_v2.sql").read_text()
    assert sql.rstrip("\n") in first.output
    only = run("review", "monthly_revenue_by_tier", "--project-dir", project)
    assert "## `monthly_revenue_by_tier` v1 (marts): new model" in only.output.splitlines()
    assert "### Data diff" not in only.output  # a first version has nothing to compare with
    # Read-only: no build, no write.
    assert not (locked_sample_project / "gen-model-review.md").exists()


def test_mutation_score_is_read_when_mutate_left_one(locked_sample_project):
    directory = locked_sample_project / "target" / "gen_model" / "mutation"
    directory.mkdir(parents=True)
    (directory / "account_mrr.json").write_text(
        json.dumps(
            {
                "model": "account_mrr",
                "killed": 17,
                "total": 20,
                "score": 0.85,
                "survivors": [{"mutation": "sum -> max", "column": "mrr"}, "month + 1 day"],
            }
        )
    )
    output = run("review", "account_mrr", "--project-dir", str(locked_sample_project)).output
    lines = output.splitlines()
    assert "Mutation score: **85%** (17 of 20 mutants killed)." in lines
    assert "- mutation: sum -> max, column: mrr" in lines
    assert "- month + 1 day" in lines


def test_output_file_and_usage_errors(locked_sample_project, tmp_path):
    target = tmp_path / "review.md"
    result = run("review", "account_payment_health", "-o", str(target), "--project-dir", str(locked_sample_project))
    assert result.exit_code == 0 and result.output == ""
    assert target.read_text().startswith(
        "# gen-model review\n\n## `account_payment_health` v2 (marts): non-breaking change from v1"
    )

    result = run("review", "--project-dir", str(locked_sample_project))
    assert result.exit_code == 2
    assert "Error: name the model(s) to review, or pass --changed (not both)" in result.output
    result = run("review", "account_mrr", "--base", "HEAD", "--project-dir", str(locked_sample_project))
    assert result.exit_code == 2 and "Error: --base only applies with --changed" in result.output
    result = run("review", "acount_mrr", "--project-dir", str(locked_sample_project))
    assert result.exit_code == 2
    assert result.output == ("Error: not a generated model of this project: acount_mrr. Did you mean 'account_mrr'?\n")


@needs_git
def test_changed_reviews_the_models_a_branch_touched(locked_sample_project, monkeypatch):
    project = locked_sample_project
    (project / ".gitignore").write_text("target/\nlogs/\n*.duckdb\n*.duckdb.wal\ndata/\n")
    git(project, "init", "-q", "-b", "main")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "base")
    monkeypatch.delenv("GITHUB_BASE_REF", raising=False)

    clean = run("review", "--changed", "--base", "HEAD", "--project-dir", str(project))
    assert clean.exit_code == 0, clean.output
    head = git(project, "rev-parse", "HEAD").strip()
    nothing = f"No generated model changed versus `HEAD` (merge base `{head[:12]}`)."
    assert clean.output == f"# gen-model review\n\n{nothing}\n"

    # A branch edits one generated model's SQL (uncommitted): only that model is reviewed.
    git(project, "checkout", "-q", "-b", "feature")
    sql = project / "models" / "marts" / "monthly_revenue_by_tier_v1.sql"
    sql.write_text(sql.read_text() + "-- reviewed by a person\n")
    monkeypatch.setenv("GITHUB_BASE_REF", "main")
    result = run("review", "--changed", "--project-dir", str(project))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[2] == f"Generated models changed versus `main` (merge base `{head[:12]}`)."
    assert [line for line in lines if line.startswith("## ")] == ["## `monthly_revenue_by_tier` v1 (marts): new model"]
    assert "| **Lockfile** | `models/marts/monthly_revenue_by_tier_v1.sql` changed and **not adopted** |" in lines

    # On the default branch itself, the last commit is what is reviewed.
    git(project, "commit", "-q", "-am", "edit")
    git(project, "checkout", "-q", "main")
    git(project, "merge", "-q", "--ff-only", "feature")
    monkeypatch.delenv("GITHUB_BASE_REF")
    result = run("review", "--changed", "--project-dir", str(project))
    assert result.output.splitlines()[2] == f"Generated models changed versus `HEAD~1` (merge base `{head[:12]}`)."
    assert "## `monthly_revenue_by_tier` v1" in result.output


def test_changed_outside_git_says_so(locked_sample_project):
    result = run("review", "--changed", "--project-dir", str(locked_sample_project))
    assert result.exit_code == 2
    assert "--changed needs a git repository with commits" in result.output


def count_tests_on(project, unique_id: str) -> int:
    """How many data and unit tests dbt's manifest attaches to a model version."""
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    data = [n for n in manifest["nodes"].values() if n.get("attached_node") == unique_id]
    unit = [u for u in manifest.get("unit_tests", {}).values() if unique_id in u["depends_on"]["nodes"]]
    return len(data) + len(unit)
