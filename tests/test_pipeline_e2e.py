"""End to end: proposals through gates, writer and a real in-process dbt build.

Real dbt, real DuckDB; the only thing faked is the LLM (a scripted provider, or the real
anthropic SDK over a mocked network).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx2
import pytest
import yaml
from click.testing import CliRunner

from generator import Options, Request, apply, generate
from generator.cli import cli
from generator.errors import GateError, LockError
from generator.gates import GATES
from generator.llm.providers.anthropic import AnthropicProvider
from generator.llm.providers.scripted import ScriptedProvider
from generator.project import dbt, load_project
from generator.write.transaction import LOCK_NAME

pytestmark = pytest.mark.dbt

REPO = Path(__file__).resolve().parents[1]
PAYMENT_HEALTH = REPO / "examples" / "proposals" / "account_payment_health.yml"
# Version 2 of it (an unrounded failure rate, portable to Spark), applied after version 1.
PAYMENT_HEALTH_V2 = REPO / "examples" / "proposals" / "account_payment_health_v2.yml"
# Each committed example's proposals, applied in order on a project without its files.
EXAMPLES = {
    "account_mrr": ["account_mrr.yml", "account_mrr_v2.yml"],
    "monthly_revenue_by_tier": ["monthly_revenue_by_tier.yml"],
    "account_payment_health": ["account_payment_health.yml", "account_payment_health_v2.yml"],
}

PLAN_REVENUE = {
    "name": "plan_seat_totals",
    "layer": "marts",
    "description": "Seats and subscriptions per plan.",
    "grain": ["plan_id"],
    "sql": (
        "select\n"
        "    plans.plan_id,\n"
        "    count(subscriptions.subscription_id) as subscription_count,\n"
        "    coalesce(sum(subscriptions.seats), 0) as seat_count\n"
        "from {{ ref('stg_billing__plans') }} as plans\n"
        "left join {{ ref('stg_billing__subscriptions') }} as subscriptions\n"
        "    on subscriptions.plan_id = plans.plan_id\n"
        "group by plans.plan_id\n"
    ),
    "columns": [
        {"name": "plan_id", "description": "The plan."},
        {"name": "subscription_count", "description": "Subscriptions to the plan."},
        {"name": "seat_count", "description": "Seats across them."},
    ],
}


def git_snapshot(directory: Path) -> None:
    """Make `directory` a git repository with everything committed, as a user's project is."""
    (directory / ".gitignore").write_text("target/\nlogs/\ndbt_packages/\n*.duckdb\n*.duckdb.wal\n.user.yml\n")
    for command in (
        ["init", "-q"],
        ["add", "-A"],
        ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"],
    ):
        subprocess.run(["git", *command], cwd=directory, check=True)


def git_status(directory: Path) -> str:
    return subprocess.run(["git", "status", "--porcelain"], cwd=directory, capture_output=True, text=True).stdout


