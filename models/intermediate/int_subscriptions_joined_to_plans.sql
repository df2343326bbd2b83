with

subscriptions as (

    select * from {{ ref('stg_billing__subscriptions') }}

),

plans as (

    select * from {{ ref('stg_billing__plans') }}

),

joined as (

    select
        subscriptions.subscription_id,
        subscriptions.account_id,
        subscriptions.plan_id,
        subscriptions.previous_subscription_id,
        subscriptions.subscription_status,
        plans.plan_name,
        plans.plan_tier,
        plans.billing_interval,
        plans.currency,
        plans.unit_price,
        subscriptions.seats,
        subscriptions.is_trial_started,
        subscriptions.is_ended,
        subscriptions.is_cancel_scheduled,
        subscriptions.started_at,
        subscriptions.trial_ends_at,
        subscriptions.canceled_at,
        subscriptions.ended_at,
        -- tiers compare by rank, not by name, to tell upgrades from downgrades
        case plans.plan_tier
            when 'free' then 0
            when 'starter' then 1
            when 'growth' then 2
            when 'enterprise' then 3
        end as tier_rank,
        case plans.billing_interval when 'year' then 12 else 1 end as billing_interval_months

    from subscriptions

    left join plans
        on subscriptions.plan_id = plans.plan_id

),

priced as (

    select
        *,
        -- yearly plans are normalised to a month so that MRR adds up across intervals
        cast(unit_price * seats / billing_interval_months as decimal(18, 2)) as monthly_amount

    from joined

)

select * from priced
