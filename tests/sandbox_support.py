"""A small real warehouse and gate contexts for the execution tests (sandbox, gates, formatter).

The parse/references gates are someone else's; these tests set `ctx.templated`, `ctx.tree`
and `ctx.relations` the way those gates do, so they depend on neither.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import sqlglot

from generator.project.catalog import Catalog
from generator.proposal import ColumnSpec, Proposal
from generator.sql.context import GateContext
from generator.sql.templating import untemplate

DATABASE = "warehouse"

WAREHOUSE_SQL = """
create schema raw;
create table raw.invoices as
    select
        range as invoice_id,
        range % 7 as customer_id,
        (range * 12.5)::decimal(18, 2) as amount,
        timestamptz '2024-01-01 00:00:00+00' + to_days(range::int) as issued_at,
        ['open', 'paid', 'void'][1 + range % 3] as status
    from range(40);
create table main.stg_billing__invoices as select * from raw.invoices;
create table main.stg_crm__customers as
    select range as customer_id, 'customer ' || range as customer_name,
        ['eu', 'us'][1 + range % 2] as region,
        ['vip', 'new'] as tags,
        {'tier': range % 3, 'label': 'L' || range} as profile
    from range(7);
create view main.int_invoices_paid as
    select * from "warehouse"."main"."stg_billing__invoices" where status = 'paid';
create table main.invoice_totals_v1 as
    select customer_id, sum(amount) as amount from raw.invoices group by customer_id;
create table main.invoice_totals_v2 as
    select customer_id, sum(amount) as amount, count(*) as invoices
    from raw.invoices group by customer_id;
"""


def build_warehouse(path: Path) -> Catalog:
    """Create the warehouse file at `path` and the catalog that describes it."""
    connection = duckdb.connect(str(path))
    try:
        connection.execute(WAREHOUSE_SQL)
    finally:
        connection.close()
    return catalog_for(path)


def catalog_for(path: Path) -> Catalog:
    return Catalog.from_dict(
        {
            "project_name": "acme",
            "project_dir": str(path.parent),
            "database_path": str(path),
            "relations": [
                {"name": "stg_billing__invoices", "database": DATABASE},
                {"name": "stg_crm__customers", "database": DATABASE},
                {"name": "int_invoices_paid", "database": DATABASE},
                # In the project but never built: the warehouse has no such table.
                {"name": "stg_billing__refunds", "database": DATABASE, "exists": False},
                *(
                    {
                        "name": "invoice_totals",
                        "version": version,
                        "latest_version": 2,
                        "identifier": f"invoice_totals_v{version}",
                        "database": DATABASE,
                    }
                    for version in (1, 2)
                ),
                {
                    "resource_type": "source",
                    "source_name": "billing",
                    "name": "invoices",
                    "schema": "raw",
                    "database": DATABASE,
                },
            ],
        }
    )


def make_context(
    sql: str,
    catalog: Catalog,
    *,
    columns: list[str] | tuple[str, ...] = ("id",),
    grain: list[str] | tuple[str, ...] | None = None,
    sandbox=None,
    timeout_s: float = 30.0,
) -> GateContext:
    """A GateContext as the parse and references gates leave it."""
    proposal = Proposal(
        name="invoice_facts",
        layer="marts",
        description="test",
        grain=tuple(grain if grain is not None else columns[:1]),
        sql=sql,
        columns=tuple(ColumnSpec(name, f"the {name}") for name in columns),
    )
    templated, problems = untemplate(sql)
    assert not problems, problems
    tree = sqlglot.parse_one(templated.sql, dialect="duckdb")
    relations = {}
    for call in templated.calls:
        if call.kind == "ref":
            relation = catalog.ref(call.name, call.version)
        else:
            relation = catalog.source(call.source_name, call.name)
        assert relation is not None, call
        relations[call.placeholder] = relation
    return GateContext(
        proposal=proposal,
        catalog=catalog,
        sandbox=sandbox,
        timeout_s=timeout_s,
        templated=templated,
        tree=tree,
        relations=relations,
    )
