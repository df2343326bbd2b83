with source as (
    select * from {{ source('nyc', 'service_requests') }}
)

select
    unique_key as request_id,
    created_date as created_at,
    closed_date as closed_at,
    due_date as due_at,
    agency,
    agency_name,
    complaint_type,
    descriptor,
    -- 'Unspecified' is how the 311 system says it does not know
    nullif(borough, 'Unspecified') as borough,
    incident_zip,
    status,
    lower(open_data_channel_type) as channel
from source
