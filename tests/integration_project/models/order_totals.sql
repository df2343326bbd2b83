-- One row per order: lines are aggregated before the join, so the grain of orders holds.
with orders as (
    select * from {{ ref('orders') }}
),

order_lines as (
    select * from {{ ref('order_lines') }}
),

line_totals as (
    select
        order_id,
        count(*) as line_count,
        sum(line_amount) as lines_amount
    from order_lines
    group by order_id
)

select
    orders.order_id,
    orders.customer_id,
    orders.status,
    coalesce(line_totals.line_count, 0) as line_count,
    coalesce(line_totals.lines_amount, 0) as lines_amount
from orders
left join line_totals on line_totals.order_id = orders.order_id
