-- Each raw row (by _row_number) lands in exactly one of staging and quarantine.
{%- for table in wmp_tables() %}
select '{{ table }}' as table_name, raw_rows._row_number, count(landed._row_number) as n_places
from {{ source('raw', table) }} as raw_rows
left join (
    select _row_number from {{ ref('stg_wmp__' ~ table) }}
    union all
    select _row_number from {{ ref('qua_wmp__' ~ table) }}
) as landed on raw_rows._row_number = landed._row_number
group by raw_rows._row_number
having count(landed._row_number) != 1
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
