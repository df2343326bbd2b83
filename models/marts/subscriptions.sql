with

subscriptions as (

    select * from {{ ref('int_subscriptions_joined_to_plans') }}

),

successors as (

    select
        previous_subscription_id as subscription_id,
        subscription_id as next_subscription_id

    from subscriptions

    where previous_subscription_id is not null

),

final as (

    select
        subscriptions.subscription_id,
        subscriptions.account_id,
        subscriptions.plan_id,
        subscriptions.plan_name,
        subscriptions.plan_tier,
        subscriptions.billing_interval,
        subscriptions.currency,
        subscriptions.seats,
        subscriptions.unit_price,
        subscriptions.monthly_amount,
        subscriptions.subscription_status,
        subscriptions.previous_subscription_id,
        successors.next_subscription_id,
        case
            when previous.subscription_id is null then 'new'
            when subscriptions.tier_rank > previous.tier_rank then 'upgrade'
            when subscriptions.tier_rank < previous.tier_rank then 'downgrade'
            else 'lateral'
        end as change_type,
        subscriptions.is_trial_started as had_trial,
        not subscriptions.is_ended as is_current,
        subscriptions.is_cancel_scheduled,
        -- ended without a successor: the account stopped (or never started) paying for this
        subscriptions.is_ended and successors.next_subscription_id is null as is_churned,
        subscriptions.started_at,
        subscriptions.trial_ends_at,
        subscriptions.canceled_at,
        subscriptions.ended_at

    from subscriptions

    left join successors
        on subscriptions.subscription_id = successors.subscription_id

    left join subscriptions as previous
        on subscriptions.previous_subscription_id = previous.subscription_id

)

select * from final
