"""The shop realistic-bug benchmark keeps working: one bug and one refactor on one mart.

The full run (benchmarks/realistic_bugs_shop.py) prepares three marts and scores 40-odd
changes in about a minute and a half; this applies one proposal to the shared initialised
shop copy and scores one entry of each kind, so a renamed API or a regenerated SQL text
that no longer holds a bug's old text fails here first.
"""

from __future__ import annotations

import pytest

from benchmarks.realistic_bugs import run
from benchmarks.realistic_bugs_shop import SHOP_BUGS, apply_proposals

pytestmark = pytest.mark.dbt

MART = "order_status_funnel"


def entry(kind: str, description: str):
    """The SHOP_BUGS entry of MART with this class and description."""
    return next(bug for bug in SHOP_BUGS[MART] if bug[0] == kind and bug[1] == description)


def test_a_bug_is_caught_and_a_refactor_raises_no_alarm_on_shop(shop_project_with_package, capsys):
    apply_proposals(shop_project_with_package, [MART])
    chosen = [
        entry("multiplicity", "customers counted once per order"),
        entry("refactor", "count a never-null key"),
    ]
    assert run(shop_project_with_package, {MART: chosen}) == 0
    report = capsys.readouterr().out
    assert "1 output-changing bugs" in report
    assert "false alarms 0 of 1 refactors" in report
