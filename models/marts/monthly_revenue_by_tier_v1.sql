with

invoices as (

    select * from {{ ref('invoices') }}

),

plans as (

    select * from {{ ref('stg_billing__plans') }}

)

select
    cast(date_trunc('MONTH', invoices.period_start_at) as date) as revenue_month,
    plans.plan_tier,
    invoices.currency,
    count(*) as invoice_count,
    sum(invoices.amount_due) as billed_amount,
    sum(invoices.net_paid_amount) as net_paid_amount
from invoices
inner join plans
    on invoices.plan_id = plans.plan_id
where invoices.invoice_status in ('paid', 'open', 'uncollectible')
group by all
