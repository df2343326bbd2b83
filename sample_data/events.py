"""events/events-YYYY-MM.parquet: the product analytics drop, written one month at a time.

Events come from users while they and their account are active, in proportion to each
user's activity, with a working-hours and weekday rhythm. Files are partitioned by the
month the event occurred in; rows are in arrival order. Memory stays bounded by the
largest month, whatever the scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from sample_data import reference as ref
from sample_data.app import NEVER, Accounts, Users
from sample_data.billing import Billing
from sample_data.common import (
    DATETIME_UTC,
    END,
    US_PER_DAY,
    US_PER_HOUR,
    US_PER_SECOND,
    Streams,
    lookup,
    month_starts,
    pick,
    to_datetime,
)

ANONYMOUS_SHARE = 0.04
DUPLICATE_SHARE = 0.01
LATE_SHARE = 0.02
BROWSER_AGENTS = 5  # the first five USER_AGENTS are browsers, the rest SDKs


# The file schema, exactly as the contract states it (polars alone would write large_string).
_TEXT = pa.string()
_UTC = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        ("event_id", _TEXT),
        ("account_id", _TEXT),
        ("user_id", _TEXT),
        ("event_name", _TEXT),
        ("occurred_at", _UTC),
        ("received_at", _UTC),
        (
            "properties",
            pa.struct([("feature", _TEXT), ("path", _TEXT), ("duration_ms", pa.int64())]),
        ),
        ("context", pa.struct([("locale", _TEXT), ("user_agent", _TEXT), ("ip_country", _TEXT)])),
    ]
)


def write_parquet(frame: pl.DataFrame, target: Path) -> None:
    """zstd-compressed Parquet with the contract's schema; byte-identical for the same frame."""
    pq.write_table(frame.to_arrow().cast(SCHEMA), target, compression="zstd", write_statistics=True)


@dataclass(frozen=True)
class EventFile:
    path: Path
    rows: int


def month_counts(total: int, weights: np.ndarray) -> np.ndarray:
    """Split `total` over months in proportion to `weights`, exactly (largest remainder)."""
    share = total * weights / weights.sum()
    counts = np.floor(share).astype(np.int64)
    remainder = total - counts.sum()
    counts[np.argsort(-(share - counts), kind="stable")[:remainder]] += 1
    return counts


def write_events(
    streams: Streams,
    accounts: Accounts,
    users: Users,
    billing: Billing,
    total: int,
    directory: Path,
    write,
) -> tuple[list[EventFile], np.ndarray]:
    """Write every month's file; return them and each user's last event time (NEVER if none)."""
    starts = month_starts()
    bounds = list(zip(starts[:-1], starts[1:], strict=True))
    user_end = np.minimum(np.minimum(users.deleted, billing.active_until[users.account]), END)
    weights = np.empty(len(bounds))
    for number, (month_start, month_end) in enumerate(bounds):
        overlap = np.clip(np.minimum(user_end, month_end) - np.maximum(users.created, month_start), 0, None)
        weights[number] = np.sum(users.activity * overlap)
    counts = month_counts(total, weights)

    last_seen = np.zeros(users.count, dtype=np.int64)
    files = []
    for (month_start, month_end), count in zip(bounds, counts, strict=True):
        label = str(np.datetime64(int(month_start), "us").astype("datetime64[M]"))
        frame, user_rows, occurred = month_of_events(
            streams(f"events-{label}"),
            accounts,
            users,
            user_end,
            month_start,
            month_end,
            int(count),
        )
        named = user_rows >= 0
        np.maximum.at(last_seen, user_rows[named], occurred[named])
        path = directory / f"events-{label}.parquet"
        write(path, lambda target, frame=frame: write_parquet(frame, target))
        files.append(EventFile(path, frame.height))
        del frame
    return files, np.where(last_seen == 0, NEVER, last_seen)


