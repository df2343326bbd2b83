"""Deterministic sample data for Northwind Cloud, the B2B SaaS company of the sample project.

`python -m sample_data --scale N` writes what RAW_DATA_CONTRACT.md describes:
  * the SQL sources (schemas raw_app, raw_billing) into the DuckDB warehouse, replaced whole;
  * the non-SQL files under the raw dir: crm/contacts.ndjson, firmographics/companies.json,
    fx/fx_rates.csv and events/events-YYYY-MM.parquet.

Same scale and seed -> byte-identical files and identical tables: every part of the data
draws from its own numpy Generator seeded by (seed, part name), nothing depends on the
clock, the machine or the order of a hash set.

Deliberate messiness, all of it documented in the contract: soft-deleted accounts and users
(deleting an account does not delete its users), 'www.' and capitals in domains, null
domains/countries/industries, mixed-case emails with stray spaces, payments landed twice
(~1%, the first copy of a settled direct debit may still say 'pending'), rows landed days
late, refunds as negative payments, failed and pending payments, CAD/AUD invoices for USD
plans (a fixed price book: per-seat price x 1.35 or 1.50, rounded half up to whole units),
duplicated CRM and firmographics records, mixed date formats and duplicate rows in the FX
file, duplicated and late events.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sample_data.common import (
    ACCOUNTS_PER_SCALE,
    EVENTS_PER_SCALE,
    USERS_PER_SCALE,
    SampleDataError,
    Streams,
    scaled,
)

DEFAULT_SEED = 42
DEFAULT_RAW_DIR = "data/raw"
DEFAULT_WAREHOUSE = "warehouse.duckdb"
CRM_FILE = Path("crm/contacts.ndjson")
FIRMOGRAPHICS_FILE = Path("firmographics/companies.json")
FX_FILE = Path("fx/fx_rates.csv")
EVENTS_DIR = Path("events")

__all__ = ["Summary", "SampleDataError", "generate", "default_raw_dir", "default_warehouse"]


def default_raw_dir() -> Path:
    """GEN_MODEL_RAW_PATH, else data/raw (relative to the current directory)."""
    return Path(os.environ.get("GEN_MODEL_RAW_PATH") or DEFAULT_RAW_DIR)


def default_warehouse() -> Path:
    """GEN_MODEL_DUCKDB_PATH, else warehouse.duckdb: the dbt profile's own default."""
    return Path(os.environ.get("GEN_MODEL_DUCKDB_PATH") or DEFAULT_WAREHOUSE)


@dataclass
class Summary:
    """What one run wrote: rows per table, rows and bytes per file, and how long it took."""

    scale: float
    seed: int
    warehouse: Path
    raw_dir: Path
    tables: dict[str, int] = field(default_factory=dict)
    files: dict[Path, tuple[int, int]] = field(default_factory=dict)  # relative path -> (rows, bytes)
    seconds: float = 0.0

    def format(self) -> str:
        """A short human report."""
        lines = [f"Northwind Cloud sample data (scale {self.scale:g}, seed {self.seed})"]
        size = self.warehouse.stat().st_size if self.warehouse.exists() else 0
        lines.append(f"  {self.warehouse}  ({_size(size)})")
        for name, rows in self.tables.items():
            lines.append(f"    {name:<28}{rows:>12,} rows")
        lines.append(f"  {self.raw_dir}/")
        events = {path: value for path, value in self.files.items() if path.parent == EVENTS_DIR}
        for path, (rows, size) in self.files.items():
            if path not in events:
                lines.append(f"    {str(path):<28}{rows:>12,} rows  {_size(size):>10}")
        if events:
            rows = sum(value[0] for value in events.values())
            size = sum(value[1] for value in events.values())
            label = f"{EVENTS_DIR}/ ({len(events)} monthly files)"
            lines.append(f"    {label:<28}{rows:>12,} rows  {_size(size):>10}")
        lines.append(f"  done in {self.seconds:.1f} s")
        return "\n".join(lines)


def _size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def _write_atomic(path: Path, writer: Callable[[Path], None]) -> None:
    """Write through a temporary sibling and rename: a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    try:
        writer(temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def generate(
    scale: float = 1.0,
    raw_dir: str | Path | None = None,
    warehouse: str | Path | None = None,
    seed: int = DEFAULT_SEED,
) -> Summary:
    """Generate the whole sample dataset; raise SampleDataError for expected failures."""
    from sample_data import app, billing, events, files
    from sample_data import warehouse as landing

    if not scale > 0:
        raise SampleDataError(f"--scale must be a positive number, got {scale}")
    began = time.perf_counter()
    raw_dir = Path(raw_dir) if raw_dir is not None else default_raw_dir()
    warehouse = Path(warehouse) if warehouse is not None else default_warehouse()
    summary = Summary(scale=scale, seed=seed, warehouse=warehouse, raw_dir=raw_dir)
    connection = landing.connect(warehouse)  # fail fast if the warehouse is in use
    try:
        streams = Streams(seed)
        accounts = app.make_accounts(streams, scaled(ACCOUNTS_PER_SCALE, scale))
        users = app.make_users(streams, accounts, scaled(USERS_PER_SCALE, scale))
        ledger = billing.make_billing(streams, accounts, users)

        def write(path: Path, writer: Callable[[Path], None]) -> None:
            _write_atomic(path, writer)

        event_files, last_seen = events.write_events(
            streams,
            accounts,
            users,
            ledger,
            scaled(EVENTS_PER_SCALE, scale),
            raw_dir / EVENTS_DIR,
            write,
        )
        kept = {event_file.path.name for event_file in event_files}
        for stale in sorted((raw_dir / EVENTS_DIR).glob("events-*.parquet")):
            if stale.name not in kept:
                stale.unlink()
        for event_file in event_files:
            summary.files[event_file.path.relative_to(raw_dir)] = (
                event_file.rows,
                event_file.path.stat().st_size,
            )

        documents = {
            CRM_FILE: files.crm_contacts(streams, accounts, users, ledger),
            FIRMOGRAPHICS_FILE: files.firmographics(streams, accounts),
            FX_FILE: files.fx_rates(streams),
        }
        for relative, content in documents.items():
            write(raw_dir / relative, lambda target, content=content: target.write_bytes(content))
            summary.files[relative] = (_record_count(relative, content), len(content))

        tables = {
            "raw_app.accounts": accounts.table,
            "raw_app.users": users.table(last_seen, streams("users-loaded")),
            "raw_billing.plans": ledger.plans,
            "raw_billing.subscriptions": ledger.subscriptions,
            "raw_billing.invoices": ledger.invoices,
            "raw_billing.payments": ledger.payments,
        }
        landing.load(connection, tables)
        summary.tables = {name: frame.height for name, frame in tables.items()}
    finally:
        connection.close()
    summary.seconds = time.perf_counter() - began
    return summary


def _record_count(relative: Path, content: bytes) -> int:
    if relative == FIRMOGRAPHICS_FILE:
        return int(content.rsplit(b'"count":', 1)[1].split(b",", 1)[0])
    lines = content.count(b"\n")
    return lines - 1 if relative.suffix == ".csv" else lines
