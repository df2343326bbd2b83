-- stg_crm__contacts__quarantine: the rows of stg_crm__contacts's input that did not load, with the
-- file, the row, the record and the reason.
--
-- Compiled by gen-model (enrich compiler 1, runtime v1) from stg_crm__contacts.enrich.yml, sha256
-- 02ed6b58f72ef1c7. Do not edit: change the spec and recompile.
-- The input is read and checked once, by stg_crm__contacts__checked.
select
    _source_file as source_file,
    _source_row as source_row,
    _source_record as source_record,
    _error as error
from {{ ref("stg_crm__contacts__checked") }}
where _error is not null
