"""Two rows of one group across a night (issue 13; the fourth held-out set's 'active days in
New York time', benchmarks/realistic_bugs_hn.py): two events of one account on two days less
than a day apart, the later in the first hours of its UTC day, so a time-zone shift of a
`cast(occurred_at as date)` changes a count of distinct days. The pair need not start its
group: an account's events of one night are rarely its first."""

from __future__ import annotations

from datetime import timedelta

import sqlglot

from generator.testgen.coverage import DAY_START_HOURS, day_columns, pair_classes
from generator.testgen.unit_fixtures import FixtureSearch

SQL = """
    select account_id, count(distinct cast(occurred_at as date)) as active_days, count(*) as events
    from {{ ref('stg_events__events') }}
    group by account_id
"""


def _proposal():
    columns = ("account_id", "active_days", "events")
    return {
        "name": "account_active_days",
        "layer": "marts",
        "description": "Days with an event per account.",
        "grain": ["account_id"],
        "sql": SQL,
        "columns": [{"name": name, "description": name} for name in columns],
    }


def test_two_rows_of_one_group_across_a_night(gate_proposal):
    search = FixtureSearch(gate_proposal(_proposal()))
    search.setup()
    try:
        nights = [(index, pairs) for index, what, pairs, _ in pair_classes(search) if "less than a day" in what]
        assert nights, [what for _, what, _, _ in pair_classes(search)]
        for index, pairs in nights:
            for a, b in pairs:
                assert search.value_of(index, a, "account_id") == search.value_of(index, b, "account_id")
                earlier, later = search.value_of(index, a, "occurred_at"), search.value_of(index, b, "occurred_at")
                assert earlier.date() != later.date() and later - earlier < timedelta(days=1)
                assert later.hour < DAY_START_HOURS
    finally:
        search.teardown()


def test_only_a_day_the_sql_takes_itself_asks_for_a_night_pair():
    tree = sqlglot.parse_one(
        "select cast(date_trunc('month', a) as date), count(distinct cast(b as date)), date_trunc('day', c) from t",
        read="duckdb",
    )
    assert day_columns(tree) == {"b", "c"}
