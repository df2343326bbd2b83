-- stg_crm__contacts: One row per CRM contact (HubSpot export), its latest version: the email trimmed
-- and lowercased, linked to the account whose web domain is the email's domain; archived contacts
-- are kept and flagged.
--
-- Compiled by gen-model (enrich compiler 1, runtime v1) from stg_crm__contacts.enrich.yml, sha256
-- 02ed6b58f72ef1c7. Do not edit: change the spec and recompile.
-- The input is read and checked once, by stg_crm__contacts__checked.
select
    contact_id,
    email,
    email_domain,
    first_name,
    last_name,
    company_name,
    job_title,
    lifecycle_stage,
    owner_id,
    phone,
    created_at,
    updated_at,
    is_archived,
    account_id
from {{ ref("stg_crm__contacts__checked") }}
where _error is null
