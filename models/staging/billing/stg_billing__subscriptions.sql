with

source as (

    select * from {{ source('billing', 'subscriptions') }}

),

renamed as (

    select

        ---------- ids
        id as subscription_id,
        account_id,
        plan_id,
        previous_subscription_id,

        ---------- text
        status as subscription_status,

        ---------- numerics
        quantity as seats,

        ---------- booleans
        trial_ends_at is not null as is_trial_started,
        ended_at is not null as is_ended,
        -- canceled but running: it ends at the end of the current billing period
        canceled_at is not null and ended_at is null as is_cancel_scheduled,

        ---------- timestamps
        started_at,
        ended_at,
        canceled_at,
        trial_ends_at,
        created_at,
        updated_at

    from source

)

select * from renamed
