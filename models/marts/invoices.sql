with

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

invoice_payments as (

    select * from {{ ref('int_payments_aggregated_to_invoices') }}

),

subscriptions as (

    select * from {{ ref('stg_billing__subscriptions') }}

),

final as (

    select
        invoices.invoice_id,
        invoices.account_id,
        invoices.subscription_id,
        subscriptions.plan_id,
        invoices.invoice_status,
        invoices.currency,
        invoices.amount_due,
        invoices.amount_paid,
        coalesce(invoice_payments.refunded_amount, 0) as refunded_amount,
        cast(
            invoices.amount_paid - coalesce(invoice_payments.refunded_amount, 0) as decimal(18, 2)
        ) as net_paid_amount,
        coalesce(invoice_payments.failed_amount, 0) as failed_amount,
        coalesce(invoice_payments.pending_amount, 0) as pending_amount,
        coalesce(invoice_payments.payment_attempt_count, 0) as payment_attempt_count,
        coalesce(invoice_payments.failed_payment_count, 0) as failed_payment_count,
        invoices.invoice_status = 'paid' as is_paid,
        coalesce(invoice_payments.refunded_amount, 0) > 0 as is_refunded,
        invoices.period_start_at,
        invoices.period_end_at,
        invoices.created_at,
        invoices.due_at,
        invoice_payments.paid_at

    from invoices

    left join invoice_payments
        on invoices.invoice_id = invoice_payments.invoice_id

    left join subscriptions
        on invoices.subscription_id = subscriptions.subscription_id

)

select * from final
