with

accounts as (

    select * from {{ ref('stg_app__accounts') }}

),

payments as (

    select * from {{ ref('stg_billing__payments') }}

),

attempts as (

    select
        account_id,
        count(*) as payment_attempts,
        count(*) filter (where payment_status = 'failed') as failed_payments,
        count(*) filter (where payment_status = 'succeeded') as succeeded_payments,
        max(created_at) filter (where payment_status = 'failed') as last_failed_at
    from payments
    where not is_refund
    group by account_id

)

select
    accounts.account_id,
    accounts.account_name,
    coalesce(attempts.payment_attempts, 0) as payment_attempts,
    coalesce(attempts.failed_payments, 0) as failed_payments,
    coalesce(attempts.succeeded_payments, 0) as succeeded_payments,
    case
        when attempts.payment_attempts > 0 then attempts.failed_payments / attempts.payment_attempts
    end as failure_rate,
    attempts.last_failed_at
from accounts
left join attempts
    on accounts.account_id = attempts.account_id
where not accounts.is_deleted
