with

accounts as (

    select * from {{ ref('stg_app__accounts') }}

),

users as (

    select * from {{ ref('stg_app__users') }}

),

countries as (

    select * from {{ ref('countries') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions_joined_to_plans') }}

),

account_invoices as (

    select * from {{ ref('int_invoices_aggregated_to_accounts') }}

),

account_users as (

    select
        account_id,
        count(*) as user_count,
        count(*) filter (where not is_deleted) as active_user_count

    from users

    group by account_id

),

latest_subscriptions as (

    -- the running subscription, or the last one of an account that stopped
    select *

    from subscriptions

    qualify row_number() over (
        partition by account_id
        order by started_at desc, subscription_id desc
    ) = 1

),

final as (

    select
        accounts.account_id,
        accounts.account_name,
        accounts.domain,
        accounts.industry,
        accounts.country_code,
        countries.country_name,
        countries.region,
        accounts.created_at as signed_up_at,
        -- the UTC calendar date, whatever the session's time zone
        cast(timezone('UTC', accounts.created_at) as date) as signup_date,
        accounts.is_deleted,
        accounts.deleted_at,
        coalesce(account_users.user_count, 0) as user_count,
        coalesce(account_users.active_user_count, 0) as active_user_count,
        latest_subscriptions.subscription_id as latest_subscription_id,
        latest_subscriptions.plan_id,
        latest_subscriptions.plan_name,
        latest_subscriptions.plan_tier,
        latest_subscriptions.billing_interval,
        latest_subscriptions.seats,
        coalesce(latest_subscriptions.subscription_status, 'none') as subscription_status,
        latest_subscriptions.currency as plan_currency,
        case
            when latest_subscriptions.is_ended then 0
            else coalesce(latest_subscriptions.monthly_amount, 0)
        end as monthly_amount,
        coalesce(
            latest_subscriptions.subscription_status in ('active', 'past_due')
            and latest_subscriptions.plan_tier != 'free',
            false
        ) as is_paying,
        coalesce(latest_subscriptions.is_ended, false) as is_churned,
        account_invoices.billing_currency,
        coalesce(account_invoices.invoice_count, 0) as invoice_count,
        account_invoices.first_invoiced_at,
        coalesce(account_invoices.paid_amount, 0) as lifetime_paid_amount,
        coalesce(account_invoices.refunded_amount, 0) as lifetime_refunded_amount,
        coalesce(account_invoices.net_paid_amount, 0) as lifetime_net_paid_amount

    from accounts

    left join countries
        on accounts.country_code = countries.country_code

    left join account_users
        on accounts.account_id = account_users.account_id

    left join latest_subscriptions
        on accounts.account_id = latest_subscriptions.account_id

    left join account_invoices
        on accounts.account_id = account_invoices.account_id

)

select * from final
