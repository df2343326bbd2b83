with products as (
    select * from {{ source('laptop', 'products') }}
),

-- each kind of product keeps its list price in its own table
prices as (
    select model, price from {{ source('laptop', 'laptops') }}
    union all
    select model, price from {{ source('laptop', 'pcs') }}
    union all
    select model, price from {{ source('laptop', 'printers') }}
)

select
    products.model,
    products.maker,
    products.type as product_type,
    prices.price as list_price
from products
left join prices on prices.model = products.model
