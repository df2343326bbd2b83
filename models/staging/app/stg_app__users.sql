with

source as (

    select * from {{ source('app', 'users') }}

),

renamed as (

    select

        ---------- ids
        id as user_id,
        account_id,

        ---------- text
        -- people type their address in any case and with stray spaces; mail servers don't care
        lower(trim(email)) as email,
        split_part(lower(trim(email)), '@', 2) as email_domain,
        full_name,
        role as user_role,

        ---------- booleans
        deleted_at is not null as is_deleted,

        ---------- timestamps
        created_at,
        last_seen_at,
        deleted_at,
        _loaded_at as loaded_at

    from source

)

select * from renamed
