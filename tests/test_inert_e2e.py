"""Generated files are inert (issue #12): untrusted text never reaches dbt as live Jinja.

Each payload goes through the real CLI (`gen-model apply`) and real dbt (`build`, `test`,
`docs generate`) with a secret in the environment; nothing may be written outside the
project (the COPY target) and the secret may appear nowhere under target/ or logs/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest
import yaml
from click.testing import CliRunner
from test_pipeline_e2e import write_proposal

from generator.cli import cli
from generator.project import load_project
from generator.project.dbt import in_directory, invoke, release_duckdb
from generator.write.inert import jinja_string

pytestmark = pytest.mark.dbt

SECRET = "s3cr3t-gen-model-value"
SECRET_JINJA = "{{ env_var('GEN_MODEL_TEST_SECRET') }}"


def copy_to(path: Path) -> str:
    """Jinja that COPYs a row to `path`, written without a single quote (so SQL keeps it)."""
    return f'run_query("copy (select 1 as x) to " ~ "%c{path}%c"|format(39, 39))'


def plans_proposal(name: str, sql: str, columns: list[str], **extra) -> dict:
    return {
        "name": name,
        "layer": "marts",
        "description": "Plans, one row per plan.",
        "grain": ["plan_id"],
        "sql": sql,
        "columns": [{"name": column, "description": f"The {column}."} for column in columns],
        **extra,
    }


def yaml_strings(path: Path) -> set[str]:
    """Every string value in a YAML file, as dbt reads it."""
    found: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            found.add(node)

    walk(yaml.safe_load(path.read_text()))
    return found


def apply(project: Path, tmp_path: Path, proposal: dict):
    path = write_proposal(tmp_path, proposal)
    return CliRunner().invoke(cli, ["apply", str(path), "--project-dir", str(project), "--json"])


def run_dbt_later(project: Path, model: str) -> None:
    """What a user's CI does with the files afterwards: build, test, docs."""
    from dbt.cli.main import dbtRunner

    loaded = load_project(project)
    for args in (["build", "--select", model], ["test", "--select", model]):
        outcome = invoke(loaded, args)
        assert outcome.success, (args, outcome.errors)
    # `docs generate` is a subcommand: generator.project.dbt.invoke puts its flags after the group.
    # Run from the project, as invoke does: its DuckDB path is relative to the project, not
    # to the test runner's directory (where parallel workers would share one file).
    try:
        with in_directory(project):
            assert dbtRunner().invoke(["docs", "generate", *loaded.dbt_args()]).success
    finally:
        release_duckdb()


def assert_nothing_leaked(project: Path, pwned: Path) -> None:
    assert not pwned.exists(), f"dbt ran the COPY to {pwned}"
    for folder in ("target", "logs"):
        for path in (project / folder).rglob("*"):
            if path.is_file():
                assert SECRET.encode() not in path.read_bytes(), f"the secret is in {path}"


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("GEN_MODEL_TEST_SECRET", SECRET)


def test_an_escape_string_is_written_with_its_escapes(sample_project, tmp_path, secret_env):
    pwned = tmp_path / "pwned_escape.csv"
    payload = "{{ " + copy_to(pwned) + " }}"
    escaped = payload.replace("{", "\\x7b").replace("}", "\\x7d")
    sql = f"select plan_id, plan_name\nfrom {{{{ ref('stg_billing__plans') }}}}\nwhere length(E'{escaped}') > 0\n"
    result = apply(sample_project, tmp_path, plans_proposal("plans_escape", sql, ["plan_id", "plan_name"]))
    assert result.exit_code == 0, result.output
    written = (sample_project / "models/marts/plans_escape_v1.sql").read_text()
    assert "{{ run_query" not in written
    assert "e'\\x7b\\x7b run_query(" in written
    run_dbt_later(sample_project, "plans_escape")
    assert_nothing_leaked(sample_project, pwned)
    # The filter still means what it said: DuckDB decodes the escapes to the same text.
    with duckdb.connect(str(sample_project / "warehouse.duckdb"), read_only=True) as connection:
        assert connection.sql("select count(*) from main.plans_escape_v1").fetchall()[0][0] > 0


def test_a_literal_that_becomes_a_test_argument_is_not_rendered(sample_project, tmp_path, secret_env):
    # dbt renders a test argument that looks like `env_var(...)` even without braces. A CASE
    # whose every output is a literal gives an accepted_values test (proven by the SQL); the
    # payload reads the secret (it would land in the compiled test under target/).
    payload = 'env_var("GEN_MODEL_TEST_SECRET")'
    sql = (
        "select\n"
        "    plan_id,\n"
        f"    case when plan_tier = 'free' then '{payload}' else 'paid' end as tier_label\n"
        "from {{ ref('stg_billing__plans') }}\n"
    )
    result = apply(sample_project, tmp_path, plans_proposal("plans_argument", sql, ["plan_id", "tier_label"]))
    assert result.exit_code == 0, result.output
    yml = sample_project / "models/marts/plans_argument.yml"
    # The accepted_values test keeps the value, as a string constant dbt takes literally.
    assert jinja_string(jinja_string(payload)) in yaml_strings(yml)  # rendered twice under versions:
    assert "accepted_values" in yml.read_text()
    run_dbt_later(sample_project, "plans_argument")
    assert_nothing_leaked(sample_project, tmp_path / "nothing")
    compiled = "\n".join(path.read_text() for path in (sample_project / "target").rglob("accepted_values_*.sql"))
    assert payload in compiled  # what the test checks is the text itself


