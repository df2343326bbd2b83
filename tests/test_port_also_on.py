"""`gen-model apply --also-on spark`: the new model ported in the run's own transaction, or nothing.

One JVM for this module (the port's local Spark, reused by each proof in this process).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli

pytestmark = pytest.mark.spark

SEAT_TOTALS = {
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


@pytest.fixture(autouse=True)
def _java():
    if shutil.which("java") is None:
        pytest.fail("no JDK on PATH: Spark needs one (.ci/run installs openjdk-17-jre-headless from apt)")


def proposal_file(directory: Path, data: dict) -> Path:
    path = directory / "proposal.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def project_files(root: Path) -> dict[str, bytes]:
    """Every file a run could write: models, dbt_project.yml, the lockfile."""
    paths = [*sorted((root / "models").rglob("*")), root / "dbt_project.yml", root / "gen_model.lock"]
    return {str(path.relative_to(root)): path.read_bytes() for path in paths if path.is_file()}


def test_apply_also_on_spark_writes_the_model_and_its_proven_port_together(sample_project, tmp_path):
    proposal = proposal_file(tmp_path, SEAT_TOTALS)
    result = CliRunner().invoke(
        cli, ["apply", str(proposal), "--project-dir", str(sample_project), "--also-on", "spark", "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["status"] == "written"

    ported = (sample_project / "models/marts/spark/plan_seat_totals_v1.sql").read_text()
    assert "FROM {{ ref('stg_billing__plans') }}" in ported and "LEFT JOIN billing_subscriptions AS" in ported
    config = yaml.safe_load((sample_project / "dbt_project.yml").read_text())["models"]["gen_model"]["marts"]
    assert config["plan_seat_totals_v1"]["+enabled"] == (
        "{{ (target.profile_name == 'gen_model') and target.type != 'spark' }}"
    )
    assert config["spark"]["plan_seat_totals_v1"]["+enabled"] == (
        "{{ (target.profile_name == 'gen_model') and target.type == 'spark' }}"
    )
    version = yaml.safe_load((sample_project / "models/marts/plan_seat_totals.yml").read_text())["models"][0]
    types = {column["name"]: column["data_type"] for column in version["versions"][0]["columns"]}
    assert types == {
        "plan_id": "{{ 'string' if target.type == 'spark' else 'varchar' }}",
        "subscription_count": "bigint",
        "seat_count": "{{ 'bigint' if target.type == 'spark' else 'hugeint' }}",
    }
    lock = yaml.safe_load((sample_project / "gen_model.lock").read_text())
    port = lock["ports"]["plan_seat_totals.v1"]["spark"]  # keyed by model and version
    assert port["file"] == "models/marts/spark/plan_seat_totals_v1.sql"
    assert [row_set["name"] for row_set in port["row_sets"]][-1].startswith("a sample of the real inputs")

    verified = CliRunner().invoke(cli, ["verify", "--project-dir", str(sample_project)])
    assert verified.exit_code == 0, verified.output


def test_apply_also_on_spark_refused_by_the_port_writes_nothing(sample_project, tmp_path):
    from generator.project import dbt

    before = project_files(sample_project)
    averaged = dict(
        SEAT_TOTALS,
        sql=SEAT_TOTALS["sql"].replace(
            "    coalesce(sum(subscriptions.seats), 0) as seat_count\n",
            "    coalesce(sum(subscriptions.seats), 0) as seat_count,\n"
            "    round(avg(subscriptions.seats), 2) as average_seats\n",
        ),
        columns=[*SEAT_TOTALS["columns"], {"name": "average_seats", "description": "Seats per subscription."}],
    )
    proposal = proposal_file(tmp_path, averaged)
    result = CliRunner().invoke(
        cli, ["apply", str(proposal), "--project-dir", str(sample_project), "--also-on", "spark"]
    )
    assert result.exit_code == 1, result.output
    assert "models/marts/plan_seat_totals_v1.sql:" in result.stderr and "[port:round]" in result.stderr
    assert project_files(sample_project) == before
    dbt.release_duckdb()  # dbt-duckdb's handle in this process, before reading the file
    import duckdb

    with duckdb.connect(str(sample_project / "warehouse.duckdb"), read_only=True) as connection:
        left = connection.execute("select count(*) from duckdb_tables() where table_name = 'plan_seat_totals_v1'")
        assert left.fetchone()[0] == 0
