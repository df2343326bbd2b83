"""The non-SQL raw files: a CRM export (NDJSON), a firmographics API dump (JSON) and the
finance team's FX spreadsheet (CSV). The Polars enrichment step normalises them."""

from __future__ import annotations

import io
from datetime import date, timedelta

import numpy as np
import polars as pl

from sample_data import reference as ref
from sample_data.app import Accounts, Users
from sample_data.billing import Billing
from sample_data.common import (
    DATETIME_UTC,
    END,
    START,
    US_PER_DAY,
    Streams,
    lookup,
    pick,
)

ISO_MILLIS = "%Y-%m-%dT%H:%M:%S%.3fZ"
DIAL_CODES = {
    "US": "+1",
    "CA": "+1",
    "GB": "+44",
    "DE": "+49",
    "FR": "+33",
    "NL": "+31",
    "AU": "+61",
}


def crm_contacts(streams: Streams, accounts: Accounts, users: Users, billing: Billing) -> bytes:
    """crm/contacts.ndjson: ~3 contacts per account plus prospects, several versions of some."""
    rng = streams("crm")
    weights = np.sqrt(accounts.size)
    per_account = rng.multinomial(int(round(2.7 * accounts.count)), weights / weights.sum())
    account = np.repeat(np.arange(accounts.count), per_account)
    ordinal = np.arange(len(account)) - np.repeat(np.cumsum(per_account) - per_account, per_account)
    users_per_account = np.bincount(users.account, minlength=accounts.count)
    first_user = np.cumsum(users_per_account) - users_per_account
    # Users are sorted by creation, not by account: index them per account first.
    by_account = np.argsort(users.account, kind="stable")
    is_user = ordinal < users_per_account[account]
    user = np.where(is_user, by_account[np.minimum(first_user[account] + ordinal, users.count - 1)], 0)
    size = len(account)

    first = lookup(ref.FIRST_NAMES, rng.integers(0, len(ref.FIRST_NAMES), size))
    last = lookup(ref.LAST_NAMES, rng.integers(0, len(ref.LAST_NAMES), size))
    known = pl.Series(is_user)
    contacts = pl.DataFrame(
        {
            "firstname": pl.select(pl.when(known).then(users.first_name.gather(user)).otherwise(first)).to_series(),
            "lastname": pl.select(pl.when(known).then(users.last_name.gather(user)).otherwise(last)).to_series(),
            "domain": accounts.domain.gather(account),
            "user_email": users.email.gather(user).str.strip_chars().str.to_lowercase(),
            "known": known,
            "company": accounts.name.gather(account),
        }
    ).with_columns(
        email=pl.when(pl.col("known"))
        .then(pl.col("user_email"))
        .otherwise(
            pl.col("firstname").str.to_lowercase()
            + "."
            + pl.col("lastname").str.to_lowercase().str.replace_all(r"[^a-z]", "")
            + "@"
            + pl.col("domain")
        )
    )
    stage = np.where(
        billing.customer[account],
        np.where(rng.random(size) < 0.9, 4, 3),
        pick(rng, ref.LIFECYCLE_STAGES[:4], [45, 30, 15, 10], size),
    )
    signup = accounts.created[account]
    created = np.where(
        ordinal == 0,
        signup - (rng.uniform(0, 90, size) * US_PER_DAY).astype(np.int64),
        signup + (rng.beta(1.0, 3.0, size) * (END - signup)).astype(np.int64),
    )
    country = accounts.country[account]

    # Prospects: people at companies that never signed up.
    prospects = int(round(0.3 * accounts.count))
    head = lookup(ref.NAME_HEADS, rng.integers(0, len(ref.NAME_HEADS), prospects))
    tail = lookup(ref.NAME_TAILS, rng.integers(0, len(ref.NAME_TAILS), prospects))
    prospect_domain = (head + tail).str.to_lowercase() + "-hq.com"
    prospect = pl.DataFrame(
        {
            "firstname": lookup(ref.FIRST_NAMES, rng.integers(0, len(ref.FIRST_NAMES), prospects)),
            "lastname": lookup(ref.LAST_NAMES, rng.integers(0, len(ref.LAST_NAMES), prospects)),
            "domain": prospect_domain,
            "company": head + tail.str.to_lowercase(),
        }
    ).with_columns(
        email=pl.col("firstname").str.to_lowercase()
        + "."
        + pl.col("lastname").str.to_lowercase().str.replace_all(r"[^a-z]", "")
        + "@"
        + pl.col("domain")
    )
    people = pl.concat(
        [
            contacts.select("firstname", "lastname", "company", "email"),
            prospect.select("firstname", "lastname", "company", "email"),
        ]
    )
    stage = np.concatenate([stage, pick(rng, ref.LIFECYCLE_STAGES[:4], [50, 25, 15, 10], prospects)])
    created = np.concatenate([created, START + (rng.random(prospects) * (END - START)).astype(np.int64)])
    created = np.clip(created, START, END - US_PER_DAY)
    country = np.concatenate([country, np.full(prospects, 0)])
    total = size + prospects

    # Contact ids follow creation order; each contact has 1-3 versions in the export.
    order = np.argsort(created, kind="stable")
    people, stage, created, country = people[order], stage[order], created[order], country[order]
    versions = 1 + (rng.random(total) < 0.2) + (rng.random(total) < 0.06)
    row = np.repeat(np.arange(total), versions)
    version = np.arange(len(row)) - np.repeat(np.cumsum(versions) - versions, versions)
    newest = version == versions[row] - 1
    # Later versions move the contact along the funnel and may change its owner.
    row_stage = np.maximum(stage[row] - (versions[row] - 1 - version), 0)
    gaps = rng.uniform(0.2, 1.0, len(row)) * ((END - created[row]) / versions[row])
    updated = created[row] + (gaps * (version + 1)).astype(np.int64)
    owner = rng.integers(0, len(ref.CRM_OWNERS), len(row))
    owner = np.where(rng.random(len(row)) < 0.15, -1, owner)
    archived = newest & (rng.random(len(row)) < 0.04)

    people = people[row]
    n = len(row)
    case = rng.random(n)
    email = people.select(
        pl.when(pl.Series(np.repeat(rng.random(total) < 0.03, versions)))
        .then(None)
        .when(pl.Series(case < 0.20))
        .then(pl.col("email").str.to_titlecase())
        .when(pl.Series(case < 0.25))
        .then(pl.col("email").str.to_uppercase())
        .when(pl.Series(case < 0.32))
        .then(pl.lit(" ") + pl.col("email") + pl.lit("  "))
        .otherwise(pl.col("email"))
        .alias("email")
    ).to_series()
    dial = lookup([DIAL_CODES.get(row[0], "+1") for row in ref.COUNTRIES], country[row])
    local_number = pl.Series(rng.integers(1000000, 9999999, n)).cast(pl.String)
    phone = pl.select(
        pl.when(pl.Series(rng.random(n) < 0.35))
        .then(None)
        .when(pl.Series(rng.random(n) < 0.5))
        .then(dial + " " + local_number.str.slice(0, 3) + " " + local_number.str.slice(3))
        .otherwise(dial + local_number)
    ).to_series()
    jobtitle = lookup(ref.JOB_TITLES, np.where(rng.random(n) < 0.1, -1, rng.integers(0, len(ref.JOB_TITLES), n)))
    created_text = pl.Series(created[row]).cast(DATETIME_UTC).dt.strftime(ISO_MILLIS)
    updated_text = pl.Series(updated).cast(DATETIME_UTC).dt.strftime(ISO_MILLIS)
    company = people["company"]
    company = pl.select(
        pl.when(pl.Series(rng.random(n) < 0.05))
        .then(company.str.to_uppercase())
        .when(pl.Series(rng.random(n) < 0.05))
        .then(company + " Inc.")
        .otherwise(company)
    ).to_series()
    export = pl.DataFrame(
        {
            "id": pl.Series(row + 1001).cast(pl.String),
            "email": email,
            "firstname": people["firstname"],
            "lastname": people["lastname"],
            "company": company,
            "jobtitle": jobtitle,
            "lifecyclestage": lookup(ref.LIFECYCLE_STAGES, row_stage),
            "hubspot_owner_id": lookup(ref.CRM_OWNERS, owner),
            "phone": phone,
            "createdate": created_text,
            "lastmodifieddate": updated_text,
            "updated": updated,
            "archived": archived,
        }
    ).sort("updated", "id")
    export = export.select(
        "id",
        pl.struct(
            "email",
            "firstname",
            "lastname",
            "company",
            "jobtitle",
            "lifecyclestage",
            "hubspot_owner_id",
            "phone",
            "createdate",
            "lastmodifieddate",
        ).alias("properties"),
        pl.col("createdate").alias("createdAt"),
        pl.col("lastmodifieddate").alias("updatedAt"),
        "archived",
    )
    buffer = io.BytesIO()
    export.write_ndjson(buffer)
    return buffer.getvalue()


