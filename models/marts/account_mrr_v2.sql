with

subscriptions as (

    select * from {{ ref('int_subscriptions_joined_to_plans') }}

),

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

data_end as (

    /* running subscriptions count up to the last billed month, not to today */
    select
        date_trunc('MONTH', max(period_end_at)) as last_month
    from invoices

),

subscription_months as (

    /* a subscription starting after the last billed month has no month yet: kept out, as */
    /* an empty series is no rows on DuckDB but fails the query on Spark */
    select
        subscriptions.account_id,
        subscriptions.plan_id,
        subscriptions.plan_tier,
        subscriptions.currency,
        subscriptions.monthly_amount,
        unnest(
            generate_series(
                date_trunc('MONTH', subscriptions.started_at),
                date_trunc('MONTH', coalesce(subscriptions.ended_at, data_end.last_month)),
                interval '1' month
            )
        ) as month_start
    from subscriptions
    cross join data_end
    where
        subscriptions.subscription_status <> 'trialing'
        and subscriptions.plan_tier <> 'free'
        and date_trunc('MONTH', subscriptions.started_at)
        <= date_trunc('MONTH', coalesce(subscriptions.ended_at, data_end.last_month))

)

select
    account_id,
    cast(month_start as date) as month,
    plan_id,
    plan_tier,
    currency,
    sum(monthly_amount) as mrr,
    count(*) as running_subscriptions
from subscription_months
group by account_id, month_start, plan_id, plan_tier, currency
