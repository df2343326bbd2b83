"""Rows the unit-test search copies stay rows that could happen, and tell apart what they are for.

* A twin (a row copied with a fresh key) comes with its children, pointed at its new key: a
  twin order with its payments gives a customer two orders paid alike, which is what tells
  `sum(order_total)` from `sum(distinct order_total)`; without them the twin is an order never
  paid. Every copied row keeps the fixture possible: fresh keys, its parent present.
* A rate rounded to fewer places (`round(x, 4)` -> `round(x, 1)`) is told apart: the search
  has a precision mutant, and grows a group already in the fixture until the rate shows its
  last place (a third order in a month of two: 1/3, not 1/2).
"""

from __future__ import annotations

import pytest
import yaml

from benchmarks.realistic_bugs import run
from benchmarks.realistic_bugs_shop import SHOP_BUGS, apply_proposals
from generator.project import load_project
from generator.project.catalog_builder import build_catalog
from generator.testgen.mutate import enumerate_mutants
from generator.testgen.unit_fixtures import constraint_violations, relation_of_input
from generator.testgen.unit_runner import GivenInput

pytestmark = pytest.mark.dbt


def shop_bug(model: str, kind: str, description: str):
    """The SHOP_BUGS entry of `model` with this class and description."""
    return next(bug for bug in SHOP_BUGS[model] if bug[0] == kind and bug[1] == description)


def unit_test_of(project, model: str) -> dict:
    document = yaml.safe_load((project / "models" / "marts" / f"{model}.yml").read_text(encoding="utf-8"))
    (entry,) = document["unit_tests"]
    return entry


def test_a_twin_order_comes_with_its_payments_and_catches_a_distinct_sum(shop_project_with_package, capsys):
    project = shop_project_with_package
    model = "customer_lifetime_value"
    apply_proposals(project, [model])
    entry = unit_test_of(project, model)
    given = {item["input"]: item["rows"] for item in entry["given"]}
    orders, payments = given["ref('stg_orders')"], given["ref('stg_payments')"]

    # A twin order: the same customer, date and status as another order, another order_id...
    def same(row):
        return (row["customer_id"], row["order_date"], row["status"])

    twins = [
        (order, original)
        for order in orders
        for original in orders
        if original["order_id"] < order["order_id"] and same(original) == same(order)
    ]
    assert twins, "a customer with two orders of one kind"
    paid = {}
    for payment in payments:
        paid.setdefault(payment["order_id"], []).append(payment)
    # ...paid as the order it copies: its payments are copies pointed at its new key.
    copied = [(twin, original) for twin, original in twins if paid.get(twin["order_id"])]
    assert copied, "a twin order with its payments"
    for twin, original in copied:
        amounts = sorted(payment["amount"] for payment in paid[twin["order_id"]])
        assert amounts == sorted(payment["amount"] for payment in paid[original["order_id"]])[: len(amounts)]

    # The fixture still could happen: fresh keys, every payment's order and order's customer there.
    catalog = build_catalog(load_project(project))
    items = tuple(GivenInput(item["input"], tuple(item["rows"])) for item in entry["given"])
    assert constraint_violations(items, {item.input: relation_of_input(catalog, item.input) for item in items}) == []

    # And the unit test catches the bug that needs it.
    chosen = [shop_bug(model, "multiplicity", "equal order totals summed once")]
    assert run(project, {model: chosen}) == 0
    assert "1 output-changing bugs: unit test 100%" in capsys.readouterr().out


def test_a_rate_rounded_to_fewer_places_is_caught_by_the_unit_test(shop_project_with_package, capsys):
    project = shop_project_with_package
    model = "order_status_funnel"
    apply_proposals(project, [model])
    rates = [row["return_rate"] for row in unit_test_of(project, model)["expect"]["rows"]]
    # Some month's rate needs all 4 places: one place less changes it (and so does any fewer).
    assert any(round(float(rate), 3) != float(rate) for rate in rates), rates
    chosen = [shop_bug(model, "precision", "the rate rounded to 1 place")]
    assert run(project, {model: chosen}) == 0
    assert "1 output-changing bugs: unit test 100%" in capsys.readouterr().out


def test_the_precision_mutant_takes_one_place_off_a_literal_precision(gate_proposal):
    ctx = gate_proposal(
        {
            "name": "seat_shares",
            "layer": "marts",
            "description": "Seats per subscription, per account.",
            "grain": ["account_id"],
            "sql": (
                "select account_id, round(sum(seats) / count(*), 2) as seats_each, round(sum(seats)) as seats\n"
                "from {{ ref('stg_billing__subscriptions') }}\ngroup by account_id"
            ),
            "columns": [{"name": n, "description": n} for n in ("account_id", "seats_each", "seats")],
        }
    )
    precision = [m for m in enumerate_mutants(ctx) if m.operator == "precision"]
    # round(x) has no places to take off; round(x, 2) becomes round(x, 1).
    assert [m.description for m in precision] == ["`round(sum(seats) / count(*), 2)`: 2 -> 1 decimal places"]
    assert "ROUND(SUM(seats) / COUNT(*), 1)" in precision[0].tree.sql(dialect="duckdb")
    assert not precision[0].held_out
