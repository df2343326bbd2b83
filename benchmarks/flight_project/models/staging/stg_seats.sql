with source as (
    select * from {{ source('flightinfo', 'seat') }}
)

select
    flight_number || '/' || seat_number as seat_id,
    flight_number,
    seat_number,
    -- '10C' is row 10, seat C
    cast(regexp_extract(seat_number, '^[0-9]+') as integer) as seat_row,
    is_available = 1 as is_available
from source