def firmographics(streams: Streams, accounts: Accounts) -> bytes:
    """firmographics/companies.json: a vendor's record for ~90% of account domains."""
    rng = streams("firmographics")
    covered = np.flatnonzero(rng.random(accounts.count) < 0.9)
    # A few domains come twice: an older record and a newer one with other numbers.
    twice = covered[rng.random(len(covered)) < 0.03]
    account = np.concatenate([covered, twice])
    newer = np.concatenate([np.ones(len(covered), dtype=bool), np.zeros(len(twice), dtype=bool)])
    n = len(account)
    employees = np.maximum(1, np.round(accounts.size[account] * 40 * rng.lognormal(0, 0.5, n))).astype(np.int64)
    bounds = np.array([low for low, _, _ in ref.EMPLOYEE_RANGES])
    band = np.searchsorted(bounds, employees, side="right") - 1
    revenue = (np.round(employees * rng.uniform(80_000, 250_000, n) / 100_000) * 100_000).astype(np.int64)
    country = accounts.country[account]
    # The vendor puts the headquarters in one of the country's big cities.
    cities_per_country = np.array([len(row[5]) for row in ref.COUNTRIES])
    first_city = np.cumsum(cities_per_country) - cities_per_country
    known = np.maximum(country, 0)
    city_number = first_city[known] + rng.integers(0, 5, n) % cities_per_country[known]
    city = lookup([city for row in ref.COUNTRIES for city in row[5]], np.where(country < 0, -1, city_number))
    day = (np.datetime64("2024-01-01") + rng.integers(0, 500, n)).astype("datetime64[D]")
    day = np.where(newer, day, day - np.timedelta64(400, "D"))
    domain = accounts.domain.gather(account)
    variant = rng.random(n)
    tag_count = rng.integers(1, 4, n)
    tags = [lookup(ref.FIRMOGRAPHIC_TAGS, rng.integers(0, len(ref.FIRMOGRAPHIC_TAGS), n)) for _ in range(3)]
    industry = accounts.industry[account]
    records = pl.DataFrame(
        {
            "domain": pl.select(
                pl.when(pl.Series(variant < 0.10))
                .then(pl.lit("WWW.") + domain.str.to_uppercase())
                .when(pl.Series(variant < 0.15))
                .then(pl.lit("www.") + domain)
                .otherwise(domain)
            ).to_series(),
            "company_name": accounts.name.gather(account),
            "industry": lookup(ref.INDUSTRIES, np.where(rng.random(n) < 0.05, -1, industry)),
            "employees": pl.select(
                pl.when(pl.Series(rng.random(n) < 0.1)).then(None).otherwise(pl.Series(employees))
            ).to_series(),
            "employees_range": lookup([label for _, _, label in ref.EMPLOYEE_RANGES], band),
            "annual_revenue_usd": pl.select(
                pl.when(pl.Series(rng.random(n) < 0.2)).then(None).otherwise(pl.Series(revenue))
            ).to_series(),
            "city": city,
            "country": lookup(ref.COUNTRY_CODES, country),
            "founded_year": pl.select(
                pl.when(pl.Series(rng.random(n) < 0.1)).then(None).otherwise(pl.Series(rng.integers(1985, 2023, n)))
            ).to_series(),
            "tags": pl.DataFrame({"first": tags[0], "second": tags[1], "third": tags[2], "count": tag_count})
            .select(
                pl.concat_list("first", "second", "third").list.head(pl.col("count")).list.unique(maintain_order=True)
            )
            .to_series(),
            "updated_at": pl.Series(day).dt.strftime("%Y-%m-%d"),
        }
    )
    records = records[rng.permutation(n)].select(
        "domain",
        "company_name",
        "industry",
        pl.struct("employees", "employees_range", "annual_revenue_usd").alias("metrics"),
        pl.struct("city", "country").alias("hq"),
        "founded_year",
        "tags",
        "updated_at",
    )
    buffer = io.BytesIO()
    records.write_json(buffer)
    return b'{"data":' + buffer.getvalue() + b',"meta":{"count":' + str(n).encode() + b',"source":"vendor-x"}}\n'


