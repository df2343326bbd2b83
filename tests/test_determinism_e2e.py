"""The determinism gate's DuckDB-derived rule through the real CLI (gen-model apply)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli

pytestmark = pytest.mark.dbt

SQL = """select
    invoice_id,
    txid_current() as transaction_id,
    date_trunc('month', created_at::timestamptz) as invoice_month
from {{ ref('stg_billing__invoices') }}
"""


def proposal(directory: Path, sql: str, columns: list[str]) -> Path:
    path = directory / "proposal.yml"
    data = {
        "name": "invoice_months",
        "layer": "marts",
        "description": "The month of each invoice.",
        "grain": ["invoice_id"],
        "sql": sql,
        "columns": [{"name": name, "description": f"The {name}."} for name in columns],
    }

    class Literal(yaml.SafeDumper):
        pass

    Literal.add_representer(
        str, lambda d, v: d.represent_scalar("tag:yaml.org,2002:str", v, style="|" if "\n" in v else None)
    )
    path.write_text(yaml.dump(data, Dumper=Literal, sort_keys=False))
    return path


def unpin_time_zone(project: Path) -> None:
    """Drop the profile's `settings: TimeZone: UTC`, as a project that pins no zone has it."""
    profiles = project / "profiles.yml"
    text = profiles.read_text()
    start = text.index("      settings:\n")
    end = text.index("TimeZone: UTC\n", start) + len("TimeZone: UTC\n")
    profiles.write_text(text[:start] + text[end:])


def test_run_dependent_and_time_zone_dependent_calls_are_refused_where_they_are(sample_project, tmp_path):
    unpin_time_zone(sample_project)
    path = proposal(tmp_path, SQL, ["invoice_id", "transaction_id", "invoice_month"])
    result = CliRunner().invoke(cli, ["apply", str(path), "--project-dir", str(sample_project)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert f"{path}:9:7: [determinism] txid_current() reads the session, connection or transaction" in result.stderr
    assert (
        f"{path}:10:7: [determinism] date_trunc() of the timestamptz CAST(created_at AS TIMESTAMPTZ) depends on "
        "the session's TimeZone setting" in result.stderr
    )
    assert "use CAST(created_at AS TIMESTAMPTZ) at time zone 'UTC'" in result.stderr
    assert not (sample_project / "models" / "marts" / "invoice_months.yml").exists()


def test_the_advised_fix_passes_every_gate_and_builds(sample_project, tmp_path):
    fixed = (
        "select\n"
        "    invoice_id,\n"
        "    date_trunc('month', created_at::timestamptz at time zone 'UTC') as invoice_month\n"
        "from {{ ref('stg_billing__invoices') }}\n"
    )
    path = proposal(tmp_path, fixed, ["invoice_id", "invoice_month"])
    result = CliRunner().invoke(cli, ["apply", str(path), "--project-dir", str(sample_project), "--no-unit-test"])
    assert result.exit_code == 0, result.output
    assert "determinism ✓" in result.output


def test_a_zone_pinned_by_the_profile_makes_timestamptz_parts_deterministic(sample_project, tmp_path):
    # The sample profile pins TimeZone: UTC for every session dbt opens: the same rows everywhere.
    sql = SQL.replace("    txid_current() as transaction_id,\n", "")
    path = proposal(tmp_path, sql, ["invoice_id", "invoice_month"])
    result = CliRunner().invoke(cli, ["apply", str(path), "--project-dir", str(sample_project), "--no-unit-test"])
    assert result.exit_code == 0, result.output
    assert "[determinism]" not in result.output
