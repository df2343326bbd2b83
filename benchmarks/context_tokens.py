"""Context-size benchmark: does retrieval keep prompts within budget as catalogs grow?

Synthesises catalogs of 10, 100 and 1,000 relations (sources, staging, intermediate and
mart models with realistic names, 5-30 columns, descriptions, accepted values and foreign
keys), retrieves a slice for a few requests at each size, and prints the catalog-slice and
full-prompt token estimates. Exits 1 if any slice exceeds its budget or any prompt exceeds
the budget plus the fixed prompt overhead (system prompt, tool schema, framing).

When the optional `bpe-openai` package is importable (`pip install bpe-openai`; it bundles
OpenAI's cl100k_base and o200k_base vocabularies, so it works offline), it also prints how
`generator.llm.tokens.estimate_tokens` compares with those real tokenizers on the same text.

Usage: python benchmarks/context_tokens.py [--budget 6000] [--sizes 10,100,1000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.llm.prompt import SYSTEM_PROMPT, build_prompt, canonical_json, tool_definition
from generator.llm.retrieve import retrieve
from generator.llm.tokens import SAFETY_FACTOR, estimate_tokens, raw_token_count
from generator.project.catalog import Catalog, Column, ForeignKey, RawFile, Relation

REQUESTS = (
    "monthly revenue per customer",
    "open support tickets per account by priority",
    "inventory on hand by warehouse and product category",
    "campaign conversion rate by marketing channel and week",
)

DOMAINS = {
    "billing": ["invoice", "payment", "refund", "credit_note", "subscription", "plan", "coupon"],
    "app": ["account", "user", "session", "workspace", "feature_flag", "invitation"],
    "crm": ["customer", "contact", "opportunity", "lead", "deal_stage", "activity"],
    "support": ["ticket", "ticket_comment", "agent", "sla_policy", "satisfaction_survey"],
    "marketing": ["campaign", "ad_click", "email_send", "channel", "landing_page", "conversion"],
    "inventory": [
        "product",
        "warehouse",
        "stock_movement",
        "supplier",
        "purchase_order",
        "category",
    ],
    "shipping": ["shipment", "carrier", "delivery_attempt", "return_label", "parcel"],
    "hr": ["employee", "department", "payroll_run", "time_off_request", "position"],
    "finance": ["ledger_entry", "gl_account", "budget_line", "expense", "currency_rate"],
    "web": ["page_view", "visitor", "referrer", "utm_parameter", "form_submission"],
}
ATTRIBUTES = [
    ("status", "varchar", "Lifecycle state.", ("active", "paused", "cancelled", "pending")),
    ("amount", "decimal(18,2)", "Amount in the account currency.", None),
    ("quantity", "integer", "Number of units.", None),
    ("currency", "varchar", "ISO 4217 currency code.", ("USD", "EUR", "GBP")),
    ("priority", "varchar", "How urgent it is.", ("low", "normal", "high", "urgent")),
    (
        "channel",
        "varchar",
        "Marketing or sales channel.",
        ("email", "paid_search", "social", "direct"),
    ),
    ("country_code", "varchar", "ISO 3166 country code.", None),
    ("name", "varchar", "Display name.", None),
    ("email", "varchar", "Contact email address (lowercased).", None),
    ("notes", "varchar", "Free text entered by staff.", None),
    ("is_deleted", "boolean", "Soft-delete flag from the source system.", None),
    ("score", "double", "Model score between 0 and 1.", None),
    ("duration_seconds", "integer", "Elapsed time in seconds.", None),
    ("unit_price", "decimal(18,4)", "Price per unit before discounts.", None),
    ("discount_pct", "decimal(5,2)", "Discount applied, in percent.", None),
    ("category", "varchar", "Category label.", ("hardware", "software", "services")),
    ("source_system", "varchar", "Which upstream system produced the row.", None),
    ("external_ref", "varchar", "Identifier in the upstream system.", None),
    ("region", "varchar", "Sales region.", ("emea", "amer", "apac")),
    ("tier", "varchar", "Service tier.", ("free", "pro", "enterprise")),
]
TIMESTAMPS = ["created_at", "updated_at", "occurred_at", "closed_at", "opened_at", "shipped_at"]


def plural(entity: str) -> str:
    if entity.endswith("y") and not entity.endswith(("ay", "ey", "oy")):
        return entity[:-1] + "ies"
    if entity.endswith(("s", "x", "ch", "sh")):
        return entity + "es"
    return entity + "s"


def synthesise_catalog(size: int, seed: int = 7) -> Catalog:
    """A deterministic catalog of exactly `size` relations in a realistic dbt layout."""
    rng = random.Random(seed)
    entities = [(domain, entity) for domain, names in DOMAINS.items() for entity in names]
    relations: list[Relation] = []
    keys: dict[str, str] = {}  # entity -> unique_id of its staging model
    batch = 0
    while len(relations) < size:
        for base_domain, entity in entities:
            if len(relations) >= size:
                break
            # Larger catalogs repeat the domains as further systems: billing2, billing3, ...
            domain = base_domain if batch == 0 else f"{base_domain}{batch + 1}"
            name_entity = entity
            words = entity.replace("_", " ")
            key = f"{entity}_id"
            others = [e for d, e in entities if e != entity and e in keys]
            fk_targets = rng.sample(others, k=min(len(others), rng.randint(0, 3)))
            attributes = rng.sample(ATTRIBUTES, k=rng.randint(4, 18))
            columns = [Column(key, "varchar", f"Primary key of the {entity.replace('_', ' ')}.", True, True)]
            for target in fk_targets:
                columns.append(Column(f"{target}_id", "varchar", f"The {target.replace('_', ' ')} it belongs to."))
            for attribute, data_type, description, values in attributes:
                columns.append(Column(f"{attribute}", data_type, description, accepted_values=values))
            for stamp in rng.sample(TIMESTAMPS, k=rng.randint(1, 4)):
                columns.append(Column(stamp, "timestamp", f"When it was {stamp.split('_')[0]}."))
            columns = columns[: rng.randint(5, 30)] if len(columns) > 30 else columns
            source = Relation(
                unique_id=f"source.synth.{domain}.{plural(name_entity)}",
                resource_type="source",
                name=plural(name_entity),
                database="warehouse",
                schema=f"raw_{domain}",
                identifier=plural(name_entity),
                source_name=domain,
                description=f"Raw {plural(words)} loaded from the {domain} system.",
                columns=tuple(Column(c.name, c.data_type) for c in columns),
            )
            relations.append(source)
            if len(relations) >= size:
                break
            staging_name = f"stg_{domain}__{plural(name_entity)}"
            unique_id = f"model.synth.{staging_name}"
            foreign_keys = tuple(
                ForeignKey(f"{target}_id", keys[target], f"{target}_id")
                for target in fk_targets
                if f"{target}_id" in {c.name for c in columns}
            )
            relations.append(
                Relation(
                    unique_id=unique_id,
                    resource_type="model",
                    name=staging_name,
                    database="warehouse",
                    schema="main",
                    identifier=staging_name,
                    description=f"One row per {words}, cleaned from the {domain} source.",
                    columns=tuple(columns),
                    row_count=rng.randint(10, 2_000_000),
                    primary_key=(key,),
                    foreign_keys=foreign_keys,
                    materialized="view",
                )
            )
            keys.setdefault(entity, unique_id)
            if len(relations) >= size:
                break
            if rng.random() < 0.5:
                mart = plural(name_entity) if batch == 0 else f"{domain}_{plural(name_entity)}"
                if rng.random() < 0.5:
                    mart = (
                        f"int_{plural(name_entity)}_joined"
                        if batch == 0
                        else f"int_{domain}_{plural(name_entity)}_joined"
                    )
                relations.append(
                    Relation(
                        unique_id=f"model.synth.{mart}",
                        resource_type="model",
                        name=mart,
                        database="warehouse",
                        schema="main",
                        identifier=mart,
                        description=f"{words.capitalize()}s enriched for reporting.",
                        columns=tuple(columns[: rng.randint(5, len(columns))]),
                        row_count=rng.randint(10, 2_000_000),
                        primary_key=(key,),
                        materialized="table",
                    )
                )
        batch += 1
    raw_files = (
        RawFile(
            path="data/tracking_events.ndjson",
            format="ndjson",
            columns=(
                Column("event_name", "varchar"),
                Column("account_id", "varchar"),
                Column("ts", "timestamp"),
            ),
            row_count=50_000,
            description="Product tracking events exported from the analytics API.",
        ),
    )
    return Catalog(
        project_name="synth",
        project_dir=Path("."),
        relations=tuple(relations[:size]),
        raw_files=raw_files,
    )


def calibration(texts: dict[str, str]) -> list[str]:
    """Estimate vs real BPE counts (cl100k_base, o200k_base) when bpe-openai is installed."""
    try:
        import bpe_openai
    except ImportError:
        return ["(pip install bpe-openai to compare the estimate with real tokenizers)"]
    encodings = {name: bpe_openai.get_encoding(name) for name in ("cl100k_base", "o200k_base")}
    lines = [f"{'text':<28} {'estimate':>8} {'raw':>6} {'cl100k':>7} {'o200k':>7} {'est/cl100k':>10} {'est/o200k':>9}"]
    for label, text in texts.items():
        counts = {name: len(encoding.encode(text)) for name, encoding in encodings.items()}
        estimate = estimate_tokens(text)
        lines.append(
            f"{label:<28} {estimate:>8} {raw_token_count(text):>6} {counts['cl100k_base']:>7} "
            f"{counts['o200k_base']:>7} {estimate / counts['cl100k_base']:>10.2f} "
            f"{estimate / counts['o200k_base']:>9.2f}"
        )
    lines.append(f"(estimate = raw x {SAFETY_FACTOR}; Claude's tokenizer is not public)")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=int, default=6000)
    parser.add_argument("--sizes", default="10,100,1000")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]

    fixed_overhead = build_prompt(retrieve(synthesise_catalog(1), "x", 0), "x").token_estimate
    prompt_limit = args.budget + fixed_overhead + 200  # + the request and requirement lines
    failures = []
    samples: dict[str, str] = {
        "system prompt": SYSTEM_PROMPT,
        "tool schema (json)": canonical_json(tool_definition()),
    }
    header = (
        f"{'relations':>9}  {'request':<52} {'in slice':>8} {'full':>4} {'compact':>7} "
        f"{'slice tok':>9} {'prompt tok':>10} {'ms':>6}"
    )
    print(
        f"budget: {args.budget} tokens for the catalog slice; prompt limit {prompt_limit} "
        f"(fixed overhead {fixed_overhead})"
    )
    print(header)
    print("-" * len(header))
    for size in sizes:
        catalog = synthesise_catalog(size)
        for request in REQUESTS:
            started = time.perf_counter()
            catalog_slice = retrieve(catalog, request, args.budget)
            elapsed_ms = (time.perf_counter() - started) * 1000
            prompt = build_prompt(catalog_slice, request)
            full = sum(1 for item in catalog_slice.items if item.rendering == "full")
            compact = sum(1 for item in catalog_slice.items if item.rendering == "compact")
            print(
                f"{size:>9}  {request:<52} {len(catalog_slice.included):>8} {full:>4} {compact:>7} "
                f"{catalog_slice.token_estimate:>9} {prompt.token_estimate:>10} {elapsed_ms:>6.0f}"
            )
            if catalog_slice.token_estimate > args.budget:
                failures.append(f"{size} relations, {request!r}: slice {catalog_slice.token_estimate} > {args.budget}")
            if prompt.token_estimate > prompt_limit:
                failures.append(f"{size} relations, {request!r}: prompt {prompt.token_estimate} > {prompt_limit}")
            samples.setdefault(f"slice, {size} relations", catalog_slice.text)
    samples["dbt model sql"] = EXAMPLE_SQL
    print()
    for line in calibration(samples):
        print(line)
    if failures:
        print("\nOVER BUDGET:\n" + "\n".join(failures), file=sys.stderr)
        return 1
    print("\nall slices and prompts within budget")
    return 0


EXAMPLE_SQL = """\
with invoices as (
    select * from {{ ref('stg_billing__invoices') }}
),

accounts as (
    select * from {{ ref('stg_app__accounts') }}
),

monthly as (
    select
        invoices.account_id,
        date_trunc('month', invoices.issued_at) as revenue_month,
        sum(invoices.amount) as revenue,
        count(*) as invoice_count,
    from invoices
    where invoices.status = 'paid'
    group by all
)

select
    monthly.account_id,
    accounts.account_name,
    monthly.revenue_month,
    monthly.revenue,
    monthly.invoice_count,
from monthly
inner join accounts on accounts.account_id = monthly.account_id
"""


if __name__ == "__main__":
    sys.exit(main())
