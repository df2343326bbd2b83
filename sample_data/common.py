"""Shared clock, random streams and vectorised helpers for the sample data generator.

Times are int64 microseconds since the Unix epoch, UTC, until a table is assembled; that
keeps every calculation in numpy and every conversion in one place (`to_datetime`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import polars as pl

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_HOUR = 60 * US_PER_MINUTE
US_PER_DAY = 24 * US_PER_HOUR


def utc_us(*parts: int) -> int:
    """Microseconds since the epoch for a UTC calendar time, e.g. utc_us(2023, 1, 1)."""
    moment = datetime(*parts, tzinfo=timezone.utc)
    return int(moment.timestamp()) * US_PER_SECOND


# The company's history: the data spans 2023-01-01 .. 2025-06-30 (END is exclusive).
START = utc_us(2023, 1, 1)
END = utc_us(2025, 7, 1)
# When the EL tool last synced: no `_loaded_at` is later than this.
EXTRACTED_AT = END + 4 * US_PER_HOUR

# Per unit of --scale.
ACCOUNTS_PER_SCALE = 500
USERS_PER_SCALE = 2_500
EVENTS_PER_SCALE = 100_000

DATETIME_UTC = pl.Datetime("us", "UTC")


@dataclass(frozen=True)
class Streams:
    """Independent random streams, one per named part of the data.

    Each stream is seeded from (seed, name), so adding a stream or drawing more numbers in
    one part never changes the numbers another part gets.
    """

    seed: int

    def __call__(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.seed, zlib.crc32(name.encode("utf-8"))])


def scaled(base: int, scale: float, minimum: int = 1) -> int:
    """`base * scale` rows, rounded, and never fewer than `minimum`."""
    return max(minimum, int(round(base * scale)))


def ids(prefix: str, count: int, width: int) -> pl.Series:
    """'prefix' + 1-based zero-padded numbers: ids('acc_', 3, 5) -> acc_00001 .. acc_00003."""
    width = max(width, len(str(count)))
    return pl.select(
        (pl.lit(prefix) + pl.int_range(1, count + 1, eager=False).cast(pl.String).str.zfill(width)).alias("id")
    ).to_series()


def pick(rng: np.random.Generator, values: list, weights: list[float] | None, size: int) -> np.ndarray:
    """Indices into `values` drawn with `weights` (normalised here)."""
    p = None if weights is None else np.asarray(weights, dtype=float) / np.sum(weights)
    return rng.choice(len(values), size=size, p=p)


def lookup(values: list, codes: np.ndarray, dtype=pl.String) -> pl.Series:
    """The values at `codes` as a polars Series (vectorised); a negative code gives null."""
    codes = np.where(codes < 0, len(values), codes)
    return pl.Series([*values, None], dtype=dtype).gather(codes)


def load_lag(rng: np.random.Generator, size: int, late_share: float) -> np.ndarray:
    """How long after a change the EL tool lands it: minutes, or days for `late_share` rows."""
    lag = (rng.exponential(20, size) + 1) * US_PER_MINUTE
    late = rng.random(size) < late_share
    lag[late] = rng.uniform(1, 10, late.sum()) * US_PER_DAY
    return lag.astype(np.int64)


def to_datetime(values: np.ndarray, mask: np.ndarray | None = None) -> pl.Series:
    """int64 microseconds -> polars Datetime(us, UTC); rows where `mask` is True become null."""
    series = pl.Series(values.astype(np.int64)).cast(DATETIME_UTC)
    if mask is not None:
        series = pl.select(pl.when(pl.Series(mask)).then(None).otherwise(series).alias(series.name)).to_series()
    return series


def month_starts(start: int = START, end: int = END) -> np.ndarray:
    """The first microsecond of every calendar month in [start, end], end included."""
    months = np.arange(
        np.datetime64(start, "us").astype("datetime64[M]"),
        np.datetime64(end, "us").astype("datetime64[M]") + 1,
    )
    return months.astype("datetime64[us]").astype(np.int64)


def add_months(times: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Calendar month arithmetic keeping the time of day; the day is clamped to the month's
    end (Jan 31 + 1 month -> Feb 28), as billing systems do."""
    stamps = times.astype(np.int64).astype("datetime64[us]")
    month = stamps.astype("datetime64[M]")
    since_month_start = times.astype(np.int64) - month.astype("datetime64[us]").astype(np.int64)
    day, time_of_day = np.divmod(since_month_start, US_PER_DAY)
    target = month + months.astype(np.int64)
    target_start = target.astype("datetime64[us]").astype(np.int64)
    days_in_target = ((target + 1).astype("datetime64[us]").astype(np.int64) - target_start) // US_PER_DAY
    return target_start + np.minimum(day, days_in_target - 1) * US_PER_DAY + time_of_day


class SampleDataError(Exception):
    """An expected failure (bad argument, warehouse in use): reported without a traceback."""
