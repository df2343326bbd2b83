-- A join that fans out: one row per order line, not per order (the defect equal_rowcount
-- and fewer_rows_than must catch).
with orders as (
    select * from {{ ref('orders') }}
),

order_lines as (
    select * from {{ ref('order_lines') }}
)

select
    orders.order_id,
    orders.customer_id,
    order_lines.line_number,
    order_lines.line_amount
from orders
inner join order_lines on order_lines.order_id = orders.order_id
