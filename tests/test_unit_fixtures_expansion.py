"""A covered row on a parent input brings the fewest children (issue 13; the fifth realistic
set's two misses, benchmarks/realistic_bugs_flight.py): covering the values of a filtered
column of a parent input (a plan's tier here, a fare package's cancellation policy there)
with blocks of EXPANSION children per key value spent a child input's row budget on one
class, and the later candidates (a month boundary, a second child of one group) no longer
fit. A lean block, one child per key value, is offered before the full one."""

from __future__ import annotations

from generator.testgen.unit_fixtures import EXPANSION, FixtureSearch, choose_rows

SQL = """
    select plans.plan_tier, count(*) as subscriptions, sum(subscriptions.seats) as seats
    from {{ ref('stg_billing__subscriptions') }} as subscriptions
    join {{ ref('stg_billing__plans') }} as plans on subscriptions.plan_id = plans.plan_id
    where plans.plan_tier in ('growth', 'enterprise')
    group by plans.plan_tier
"""


def _proposal():
    columns = ("plan_tier", "subscriptions", "seats")
    return {
        "name": "paid_tier_subscriptions",
        "layer": "marts",
        "description": "Subscriptions and seats per paid plan tier.",
        "grain": ["plan_tier"],
        "sql": SQL,
        "columns": [{"name": name, "description": name} for name in columns],
    }


def _inputs(search):
    plans = next(item.index for item in search.inputs if "plans" in item.text)
    subscriptions = next(item.index for item in search.inputs if "subscriptions" in item.text)
    return plans, subscriptions


def test_a_lean_block_has_one_child_per_key_value(gate_proposal):
    search = FixtureSearch(gate_proposal(_proposal()))
    search.setup()
    try:
        plans, subscriptions = _inputs(search)
        tiers = [rows for index, column, _, rows in search.value_classes() if index == plans]
        assert tiers, search.value_classes()
        row = tiers[0][0]
        lean = search.block((plans, row), False, 1)
        full = search.block((plans, row), False)
        assert len(lean[subscriptions]) == 1
        assert len(full[subscriptions]) == EXPANSION
        # The lean block's child is the full one's first: the same rows, fewer of them.
        assert set(lean[subscriptions]) <= set(full[subscriptions])
        # A child's lean block keeps its siblings (the other subscriptions of its plan): they
        # are what its group's aggregates read.
        child = lean[subscriptions][0]
        assert search.block((subscriptions, child), False, 1) == search.block((subscriptions, child), False)
    finally:
        search.teardown()


def test_covering_a_parent_value_brings_one_child(gate_proposal):
    search = FixtureSearch(gate_proposal(_proposal()))
    search.setup()
    try:
        plans, subscriptions = _inputs(search)
        choice = choose_rows(search, [])
        # The tiers the filter keeps (the others change no expected row: a re-check drops them).
        tiers = {"plan_tier = 'growth'", "plan_tier = 'enterprise'"}
        assert tiers <= set(choice.covered), choice.covered
        picked = choice.picks.get(subscriptions) or []
        per_plan: dict[object, int] = {}
        for row in picked:
            plan = search.value_of(subscriptions, row, "plan_id")
            per_plan[plan] = per_plan.get(plan, 0) + 1
        # No class needs EXPANSION subscriptions of one plan: one child shows a tier in or out.
        assert max(per_plan.values()) < EXPANSION, per_plan
        assert len(picked) < len(tiers) * EXPANSION, picked
    finally:
        search.teardown()
