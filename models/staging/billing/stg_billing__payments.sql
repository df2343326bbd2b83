with

source as (

    select * from {{ source('billing', 'payments') }}

),

deduplicated as (

    -- the EL tool lands some payments twice; the latest copy is the current state
    select *
    from source
    qualify row_number() over (partition by id order by _loaded_at desc) = 1

),

renamed as (

    select

        ---------- ids
        id as payment_id,
        invoice_id,
        account_id,

        ---------- text
        status as payment_status,
        payment_method,
        failure_reason,
        upper(currency) as currency,

        ---------- numerics
        -- every billing currency has two decimal places: minor units / 100
        cast(amount / 100 as decimal(18, 2)) as payment_amount,

        ---------- booleans
        amount < 0 as is_refund,

        ---------- timestamps
        created_at,
        _loaded_at as loaded_at

    from deduplicated

)

select * from renamed
