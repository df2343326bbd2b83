with

payments as (

    select * from {{ ref('stg_billing__payments') }}

),

aggregated as (

    select
        invoice_id,
        count(*) filter (where not is_refund) as payment_attempt_count,
        count(*) filter (where payment_status = 'failed') as failed_payment_count,
        count(*) filter (where is_refund) as refund_count,
        cast(
            coalesce(sum(payment_amount) filter (where payment_status = 'succeeded' and not is_refund), 0)
            as decimal(18, 2)
        ) as succeeded_amount,
        -- refunds are negative payments; report them as a positive amount refunded
        cast(
            coalesce(-sum(payment_amount) filter (where payment_status = 'succeeded' and is_refund), 0)
            as decimal(18, 2)
        ) as refunded_amount,
        cast(
            coalesce(sum(payment_amount) filter (where payment_status = 'failed'), 0)
            as decimal(18, 2)
        ) as failed_amount,
        cast(
            coalesce(sum(payment_amount) filter (where payment_status = 'pending'), 0)
            as decimal(18, 2)
        ) as pending_amount,
        min(created_at) filter (where not is_refund) as first_attempted_at,
        max(created_at) filter (where payment_status = 'succeeded' and not is_refund) as paid_at,
        max(created_at) filter (where is_refund) as last_refunded_at

    from payments

    group by invoice_id

)

select * from aggregated
