with source as (
    select * from {{ source('flightinfo', 'airport') }}
)

select
    iata_code as airport_code,
    name as airport_name,
    city_dbpedia as city,
    -- the source has no time zone, and its flight times are local to each airport
    case iata_code
        when 'BRU' then 'Europe/Brussels'
        when 'CAI' then 'Africa/Cairo'
        when 'CDG' then 'Europe/Paris'
        when 'DEL' then 'Asia/Kolkata'
        when 'EWR' then 'America/New_York'
        when 'IAD' then 'America/New_York'
        when 'LAX' then 'America/Los_Angeles'
    end as time_zone
from source