def fx_rates(streams: Streams) -> bytes:
    """fx/fx_rates.csv: daily rates per business day, as a finance spreadsheet exports them.

    Reference data: its size does not depend on the scale.
    """
    rng = streams("fx")
    first, last = date(2023, 1, 1), date(2025, 6, 30)
    days = [first + timedelta(days=number) for number in range((last - first).days + 1)]
    days = [day for day in days if day.weekday() < 5]
    lines = ["\ufeffRate Date;Currency Code ;Units per USD"]
    log_rates = np.log(np.array(ref.FX_START_RATES))
    anchors = log_rates.copy()
    for day in days:
        # A mean-reverting random walk keeps rates in a believable band.
        log_rates = log_rates + rng.normal(0, 0.004, len(anchors)) - 0.01 * (log_rates - anchors)
        style = rng.random()
        if style < 0.85:
            text = day.isoformat()
        elif style < 0.95:
            text = day.strftime("%d/%m/%Y")
        else:
            text = f"{ref.MONTH_ABBREVIATIONS[day.month - 1]} {day.day:02d} {day.year}"
        for currency, rate in zip(ref.FX_CURRENCIES, np.exp(log_rates), strict=True):
            decimals = int(rng.integers(4, 7))
            line = f"{text};{currency};{rate:.{decimals}f}"
            lines.append(line)
            if rng.random() < 0.005:
                lines.append(line)
    return ("\n".join(lines) + "\n").encode("utf-8")
