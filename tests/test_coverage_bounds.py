"""Rows at the numbers the SQL compares with (issue 13; the fourth held-out set,
benchmarks/realistic_bugs_hn.py).

* A comparison of an expression of one input's columns with a number (`amount_due >= 100`,
  `extract(hour from t) between 9 and 16`) gets rows where the expression equals each bound
  and the nearest under and over it: what tells `>=` from `>`, 16 from 17.
* A mutant of such a comparison is seeded from the rows the two comparisons disagree on.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from generator.testgen.coverage import bound_classes, bounded_expressions, disagreement
from generator.testgen.unit_fixtures import FixtureSearch

SQL = """
    select
        account_id,
        count(*) filter (where amount_due >= 100) as large_invoices,
        count(*) filter (where extract(hour from period_start_at) between 9 and 16) as office_hour_invoices,
        count(*) as invoices
    from {{ ref('stg_billing__invoices') }}
    group by account_id
"""


def _proposal(sql: str = SQL):
    columns = ("account_id", "large_invoices", "office_hour_invoices", "invoices")
    return {
        "name": "invoice_bounds",
        "layer": "marts",
        "description": "Invoices per account.",
        "grain": ["account_id"],
        "sql": sql,
        "columns": [{"name": name, "description": name} for name in columns],
    }


def test_bounded_expressions_read_comparisons_with_numbers():
    tree = sqlglot.parse_one(
        "select * from t where a >= 75 and 5 < b and hour(c) between 9 and 16 and d > e "
        "and x * y <> -1 and s = 'z' having sum(f) > 3",
        read="duckdb",
    )
    found = {
        node.sql(): bounds
        for comparison in tree.find_all(exp.Between, exp.GTE, exp.LT, exp.GT, exp.NEQ, exp.EQ)
        for node, bounds in bounded_expressions(comparison)
    }
    assert found == {"a": ["75"], "b": ["5"], "HOUR(c)": ["9", "16"], "x * y": ["-1"]}


def test_rows_at_each_bound_and_nearest_on_either_side(gate_proposal):
    search = FixtureSearch(gate_proposal(_proposal()))
    search.setup()
    try:
        classes = {what: (index, rows) for index, what, rows in bound_classes(search)}
        under, over = classes['"amount_due" just under 100'], classes['"amount_due" just over 100']
        amounts = [search.value_of(under[0], row, "amount_due") for row in under[1]]
        assert amounts and all(amount < 100 for amount in amounts) and amounts == sorted(amounts, reverse=True)
        amounts = [search.value_of(over[0], row, "amount_due") for row in over[1]]
        assert amounts and all(amount > 100 for amount in amounts) and amounts == sorted(amounts)
        hour = 'EXTRACT(HOUR FROM "period_start_at")'
        for label, wanted in (("= 9", {9}), ("just under 9", {8}), ("= 16", {16}), ("just over 16", {17})):
            index, rows = classes[f"{hour} {label}"]
            assert {search.value_of(index, row, "period_start_at").hour for row in rows} == wanted, label
    finally:
        search.teardown()


def test_a_mutant_of_a_comparison_is_seeded_where_the_two_disagree(gate_proposal):
    ctx = gate_proposal(_proposal())
    search = FixtureSearch(ctx)
    mutant = ctx.tree.copy().transform(
        lambda node: exp.GT(this=node.this, expression=node.expression) if isinstance(node, exp.GTE) else node
    )
    assert disagreement(search, mutant) == (0, '("amount_due" >= 100) is distinct from ("amount_due" > 100)')
    assert disagreement(search, ctx.tree.copy()) is None
