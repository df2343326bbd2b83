with source as (
    select * from {{ source('laptop', 'sales') }}
)

select
    customer_id,
    model,
    quantity,
    day as sold_on,
    -- what the customer paid for the whole quantity, after any discount
    paid as paid_amount,
    type_of_payment as payment_type
from source
