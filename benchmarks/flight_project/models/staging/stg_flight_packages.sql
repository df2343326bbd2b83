with packages as (
    select * from {{ source('flightinfo', 'flight_package') }}
),

cancellation as (
    select * from {{ source('flightinfo', 'cancellation_policy') }}
),

baggage as (
    select * from {{ source('flightinfo', 'baggage_policy') }}
)

select
    lower(packages.title) as package_key,
    packages.title as package_title,
    packages.cabin_class_title as cabin_class,
    packages.cancelation_policy_title as cancellation_policy,
    -- e.g. '1 week before flight'; '-' when nothing is refunded
    cancellation.due_date as refund_due,
    -- percentages 0-100; null where the policy states none (no refund, or a fixed fee)
    cancellation.refund_postdue_percentage as refund_pct,
    cancellation.refund_predue_percentage as refund_predue_pct,
    cast(baggage.checked_bags_no as integer) as checked_bags,
    baggage.checked_bag_weight_kg as checked_bag_kg
from packages
left join cancellation on cancellation.title = packages.cancelation_policy_title
left join baggage on baggage.title = packages.baggage_policy_title
