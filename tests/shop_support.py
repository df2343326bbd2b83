"""Proposals for the shared shop project, shared by the tests that apply or script them."""

from __future__ import annotations

# Orders per customer: a left join to a unique key, grouped by it.
ORDER_COUNTS = {
    "name": "customer_order_counts",
    "layer": "marts",
    "description": "Orders per customer.",
    "grain": ["customer_id"],
    "sql": (
        "select customers.customer_id, count(orders.order_id) as order_count\n"
        "from {{ ref('stg_customers') }} as customers\n"
        "left join {{ ref('stg_orders') }} as orders on orders.customer_id = customers.customer_id\n"
        "group by customers.customer_id\n"
    ),
    "columns": [
        {"name": "customer_id", "description": "The customer."},
        {"name": "order_count", "description": "Their orders."},
    ],
}
