with source as (
    select * from {{ source('nyc', 'taxi') }}
)

select
    VendorID as vendor_id,
    tpep_pickup_datetime as pickup_at,
    tpep_dropoff_datetime as dropoff_at,
    cast(passenger_count as integer) as passenger_count,
    trip_distance as trip_distance_miles,
    case cast(RatecodeID as integer)
        when 1 then 'standard'
        when 2 then 'jfk'
        when 3 then 'newark'
        when 4 then 'nassau_westchester'
        when 5 then 'negotiated'
        when 6 then 'group_ride'
        else 'unknown'
    end as rate_code,
    store_and_fwd_flag = 'Y' as is_store_and_forward,
    PULocationID as pickup_location_id,
    DOLocationID as dropoff_location_id,
    cast(payment_type as integer) as payment_type_id,
    fare_amount,
    extra as extra_amount,
    mta_tax,
    tip_amount,
    tolls_amount,
    improvement_surcharge,
    congestion_surcharge,
    airport_fee,
    total_amount
from source
-- a handful of meter glitches end before they start
where tpep_dropoff_datetime >= tpep_pickup_datetime
