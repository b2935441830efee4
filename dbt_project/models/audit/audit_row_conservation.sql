{#- Nothing lost: for every raw table, rows read = rows staged + rows quarantined. -#}
with counts as (
{%- for table in wmp_tables() %}
    select
        '{{ table }}' as table_name,
        {{ loop.index }} as table_order,
        (select count(*) from {{ source('raw', table) }}) as rows_read,
        (select count(*) from {{ ref('stg_wmp__' ~ table) }}) as rows_staged,
        (select count(*) from {{ ref('qua_wmp__' ~ table) }}) as rows_quarantined
    {%- if not loop.last %}
    union all
    {%- endif %}
{%- endfor %}
)

select
    table_name,
    rows_read,
    rows_staged,
    rows_quarantined,
    rows_read = rows_staged + rows_quarantined as is_conserved
from counts
order by table_order
