"""Coverage by several rows of one group, and the operators the held-out shop set asked for
(issue 13: a window frame, date_diff units, every sibling of a filtered value)."""

from __future__ import annotations

import sqlglot

from generator.testgen.coverage import frame_rows, named_values, pair_classes, spread_classes
from generator.testgen.mutate import enumerate_mutants
from generator.testgen.unit_fixtures import FixtureSearch, choose_rows

SQL = """
    with kept as (
        select account_id, subscription_id, started_at
        from {{ ref('stg_billing__subscriptions') }}
        where subscription_status <> 'canceled'
    ),

    firsts as (
        select account_id, min(started_at) as first_started_at
        from kept
        group by account_id
    ),

    ages as (
        select
            kept.account_id,
            date_diff('month', firsts.first_started_at, kept.started_at) as months_since_first
        from kept
        inner join firsts on firsts.account_id = kept.account_id
    )

    select
        account_id,
        months_since_first,
        count(*) as subscriptions,
        sum(count(*)) over (
            partition by account_id order by months_since_first rows between 2 preceding and current row
        ) as rolling_subscriptions
    from ages
    group by account_id, months_since_first
"""


# Plans have subscriptions in many months (an account has one kept subscription in the
# sample data): the partitions a frame needs.
ROLLING_SQL = """
    select
        plan_id,
        date_trunc('month', started_at) as month,
        count(*) as subscriptions,
        sum(count(*)) over (
            partition by plan_id order by date_trunc('month', started_at) rows between 2 preceding and current row
        ) as rolling_subscriptions
    from {{ ref('stg_billing__subscriptions') }}
    where subscription_status <> 'canceled'
    group by plan_id, date_trunc('month', started_at)
"""


def _proposal(sql: str = SQL, grain: tuple[str, str] = ("account_id", "months_since_first")):
    columns = (*grain, "subscriptions", "rolling_subscriptions")
    return {
        "name": "subscription_ages",
        "layer": "marts",
        "description": "Subscriptions per group and month.",
        "grain": list(grain),
        "sql": sql,
        "columns": [{"name": name, "description": name} for name in columns],
    }


def test_named_values_and_frame_rows_read_the_sql():
    tree = sqlglot.parse_one(
        "select sum(x) over (order by m rows between 2 preceding and 1 following) from t "
        "where s <> 'returned' and k in ('a', 'b') and 'z' = s",
        read="duckdb",
    )
    assert {column: set(values) for column, values in named_values(tree).items()} == {
        "s": {"returned", "z"},
        "k": {"a", "b"},
    }
    assert frame_rows(tree) == 2
    assert frame_rows(sqlglot.parse_one("select sum(x) over (order by m) from t", read="duckdb")) == 0


def test_a_frame_a_date_diff_unit_and_every_sibling_are_mutated(gate_proposal):
    mutants = enumerate_mutants(gate_proposal(_proposal()))
    labels = [m.label() for m in mutants]
    frames = [m for m in mutants if m.operator == "window-frame"]
    # Searched: the unit-test row search must find a partition longer than the frame.
    assert frames and not any(m.held_out for m in frames), labels
    assert any("`2 preceding` -> `1 preceding`" in label for label in labels), labels
    assert any("`2 preceding` -> `3 preceding`" in label for label in labels), labels
    assert any(m.held_out and m.operator == "date-unit" and "date_diff" in m.description for m in mutants), labels
    # Every other accepted status, not only the first, replaces the one the filter names.
    swapped = {value for value in ("trialing", "active", "past_due") if f"with '{value}' instead" in " ".join(labels)}
    assert swapped == {"trialing", "active", "past_due"}, labels


def test_the_fixture_covers_rows_of_one_group_and_a_partition_longer_than_the_frame(gate_proposal):
    ctx = gate_proposal(_proposal(ROLLING_SQL, ("plan_id", "month")))
    search = FixtureSearch(ctx)
    search.setup()
    try:
        pairs = pair_classes(search)
        spreads = spread_classes(search)
        whats = [what for _, what, _, _ in pairs + spreads]
        # (No plan's first subscription has a second within a month in the next month in the
        # sample data: "less than a month apart" is the held-out shop benchmark's to show.)
        assert any("subscription_status = 'canceled'" in what for what in whats), whats
        assert spreads and all(len(rows) == 4 for _, _, candidates, _ in spreads for rows in candidates), spreads
        for index, _, candidates, group in pairs + spreads:
            for rows in candidates:
                # Each candidate is rows of one group: what they show, they show together.
                assert len({repr(search.value_of(index, row, group)) for row in rows}) == 1
        choice = choose_rows(search, [m for m in enumerate_mutants(ctx) if m.operator == "window-frame"])
        assert choice.killed and not choice.unkillable, (choice.killed, choice.unkillable)
    finally:
        search.teardown()
