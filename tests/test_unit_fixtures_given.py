"""Fixtures that give every not_null and unique column of their inputs (issue 13; the false
alarm of the fourth held-out set, benchmarks/realistic_bugs_hn.py): dbt fills an absent column
with null, so a row without a not_null column could not happen, and `count(city)` in place of
`count(*)` would count none of its rows."""

from __future__ import annotations

from generator.project.catalog import Column, Relation
from generator.testgen.unit_fixtures import FixtureSearch, constraint_violations
from generator.testgen.unit_runner import GivenInput

SQL = """
    select account_id, count(*) filter (where amount_due >= 100) as large_invoices, count(*) as invoices
    from {{ ref('stg_billing__invoices') }}
    group by account_id
"""


def _proposal():
    columns = ("account_id", "large_invoices", "invoices")
    return {
        "name": "invoice_counts",
        "layer": "marts",
        "description": "Invoices per account.",
        "grain": ["account_id"],
        "sql": SQL,
        "columns": [{"name": name, "description": name} for name in columns],
    }


def test_every_not_null_and_unique_column_is_given(gate_proposal):
    search = FixtureSearch(gate_proposal(_proposal()))
    (item,) = search.inputs
    # Searched (rows numbered and seeded by): what the SQL reads and the key...
    assert item.searched == ["invoice_id", "account_id", "amount_due"]
    # ...given: every column a test keeps from null too (amount_paid is not read).
    assert {"subscription_id", "invoice_status", "amount_paid", "period_start_at"} <= set(item.read)
    assert set(item.searched) <= set(item.read)


def test_an_absent_not_null_column_is_a_row_that_could_not_happen():
    cities = Relation(
        unique_id="model.p.cities",
        resource_type="model",
        name="cities",
        database="db",
        schema="main",
        identifier="cities",
        columns=(Column("city_id", not_null=True, unique=True), Column("city", not_null=True), Column("pm25")),
        primary_key=("city_id",),
    )
    given = (GivenInput("ref('cities')", ({"city_id": 1, "city": "Vlore", "pm25": 5}, {"city_id": 2, "pm25": 6})),)
    assert constraint_violations(given, {"ref('cities')": cities}) == [
        "ref('cities'): row 2: city is not given (null to dbt) (not_null)"
    ]
    given = (GivenInput("ref('cities')", ({"city_id": 1, "city": "Vlore"},)),)
    assert constraint_violations(given, {"ref('cities')": cities}) == []
