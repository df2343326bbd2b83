"""Two rows of one group with one counted value (issue 13; the fourth held-out set's
distinct-add mutants on an input without a unique key, benchmarks/realistic_bugs_hn.py):
equal_value_candidates looks inside `count(x)` as inside sum and avg, so a fixture can tell
`count(x)` from `count(distinct x)` where no twin can be made."""

from __future__ import annotations

from generator.testgen.unit_fixtures import FixtureSearch

SQL = """
    select account_id, count(payment_amount) as payments, count(*) as attempts
    from {{ ref('stg_billing__payments') }}
    group by account_id
"""


def _proposal():
    columns = ("account_id", "payments", "attempts")
    return {
        "name": "account_payments",
        "layer": "marts",
        "description": "Payments per account.",
        "grain": ["account_id"],
        "sql": SQL,
        "columns": [{"name": name, "description": name} for name in columns],
    }


def test_a_counted_column_gets_two_rows_of_one_group_with_one_value(gate_proposal):
    search = FixtureSearch(gate_proposal(_proposal()))
    search.setup()
    try:
        (item,) = search.inputs
        picked = [1, 2, 3]
        found = search.equal_value_candidates(item.index, picked)
        assert [what for _, what, _ in found] == [
            "two rows of one group with one payment_amount in ref('stg_billing__payments')"
        ]
        ((_, _, rows),) = found
        for row in rows:
            assert row not in picked
            mates = [
                other
                for other in picked
                if search.value_of(item.index, other, "account_id") == search.value_of(item.index, row, "account_id")
                and search.value_of(item.index, other, "payment_amount")
                == search.value_of(item.index, row, "payment_amount")
            ]
            assert mates, row
    finally:
        search.teardown()
