"""The flight / computer-shop realistic-bug benchmark's fixture project builds and its bugs still apply.

The full run (benchmarks/realistic_bugs_flight.py) prepares three marts on a copy of the
corpus' flightinfo.duckdb (with laptop.duckdb's tables copied in) and scores 52 changes in
about a minute; this prepares the fixture project with one proposal (a dbt build, `gen-model
init`, one `gen-model apply`) and checks that the written SQL holds the old text of each of
that mart's bugs, so a fixture project that no longer builds or a regenerated SQL that a bug
no longer matches fails here first. Scoring is left to the benchmark (the shop's test
covers `realistic_bugs.run`).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.realistic_bugs_flight import FLIGHT_BUGS, LAPTOP, PROPOSALS, WAREHOUSE, prepare
from tests.conftest import SHARED_DIR, missing_shared

pytestmark = pytest.mark.dbt

MART = "package_monthly"


def test_the_project_builds_and_every_bug_of_a_mart_applies_on_flight(tmp_path: Path):
    for database in (WAREHOUSE, LAPTOP):
        if not (SHARED_DIR / database).is_file():
            missing_shared(f"the {database.stem} warehouse")
    proposals = tmp_path / "proposals"
    proposals.mkdir()
    shutil.copy(PROPOSALS / f"{MART}.yml", proposals)
    project_dir = prepare(tmp_path, SHARED_DIR, proposals)
    written = (project_dir / "models" / "marts" / f"{MART}_v1.sql").read_text(encoding="utf-8")
    assert [bug[1] for bug in FLIGHT_BUGS[MART] if bug[2] not in written] == []
