"""raw_app: the product database's accounts and users."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from sample_data import reference as ref
from sample_data.common import (
    END,
    EXTRACTED_AT,
    START,
    US_PER_DAY,
    US_PER_MINUTE,
    US_PER_SECOND,
    Streams,
    ids,
    load_lag,
    lookup,
    pick,
    to_datetime,
)

# A time that never comes: soft deletes that did not happen, events that never occurred.
NEVER = np.iinfo(np.int64).max
# Signups grow: the last month sees about three times the first month's signups.
SIGNUP_GROWTH = np.log(3.0)


@dataclass
class Accounts:
    """The accounts table and the facts later stages draw on (aligned by row)."""

    table: pl.DataFrame
    created: np.ndarray  # int64 us
    deleted: np.ndarray  # int64 us, NEVER if not deleted
    size: np.ndarray  # relative company size (drives users, seats, events)
    country: np.ndarray  # index into reference.COUNTRIES, -1 if unknown
    currency: np.ndarray  # index into reference.CURRENCIES (billing currency)
    domain: pl.Series  # the clean domain, lowercase without 'www.'
    name: pl.Series
    industry: np.ndarray  # index into reference.INDUSTRIES, -1 if unknown

    @property
    def count(self) -> int:
        return len(self.created)


@dataclass
class Users:
    """The users table's facts (aligned by row); the table is assembled once events are known."""

    ids: pl.Series
    account: np.ndarray  # row index into Accounts
    account_id: pl.Series
    created: np.ndarray
    deleted: np.ndarray  # NEVER if not deleted
    activity: np.ndarray  # relative activity; 0 for users who never come back
    email: pl.Series  # as the app stores it (mixed case)
    first_name: pl.Series
    last_name: pl.Series
    role: np.ndarray  # index into reference.USER_ROLES

    @property
    def count(self) -> int:
        return len(self.created)

    def table(self, last_seen: np.ndarray, rng: np.random.Generator) -> pl.DataFrame:
        """raw_app.users, with `last_seen` (NEVER for users never seen) from the events."""
        changed = np.maximum(self.created, np.where(self.deleted == NEVER, 0, self.deleted))
        changed = np.maximum(changed, np.where(last_seen == NEVER, 0, last_seen))
        loaded = np.minimum(changed + load_lag(rng, self.count, 0.02), EXTRACTED_AT)
        return pl.DataFrame(
            {
                "id": self.ids,
                "account_id": self.account_id,
                "email": self.email,
                "full_name": self.first_name + " " + self.last_name,
                "role": lookup(ref.USER_ROLES, self.role),
                "created_at": to_datetime(self.created),
                "last_seen_at": to_datetime(last_seen, last_seen == NEVER),
                "deleted_at": to_datetime(self.deleted, self.deleted == NEVER),
                "_loaded_at": to_datetime(loaded),
            }
        )


def make_accounts(streams: Streams, count: int) -> Accounts:
    """`count` accounts, signed up between START and END at a growing rate, in signup order."""
    rng = streams("accounts")
    span = END - START
    growth = rng.random(count)
    # Inverse CDF of a density growing like exp(SIGNUP_GROWTH * t / span).
    offsets = np.log1p(growth * (np.exp(SIGNUP_GROWTH) - 1)) / SIGNUP_GROWTH
    created = np.sort(START + (offsets * span).astype(np.int64))

    size = rng.lognormal(0.0, 0.9, count)
    country = pick(rng, ref.COUNTRY_CODES, ref.COUNTRY_WEIGHTS, count)
    currency_of_country = np.array([ref.CURRENCIES.index(row[2]) for row in ref.COUNTRIES])
    currency = currency_of_country[country]
    country = np.where(rng.random(count) < 0.02, -1, country)  # unknown country, billed in usd

    industry = pick(rng, ref.INDUSTRIES, ref.INDUSTRY_WEIGHTS, count)
    industry = np.where(rng.random(count) < 0.03, -1, industry)

    head = lookup(ref.NAME_HEADS, rng.integers(0, len(ref.NAME_HEADS), count))
    tail = lookup(ref.NAME_TAILS, rng.integers(0, len(ref.NAME_TAILS), count))
    suffix = lookup(ref.COMPANY_SUFFIXES, rng.integers(0, len(ref.COMPANY_SUFFIXES), count))
    country_tld = [row[4] for row in ref.COUNTRIES]
    use_country_tld = (rng.random(count) < 0.4) & (country >= 0)
    tld = pl.select(
        pl.when(pl.Series(use_country_tld))
        .then(lookup(country_tld, np.maximum(country, 0)))
        .otherwise(lookup(ref.GENERIC_TLDS, rng.integers(0, len(ref.GENERIC_TLDS), count)))
    ).to_series()
    frame = pl.DataFrame({"head": head, "tail": tail, "suffix": suffix, "tld": tld})
    frame = frame.with_columns(base=(pl.col("head") + pl.col("tail")).str.to_lowercase())
    # Two companies may share a name, never a domain: number the repeats (acmeflow2.com).
    frame = frame.with_columns(
        repeat=pl.int_range(pl.len()).over("base", "tld"),
    ).with_columns(
        domain=pl.col("base")
        + pl.when(pl.col("repeat") > 0).then((pl.col("repeat") + 1).cast(pl.String)).otherwise(pl.lit(""))
        + pl.col("tld"),
        name=pl.col("head") + pl.col("tail").str.to_lowercase() + pl.col("suffix"),
    )
    domain = frame["domain"]

    # The app stores what people typed: 'www.' prefixes, capitals, and a few blanks.
    messy = rng.random(count)
    raw_domain = pl.select(
        pl.when(pl.Series(messy < 0.02))
        .then(None)
        .when(pl.Series(messy < 0.08))
        .then(pl.lit("www.") + domain)
        .when(pl.Series(messy < 0.11))
        .then(pl.lit("WWW.") + domain.str.to_uppercase())
        .when(pl.Series(messy < 0.16))
        .then(domain.str.to_titlecase())
        .otherwise(domain)
    ).to_series()

    deleted = np.full(count, NEVER, dtype=np.int64)
    is_deleted = rng.random(count) < 0.03
    earliest = created + US_PER_DAY
    deleted_at = earliest + (rng.random(count) * np.maximum(END - earliest, 0)).astype(np.int64)
    deleted = np.where(is_deleted & (earliest < END), deleted_at, NEVER)

    changed = np.where(deleted == NEVER, created, deleted)
    loaded = np.minimum(changed + load_lag(rng, count, 0.02), EXTRACTED_AT)
    table = pl.DataFrame(
        {
            "id": ids("acc_", count, 5),
            "name": frame["name"],
            "domain": raw_domain,
            "industry": lookup(ref.INDUSTRIES, industry),
            "country": lookup(ref.COUNTRY_CODES, country),
            "created_at": to_datetime(created),
            "deleted_at": to_datetime(deleted, deleted == NEVER),
            "_loaded_at": to_datetime(loaded),
        }
    )
    return Accounts(table, created, deleted, size, country, currency, domain, frame["name"], industry)


