"""Tests that guard behaviour on tomorrow's data.

* Unit-test fixtures could happen: no given row breaks a test of its input (a repeated
  unique key, a null in a not_null column, a value outside accepted_values, a child row
  whose parent input lacks its parent), checked on every unit test of the sample project
  and on the ones `gen-model tests` writes into shop_project.
* Derived data tests hold on legitimate new data: rows appended to the data that pass
  every upstream test keep `dbt build` green (new customers or accounts, orders, invoices
  and payments of every accepted status, a refund, a new plan, new months).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import cli
from generator.project.catalog import Column, ForeignKey, Relation
from generator.testgen.unit_fixtures import constraint_violations, relation_of_input
from generator.testgen.unit_runner import GivenInput
from tests.conftest import dbt_build

pytestmark = pytest.mark.dbt


def unit_tests_of(project: Path) -> list[tuple[str, dict]]:
    found = []
    for path in sorted((project / "models").rglob("*.yml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        found += [(path.name, entry) for entry in document.get("unit_tests") or []]
    return found


def violations(catalog, entry: dict) -> list[str]:
    given = tuple(GivenInput(g["input"], tuple(g.get("rows") or ())) for g in entry["given"])
    relations = {item.input: relation_of_input(catalog, item.input) for item in given}
    assert all(relations.values()), f"{entry['name']}: an input the catalog does not know: {relations}"
    return constraint_violations(given, relations)


def test_every_sample_unit_test_could_happen(sample_project_built, sample_catalog):
    found = unit_tests_of(sample_project_built)
    assert len(found) >= 3
    for name, entry in found:
        assert violations(sample_catalog, entry) == [], f"{name}: {entry['name']}"
        for given in entry["given"]:
            relation = relation_of_input(sample_catalog, given["input"])
            for key in relation.primary_key:
                assert all(key in row for row in given["rows"]), f"{given['input']}: its key {key} is shown"


def _relation(name: str, columns, primary_key=(), foreign_keys=()) -> Relation:
    return Relation(
        unique_id=f"model.p.{name}",
        resource_type="model",
        name=name,
        database="db",
        schema="main",
        identifier=name,
        columns=tuple(columns),
        primary_key=tuple(primary_key),
        foreign_keys=tuple(foreign_keys),
    )


def test_constraint_violations_name_each_impossible_row():
    customers = _relation(
        "customers", [Column("customer_id", not_null=True, unique=True), Column("tier", accepted_values=("a", "b"))],
        primary_key=("customer_id",),
    )  # fmt: skip
    orders = _relation(
        "orders",
        [Column("order_id", unique=True), Column("customer_id", not_null=True)],
        foreign_keys=[ForeignKey("customer_id", "model.p.customers", "customer_id")],
    )
    relations = {"ref('customers')": customers, "ref('orders')": orders}
    possible = (
        GivenInput("ref('customers')", ({"customer_id": 1, "tier": "a"}, {"customer_id": 2, "tier": None})),
        GivenInput("ref('orders')", ({"order_id": 10, "customer_id": 1}, {"order_id": 11, "customer_id": 1})),
    )
    assert constraint_violations(possible, relations) == []
    impossible = (
        GivenInput("ref('customers')", ({"customer_id": 1, "tier": "c"}, {"customer_id": 1, "tier": "a"})),
        GivenInput("ref('orders')", ({"order_id": 10, "customer_id": 3}, {"order_id": 11, "customer_id": None})),
    )
    assert constraint_violations(impossible, relations) == [
        "ref('customers'): customer_id = 1 is given 2 times (unique)",
        "ref('customers'): row 1: tier = 'c' is not an accepted value",
        "ref('orders'): row 2: customer_id is null (not_null)",
        "ref('orders'): row 1: customer_id = 3 has no row in ref('customers') (relationships to customer_id)",
    ]
    twice = (GivenInput("ref('orders')", ({"customer_id": 1}, {"customer_id": 1})),)
    assert constraint_violations(twice, {"ref('orders')": orders}) == [
        "ref('orders'): a row is given twice, but orders has a unique key"
    ]


# Rows that pass every test of shop_project's staging models: new customers (one without
# orders), orders of every accepted status, a refund (a negative payment: no test forbids
# it), a gift card, an order paid twice, a later month.
SHOP_NEW_ROWS = {
    "raw_customers.csv": ["101,Ada,L.", "102,Alan,T.", "103,Grace,H."],
    "raw_orders.csv": [
        "100,101,2018-05-01,return_pending",
        "101,101,2018-05-31,completed",
        "102,102,2018-06-01,shipped",
        "103,15,2018-06-02,returned",
        "104,102,2018-06-03,placed",
    ],
    "raw_payments.csv": [
        "114,100,gift_card,1500",
        "115,101,credit_card,999",
        "116,101,coupon,1",
        "117,103,credit_card,-2500",
        "118,102,bank_transfer,0",
    ],
}


def test_shop_tests_and_fixtures_hold_on_new_legitimate_data(shop_project_with_package):
    from generator.project import load_project
    from generator.project.catalog_builder import build_catalog

    project = shop_project_with_package
    for model in ("customers", "orders"):
        result = CliRunner().invoke(cli, ["tests", model, "--project-dir", str(project)], catch_exceptions=False)
        assert result.exit_code == 0, result.output
    catalog = build_catalog(load_project(project))
    found = unit_tests_of(project)
    assert {entry["name"] for _, entry in found} == {"customers_logic", "orders_logic"}
    for name, entry in found:
        assert violations(catalog, entry) == [], f"{name}: {entry['name']}"
    marts = yaml.safe_load((project / "models" / "marts" / "marts.yml").read_text(encoding="utf-8"))
    reasons = [
        body["config"]["meta"]["reason"]
        for model in marts["models"]
        for column in model.get("columns") or []
        for test in column.get("data_tests") or []
        if isinstance(test, dict)
        for body in test.values()
        if "config" in body
    ]
    assert reasons and not [r for r in reasons if "upstream rows" in r], "a reason claims today's data as the SQL"

    for seed, rows in SHOP_NEW_ROWS.items():
        path = project / "seeds" / seed
        path.write_text(path.read_text(encoding="utf-8").rstrip("\n") + "\n" + "\n".join(rows) + "\n")
    dbt_build(project)


# Rows appended to the sample project's raw tables, each passing every test of the models
# that read them: new accounts (one without any subscription or payment), a new plan of a
# known tier (a new product), subscriptions of every status (one from the first minutes of
# a month, one from its last hour), invoices of every status in a new month (one in the
# month's last hour; an account bills in one currency, its intermediate model tests so),
# payments of every status, a refund, a second attempt on one invoice.
SAMPLE_NEW_ROWS = {
    "raw_app.accounts": [
        "('acc_90001', 'Newco One', 'newco-one.example', 'Retail', 'US', '2025-07-01 00:20:00+00', null, "
        "'2025-07-01 00:40:00+00')",
        "('acc_90002', 'Newco Two', 'newco-two.example', 'Software', 'DE', '2025-07-15 12:00:00+00', null, "
        "'2025-07-15 12:30:00+00')",
        "('acc_90003', 'Newco Three', 'newco-three.example', null, 'AU', '2025-07-31 23:30:00+00', null, "
        "'2025-07-31 23:50:00+00')",
    ],
    "raw_billing.plans": [
        "('plan_enterprise_monthly_2025', 'Enterprise Monthly 2025', 'enterprise', 'month', 'usd', 9900, true)"
    ],
    "raw_billing.subscriptions": [
        "('sub_900001', 'acc_90001', 'plan_enterprise_monthly_2025', 'active', 1, '2025-07-01 00:20:00+00', "
        "null, null, null, null, '2025-07-01 00:20:00+00', '2025-07-01 00:20:00+00')",
        "('sub_900002', 'acc_90001', 'plan_starter_monthly', 'canceled', 2, '2025-07-02 10:00:00+00', "
        "'2025-07-20 10:00:00+00', '2025-07-10 10:00:00+00', null, null, '2025-07-02 10:00:00+00', "
        "'2025-07-20 10:00:00+00')",
        "('sub_900003', 'acc_90002', 'plan_growth_monthly_eur', 'past_due', 3, '2025-07-15 12:00:00+00', null, null, "
        "null, null, '2025-07-15 12:00:00+00', '2025-07-15 12:00:00+00')",
        "('sub_900004', 'acc_90002', 'plan_growth_monthly', 'trialing', 1, '2025-07-31 23:10:00+00', null, null, "
        "'2025-08-14 23:10:00+00', null, '2025-07-31 23:10:00+00', '2025-07-31 23:10:00+00')",
    ],
    "raw_billing.invoices": [
        "('in_900001', 'acc_90001', 'sub_900001', 'usd', 9900, 9900, 'paid', '2025-07-01 00:20:00+00', "
        "'2025-08-01 00:20:00+00', '2025-07-01 00:30:00+00', '2025-07-31 00:30:00+00')",
        "('in_900002', 'acc_90001', 'sub_900002', 'usd', 3000, 0, 'void', '2025-07-02 10:00:00+00', "
        "'2025-08-02 10:00:00+00', '2025-07-02 10:10:00+00', '2025-08-01 10:10:00+00')",
        "('in_900003', 'acc_90002', 'sub_900003', 'eur', 10800, 0, 'open', '2025-07-15 12:00:00+00', "
        "'2025-08-15 12:00:00+00', '2025-07-15 12:10:00+00', '2025-08-14 12:10:00+00')",
        "('in_900004', 'acc_90002', 'sub_900003', 'eur', 10800, 0, 'uncollectible', '2025-07-31 23:30:00+00', "
        "'2025-08-31 23:30:00+00', '2025-07-31 23:40:00+00', '2025-08-30 23:40:00+00')",
        "('in_900005', 'acc_90001', 'sub_900001', 'usd', 9900, 0, 'draft', '2025-07-31 23:55:00+00', "
        "'2025-08-31 23:55:00+00', '2025-07-31 23:58:00+00', '2025-08-30 23:58:00+00')",
    ],
    "raw_billing.payments": [
        "('py_900001', 'in_900001', 'acc_90001', 9900, 'usd', 'succeeded', 'card', null, '2025-07-01 00:35:00+00', "
        "'2025-07-01 01:00:00+00')",
        "('py_900002', 'in_900001', 'acc_90001', -2500, 'usd', 'succeeded', 'card', null, '2025-07-20 09:00:00+00', "
        "'2025-07-20 09:30:00+00')",
        "('py_900003', 'in_900003', 'acc_90002', 10800, 'eur', 'failed', 'sepa_debit', 'insufficient_funds', "
        "'2025-07-16 08:00:00+00', '2025-07-16 08:30:00+00')",
        "('py_900004', 'in_900003', 'acc_90002', 10800, 'eur', 'pending', 'sepa_debit', null, "
        "'2025-07-23 08:00:00+00', '2025-07-23 08:30:00+00')",
        "('py_900005', 'in_900004', 'acc_90002', 10800, 'eur', 'failed', 'wire', 'expired_card', "
        "'2025-07-31 23:45:00+00', '2025-07-31 23:59:00+00')",
    ],
}


def test_sample_tests_hold_on_new_legitimate_data(sample_project):
    # The built sample project, its raw tables appended to (nothing replaced), rebuilt:
    # every test, the generated marts' derived data tests and unit tests included, stays green.
    import duckdb

    warehouse = duckdb.connect(str(sample_project / "warehouse.duckdb"))
    try:
        for table, rows in SAMPLE_NEW_ROWS.items():
            before = warehouse.execute(f"select count(*) from {table}").fetchall()[0][0]
            warehouse.execute(f"insert into {table} values {', '.join(rows)}")
            assert warehouse.execute(f"select count(*) from {table}").fetchall()[0][0] == before + len(rows)
    finally:
        warehouse.close()
    outcome = dbt_build(sample_project)
    generated = [n for n in outcome.nodes if n.name.split(".")[0].startswith(("account_mrr", "monthly_revenue"))]
    assert generated, "the generated marts were built and tested"
    warehouse = duckdb.connect(str(sample_project / "warehouse.duckdb"), read_only=True)
    try:
        # The new rows reached the generated marts: a new account's month, a new month.
        assert warehouse.execute("select count(*) from account_mrr_v1 where account_id = 'acc_90001'").fetchall()[0][0]
        july = "select count(*) from monthly_revenue_by_tier_v1 where revenue_month = date '2025-07-01'"
        assert warehouse.execute(july).fetchall()[0][0]
        health = "select payment_attempts from account_payment_health_v1 where account_id = 'acc_90003'"
        assert warehouse.execute(health).fetchall() == [(0,)]
    finally:
        warehouse.close()


def test_sample_fixtures_cover_meaning(sample_project_built):
    entries = {entry["name"]: entry for _, entry in unit_tests_of(sample_project_built)}
    # A parent with two children of one kind, without a repeated key: a twin row.
    mrr = entries["account_mrr_v1_logic"]
    subscriptions = mrr["given"][0]["rows"]
    twins = [row for row in subscriptions if str(row["subscription_id"]).endswith("_2")]
    assert twins and all(row["subscription_id"][:-2] in {r["subscription_id"] for r in subscriptions} for row in twins)
    assert any(row["running_subscriptions"] == 2 for row in mrr["expect"]["rows"])
    # Every status a filter names, and the siblings it does not, each have a row.
    revenue = entries["monthly_revenue_by_tier_v1_logic"]
    statuses = {row["invoice_status"] for row in revenue["given"][0]["rows"]}
    assert statuses == {"draft", "open", "paid", "uncollectible", "void"}


def _utc(text: str):
    from datetime import datetime

    return datetime.fromisoformat(text[:-3] + "+00:00" if text.endswith("+00") else text)


def test_sample_fixtures_hold_rows_at_month_boundaries_where_time_zones_disagree(sample_project_built):
    from datetime import timedelta

    entries = {entry["name"]: entry for _, entry in unit_tests_of(sample_project_built)}
    # The model truncates started_at to a month: a start in the first hours of a UTC month
    # (the month before in the Americas) and one in its last hours (the next one in Asia).
    for name, column in (
        ("account_mrr_v1_logic", "started_at"),
        ("monthly_revenue_by_tier_v1_logic", "period_start_at"),
    ):
        values = [_utc(row[column]) for row in entries[name]["given"][0]["rows"] if row.get(column)]
        assert any(v.day == 1 and v.hour < 10 for v in values), f"{name}: no {column} in a month's first hours"
        assert any((v + timedelta(days=1)).day == 1 and v.hour >= 14 for v in values), f"{name}: no late {column}"
        assert "month or week boundaries" in entries[name]["description"]
    # account_payment_health only takes the max of created_at: no boundary to cover.
    assert "boundaries" not in entries["account_payment_health_v1_logic"]["description"]
