with source as (
    select * from {{ source('who', 'ambient_air_quality') }}
)

select
    iso3 as country_code,
    country_name,
    city,
    year as measured_year,
    case who_region
        when '1_Afr' then 'Africa'
        when '2_Amr' then 'Americas'
        when '3_Sear' then 'South-East Asia'
        when '4_Eur' then 'Europe'
        when '5_Emr' then 'Eastern Mediterranean'
        when '6_Wpr' then 'Western Pacific'
    end as who_region,
    pm10_concentration as pm10,
    pm25_concentration as pm25,
    -- a few stations report a missing annual NO2 mean as 0
    nullif(no2_concentration, 0) as no2,
    pm10_tempcov as pm10_coverage_pct,
    pm25_tempcov as pm25_coverage_pct,
    no2_tempcov as no2_coverage_pct,
    lower(nullif(type_of_stations, 'NA')) as station_types,
    -- 'NA' when the population is not known
    try_cast(population as bigint) as population,
    latitude,
    longitude
from source
