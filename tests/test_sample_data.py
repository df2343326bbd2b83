"""The sample data generator keeps RAW_DATA_CONTRACT.md: shape, determinism, scale, messiness.

Expected shapes below are transcribed from the contract, not imported from the generator,
so a change on either side shows up here.
"""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sample_data import SampleDataError, Summary, generate

START, END = "2023-01-01 00:00:00+00", "2025-07-01 00:00:00+00"

CONTRACT_TABLES = {
    "raw_app.accounts": "id varchar, name varchar, domain varchar, industry varchar, "
    "country varchar, created_at timestamptz, deleted_at timestamptz, _loaded_at timestamptz",
    "raw_app.users": "id varchar, account_id varchar, email varchar, full_name varchar, "
    "role varchar, created_at timestamptz, last_seen_at timestamptz, deleted_at timestamptz, "
    "_loaded_at timestamptz",
    "raw_billing.plans": "id varchar, name varchar, tier varchar, billing_interval varchar, "
    "currency varchar, unit_amount bigint, is_active boolean",
    "raw_billing.subscriptions": "id varchar, account_id varchar, plan_id varchar, "
    "status varchar, quantity integer, started_at timestamptz, ended_at timestamptz, "
    "canceled_at timestamptz, trial_ends_at timestamptz, previous_subscription_id varchar, "
    "created_at timestamptz, updated_at timestamptz",
    "raw_billing.invoices": "id varchar, account_id varchar, subscription_id varchar, "
    "currency varchar, amount_due bigint, amount_paid bigint, status varchar, "
    "period_start timestamptz, period_end timestamptz, created_at timestamptz, due_at timestamptz",
    "raw_billing.payments": "id varchar, invoice_id varchar, account_id varchar, amount bigint, "
    "currency varchar, status varchar, payment_method varchar, failure_reason varchar, "
    "created_at timestamptz, _loaded_at timestamptz",
}
DUCKDB_TYPES = {
    "varchar": "VARCHAR",
    "timestamptz": "TIMESTAMP WITH TIME ZONE",
    "bigint": "BIGINT",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
}
TEXT, UTC = pa.string(), pa.timestamp("us", tz="UTC")
EVENT_SCHEMA = pa.schema(
    [
        ("event_id", TEXT),
        ("account_id", TEXT),
        ("user_id", TEXT),
        ("event_name", TEXT),
        ("occurred_at", UTC),
        ("received_at", UTC),
        ("properties", pa.struct([("feature", TEXT), ("path", TEXT), ("duration_ms", pa.int64())])),
        ("context", pa.struct([("locale", TEXT), ("user_agent", TEXT), ("ip_country", TEXT)])),
    ]
)
EVENT_NAMES = {
    "login", "page_view", "feature_used", "report_exported", "dashboard_created",
    "invite_sent", "api_call",
}  # fmt: skip


@dataclass
class Generated:
    """One generator run: where it wrote, and helpers to look at it."""

    root: Path
    summary: Summary

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def events(self) -> str:
        return f"read_parquet('{self.raw / 'events' / '*.parquet'}')"

    def rows(self, sql: str) -> list[tuple]:
        with duckdb.connect(str(self.warehouse), read_only=True) as connection:
            return connection.execute(sql.replace("{events}", self.events)).fetchall()

    def value(self, sql: str):
        return self.rows(sql)[0][0]


def run_generator(root: Path, scale: float, seed: int = 42) -> Generated:
    summary = generate(scale=scale, raw_dir=root / "raw", warehouse=root / "warehouse.duckdb", seed=seed)
    return Generated(root, summary)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Generated:
    """Scale 1, seed 42: the data the sample project is built on."""
    return run_generator(tmp_path_factory.mktemp("sample_data"), scale=1.0)


def file_bytes(directory: Path) -> dict[str, bytes]:
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def table_contents(generated: Generated) -> dict[str, list[tuple]]:
    return {name: generated.rows(f"select * from {name}") for name in CONTRACT_TABLES}


# ---------------------------------------------------------------------------------------
# Determinism and scale


