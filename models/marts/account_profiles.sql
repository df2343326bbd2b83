with

accounts as (

    select * from {{ ref('stg_app__accounts') }}

),

companies as (

    select * from {{ ref('stg_firmographics__companies') }}

),

contacts as (

    select * from {{ ref('stg_crm__contacts') }}

),

invoices as (

    select * from {{ ref('stg_billing__invoices') }}

),

invoice_payments as (

    select * from {{ ref('int_payments_aggregated_to_invoices') }}

),

fx_rates as (

    select * from {{ ref('stg_fx__rates') }}

),

active_contacts as (

    select * from contacts
    where
        account_id is not null
        and not is_archived

),

account_contacts as (

    select
        account_id,
        count(*) as contact_count,
        max(updated_at) as last_contact_update_at

    from active_contacts

    group by account_id

),

account_owners as (

    -- the CRM owner of the account's most recently updated contact (ties: highest id)
    select
        account_id,
        owner_id as crm_owner_id

    from active_contacts

    qualify row_number() over (
        partition by account_id
        order by updated_at desc, contact_id desc
    ) = 1

),

invoice_amounts as (

    select
        invoices.invoice_id,
        invoices.account_id,
        invoices.currency,
        -- rates are per UTC business day
        cast(timezone('UTC', invoices.created_at) as date) as invoice_date,
        invoices.amount_paid - coalesce(invoice_payments.refunded_amount, 0) as net_paid_amount

    from invoices

    left join invoice_payments
        on invoices.invoice_id = invoice_payments.invoice_id

),

invoices_with_rates as (

    -- the rate of the invoice's day, or of the latest business day before it (weekends,
    -- holidays); US dollars need none
    select
        invoice_amounts.*,
        case
            when invoice_amounts.currency = 'USD' then 1
            else fx_rates.units_per_usd
        end as units_per_usd

    from invoice_amounts

    asof left join fx_rates
        on
            invoice_amounts.currency = fx_rates.currency_code
            and invoice_amounts.invoice_date >= fx_rates.rate_date

),

account_revenue as (

    select
        account_id,
        count(*) as invoice_count,
        -- each invoice rounded to cents, then summed exactly: the same total every run
        cast(
            sum(cast(net_paid_amount / units_per_usd as decimal(18, 2)))
            as decimal(18, 2)
        ) as lifetime_net_paid_usd,
        count(*) filter (where units_per_usd is null) as unconverted_invoice_count

    from invoices_with_rates

    group by account_id

),

final as (

    select
        accounts.account_id,
        accounts.account_name,
        accounts.domain,
        accounts.country_code,
        accounts.is_deleted,
        coalesce(companies.industry, accounts.industry) as industry,
        companies.employee_count,
        companies.employees_range,
        companies.annual_revenue_usd,
        companies.hq_city,
        companies.hq_country,
        companies.founded_year,
        companies.domain is not null as has_firmographics,
        coalesce(account_contacts.contact_count, 0) as contact_count,
        account_owners.crm_owner_id,
        account_contacts.last_contact_update_at,
        coalesce(account_revenue.invoice_count, 0) as invoice_count,
        coalesce(account_revenue.lifetime_net_paid_usd, 0) as lifetime_net_paid_usd,
        coalesce(account_revenue.unconverted_invoice_count, 0) as unconverted_invoice_count

    from accounts

    left join companies
        on accounts.domain = companies.domain

    left join account_contacts
        on accounts.account_id = account_contacts.account_id

    left join account_owners
        on accounts.account_id = account_owners.account_id

    left join account_revenue
        on accounts.account_id = account_revenue.account_id

)

select * from final
