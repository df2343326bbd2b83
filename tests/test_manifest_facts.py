"""verify and review on an unchanged project read the manifest's facts, not dbt's Manifest.

Importing dbt to load the stored Manifest was most of what these commands cost on an
unchanged project; the facts they read (contracts, column types, tests, YAML files) are
stored as plain JSON beside the catalog cache. Through the CLI, in fresh processes (an
import cannot be undone in this one), on a copy of ../shared/corpora/shop_project.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from tests.shop_support import ORDER_COUNTS

REPO = Path(__file__).resolve().parents[1]
# Runs the CLI, then says on stderr whether dbt's Manifest class was ever imported.
RUN_AND_TELL = (
    "import sys\n"
    "from generator.cli import cli\n"
    "try:\n"
    "    cli.main(sys.argv[1:], prog_name='gen-model')\n"
    "finally:\n"
    "    print('dbt manifest imported:', 'dbt.contracts.graph.manifest' in sys.modules, file=sys.stderr)\n"
)


def gen_model(project: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, DO_NOT_TRACK="1", PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-c", RUN_AND_TELL, *args, "--project-dir", str(project)],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture
def applied_shop(shop_project_with_package: Path, tmp_path: Path) -> Path:
    """The built shop project, initialised, with one generated model applied."""
    shop_project = shop_project_with_package
    runner = CliRunner()
    proposal = tmp_path / "order_counts.yml"
    proposal.write_text(yaml.safe_dump(ORDER_COUNTS, sort_keys=False))
    result = runner.invoke(cli, ["apply", str(proposal), "--no-unit-test", "--project-dir", str(shop_project)])
    assert result.exit_code == 0, result.output
    return shop_project


def test_verify_and_review_of_an_unchanged_project_do_not_import_dbt_and_say_the_same(applied_shop):
    rounds = []
    for _ in range(2):
        verified = gen_model(applied_shop, "verify")
        reviewed = gen_model(applied_shop, "review", "customer_order_counts")
        assert verified.returncode == 0 and reviewed.returncode == 0, verified.stderr + reviewed.stderr
        rounds.append((verified, reviewed))
    (first_verify, first_review), (second_verify, second_review) = rounds
    # The first round parsed (apply left a newer project behind) and stored the facts.
    assert "dbt manifest imported: True" in first_verify.stderr
    assert "dbt manifest imported: False" in second_verify.stderr
    assert "dbt manifest imported: False" in second_review.stderr
    # Same report either way (verify's first line holds its timing).
    assert first_verify.stdout.splitlines()[1:] == second_verify.stdout.splitlines()[1:]
    assert first_review.stdout == second_review.stdout

    # An edit is a miss: dbt parses again, and the facts follow the edit.
    yml = applied_shop / "models/marts/customer_order_counts.yml"
    text = yml.read_text()
    assert "data_type: bigint" in text
    yml.write_text(text.replace("data_type: bigint", "data_type: integer"))
    again = gen_model(applied_shop, "verify")
    assert "dbt manifest imported: True" in again.stderr
    after = gen_model(applied_shop, "verify")
    assert "dbt manifest imported: False" in after.stderr
    assert after.stdout.splitlines()[1:] == again.stdout.splitlines()[1:]