def test_same_scale_and_seed_give_identical_files_and_tables(tmp_path):
    first = run_generator(tmp_path / "first", scale=0.3)
    second = run_generator(tmp_path / "second", scale=0.3)
    first_files, second_files = file_bytes(first.raw), file_bytes(second.raw)
    assert len(first_files) == 33  # 30 monthly event files, CRM, firmographics, FX
    assert first_files.keys() == second_files.keys()
    different = [name for name in first_files if first_files[name] != second_files[name]]
    assert different == []
    assert table_contents(first) == table_contents(second)


def test_another_seed_gives_other_data(tmp_path):
    first = run_generator(tmp_path / "first", scale=0.1, seed=42)
    second = run_generator(tmp_path / "second", scale=0.1, seed=7)
    assert first.rows("select * from raw_app.accounts") != second.rows("select * from raw_app.accounts")
    first_files, second_files = file_bytes(first.raw), file_bytes(second.raw)
    assert first_files["crm/contacts.ndjson"] != second_files["crm/contacts.ndjson"]
    assert first_files["events/events-2024-06.parquet"] != second_files["events/events-2024-06.parquet"]


def test_rows_scale_linearly(tmp_path, data):
    half = run_generator(tmp_path, scale=0.5)
    for table in ("raw_app.accounts", "raw_app.users"):
        assert data.summary.tables[table] == 2 * half.summary.tables[table]
    unique_events = "select count(distinct event_id) from {events}"
    assert data.value(unique_events) == 100_000
    assert half.value(unique_events) == 50_000
    for table in ("raw_billing.subscriptions", "raw_billing.invoices", "raw_billing.payments"):
        assert 1.7 < data.summary.tables[table] / half.summary.tables[table] < 2.3, table
    for name in ("crm/contacts.ndjson", "firmographics/companies.json"):
        ratio = data.summary.files[Path(name)][0] / half.summary.files[Path(name)][0]
        assert 1.7 < ratio < 2.3, name
    assert data.summary.tables["raw_app.accounts"] == 500
    assert data.summary.tables["raw_app.users"] == 2_500


def test_summary_reports_every_table_and_file(data):
    text = data.summary.format()
    for table in CONTRACT_TABLES:
        assert f"{table} " in text
    for name in ("crm/contacts.ndjson", "firmographics/companies.json", "fx/fx_rates.csv"):
        assert name in text
    assert "events/ (30 monthly files)" in text
    assert re.search(r"done in \d+\.\d s", text)


# ---------------------------------------------------------------------------------------
# SQL sources


def test_tables_have_the_contract_columns_and_types(data):
    for table, spec in CONTRACT_TABLES.items():
        schema, name = table.split(".")
        expected = [
            (column, DUCKDB_TYPES[data_type]) for column, data_type in (item.split() for item in spec.split(", "))
        ]
        actual = data.rows(
            "select column_name, data_type from information_schema.columns "
            f"where table_schema = '{schema}' and table_name = '{name}' order by ordinal_position"
        )
        assert actual == expected, table


def test_each_load_replaces_the_raw_schemas_whole(tmp_path):
    generated = run_generator(tmp_path, scale=0.05)
    with duckdb.connect(str(generated.warehouse)) as connection:
        connection.execute("create table raw_app.left_over as select 1 as x")
        connection.execute("create table main.built_by_dbt as select 1 as x")
    run_generator(tmp_path, scale=0.05)
    tables = generated.rows("select table_schema || '.' || table_name from information_schema.tables")
    assert ("raw_app.left_over",) not in tables
    assert ("main.built_by_dbt",) in tables  # the warehouse's other schemas are left alone
    assert generated.value("select count(*) from raw_app.accounts") == 25


