-- stg_fx__rates__quarantine: the rows of stg_fx__rates's input that did not load, with the file, the
-- row, the record and the reason.
--
-- Compiled by gen-model (enrich compiler 1, runtime v1) from stg_fx__rates.enrich.yml, sha256
-- 5fd942a61c123041. Do not edit: change the spec and recompile.
-- The input is read and checked once, by stg_fx__rates__checked.
select
    _source_file as source_file,
    _source_row as source_row,
    _source_record as source_record,
    _error as error
from {{ ref("stg_fx__rates__checked") }}
where _error is not null
