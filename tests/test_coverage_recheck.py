"""Coverage holds on the final rows (issue 13): every class the fixture search gave rows for
(a sibling value of a filter, a boundary of a date, rows of one group) must still change the
expected rows once the last row is chosen, or be reported as lost, never claimed."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.testgen.mutate import enumerate_mutants
from generator.testgen.unit_fixtures import FixtureSearch, choose_rows

PROPOSALS = Path(__file__).resolve().parents[1] / "examples" / "proposals"

# Subscriptions count up to the data's end, the month of the last invoice: a subscription
# started after the fixture's last invoice adds no month, so its row matters only while an
# invoice after its start is in the fixture. Which invoices the fixture holds is decided by
# rows chosen after the value classes (boundaries, mutants): what can take the row's meaning
# away after the class was covered.
DATA_END_SQL = """
    with data_end as (
        select max(period_end_at) as last_at from {{ ref('stg_billing__invoices') }}
    )

    select
        subscriptions.subscription_status,
        count(*) as running_subscriptions
    from {{ ref('stg_billing__subscriptions') }} as subscriptions
    cross join data_end
    where
        subscriptions.started_at <= data_end.last_at
        and subscriptions.subscription_status <> 'trialing'
    group by subscriptions.subscription_status
"""


def _data_end_proposal():
    return {
        "name": "running_subscriptions_by_status",
        "layer": "marts",
        "description": "Subscriptions started by the last invoice, per status.",
        "grain": ["subscription_status"],
        "sql": DATA_END_SQL,
        "columns": [
            {"name": "subscription_status", "description": "status"},
            {"name": "running_subscriptions", "description": "count"},
        ],
    }


def _without(picks, index, row):
    return {i: [r for r in rows if (i, r) != (index, row)] for i, rows in picks.items()}


def _value_rows_that_matter(search, picks, index, column, value):
    """The fixture's rows of one value of a column whose removal changes the expected rows."""
    output = search.output(picks)
    return [
        row
        for row in picks.get(index) or []
        if search.value_of(index, row, column) == value and search.output(_without(picks, index, row)) != output
    ]


def _chosen(ctx):
    search = FixtureSearch(ctx)
    search.setup()
    mutants = [m for m in enumerate_mutants(ctx) if not m.held_out]
    return search, mutants, choose_rows(search, mutants)


@pytest.mark.parametrize(
    "proposal", [PROPOSALS / "account_mrr.yml", _data_end_proposal()], ids=["account_mrr", "data_end"]
)
def test_every_covered_value_still_changes_the_expected_rows_on_the_final_rows(gate_proposal, proposal):
    ctx = gate_proposal(proposal)
    search, mutants, choice = _chosen(ctx)
    try:
        classes = {what: (index, column) for index, column, what, _ in search.value_classes()}
        # past_due is neither named by the filter nor kept out by it: a row of it counts only
        # if a later invoice is there too, which the value's own candidate rows do not bring.
        assert "subscription_status = 'past_due'" in choice.covered, (choice.covered, choice.lost)
        for what in choice.covered:
            if what in classes:
                index, column = classes[what]
                value = what.split(" = ", 1)[1].strip("'")
                assert _value_rows_that_matter(search, choice.picks, index, column, value), what
        # A value the filter drops never changes the expected rows: said, not claimed.
        assert "subscription_status = 'trialing'" in choice.lost
        assert not set(choice.covered) & set(choice.lost) & set(classes)
        # A mutant said to be told apart is told apart by the final rows too.
        by_label = {m.label(): m for m in mutants}
        assert all(search.kills(choice.picks, by_label[label].tree) for label in choice.killed)
    finally:
        search.teardown()