# Each query counts rows breaking a rule the contract states: all must count 0.
INTEGRITY = {
    "users belong to accounts": """
        select count(*) from raw_app.users as u
        anti join raw_app.accounts as a on u.account_id = a.id""",
    "subscriptions belong to accounts": """
        select count(*) from raw_billing.subscriptions as s
        anti join raw_app.accounts as a on s.account_id = a.id""",
    "subscriptions have plans": """
        select count(*) from raw_billing.subscriptions as s
        anti join raw_billing.plans as p on s.plan_id = p.id""",
    "a plan change starts when the old subscription ends": """
        select count(*) from raw_billing.subscriptions as s
        left join raw_billing.subscriptions as p on s.previous_subscription_id = p.id
        where s.previous_subscription_id is not null
          and (p.id is null or p.ended_at is distinct from s.started_at
               or p.account_id <> s.account_id)""",
    "subscriptions start after signup": """
        select count(*) from raw_billing.subscriptions as s
        join raw_app.accounts as a on a.id = s.account_id
        where s.started_at < a.created_at""",
    "one running subscription per account": """
        select count(*) from (
            select account_id from raw_billing.subscriptions
            where ended_at is null group by 1 having count(*) > 1)""",
    "deleting an account ends its subscriptions": """
        select count(*) from raw_billing.subscriptions as s
        join raw_app.accounts as a on a.id = s.account_id
        where a.deleted_at is not null and (s.ended_at is null or s.ended_at > a.deleted_at)""",
    "subscription times are ordered": """
        select count(*) from raw_billing.subscriptions
        where ended_at < started_at or canceled_at < started_at or ended_at < canceled_at""",
    "invoices bill their subscription's account": """
        select count(*) from raw_billing.invoices as i
        left join raw_billing.subscriptions as s on i.subscription_id = s.id
        where s.account_id is distinct from i.account_id""",
    "invoices fall within the paid part of their subscription": """
        select count(*) from raw_billing.invoices as i
        join raw_billing.subscriptions as s on s.id = i.subscription_id
        where i.period_start < coalesce(s.trial_ends_at, s.started_at)
           or i.period_start >= coalesce(s.ended_at, '2025-07-01')""",
    "invoice amount is plan price x seats (CAD/AUD via the price book)": """
        select count(*) from raw_billing.invoices as i
        join raw_billing.subscriptions as s on i.subscription_id = s.id
        join raw_billing.plans as p on p.id = s.plan_id
        where i.amount_due <> s.quantity * case i.currency
                when 'cad' then round(p.unit_amount * 1.35 / 100.0) * 100
                when 'aud' then round(p.unit_amount * 1.50 / 100.0) * 100
                else p.unit_amount end
           or (i.currency in ('usd', 'eur', 'gbp') and i.currency <> p.currency)
           or (i.currency in ('cad', 'aud') and p.currency <> 'usd')""",
    "only paid invoices have an amount paid, and all of it": """
        select count(*) from raw_billing.invoices
        where (status = 'paid') <> (amount_paid = amount_due and amount_paid > 0)""",
    "payments are on an invoice of the same account and currency": """
        select count(*) from raw_billing.payments as p
        left join raw_billing.invoices as i on p.invoice_id = i.id
        where i.account_id is distinct from p.account_id or i.currency <> p.currency""",
    "payments come after their invoice and before the extract": """
        select count(*) from raw_billing.payments as p
        join raw_billing.invoices as i on i.id = p.invoice_id
        where p.created_at < i.created_at or p.created_at >= '2025-07-01'""",
    "succeeded payments add up to amount_paid; refunds never exceed it": """
        with latest as (
            select * from raw_billing.payments
            qualify row_number() over (partition by id order by _loaded_at desc) = 1
        ), per_invoice as (
            select invoice_id,
                   sum(amount) filter (where status = 'succeeded' and amount > 0) as paid,
                   -sum(amount) filter (where amount < 0) as refunded
            from latest group by 1
        )
        select count(*) from raw_billing.invoices as i
        left join per_invoice as p on p.invoice_id = i.id
        where coalesce(p.paid, 0) <> i.amount_paid or coalesce(p.refunded, 0) > i.amount_paid""",
    "a failure reason exactly on failed payments": """
        select count(*) from raw_billing.payments
        where (status = 'failed') <> (failure_reason is not null)""",
    "past-due subscriptions have an open invoice": """
        select count(*) from raw_billing.subscriptions as s
        where status = 'past_due' and not exists (
            select 1 from raw_billing.invoices as i
            where i.subscription_id = s.id and i.status = 'open')""",
    "rows are landed after they happen": """
        select (select count(*) from raw_billing.payments where _loaded_at < created_at)
             + (select count(*) from raw_app.accounts
                where _loaded_at < greatest(created_at, coalesce(deleted_at, created_at)))
             + (select count(*) from raw_app.users where _loaded_at < created_at)""",
    "users join after their account signed up": """
        select count(*) from raw_app.users as u
        join raw_app.accounts as a on a.id = u.account_id
        where u.created_at < a.created_at""",
    "times lie within the data's span": f"""
        select (select count(*) from raw_app.accounts
                where created_at < '{START}' or created_at >= '{END}' or deleted_at >= '{END}')
             + (select count(*) from raw_billing.subscriptions
                where started_at >= '{END}' or ended_at >= '{END}')
             + (select count(*) from raw_billing.invoices where created_at >= '{END}')""",
}


