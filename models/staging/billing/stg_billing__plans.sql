with

source as (

    select * from {{ source('billing', 'plans') }}

),

renamed as (

    select

        ---------- ids
        id as plan_id,

        ---------- text
        name as plan_name,
        tier as plan_tier,
        billing_interval,
        upper(currency) as currency,

        ---------- numerics
        -- every billing currency has two decimal places: minor units / 100
        cast(unit_amount / 100 as decimal(18, 2)) as unit_price,

        ---------- booleans
        is_active

    from source

)

select * from renamed
