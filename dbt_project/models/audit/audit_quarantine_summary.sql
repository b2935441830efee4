{#- Quarantined rows by table and rule, with one example reason (the lowest source row). -#}
{%- for table in wmp_tables() %}
select
    '{{ table }}' as table_name,
    rule,
    count(*) as rows_quarantined,
    arg_min(reason, _row_number) as example_reason,
    min(_row_number) as example_row_number
from {{ ref('qua_wmp__' ~ table) }}
group by rule
{%- if not loop.last %}
union all
{%- endif %}
{%- endfor %}