@pytest.mark.parametrize("rule", sorted(INTEGRITY))
def test_sql_sources_hold_together(data, rule):
    assert data.value(INTEGRITY[rule]) == 0


def test_payments_are_sometimes_landed_twice_the_later_copy_wins(data):
    total = data.value("select count(distinct id) from raw_billing.payments")
    twice = data.rows(
        "select id, count(*), count(distinct _loaded_at), "
        "arg_min(status, _loaded_at), arg_max(status, _loaded_at) "
        "from raw_billing.payments group by id having count(*) > 1"
    )
    assert 0.003 < len(twice) / total < 0.03
    assert all(copies == 2 and loads == 2 for _, copies, loads, _, _ in twice)
    # A direct debit that settled between two loads was 'pending' in the first copy only.
    assert any(first == "pending" and last != "pending" for *_, first, last in twice)


def test_some_rows_land_days_late(data):
    assert data.value("select count(*) from raw_billing.payments where _loaded_at > created_at + interval 1 day") > 10
    assert data.value("select count(*) from raw_app.accounts where _loaded_at > created_at + interval 1 day") > 0
    assert data.value("select median(_loaded_at - created_at) from raw_billing.payments") < timedelta(hours=1)


def test_billing_has_refunds_failures_and_every_status(data):
    assert data.value("select count(*) from raw_billing.payments where amount < 0") > 5
    assert data.value("select count(*) from raw_billing.payments where status = 'failed'") > 20
    statuses = {
        "raw_billing.subscriptions": {"trialing", "active", "past_due", "canceled"},
        "raw_billing.invoices": {"draft", "open", "paid", "void", "uncollectible"},
        "raw_billing.payments": {"succeeded", "failed", "pending"},
    }
    for table, expected in statuses.items():
        assert {row[0] for row in data.rows(f"select distinct status from {table}")} == expected, table
    methods = {row[0] for row in data.rows("select distinct payment_method from raw_billing.payments")}
    assert methods == {"card", "sepa_debit", "ach", "wire"}


def test_money_comes_in_several_currencies(data):
    assert {row[0] for row in data.rows("select distinct currency from raw_billing.plans")} == {
        "usd",
        "eur",
        "gbp",
    }
    invoiced = {row[0] for row in data.rows("select distinct currency from raw_billing.invoices")}
    assert invoiced == {"usd", "eur", "gbp", "cad", "aud"}
    assert data.value("select count(*) from raw_billing.plans where not is_active") >= 1


