"""The unit-test row search keeps to what its inputs' tests allow, and covers what a first
contact on a new domain (benchmarks/realistic_bugs_nyc.py) found it missed.

* A twin (a row copied under a fresh key) never invents a value for a key column a test
  bounds: a payment-type seed whose unique `payment_type` is also accepted_values got a twin
  `'credit_card_2'`, and the whole unit test was dropped as impossible. Such a column takes
  null where it may be null, else the row gets no twin.
* A boolean column tested bare (`filter (where t.is_shared_match)`, `a or b`, `not x`,
  `case when x`) is a condition of its own: the search covers its values like a column
  compared with text literals.
* A threshold between two dates (`closed_at < created_at + interval '7' day`,
  `date_diff('day', a, b) <= 7`) is read as (later, earlier, N, unit): the search then
  covers rows just past it, at it and just under it.
"""

from __future__ import annotations

import dataclasses

import sqlglot
from sqlglot import exp

from generator.project.catalog import ForeignKey
from generator.testgen.coverage import thresholds
from generator.testgen.unit_fixtures import FixtureSearch, bounded_columns, is_bare_predicate

# Subscriptions per plan: its input has a unique key (subscription_id) and a unique,
# nullable one (previous_subscription_id).
PER_PLAN = {
    "name": "plan_subscriptions",
    "layer": "marts",
    "description": "Subscriptions per plan.",
    "grain": ["plan_id"],
    "sql": (
        "select plan_id, count(*) as subscriptions, count(previous_subscription_id) as changes\n"
        "from {{ ref('stg_billing__subscriptions') }}\n"
        "group by plan_id\n"
    ),
    "columns": [
        {"name": "plan_id", "description": "The plan."},
        {"name": "subscriptions", "description": "Its subscriptions."},
        {"name": "changes", "description": "Those that replaced another."},
    ],
}


def _with_parent(relation, name: str):
    parent = ForeignKey(column=name, to="model.x.parents", to_column="id")
    return dataclasses.replace(relation, foreign_keys=(*relation.foreign_keys, parent))


def _with_accepted_values(relation, name: str):
    columns = tuple(
        dataclasses.replace(column, accepted_values=("a", "b")) if column.name == name else column
        for column in relation.columns
    )
    return dataclasses.replace(relation, columns=columns)


def test_a_twin_never_invents_a_value_a_test_bounds(gate_proposal):
    search = FixtureSearch(gate_proposal(PER_PLAN))
    search.setup()
    try:
        (item,) = search.inputs
        item.relation = _with_parent(item.relation, "previous_subscription_id")
        assert {"previous_subscription_id", "subscription_status"} <= bounded_columns(item.relation)
        # A nullable bounded key (a relationships test on previous_subscription_id) is null
        # in the twin; the other key is fresh.
        row = next(r for r in range(1, item.rows + 1) if search.value_of(0, r, "previous_subscription_id"))
        twin = search.twin(0, row)
        assert twin is not None
        assert search.value_of(0, twin, "previous_subscription_id") is None
        assert search.value_of(0, twin, "subscription_id") == search.value_of(0, row, "subscription_id") + "_2"
        # A key that is also accepted_values and not null (a seed's payment_type): no twin.
        item.relation = _with_accepted_values(item.relation, "subscription_id")
        assert search.twin(0, row + 1) is None
    finally:
        search.teardown()


def test_a_boolean_tested_bare_is_a_condition_of_its_own():
    tree = sqlglot.parse_one(
        "select count(*) filter (where t.a), sum(case when t.b or (t.c) then 1 end),"
        " count(*) filter (where t.d = 'x'), max(t.g) from t where not t.e and t.f > 1",
        read="duckdb",
    )
    bare = [column.name for column in tree.find_all(exp.Column) if is_bare_predicate(column)]
    assert sorted(bare) == ["a", "b", "c", "e"]


def test_thresholds_between_two_dates_are_read_from_the_sql():
    def read(sql: str):
        return thresholds(sqlglot.parse_one(sql, read="duckdb"))

    assert read(
        "select 1 from t where t.closed_at >= t.created_at and t.closed_at < t.created_at + interval '7' day"
    ) == [("closed_at", "created_at", 7, "day")]
    assert read("select count(*) filter (where date_diff('day', x, y) <= 7) from t") == [("y", "x", 7, "day")]
    assert read("select 1 from t where x - interval 2 hour > y") == [("x", "y", 2, "hour")]
    assert read("select 1 from t where interval '3' month + b > a") == [("a", "b", 3, "month")]
    assert read("select 1 from t where x < y + 1 and date_diff('day', x, y) <= z") == []
