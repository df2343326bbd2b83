"""The sample project joins its enriched sources with the SQL ones: `account_profiles`.

Each figure is recomputed here another way (Polars over the staging tables and the raw
files) and compared with what `dbt build` stored.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

pytestmark = pytest.mark.dbt


@pytest.fixture(scope="module")
def warehouse(sample_project_built: Path):
    from generator.project.dbt import release_duckdb

    release_duckdb()
    with duckdb.connect(str(sample_project_built / "warehouse.duckdb"), read_only=True) as connection:
        yield connection


def frame(connection, sql: str) -> pl.DataFrame:
    return connection.sql(sql).pl()


def test_contacts_link_to_accounts_by_email_domain(warehouse, sample_project_built):
    contacts = frame(warehouse, "select contact_id, email_domain, account_id from stg_crm__contacts")
    accounts = frame(warehouse, "select account_id, domain from stg_app__accounts where domain is not null")
    shared = accounts.group_by("domain").len().filter(pl.col("len") > 1)["domain"]
    expected = contacts.join(
        accounts.filter(~pl.col("domain").is_in(shared.implode())),
        left_on="email_domain",
        right_on="domain",
        how="left",
        suffix="_expected",
    )
    assert expected.filter(pl.col("account_id") != pl.col("account_id_expected")).height == 0
    assert expected["account_id"].null_count() == expected["account_id_expected"].null_count()
    linked = expected["account_id"].is_not_null().mean()
    assert linked > 0.75, "most contacts' domains are an account's"
    # Every contact of the export is there once, whatever the number of versions.
    lines = (sample_project_built / "data" / "raw" / "crm" / "contacts.ndjson").read_text().splitlines()
    ids = {json.loads(line)["id"] for line in lines if line.strip()}
    assert set(contacts["contact_id"]) == ids


def test_profiles_carry_firmographics_and_the_crm_owner(warehouse):
    profiles = frame(warehouse, "select * from account_profiles")
    accounts = frame(warehouse, "select account_id, domain, industry from stg_app__accounts")
    assert profiles.height == accounts.height and profiles["account_id"].is_unique().all()
    companies = frame(
        warehouse, "select domain, employee_count, hq_country, true as found from stg_firmographics__companies"
    )
    expected = accounts.join(companies, on="domain", how="left")
    joined = profiles.join(expected, on="account_id", suffix="_expected")
    assert joined.filter(pl.col("employee_count").ne_missing(pl.col("employee_count_expected"))).height == 0
    assert joined.filter(pl.col("hq_country").ne_missing(pl.col("hq_country_expected"))).height == 0
    assert (joined["has_firmographics"] == joined["found"].fill_null(False)).all()
    assert 0.75 < joined["has_firmographics"].mean() < 1, "~90% of domains have a vendor record"

    contacts = frame(
        warehouse,
        "select account_id, contact_id, owner_id, updated_at from stg_crm__contacts "
        "where account_id is not null and not is_archived",
    )
    latest = (
        contacts.sort(["account_id", "updated_at", "contact_id"], descending=[False, True, True])
        .group_by("account_id", maintain_order=True)
        .agg(pl.col("owner_id").first(), pl.len().alias("contacts"))
    )
    checked = profiles.join(latest, on="account_id", how="left")
    assert checked.filter(pl.col("crm_owner_id").ne_missing(pl.col("owner_id"))).height == 0
    assert checked.filter(pl.col("contact_count") != pl.col("contacts").fill_null(0)).height == 0
    assert checked["crm_owner_id"].null_count() < profiles.height / 2


def cents(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def test_lifetime_revenue_is_converted_at_the_invoice_day_rate_or_the_last_business_day(warehouse):
    invoices = frame(
        warehouse,
        """
        select
            invoices.invoice_id,
            invoices.account_id,
            invoices.currency,
            cast(timezone('UTC', invoices.created_at) as date) as invoice_date,
            invoices.amount_paid - coalesce(payments.refunded_amount, 0) as net
        from stg_billing__invoices as invoices
        left join int_payments_aggregated_to_invoices as payments using (invoice_id)
        """,
    )
    rates = frame(warehouse, "select rate_date, currency_code, units_per_usd from stg_fx__rates")
    matched = invoices.sort("invoice_date").join_asof(
        rates.sort("rate_date"),
        left_on="invoice_date",
        right_on="rate_date",
        by_left="currency",
        by_right="currency_code",
        strategy="backward",
        check_sortedness=False,  # sorted by date overall; per currency it follows
    )
    weekend = matched.filter((pl.col("invoice_date").dt.weekday() >= 6) & (pl.col("currency") != "USD"))
    assert weekend.height > 0 and (weekend["rate_date"] < weekend["invoice_date"]).all()
    assert ((weekend["invoice_date"] - weekend["rate_date"]).dt.total_days() <= 2).all()
    totals: dict[str, Decimal] = {}
    for account, currency, net, rate in matched.select("account_id", "currency", "net", "units_per_usd").iter_rows():
        usd = Decimal(str(net)) if currency == "USD" else cents(float(net) / float(rate))
        totals[account] = totals.get(account, Decimal("0")) + usd
    stored = dict(warehouse.sql("select account_id, lifetime_net_paid_usd from account_profiles").fetchall())
    assert {account: stored[account] for account in totals} == totals
    assert all(stored[account] == 0 for account in stored.keys() - totals.keys())
    assert warehouse.sql("select max(unconverted_invoice_count) from account_profiles").fetchall() == [(0,)]
