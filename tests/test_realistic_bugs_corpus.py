"""The realistic-bug benchmarks on corpus domains (nyc, hn, flight): each fixture project
builds and its bugs still apply.

A full run (benchmarks/realistic_bugs_<set>.py) prepares three marts on a copy of the
corpus' databases and scores 40-odd changes in about a minute; this prepares each fixture
project with one proposal (a dbt build, `gen-model init`, one `gen-model apply`) and checks
that the written SQL holds the old text of each of that mart's bugs, so a fixture project
that no longer builds or a regenerated SQL that a bug no longer matches fails here first.
Scoring is left to the benchmarks (the shop's test covers `realistic_bugs.run`).
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

from tests.conftest import SHARED_DIR, missing_shared

pytestmark = pytest.mark.dbt

# set -> (its bugs, the mart checked, the corpus databases it copies besides WAREHOUSE)
SETS = {
    "nyc": ("NYC_BUGS", "rideshare_hourly", ()),
    "hn": ("HN_BUGS", "air_quality_regional", ("WHO",)),
    "flight": ("FLIGHT_BUGS", "package_monthly", ("LAPTOP",)),
}


@pytest.mark.parametrize("name", list(SETS))
def test_the_project_builds_and_every_bug_of_a_mart_applies(name: str, tmp_path: Path):
    bugs, mart, extra = SETS[name]
    module = importlib.import_module(f"benchmarks.realistic_bugs_{name}")
    for database in (module.WAREHOUSE, *(getattr(module, attribute) for attribute in extra)):
        if not (SHARED_DIR / database).is_file():
            missing_shared(f"the {database.stem} warehouse")
    proposals = tmp_path / "proposals"
    proposals.mkdir()
    shutil.copy(module.PROPOSALS / f"{mart}.yml", proposals)
    project_dir = module.prepare(tmp_path, SHARED_DIR, proposals)
    written = (project_dir / "models" / "marts" / f"{mart}_v1.sql").read_text(encoding="utf-8")
    assert [bug[1] for bug in getattr(module, bugs)[mart] if bug[2] not in written] == []
