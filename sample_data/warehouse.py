"""Land the SQL sources in the DuckDB warehouse, as an EL tool would: whole schemas replaced."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from sample_data.common import SampleDataError

# The column types of every raw table: the contract with the staging models.
TABLES: dict[str, dict[str, str]] = {
    "raw_app.accounts": {
        "id": "varchar",
        "name": "varchar",
        "domain": "varchar",
        "industry": "varchar",
        "country": "varchar",
        "created_at": "timestamptz",
        "deleted_at": "timestamptz",
        "_loaded_at": "timestamptz",
    },
    "raw_app.users": {
        "id": "varchar",
        "account_id": "varchar",
        "email": "varchar",
        "full_name": "varchar",
        "role": "varchar",
        "created_at": "timestamptz",
        "last_seen_at": "timestamptz",
        "deleted_at": "timestamptz",
        "_loaded_at": "timestamptz",
    },
    "raw_billing.plans": {
        "id": "varchar",
        "name": "varchar",
        "tier": "varchar",
        "billing_interval": "varchar",
        "currency": "varchar",
        "unit_amount": "bigint",
        "is_active": "boolean",
    },
    "raw_billing.subscriptions": {
        "id": "varchar",
        "account_id": "varchar",
        "plan_id": "varchar",
        "status": "varchar",
        "quantity": "integer",
        "started_at": "timestamptz",
        "ended_at": "timestamptz",
        "canceled_at": "timestamptz",
        "trial_ends_at": "timestamptz",
        "previous_subscription_id": "varchar",
        "created_at": "timestamptz",
        "updated_at": "timestamptz",
    },
    "raw_billing.invoices": {
        "id": "varchar",
        "account_id": "varchar",
        "subscription_id": "varchar",
        "currency": "varchar",
        "amount_due": "bigint",
        "amount_paid": "bigint",
        "status": "varchar",
        "period_start": "timestamptz",
        "period_end": "timestamptz",
        "created_at": "timestamptz",
        "due_at": "timestamptz",
    },
    "raw_billing.payments": {
        "id": "varchar",
        "invoice_id": "varchar",
        "account_id": "varchar",
        "amount": "bigint",
        "currency": "varchar",
        "status": "varchar",
        "payment_method": "varchar",
        "failure_reason": "varchar",
        "created_at": "timestamptz",
        "_loaded_at": "timestamptz",
    },
}
SCHEMAS = ("raw_app", "raw_billing")


def connect(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse for writing, with an error that says what to do if it is in use."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        return duckdb.connect(str(path))
    except duckdb.IOException as error:
        raise SampleDataError(
            f"cannot open the warehouse {path} for writing: {str(error).splitlines()[0]}\n"
            "Another process (dbt, a notebook, a DuckDB shell) holds it open; close it and rerun."
        ) from None


def load(connection: duckdb.DuckDBPyConnection, tables: dict[str, pl.DataFrame]) -> None:
    """Replace the raw schemas with `tables` in one transaction: readers never see half a load."""
    missing = set(TABLES) - set(tables)
    if missing:
        raise SampleDataError(f"no data for {', '.join(sorted(missing))}")
    connection.execute("set TimeZone = 'UTC'")
    connection.begin()
    try:
        for schema in SCHEMAS:
            connection.execute(f"drop schema if exists {schema} cascade")
            connection.execute(f"create schema {schema}")
        for name, columns in TABLES.items():
            frame = tables[name]
            if list(frame.columns) != list(columns):
                raise SampleDataError(f"{name}: columns {frame.columns} differ from the contract {list(columns)}")
            ddl = ", ".join(f"{column} {data_type}" for column, data_type in columns.items())
            connection.execute(f"create table {name} ({ddl})")
            connection.register("incoming", frame.to_arrow())
            connection.execute(f"insert into {name} select * from incoming")
            connection.unregister("incoming")
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