def test_subscriptions_have_trials_plan_changes_and_churn(data):
    assert data.value("select count(*) from raw_billing.subscriptions where trial_ends_at is not null") > 50
    moves = data.rows(
        """
        with ranked as (
            select s.id, s.previous_subscription_id,
                   list_position(['free', 'starter', 'growth', 'enterprise'], p.tier) as tier_rank
            from raw_billing.subscriptions s join raw_billing.plans p on p.id = s.plan_id
        )
        select count(*) filter (where new.tier_rank > old.tier_rank),
               count(*) filter (where new.tier_rank < old.tier_rank)
        from ranked new join ranked old on new.previous_subscription_id = old.id
        """
    )[0]
    assert moves[0] > 20 and moves[1] > 20  # upgrades and downgrades
    churned = """
        select count(*) from raw_billing.subscriptions s
        where s.ended_at is not null
          and not exists (
              select 1 from raw_billing.subscriptions n where n.previous_subscription_id = s.id)"""
    assert data.value(churned) > 50
    yearly = """
        select count(*) from raw_billing.subscriptions s
        join raw_billing.plans p on p.id = s.plan_id where p.billing_interval = 'year'"""
    assert data.value(yearly) > 5
    assert (
        data.value("select count(*) from raw_billing.subscriptions where canceled_at is not null and ended_at is null")
        >= 1
    )


def test_app_data_has_soft_deletes_and_messy_text(data):
    deleted_share = data.value("select avg((deleted_at is not null)::int) from raw_app.accounts")
    assert 0.01 < deleted_share < 0.06
    assert data.value("select count(*) from raw_app.users where deleted_at is not null") > 20
    # Deleting an account does not delete its users.
    assert (
        data.value(
            "select count(*) from raw_app.users u join raw_app.accounts a on a.id = u.account_id "
            "where a.deleted_at is not null and u.deleted_at is null"
        )
        > 0
    )
    assert data.value("select count(*) from raw_app.users where email <> lower(email)") > 100
    assert data.value("select count(*) from raw_app.users where email <> trim(email)") > 5
    assert data.value("select count(*) - count(distinct lower(trim(email))) from raw_app.users") == 0
    assert data.value("select count(*) from raw_app.accounts where domain ilike 'www.%'") > 10
    assert data.value("select count(*) from raw_app.accounts where domain <> lower(domain)") > 10
    assert data.value("select count(*) from raw_app.accounts where domain is null") > 0
    normalised = "regexp_replace(lower(trim(domain)), '^www\\.', '')"
    assert data.value(f"select count(domain) - count(distinct {normalised}) from raw_app.accounts") == 0
    assert data.value("select count(*) from raw_app.accounts where country is null") > 0
    assert data.value("select count(*) from raw_app.users where last_seen_at is null") > 50


def test_signups_grow_over_time(data):
    per_year = dict(data.rows("select year(created_at), count(*) from raw_app.accounts group by 1"))
    assert per_year[2023] < per_year[2024]


def test_users_last_seen_is_their_latest_event(data):
    mismatches = data.value(
        """
        with seen as (select user_id, max(occurred_at) as last_event from {events} group by 1)
        select count(*) from raw_app.users u left join seen on seen.user_id = u.id
        where u.last_seen_at is distinct from seen.last_event
        """
    )
    assert mismatches == 0


# ---------------------------------------------------------------------------------------
# Non-SQL files


def test_crm_contacts_export(data):
    lines = (data.raw / "crm" / "contacts.ndjson").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert all(list(record) == ["id", "properties", "createdAt", "updatedAt", "archived"] for record in records)
    properties = [
        "email", "firstname", "lastname", "company", "jobtitle", "lifecyclestage",
        "hubspot_owner_id", "phone", "createdate", "lastmodifieddate",
    ]  # fmt: skip
    assert all(list(record["properties"]) == properties for record in records)
    iso_z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
    assert all(iso_z.match(record["createdAt"]) and iso_z.match(record["updatedAt"]) for record in records)
    assert all(record["properties"]["lastmodifieddate"] == record["updatedAt"] for record in records)
    stages = {record["properties"]["lifecyclestage"] for record in records}
    assert stages == {
        "lead",
        "marketingqualifiedlead",
        "salesqualifiedlead",
        "opportunity",
        "customer",
    }

    versions: dict[str, list[dict]] = {}
    for record in records:
        versions.setdefault(record["id"], []).append(record)
    repeated = [rows for rows in versions.values() if len(rows) > 1]
    assert len(repeated) > 100
    assert all(len({row["updatedAt"] for row in rows}) == len(rows) for rows in repeated)
    assert any(
        len({row["properties"]["lifecyclestage"] for row in rows}) > 1 for rows in repeated
    )  # late updates move contacts along the funnel
    assert 2.5 < len(versions) / 500 < 3.5  # about three contacts per account

    emails = [record["properties"]["email"] for record in records]
    assert sum(email is None for email in emails) > 10
    assert sum(email is not None and email != email.strip() for email in emails) > 20
    assert sum(email is not None and email != email.lower() for email in emails) > 100
    assert sum(record["archived"] for record in records) > 10

    domains = {row[0] for row in data.rows("select regexp_replace(lower(domain), '^www\\.', '') from raw_app.accounts")}
    latest = [rows[-1]["properties"]["email"] for rows in versions.values()]
    matched = [email.strip().lower().split("@")[1] in domains for email in latest if email]
    assert sum(matched) / len(matched) > 0.75


