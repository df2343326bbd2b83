with flights as (
    select * from {{ source('flightinfo', 'flight') }}
),

legs as (
    select * from {{ source('flightinfo', 'direct_flight') }}
),

airports as (
    select * from {{ ref('stg_airports') }}
)

select
    flights.number as flight_number,
    flights.type as flight_type,
    flights.airline_icao_code as airline_code,
    -- a connecting flight is numbered '<first leg>-<last leg>'; a direct one is its own leg
    first_leg.departure_airport_iata_code as departure_airport,
    last_leg.arriving_airport_iata_code as arrival_airport,
    -- the source's times are local to the airport of departure and of arrival
    flights.departure_date as departs_at_local,
    flights.arrival_date as arrives_at_local,
    -- the same instants in UTC (naive timestamps, like every other timestamp here)
    cast(timezone(origin.time_zone, flights.departure_date) as timestamp) as departs_at,
    cast(timezone(destination.time_zone, flights.arrival_date) as timestamp) as arrives_at,
    -- not filled in by this airline
    flights.distance_km,
    flights.duration_min as duration_minutes,
    flights.is_available = 1 as is_bookable
from flights
left join legs as first_leg on first_leg.flight_number = split_part(flights.number, '-', 1)
left join legs as last_leg
    on last_leg.flight_number = coalesce(nullif(split_part(flights.number, '-', 2), ''), flights.number)
left join airports as origin on origin.airport_code = first_leg.departure_airport_iata_code
left join airports as destination on destination.airport_code = last_leg.arriving_airport_iata_code
