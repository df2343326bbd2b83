"""What every command pays before it runs: the CLI's own imports stay lean.

`gen-model context`, `verify`, `diff` and `review` are held to a fraction of a warm `dbt
parse` (issue #16); a module imported at the CLI's import is paid by each of them, used or
not. Checked in a fresh interpreter (a test process has imported everything already).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# Imported by the commands that need them, never by the CLI itself.
NOT_AT_STARTUP = ("jsonschema", "generator.enrich", "duckdb", "sqlglot", "dbt", "polars", "anthropic", "openai")

SCRIPT = "import json, sys\nimport generator.cli\nprint(json.dumps(sorted(name for name in sys.modules)))\n"


def test_importing_the_cli_loads_none_of_the_heavy_modules():
    completed = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=REPO, check=True)
    loaded = json.loads(completed.stdout)
    heavy = [name for name in loaded if any(name == top or name.startswith(top + ".") for top in NOT_AT_STARTUP)]
    assert heavy == []


def test_the_proposal_schema_is_one_object_built_on_first_use():
    from generator import proposal
    from generator.proposal import PROPOSAL_SCHEMA

    assert PROPOSAL_SCHEMA is proposal.proposal_schema() is proposal.PROPOSAL_SCHEMA
    assert PROPOSAL_SCHEMA["properties"]["spec"]["type"] == "object"