def test_firmographics_dump(data):
    dump = json.loads((data.raw / "firmographics" / "companies.json").read_text(encoding="utf-8"))
    assert list(dump) == ["data", "meta"]
    assert dump["meta"] == {"count": len(dump["data"]), "source": "vendor-x"}
    record_keys = [
        "domain",
        "company_name",
        "industry",
        "metrics",
        "hq",
        "founded_year",
        "tags",
        "updated_at",
    ]
    assert all(list(record) == record_keys for record in dump["data"])
    assert all(
        list(record["metrics"]) == ["employees", "employees_range", "annual_revenue_usd"] for record in dump["data"]
    )
    assert all(list(record["hq"]) == ["city", "country"] for record in dump["data"])
    assert all(date.fromisoformat(record["updated_at"]) for record in dump["data"])

    normalised = [re.sub(r"^www\.", "", record["domain"].lower()) for record in dump["data"]]
    accounts = {
        row[0] for row in data.rows("select regexp_replace(lower(domain), '^www\\.', '') from raw_app.accounts")
    }
    # Every record is an account's domain; only those the app lost (null) are unknown to it.
    lost = data.value("select count(*) from raw_app.accounts where domain is null")
    assert 0 < len(set(normalised) - accounts) <= lost
    assert 0.8 < len(set(normalised)) / 500 < 0.98  # ~90% of the 500 accounts
    duplicates = [domain for domain in set(normalised) if normalised.count(domain) > 1]
    assert len(duplicates) >= 5
    assert any(record["domain"].startswith("WWW.") for record in dump["data"])
    assert any(record["metrics"]["employees"] is None for record in dump["data"])
    assert any(record["founded_year"] is None for record in dump["data"])


def test_fx_rates_spreadsheet(data):
    content = (data.raw / "fx" / "fx_rates.csv").read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    text = content.decode("utf-8-sig")
    assert text.splitlines()[0] == "Rate Date;Currency Code ;Units per USD"
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))[1:]
    formats = {"iso": 0, "day_first": 0, "month_name": 0}
    days: dict[date, set[str]] = {}
    for rate_date, currency, rate in rows:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", rate_date):
            formats["iso"] += 1
            day = date.fromisoformat(rate_date)
        elif re.fullmatch(r"\d\d/\d\d/\d{4}", rate_date):
            formats["day_first"] += 1
            day = datetime.strptime(rate_date, "%d/%m/%Y").date()
        else:
            formats["month_name"] += 1
            day = datetime.strptime(rate_date, "%b %d %Y").date()
        assert day.weekday() < 5, rate_date
        assert date(2023, 1, 1) <= day <= date(2025, 6, 30)
        assert re.fullmatch(r"\d+\.\d{4,6}", rate), rate
        days.setdefault(day, set()).add(currency)
    assert formats["iso"] > 0.8 * len(rows) and formats["day_first"] > 0 and formats["month_name"] > 0
    assert all(currencies == {"EUR", "GBP", "CAD", "AUD"} for currencies in days.values())
    assert len(days) == 651  # every weekday of the span, 2023-01-02 .. 2025-06-30
    assert len(rows) - len({tuple(row) for row in rows}) >= 3  # exact duplicate rows