def test_descriptions_request_and_warehouse_values_are_not_rendered(sample_project, tmp_path, secret_env):
    with duckdb.connect(str(sample_project / "warehouse.duckdb")) as connection:
        connection.execute("update raw_billing.plans set name = ? where id = 'plan_free'", [SECRET_JINJA])
    sql = "select plan_id, plan_name\nfrom {{ ref('stg_billing__plans') }}\nwhere plan_tier = 'free'\n"
    proposal = plans_proposal(
        "plans_described",
        sql,
        ["plan_id", "plan_name"],
        description=f"Plans {SECRET_JINJA}",
        request=f"plans please {SECRET_JINJA}",
    )
    proposal["columns"][1]["description"] = f"Name {SECRET_JINJA}"
    result = apply(sample_project, tmp_path, proposal)
    assert result.exit_code == 0, result.output
    strings = yaml_strings(sample_project / "models/marts/plans_described.yml")
    assert jinja_string(SECRET_JINJA) in strings  # the warehouse value, in the unit test's rows
    assert jinja_string(f"Plans {SECRET_JINJA}") in strings  # the model's
    # The version inherits the model's description (not repeated: dbt would render it twice).
    assert jinja_string(jinja_string(f"Plans {SECRET_JINJA}")) not in strings
    assert jinja_string(f"plans please {SECRET_JINJA}") in strings
    run_dbt_later(sample_project, "plans_described")
    assert_nothing_leaked(sample_project, tmp_path / "nothing")
    # The text itself is kept: dbt's manifest holds the description as it was written.
    manifest = json.loads((sample_project / "target/manifest.json").read_text())
    node = next(n for n in manifest["nodes"].values() if n.get("name") == "plans_described")
    assert node["description"] == f"Plans {SECRET_JINJA}"
    assert node["columns"]["plan_name"]["description"] == f"Name {SECRET_JINJA}"


def test_jinja_openers_in_literals_and_maps_do_not_break_dbt(sample_project, tmp_path, secret_env):
    sql = (
        "select\n"
        "    plan_id,\n"
        "    '{#' || plan_tier as marker,\n"
        "    map { {'k': plan_tier} : 2 } as nested\n"
        "from {{ ref('stg_billing__plans') }}\n"
    )
    result = apply(sample_project, tmp_path, plans_proposal("plans_openers", sql, ["plan_id", "marker", "nested"]))
    assert result.exit_code == 0, result.output
    run_dbt_later(sample_project, "plans_openers")
    with duckdb.connect(str(sample_project / "warehouse.duckdb"), read_only=True) as connection:
        markers = {row[0] for row in connection.sql("select marker from main.plans_openers_v1").fetchall()}
    assert "{#free" in markers


def test_verify_names_live_jinja_in_generated_files_and_does_not_run_dbt(locked_sample_project, secret_env):
    project = locked_sample_project
    sql = project / "models/marts/account_mrr_v1.sql"
    sql.write_text(f"-- {SECRET_JINJA}\n" + sql.read_text())
    yml = project / "models/marts/account_mrr.yml"
    meta = f'    meta: {{note: "{SECRET_JINJA}"}}\n'
    yml.write_text(yml.read_text().replace("    latest_version: 2", meta + "    latest_version: 2", 1))
    for leftover in (project / "target").rglob("*"):
        if leftover.is_file():
            leftover.unlink()  # a fresh checkout in CI: nothing parsed yet
    result = CliRunner().invoke(cli, ["verify", "--project-dir", str(project)])
    assert result.exit_code == 1, result.output
    assert f'models/marts/account_mrr_v1.sql:1:4: [jinja] Jinja "{SECRET_JINJA}"' in result.output
    assert "models/marts/account_mrr.yml:6:18: [jinja] models.0.meta.note holds Jinja" in result.output
    assert "dbt parse was not run" in result.output
    assert_nothing_leaked(project, project / "nothing")
    report = json.loads(CliRunner().invoke(cli, ["verify", "--project-dir", str(project), "--json"]).stdout)
    assert {(p["check"], p["file"], p["line"], p["col"]) for p in report["problems"]} == {
        ("jinja", "models/marts/account_mrr_v1.sql", 1, 4),
        ("jinja", "models/marts/account_mrr.yml", 6, 18),
    }


def test_what_cannot_be_escaped_is_refused_with_its_place_and_nothing_is_written(sample_project, tmp_path):
    # a quoted alias that opens a Jinja comment: not text that can be escaped in place
    sql = 'select "{#p".plan_id, "{#p".plan_tier\nfrom {{ ref(\'stg_billing__plans\') }} as "{#p"\n'
    proposal = plans_proposal("plans_refused", sql, ["plan_id", "plan_tier"])
    result = apply(sample_project, tmp_path, proposal)
    assert result.exit_code == 1, result.output
    assert "refusing to write files dbt would render untrusted Jinja from (nothing was written)" in result.output
    assert re.search(r"models/marts/plans_refused_v1\.sql:\d+:\d+: \[jinja\] dbt's Jinja cannot read", result.output)
    assert "Traceback" not in result.output
    assert not list((sample_project / "models" / "marts").glob("plans_refused*"))


def test_escaped_files_are_byte_identical_across_fresh_copies(sample_project_built, tmp_path):
    import shutil

    sql = (
        "select plan_id, '{#' || plan_tier as marker, E'\\x7b\\x7b x \\x7d\\x7d' as braces\n"
        "from {{ ref('stg_billing__plans') }}\n"
    )
    proposal = plans_proposal("plans_twice", sql, ["plan_id", "marker", "braces"], description=f"Plans {SECRET_JINJA}")
    outputs = []
    for index in range(2):
        copy = shutil.copytree(sample_project_built, tmp_path / f"copy{index}")
        result = apply(copy, tmp_path, proposal)
        assert result.exit_code == 0, result.output
        files = json.loads(result.stdout)["files"]
        outputs.append({path: (copy / path).read_bytes() for path in files})
    assert outputs[0] == outputs[1]
