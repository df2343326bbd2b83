with source as (
    select * from {{ source('flightinfo', 'ticket') }}
)

select
    -- a seat is sold once per flight
    flight_number || '/' || seat_number as ticket_id,
    flight_number,
    seat_number,
    package_title,
    -- the ticket writes package titles in varying case ('LIGHT_E' for 'Light_E')
    lower(package_title) as package_key,
    trip_id,
    requested_excessive_baggage_kg as extra_baggage_kg,
    -- null when the service was not chosen
    chosen_meal_service_price as meal_price,
    chosen_wifi_service_price as wifi_price,
    price as ticket_price
from source
