-- An aggregation of orders: one row per customer, so never more rows than orders.
with orders as (
    select * from {{ ref('orders') }}
)

select
    customer_id,
    count(*) as order_count
from orders
group by customer_id
