"""Rows the unit-test search copies stay rows that could happen, and tell apart what they are for.

* A twin (a row copied with a fresh key) comes with its children, pointed at its new key: a
  twin order with its payments gives a customer two orders paid alike, which is what tells
  `sum(order_total)` from `sum(distinct order_total)`; without them the twin is an order never
  paid. Every copied row keeps the fixture possible: fresh keys, its parent present.
"""

from __future__ import annotations

import pytest
import yaml

from benchmarks.realistic_bugs import run
from benchmarks.realistic_bugs_shop import SHOP_BUGS, apply_proposals
from generator.project import load_project
from generator.project.catalog_builder import build_catalog
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
