with

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

invoice_payments as (

    select * from {{ ref('int_payments_aggregated_to_invoices') }}

),

invoices_with_payments as (

    select
        invoices.invoice_id,
        invoices.account_id,
        invoices.currency,
        invoices.invoice_status,
        invoices.created_at,
        invoices.amount_paid,
        coalesce(invoice_payments.refunded_amount, 0) as refunded_amount

    from invoices

    left join invoice_payments
        on invoices.invoice_id = invoice_payments.invoice_id

),

aggregated as (

    -- an account is invoiced in one currency: grouping by it keeps amounts summable, and the
    -- unique test on account_id fails the day an account is invoiced in a second one
    select
        account_id,
        currency as billing_currency,
        count(*) as invoice_count,
        count(*) filter (where invoice_status = 'paid') as paid_invoice_count,
        min(created_at) as first_invoiced_at,
        max(created_at) as last_invoiced_at,
        cast(sum(amount_paid) as decimal(18, 2)) as paid_amount,
        cast(sum(refunded_amount) as decimal(18, 2)) as refunded_amount,
        cast(sum(amount_paid) - sum(refunded_amount) as decimal(18, 2)) as net_paid_amount

    from invoices_with_payments

    group by account_id, currency

)

select * from aggregated
