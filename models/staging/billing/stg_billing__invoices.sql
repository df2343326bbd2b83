with

source as (

    select * from {{ source('billing', 'invoices') }}

),

renamed as (

    select

        ---------- ids
        id as invoice_id,
        account_id,
        subscription_id,

        ---------- text
        status as invoice_status,
        upper(currency) as currency,

        ---------- numerics
        -- every billing currency has two decimal places: minor units / 100
        cast(amount_due / 100 as decimal(18, 2)) as amount_due,
        cast(amount_paid / 100 as decimal(18, 2)) as amount_paid,

        ---------- timestamps
        period_start as period_start_at,
        period_end as period_end_at,
        created_at,
        due_at

    from source

)

select * from renamed