def test_event_files(data):
    files = sorted((data.raw / "events").glob("*.parquet"))
    months = [f"{year}-{month:02d}" for year in (2023, 2024, 2025) for month in range(1, 13)][:30]
    assert [path.name for path in files] == [f"events-{month}.parquet" for month in months]
    assert all(pq.read_schema(path).remove_metadata() == EVENT_SCHEMA for path in files)
    misplaced = data.value(
        "select count(*) from read_parquet('" + str(data.raw / "events" / "*.parquet") + "', filename = true) "
        "where not filename like "
        "'%events-' || strftime(occurred_at at time zone 'UTC', '%Y-%m') || '.parquet'"
    )
    assert misplaced == 0
    total, unique, anonymous, late, early = data.rows(
        """
        select count(*), count(distinct event_id), count(*) filter (where user_id is null),
               count(*) filter (where received_at > occurred_at + interval 1 day),
               count(*) filter (where received_at < occurred_at)
        from {events}
        """
    )[0]
    assert unique == 100_000
    assert 0.005 < (total - unique) / unique < 0.02  # at-least-once delivery
    assert 0.02 < anonymous / total < 0.07
    assert late > 100 and early == 0
    assert {row[0] for row in data.rows("select distinct event_name from {events}")} == EVENT_NAMES
    assert data.value("select count(*) from {events} where not regexp_full_match(event_id, '[0-9a-f]{32}')") == 0
    orphans = """
        select count(*) from {events} e
        left join raw_app.users u on u.id = e.user_id
        left join raw_app.accounts a on a.id = e.account_id
        where a.id is null
           or (e.user_id is not null and (u.id is null or u.account_id <> e.account_id))"""
    assert data.value(orphans) == 0
    assert data.value(f"select count(*) from {{events}} where occurred_at < '{START}' or occurred_at >= '{END}'") == 0
    # Duplicates are the same event delivered again: same payload, later arrival.
    differing = """
        select count(*) from (
            select event_id from {events} group by 1
            having count(distinct (
                account_id, user_id, event_name, occurred_at, properties, context)) > 1)"""
    assert data.value(differing) == 0


# ---------------------------------------------------------------------------------------
# Command line and failure modes


def run_cli(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    import os

    environment = {key: value for key, value in os.environ.items() if not key.startswith("GEN_MODEL_")}
    environment["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "sample_data", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_writes_to_the_defaults_relative_to_the_current_directory(tmp_path):
    result = run_cli("--scale", "0.02", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "warehouse.duckdb").is_file()
    assert (tmp_path / "data" / "raw" / "fx" / "fx_rates.csv").is_file()
    assert "raw_billing.payments" in result.stdout and "done in" in result.stdout


def test_cli_defaults_follow_the_environment(tmp_path):
    env = {"GEN_MODEL_DUCKDB_PATH": "custom.duckdb", "GEN_MODEL_RAW_PATH": "landing"}
    result = run_cli("--scale", "0.02", "--seed", "3", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "custom.duckdb").is_file()
    assert len(list((tmp_path / "landing" / "events").glob("*.parquet"))) == 30
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_cli_rejects_a_bad_scale_without_a_traceback(tmp_path):
    result = run_cli("--scale", "0", cwd=tmp_path)
    assert result.returncode == 2
    assert "error: --scale must be a positive number, got 0.0" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "warehouse.duckdb").exists()


def test_a_warehouse_in_use_is_reported_clearly(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; held = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(warehouse),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(SampleDataError, match="holds it open; close it and rerun"):
            generate(scale=0.02, raw_dir=tmp_path / "raw", warehouse=warehouse)
    finally:
        holder.kill()
        holder.wait()
    assert not (tmp_path / "raw").exists()  # it failed before writing anything


def test_rerun_leaves_no_stale_or_temporary_files(tmp_path):
    stale = tmp_path / "raw" / "events" / "events-2019-12.parquet"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"from an older layout")
    run_generator(tmp_path, scale=0.02)
    assert not stale.exists()
    assert not list((tmp_path / "raw").rglob("*.tmp"))
    assert len(list((tmp_path / "raw" / "events").iterdir())) == 30
