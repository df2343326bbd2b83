with source as (
    select * from {{ source('hn', 'hacker_news') }}
)

select
    id as post_id,
    type as post_type,
    case
        when type = 'job' then 'job'
        when title like 'Show HN:%' then 'show'
        when title like 'Ask HN:%' then 'ask'
        when title like 'Launch HN:%' then 'launch'
        when type = 'story' then 'link'
        else 'other'
    end as post_kind,
    "by" as author,
    title,
    url,
    -- the API's text is HTML, kept as is
    text as body_html,
    score,
    -- the API's comment count of a story (null for job posts, which take no comments)
    descendants as comment_count,
    time as posted_epoch,
    -- `time` is Unix seconds; a naive timestamp in UTC, like `timestamp`
    make_timestamp(time * 1000000) as posted_at,
    -- the API leaves the flags out unless they are true
    coalesce(dead, false) as is_dead,
    coalesce(deleted, false) as is_deleted
from source
