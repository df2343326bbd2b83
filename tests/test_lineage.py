from pathlib import Path

import pytest
import yaml

from generator.gates import GATES, GateContext, run_gates
from generator.project.catalog import Catalog
from generator.proposal import validate_proposal
from generator.sql.lineage import column_lineage, lineage_meta

CATALOG = Catalog.from_dict(yaml.safe_load((Path(__file__).parent / "fixtures" / "catalog.yml").read_text()))
STATIC_GATES = GATES[:5]


def lineage_of(sql: str, columns: list[str]):
    proposal = validate_proposal(
        {
            "name": "customer_revenue",
            "layer": "marts",
            "description": "d",
            "grain": [columns[0]],
            "sql": sql,
            "columns": [{"name": name, "description": ""} for name in columns],
        }
    )
    ctx = GateContext(proposal, CATALOG)
    assert run_gates(ctx, STATIC_GATES).passed
    return ctx, column_lineage(ctx)


SQL = """
with orders as (select * from {{ ref('stg_shop__orders') }}),
customers as (select * from {{ ref('stg_shop__customers') }})
select
    customers.customer_id,
    customers.city as town,
    count(orders.order_id) as order_count,
    coalesce(sum(orders.amount), 0) as revenue,
    'web' as channel,
    customers.full_name || customers.city as label
from customers
left join orders on orders.customer_id = customers.customer_id
group by all
"""
COLUMNS = ["customer_id", "town", "order_count", "revenue", "channel", "label"]


@pytest.mark.parametrize(
    "column, transform, upstream",
    [
        ("customer_id", "pass-through", ["ref('stg_shop__customers').customer_id"]),
        ("town", "renamed", ["ref('stg_shop__customers').city"]),
        ("order_count", "aggregate:count", ["ref('stg_shop__orders').order_id"]),
        ("revenue", "aggregate:sum", ["ref('stg_shop__orders').amount"]),
        ("channel", "constant", []),
        ("label", "expression", ["ref('stg_shop__customers').city", "ref('stg_shop__customers').full_name"]),
    ],
)
def test_each_output_column_is_traced_to_its_upstream_columns(column, transform, upstream):
    _, lineages = lineage_of(SQL, COLUMNS)
    found = {item.column: item for item in lineages}[column]
    assert found.transform == transform
    assert [u.display() for u in found.upstream] == upstream


def test_lineage_meta_keeps_output_order_and_is_deterministic():
    _, first = lineage_of(SQL, COLUMNS)
    _, second = lineage_of(SQL, COLUMNS)
    assert list(lineage_meta(first)) == COLUMNS
    assert lineage_meta(first) == lineage_meta(second)
    assert lineage_meta(first)["revenue"] == {"from": ["ref('stg_shop__orders').amount"], "transform": "aggregate:sum"}