def make_users(streams: Streams, accounts: Accounts, count: int) -> Users:
    """`count` users (at least one per account: whoever signed up), in creation order."""
    rng = streams("users")
    count = max(count, accounts.count)
    per_account = 1 + rng.multinomial(count - accounts.count, accounts.size / accounts.size.sum())
    account = np.repeat(np.arange(accounts.count), per_account)
    first_of_account = np.r_[True, account[1:] != account[:-1]]

    # The founder signs up with the account; colleagues join later, most of them early on.
    account_created = accounts.created[account]
    account_end = np.minimum(accounts.deleted[account], END)
    joined = account_created + (rng.beta(1.0, 4.0, count) * (account_end - account_created)).astype(np.int64)
    created = np.where(
        first_of_account,
        account_created + rng.integers(5 * US_PER_SECOND, 10 * US_PER_MINUTE, count),
        joined,
    )
    created = np.minimum(created, account_end - US_PER_SECOND)

    order = np.lexsort((account, created))
    account, created, first_of_account = account[order], created[order], first_of_account[order]

    role = np.where(first_of_account, 0, pick(rng, ref.USER_ROLES, [10, 60, 30], count))
    deleted_at = created + (rng.random(count) * (END - created)).astype(np.int64)
    deleted = np.where(~first_of_account & (rng.random(count) < 0.04), deleted_at, NEVER)
    activity = rng.lognormal(0.0, 0.8, count) * np.where(role == 2, 0.5, 1.0)
    activity[rng.random(count) < 0.10] = 0.0  # invited, never came back

    first = lookup(ref.FIRST_NAMES, rng.integers(0, len(ref.FIRST_NAMES), count))
    last = lookup(ref.LAST_NAMES, rng.integers(0, len(ref.LAST_NAMES), count))
    domain = accounts.domain.gather(account)
    personal = lookup(ref.PERSONAL_EMAIL_DOMAINS, rng.integers(0, len(ref.PERSONAL_EMAIL_DOMAINS), count))
    style = rng.random(count)
    frame = pl.DataFrame(
        {
            "first": first,
            "last": last,
            "domain": pl.select(
                pl.when(pl.Series(rng.random(count) < 0.03)).then(personal).otherwise(domain)
            ).to_series(),
            "style": style,
            "case": rng.random(count),
        }
    )
    first_part = pl.col("first").str.to_lowercase()
    last_part = pl.col("last").str.to_lowercase().str.replace_all(r"[^a-z]", "")
    frame = frame.with_columns(
        local=pl.when(pl.col("style") < 0.6)
        .then(first_part + "." + last_part)
        .when(pl.col("style") < 0.8)
        .then(first_part.str.slice(0, 1) + last_part)
        .otherwise(first_part)
    )
    # Email addresses are unique ignoring case: number the repeats (jane.doe2@acme.com).
    frame = frame.with_columns(repeat=pl.int_range(pl.len()).over("local", "domain")).with_columns(
        local=pl.col("local")
        + pl.when(pl.col("repeat") > 0).then((pl.col("repeat") + 1).cast(pl.String)).otherwise(pl.lit(""))
    )
    # ... but the app stores them as typed: capitalised names, shouting, stray spaces.
    lower = pl.col("local") + "@" + pl.col("domain")
    email = frame.select(
        pl.when(pl.col("case") < 0.15)
        .then(pl.col("local").str.to_titlecase() + "@" + pl.col("domain"))
        .when(pl.col("case") < 0.20)
        .then(lower.str.to_uppercase())
        .when(pl.col("case") < 0.25)
        .then(pl.col("local") + "@" + pl.col("domain").str.to_titlecase())
        .when(pl.col("case") < 0.27)
        .then(pl.lit(" ") + lower + " ")
        .otherwise(lower)
        .alias("email")
    ).to_series()
    return Users(
        ids=ids("usr_", count, 6),
        account=account,
        account_id=accounts.table["id"].gather(account),
        created=created,
        deleted=deleted,
        activity=activity,
        email=email,
        first_name=first,
        last_name=last,
        role=role,
    )
