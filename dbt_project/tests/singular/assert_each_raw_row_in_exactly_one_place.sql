{{ config(meta={'dagster': {'ref': {'name': 'stg_wmp__crimes'}}}) }}
-- Each raw row (by _row_number) lands in exactly one of staging and quarantine: the two together hold as
-- many rows as raw, with as many distinct row numbers, all of them from raw.
{%- for table in wmp_tables() %}
select
    '{{ table }}' as table_name,
    raw_counts.n_rows as raw_rows,
    landed_counts.n_rows as landed_rows,
    landed_counts.n_distinct_rows as landed_distinct_rows,
    landed_counts.n_not_in_raw as landed_rows_not_in_raw
from
    (select count(*) as n_rows from {{ source('raw', table) }}) as raw_counts,
    (
        select
            count(*) as n_rows,
            count(distinct landed._row_number) as n_distinct_rows,
            count(*) filter (where raw_rows._row_number is null) as n_not_in_raw
        from (
            select _row_number from {{ ref('stg_wmp__' ~ table) }}
            union all
            select _row_number from {{ ref('qua_wmp__' ~ table) }}
        ) as landed
        left join {{ source('raw', table) }} as raw_rows on landed._row_number = raw_rows._row_number
    ) as landed_counts
where landed_counts.n_rows != raw_counts.n_rows
    or landed_counts.n_distinct_rows != raw_counts.n_rows
    or landed_counts.n_not_in_raw > 0
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
