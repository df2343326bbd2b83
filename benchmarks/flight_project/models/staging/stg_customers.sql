with source as (
    select * from {{ source('laptop', 'customers') }}
)

select
    customer_id,
    firstname as first_name,
    lastname as last_name,
    city,
    email
from source