def month_of_events(
    rng: np.random.Generator,
    accounts: Accounts,
    users: Users,
    user_end: np.ndarray,
    month_start: int,
    month_end: int,
    count: int,
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """One month's events, duplicates included, in arrival order."""
    window_start = np.maximum(users.created, month_start)
    window_end = np.minimum(user_end, month_end)
    weight = users.activity * np.clip(window_end - window_start, 0, None)
    user = rng.choice(users.count, size=count, p=weight / weight.sum()) if count else np.zeros(0, np.int64)
    begin, finish = window_start[user], window_end[user]
    occurred = begin + (rng.random(count) * (finish - begin)).astype(np.int64)

    # People work in the (European and American) daytime and rarely at weekends.
    day_start = occurred - occurred % US_PER_DAY
    daytime = day_start + (np.clip(rng.normal(14.5, 3.5, count), 0, 23.99) * US_PER_HOUR).astype(np.int64)
    move = (rng.random(count) < 0.6) & (daytime >= begin) & (daytime < finish)
    occurred = np.where(move, daytime, occurred)
    weekday = (occurred // US_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday; 5, 6: weekend
    to_weekday = np.where(weekday == 5, -1, 1) * US_PER_DAY
    shifted = occurred + to_weekday
    move = (weekday >= 5) & (rng.random(count) < 0.65) & (shifted >= begin) & (shifted < finish)
    occurred = np.where(move, shifted, occurred)

    account = users.account[user]
    name = pick(rng, ref.EVENT_NAMES, ref.EVENT_WEIGHTS, count)
    anonymous = rng.random(count) < ANONYMOUS_SHARE
    page_view, api_call = ref.EVENT_NAMES.index("page_view"), ref.EVENT_NAMES.index("api_call")
    name = np.where(anonymous, page_view, name)
    user_row = np.where(anonymous, -1, user)

    feature = np.select(
        [
            name == ref.EVENT_NAMES.index("feature_used"),
            name == ref.EVENT_NAMES.index("report_exported"),
            name == ref.EVENT_NAMES.index("dashboard_created"),
        ],
        [
            rng.integers(0, len(ref.FEATURES), count),
            ref.FEATURES.index("exports"),
            ref.FEATURES.index("dashboards"),
        ],
        -1,
    )
    templates = ref.PAGE_PATHS + ref.API_PATHS
    template = np.select(
        [name == page_view, name == api_call],
        [
            rng.integers(0, len(ref.PAGE_PATHS), count),
            len(ref.PAGE_PATHS) + rng.integers(0, len(ref.API_PATHS), count),
        ],
        -1,
    )
    duration = np.select(
        [name == page_view, name == api_call],
        [rng.lognormal(7.5, 0.8, count), rng.lognormal(5.0, 0.7, count)],
        np.nan,
    )
    locale = np.array([row[3] for row in ref.COUNTRIES])
    country = accounts.country[account]
    ip_country = np.where(rng.random(count) < 0.08, rng.integers(0, len(ref.COUNTRIES), count), country)
    ip_country = np.where(rng.random(count) < 0.02, -1, ip_country)
    agent = np.where(
        name == api_call,
        BROWSER_AGENTS + rng.integers(0, len(ref.USER_AGENTS) - BROWSER_AGENTS, count),
        rng.integers(0, BROWSER_AGENTS, count),
    )
    delay = np.exp(rng.normal(0.5, 1.0, count)) * US_PER_SECOND
    late = rng.random(count) < LATE_SHARE
    delay[late] = rng.uniform(1, 5 * 24, late.sum()) * US_PER_HOUR
    received = occurred + delay.astype(np.int64)

    raw_ids = np.frombuffer(rng.bytes(16 * count), dtype=np.uint8).reshape(count, 16)
    event_id = hex_ids(raw_ids)
    path_template = lookup(templates, template)
    frame = pl.DataFrame(
        {
            "event_id": event_id,
            "account_id": accounts.table["id"].gather(account),
            "user_id": users.ids.gather(np.maximum(user_row, 0)),
            "anonymous": anonymous,
            "event_name": lookup(ref.EVENT_NAMES, name),
            "occurred_at": to_datetime(occurred),
            "received_at": to_datetime(received),
            "feature": lookup(ref.FEATURES, feature),
            "template": path_template,
            "object_id": rng.integers(1, 500, count),
            "duration_ms": pl.Series(duration).fill_nan(None).cast(pl.Int64),
            "locale": lookup([*locale, "en-US"], np.where(country < 0, len(locale), country)),
            "user_agent": lookup(ref.USER_AGENTS, agent),
            "ip_country": lookup(ref.COUNTRY_CODES, ip_country),
        }
    )
    frame = frame.select(
        "event_id",
        "account_id",
        pl.when(~pl.col("anonymous")).then(pl.col("user_id")).alias("user_id"),
        "event_name",
        "occurred_at",
        "received_at",
        pl.struct(
            "feature",
            pl.when(pl.col("template").str.contains("{}", literal=True))
            .then(pl.col("template").str.replace("{}", "", literal=True) + pl.col("object_id").cast(pl.String))
            .otherwise(pl.col("template"))
            .alias("path"),
            "duration_ms",
        ).alias("properties"),
        pl.struct("locale", "user_agent", "ip_country").alias("context"),
    )

    # At-least-once delivery: ~1% of events arrive a second time, a little later.
    again = np.flatnonzero(rng.random(count) < DUPLICATE_SHARE)
    redelivered = received[again] + (rng.uniform(1, 2 * 3600, len(again)) * US_PER_SECOND).astype(np.int64)
    copies = frame[again].with_columns(received_at=pl.Series(redelivered).cast(DATETIME_UTC))
    frame = pl.concat([frame, copies]).sort("received_at", "event_id")
    return frame, user_row, occurred


def hex_ids(raw: np.ndarray) -> pl.Series:
    """Rows of 16 random bytes -> 32-character lowercase hex strings, vectorised."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    text = np.empty((raw.shape[0], 32), dtype=np.uint8)
    text[:, 0::2] = digits[raw >> 4]
    text[:, 1::2] = digits[raw & 15]
    return pl.Series("event_id", text.view("S32").ravel()).cast(pl.String)