class _LiteralBlocks(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, the way people write SQL in YAML."""


_LiteralBlocks.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


def write_proposal(directory: Path, data: dict, name: str = "proposal.yml") -> Path:
    path = directory / name
    if name.endswith(".json"):
        path.write_text(json.dumps(data, indent=2))
    else:
        path.write_text(yaml.dump(data, Dumper=_LiteralBlocks, sort_keys=False))
    return path


def files_of(project: Path, report) -> dict[str, bytes]:
    return {path: (project / path).read_bytes() for path in report.files}


# -- apply --------------------------------------------------------------------------------


def test_apply_writes_a_versioned_model_that_dbt_builds(sample_project, tmp_path):
    runner = CliRunner()
    proposal = write_proposal(tmp_path, PLAN_REVENUE)
    result = runner.invoke(cli, ["apply", str(proposal), "--project-dir", str(sample_project), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "written"
    assert report["files"] == [
        "models/marts/plan_seat_totals_v1.sql",
        "models/marts/plan_seat_totals.yml",
        "gen_model.lock",
    ]
    assert [g["status"] for g in report["gates"]] == ["passed"] * len(GATES)
    assert report["build"]["failed"] == 0 and report["build"]["passed"] >= 2
    model = yaml.safe_load((sample_project / "models/marts/plan_seat_totals.yml").read_text())["models"][0]
    assert model["latest_version"] == 1
    assert model["config"]["contract"] == {"enforced": True}
    version = model["versions"][0]
    assert [c["data_type"] for c in version["columns"]] == ["varchar", "bigint", "hugeint"]
    assert version["config"]["meta"]["gen_model"]["origin"] == "proposal-file"


def test_apply_is_byte_identical_across_fresh_copies_and_a_rerun_writes_nothing(sample_project_built, tmp_path):
    import shutil

    outputs = []
    for index in range(2):
        copy = tmp_path / f"copy{index}"
        shutil.copytree(sample_project_built, copy)
        project = load_project(copy)
        report = apply(project, PAYMENT_HEALTH_V2, Options())
        # The example is already applied in the repo; a fresh copy says so and keeps its files.
        assert report.status == "unchanged"
        for version in ("v1.sql", "v2.sql"):
            (copy / f"models/marts/account_payment_health_{version}").unlink()
        (copy / "models/marts/account_payment_health.yml").unlink()
        first = apply(load_project(copy), PAYMENT_HEALTH, Options())
        report = apply(load_project(copy), PAYMENT_HEALTH_V2, Options())
        assert first.status == report.status == "written"
        outputs.append({**files_of(copy, first), **files_of(copy, report)})
        rerun = apply(load_project(copy), PAYMENT_HEALTH_V2, Options())
        assert rerun.status == "unchanged" and rerun.files == []
        assert {**files_of(copy, first), **files_of(copy, report)} == outputs[-1]
    assert outputs[0] == outputs[1]
    committed = {path: (REPO / path).read_bytes() for path in outputs[0]}
    assert outputs[0] == committed, "the committed example is what apply writes"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_committed_example_is_what_apply_writes_today(sample_project, name):
    # The sample's committed marts (and their lock entries) are the generator's output: a change
    # to test generation that moves one fixture row shows here, not first in `make demo`.
    for path in (sample_project / "models").rglob(f"{name}*"):
        path.unlink()
    written: dict[str, bytes] = {}
    for proposal in EXAMPLES[name]:
        report = apply(load_project(sample_project), REPO / "examples" / "proposals" / proposal, Options())
        assert report.status == "written", proposal
        written.update(files_of(sample_project, report))
    assert written == {path: (REPO / path).read_bytes() for path in written}, "the committed example changed"


def test_a_rejected_proposal_writes_nothing_and_says_where(sample_project, tmp_path):
    git_snapshot(sample_project)
    bad = dict(PLAN_REVENUE, sql=PLAN_REVENUE["sql"].replace("subscriptions.seats", "subscriptions.seat"))
    proposal = write_proposal(tmp_path, bad)
    result = CliRunner().invoke(cli, ["apply", str(proposal), "--project-dir", str(sample_project)])
    assert result.exit_code == 1
    assert (
        f"{proposal}:10:20: [binding] ref('stg_billing__subscriptions') (as subscriptions) has no column 'seat'. "
        "Did you mean 'seats'?" in result.stderr
    )
    assert "    coalesce(sum(subscriptions.seat), 0) as seat_count\n" in result.stderr
    assert git_status(sample_project) == ""
    as_json = write_proposal(tmp_path, bad, "proposal.json")
    result = CliRunner().invoke(cli, ["apply", str(as_json), "--project-dir", str(sample_project)])
    assert result.exit_code == 1
    assert f"{as_json}#sql:4:18: [binding]" in result.stderr


def test_a_failing_build_rolls_back_files_and_warehouse(sample_project, tmp_path):
    project_file = sample_project / "dbt_project.yml"
    config = yaml.safe_load(project_file.read_text())
    config["models"]["gen_model"]["marts"]["+post-hook"] = "select * from table_that_does_not_exist"
    project_file.write_text(yaml.safe_dump(config, sort_keys=False))
    git_snapshot(sample_project)
    with pytest.raises(Exception) as raised:
        apply(load_project(sample_project), write_proposal(tmp_path, PLAN_REVENUE), Options())
    assert raised.value.exit_code == 1
    assert "everything written was rolled back" in raised.value.message
    assert git_status(sample_project) == ""
    import duckdb

    with duckdb.connect(str(sample_project / "warehouse.duckdb"), read_only=True) as connection:
        tables = connection.execute(
            "select table_name from duckdb_tables() where table_name like 'plan_seat%'"
        ).fetchall()
    assert tables == []


def test_ctrl_c_during_the_build_leaves_the_project_as_it_was(sample_project, tmp_path, monkeypatch):
    git_snapshot(sample_project)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dbt, "build", interrupted)
    with pytest.raises(KeyboardInterrupt):
        apply(load_project(sample_project), write_proposal(tmp_path, PLAN_REVENUE), Options())
    assert git_status(sample_project) == ""
    assert not (sample_project / LOCK_NAME).exists()


def test_a_second_run_is_refused_while_one_holds_the_lock(sample_project, tmp_path):
    import os
    import socket

    (sample_project / LOCK_NAME).write_text(json.dumps({"pid": os.getppid(), "host": socket.gethostname()}))
    with pytest.raises(LockError) as raised:
        apply(load_project(sample_project), write_proposal(tmp_path, PLAN_REVENUE), Options())
    assert raised.value.exit_code == 2
    assert f"pid {os.getppid()}" in raised.value.message


def test_a_foreign_project_needs_init_then_apply_works_and_is_reproducible(shop_project, tmp_path):
    proposal = write_proposal(
        tmp_path,
        {
            "name": "customer_order_counts",
            "layer": "marts",
            "description": "Orders per customer.",
            "grain": ["customer_id"],
            "sql": (
                "select customers.customer_id, count(orders.order_id) as order_count\n"
                "from {{ ref('stg_customers') }} as customers\n"
                "left join {{ ref('stg_orders') }} as orders on orders.customer_id = customers.customer_id\n"
                "group by customers.customer_id\n"
            ),
            "columns": [{"name": "customer_id", "description": "x"}, {"name": "order_count", "description": "y"}],
        },
    )
    runner = CliRunner()
    refused = runner.invoke(cli, ["apply", str(proposal), "--project-dir", str(shop_project)])
    assert refused.exit_code == 2
    assert "does not install the gen_model dbt package" in refused.stderr
    assert f"gen-model init --project-dir {shop_project}" in refused.stderr
    assert not (shop_project / "models/marts/customer_order_counts_v1.sql").exists()

    initialised = runner.invoke(cli, ["init", "--project-dir", str(shop_project)])
    assert initialised.exit_code == 0, initialised.output
    assert initialised.stdout.startswith("installed the gen_model dbt package: vendor/gen_model/, packages.yml")
    applied = runner.invoke(cli, ["apply", str(proposal), "--project-dir", str(shop_project), "--json"])
    assert applied.exit_code == 0, applied.output
    report = json.loads(applied.stdout)
    assert report["status"] == "written" and report["build"]["failed"] == 0
    sql = (shop_project / "models/marts/customer_order_counts_v1.sql").read_text()
    assert "select * from {{ ref('stg_customers') }}" in sql


# -- generate -----------------------------------------------------------------------------


def test_the_repair_loop_sends_every_problem_back_and_climbs_the_ladder(sample_project):
    hallucinated = dict(
        PLAN_REVENUE, sql=PLAN_REVENUE["sql"].replace("subscriptions.seats", "subscriptions.seat_total")
    )
    provider = ScriptedProvider([hallucinated, PLAN_REVENUE])
    request = Request(text="seats per plan", models=("cheap-model", "strong-model"))
    report = generate(load_project(sample_project), request, Options(), provider=provider)
    assert report.status == "written"
    assert provider.models == ["cheap-model", "strong-model"]
    assert [a.outcome for a in report.attempts] == ["rejected", "accepted"]
    repair = provider.conversations[1].messages[-1]["content"]
    assert "plan_seat_totals.sql:4:18 [binding]" in repair, repair
    assert "has no column 'seat_total'" in repair, repair
    provenance = yaml.safe_load((sample_project / "models/marts/plan_seat_totals.yml").read_text())
    meta = provenance["models"][0]["versions"][0]["config"]["meta"]["gen_model"]
    assert meta["origin"] == "llm" and meta["model"] == "strong-model" and meta["attempts"] == 2
    assert meta["request"] == "seats per plan"


def test_generation_stops_at_max_attempts_and_writes_nothing(sample_project):
    git_snapshot(sample_project)
    bad = dict(PLAN_REVENUE, sql="select plan_id from plans")
    provider = ScriptedProvider([bad, bad, bad])
    request = Request(text="seats per plan", models=("m",), max_attempts=2)
    with pytest.raises(GateError) as raised:
        generate(load_project(sample_project), request, Options(), provider=provider)
    assert provider.calls == 2
    assert raised.value.message.startswith("no proposal passed the gates in 2 attempt(s)")
    assert git_status(sample_project) == ""


def test_generate_without_an_api_key_is_a_configuration_error(sample_project, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["seats per plan", "--project-dir", str(sample_project)])
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY" in result.stderr
    assert "Traceback" not in result.output


def test_generate_through_the_real_anthropic_sdk(sample_project, monkeypatch):
    """The SDK builds and parses real HTTP; only the network answer is canned."""
    seen = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx2.Response(
            200,
            json={
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "propose_model", "input": PLAN_REVENUE}],
                "stop_reason": "tool_use",
                "stop_sequence": None,
                "usage": {"input_tokens": 2100, "output_tokens": 300},
            },
        )

    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    provider = AnthropicProvider(http_client=client)
    request = Request(text="seats and subscriptions per plan")
    report = generate(load_project(sample_project), request, Options(), provider=provider)
    assert report.status == "written"
    assert len(seen) == 1, "one LLM call"
    assert "seats and subscriptions per plan" in json.dumps(seen[0]["messages"])
    assert report.tokens_in == 2100 and report.tokens_out == 300
    assert report.cost_usd is not None


def test_an_overloaded_provider_exits_3_and_writes_nothing(sample_project, monkeypatch):
    """529 on every try: the SDK retries (twice, by default), then gen-model gives up cleanly."""
    git_snapshot(sample_project)
    calls = []

    def overloaded(request: httpx2.Request) -> httpx2.Response:
        calls.append(request)
        error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        return httpx2.Response(529, json=error, headers={"retry-after-ms": "1"})

    import generator.llm.providers as providers

    real_factory = providers.make_provider

    def with_mocked_network(name, settings=None, http_client=None):
        return real_factory(name, settings, httpx2.Client(transport=httpx2.MockTransport(overloaded)))

    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")
    monkeypatch.setattr(providers, "make_provider", with_mocked_network)
    result = CliRunner().invoke(cli, ["seats per plan", "--project-dir", str(sample_project)])
    assert result.exit_code == 3, result.output
    assert "529" in result.stderr
    assert "Traceback" not in result.output
    assert len(calls) == 3
    assert git_status(sample_project) == ""


def test_no_unit_test_skips_the_row_search_but_keeps_derived_data_tests(sample_project, tmp_path):
    proposal = write_proposal(tmp_path, PLAN_REVENUE)
    result = CliRunner().invoke(
        cli, ["apply", str(proposal), "--project-dir", str(sample_project), "--no-unit-test", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["unit_tests"] == 0
    assert {t["kind"] for t in report["tests"]} >= {"grain"}
    assert "unit_tests:" not in (sample_project / "models/marts/plan_seat_totals.yml").read_text()


def test_the_warehouse_is_free_while_the_llm_thinks(sample_project):
    # Another process (a `dbt build`, a person's DuckDB shell) can open the warehouse
    # read-write during every LLM wait: the sandbox is opened for the gates only.
    import sys

    warehouse = sample_project / "warehouse.duckdb"
    opened: list[int] = []

    class Probing(ScriptedProvider):
        def complete(self, prompt, model):
            probe = f"import duckdb; duckdb.connect({str(warehouse)!r}).close()"
            opened.append(subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode)
            return super().complete(prompt, model)

    hallucinated = dict(
        PLAN_REVENUE, sql=PLAN_REVENUE["sql"].replace("subscriptions.seats", "subscriptions.seat_total")
    )
    provider = Probing([hallucinated, PLAN_REVENUE])
    request = Request(text="seats per plan", models=("cheap-model", "strong-model"))
    report = generate(load_project(sample_project), request, Options(), provider=provider)
    assert report.status == "written"
    assert opened == [0, 0]  # the first wait and the repair's
