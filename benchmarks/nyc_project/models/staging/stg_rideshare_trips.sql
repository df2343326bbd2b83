with source as (
    select * from {{ source('nyc', 'rideshare') }}
)

select
    hvfhs_license_num as license_number,
    case hvfhs_license_num
        when 'HV0002' then 'Juno'
        when 'HV0003' then 'Uber'
        when 'HV0004' then 'Via'
        when 'HV0005' then 'Lyft'
    end as company,
    dispatching_base_num as dispatching_base,
    request_datetime as requested_at,
    on_scene_datetime as on_scene_at,
    pickup_datetime as pickup_at,
    dropoff_datetime as dropoff_at,
    PULocationID as pickup_location_id,
    DOLocationID as dropoff_location_id,
    trip_miles,
    trip_time as trip_seconds,
    base_passenger_fare,
    tolls,
    bcf as black_car_fund,
    sales_tax,
    congestion_surcharge,
    airport_fee,
    tips,
    driver_pay,
    shared_request_flag = 'Y' as is_shared_request,
    shared_match_flag = 'Y' as is_shared_match,
    -- blank when the base did not report it
    coalesce(access_a_ride_flag = 'Y', false) as is_access_a_ride,
    wav_request_flag = 'Y' as is_wav_request,
    wav_match_flag = 'Y' as is_wav_match
from source
