with

source as (

    select * from {{ source('app', 'accounts') }}

),

renamed as (

    select

        ---------- ids
        id as account_id,

        ---------- text
        name as account_name,
        -- domains link accounts to CRM contacts and firmographics: compare them normalised
        nullif(regexp_replace(lower(trim(domain)), '^www\.', ''), '') as domain,
        industry,
        upper(country) as country_code,

        ---------- booleans
        deleted_at is not null as is_deleted,

        ---------- timestamps
        created_at,
        deleted_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
