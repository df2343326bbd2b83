"""Shared by the lockfile/verify/review tests: scripted proposals and a few helpers."""

from __future__ import annotations

import copy
import hashlib
from pathlib import Path

from generator import Options, Request
from generator.llm.providers.scripted import ScriptedProvider
from generator.project import load_project
from generator.run.generate import generate as generate_model

MODEL = "account_billing_summary"
REQUEST = "billed, paid and failed amounts per account"

# What a model would answer: reads ref('invoices'), filters on a column it does not output.
BILLING_SUMMARY = {
    "name": MODEL,
    "layer": "marts",
    "description": "Billed, paid and failed amounts per account over its invoices that are not void.",
    "grain": ["account_id"],
    "materialized": "table",
    "sql": (
        "with invoices as (\n"
        "    select * from {{ ref('invoices') }}\n"
        ")\n"
        "select\n"
        "    account_id,\n"
        "    count(*) as invoice_count,\n"
        "    sum(amount_due) as amount_due_total,\n"
        "    sum(net_paid_amount) as net_paid_total,\n"
        "    sum(failed_amount) as failed_amount_total\n"
        "from invoices\n"
        "where invoice_status <> 'void'\n"
        "group by account_id\n"
    ),
    "columns": [
        {"name": "account_id", "description": "The billed account."},
        {"name": "invoice_count", "description": "Invoices that are not void."},
        {"name": "amount_due_total", "description": "Billed amount."},
        {"name": "net_paid_total", "description": "Paid amount net of refunds."},
        {"name": "failed_amount_total", "description": "Amount of failed payment attempts."},
    ],
}


def breaking_billing_summary() -> dict:
    """The same model without failed_amount_total, and uncollectible invoices left out too."""
    proposal = copy.deepcopy(BILLING_SUMMARY)
    proposal["sql"] = (
        proposal["sql"]
        .replace(",\n    sum(failed_amount) as failed_amount_total\n", "\n")
        .replace("where invoice_status <> 'void'", "where invoice_status not in ('void', 'uncollectible')")
    )
    proposal["columns"] = [c for c in proposal["columns"] if c["name"] != "failed_amount_total"]
    return proposal


def generate(project_dir: Path, answers: list, request: str = REQUEST, **options) -> tuple:
    """`gen-model "REQUEST"` with a scripted LLM; returns (report, provider)."""
    provider = ScriptedProvider(answers)
    report = generate_model(load_project(project_dir), Request(text=request), Options(**options), provider=provider)
    return report, provider


def digests(project_dir: Path, *paths: str) -> dict[str, str | None]:
    """sha256 of each file (None when missing), for byte-identity checks."""
    result = {}
    for path in paths:
        file = project_dir / path
        result[path] = hashlib.sha256(file.read_bytes()).hexdigest() if file.is_file() else None
    return result


SQL_V1 = f"models/marts/{MODEL}_v1.sql"
SQL_V2 = f"models/marts/{MODEL}_v2.sql"
YML = f"models/marts/{MODEL}.yml"
LOCK = "gen_model.lock"
