-- stg_fx__rates: One row per business day and currency: how many units of the currency one US dollar
-- buys. USD itself is implicitly 1 and has no rows; weekends have none either.
--
-- Compiled by gen-model (enrich compiler 1, runtime v1) from stg_fx__rates.enrich.yml, sha256
-- 5fd942a61c123041. Do not edit: change the spec and recompile.
-- The input is read and checked once, by stg_fx__rates__checked.
select
    rate_date,
    currency_code,
    units_per_usd
from {{ ref("stg_fx__rates__checked") }}
where _error is null
