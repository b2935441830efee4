{#- Nothing lost: for every raw table, rows read = rows staged + rows quarantined; and the quarantined share
    beside the bad-row threshold the run applied (macros/quarantine_threshold.sql).
    sqlfluff cannot indent the union the loop lays out, hence the noqa below. -#}
-- noqa: disable=LT02
with counts as (
{%- for table in wmp_tables() %}
    select
        '{{ table }}' as table_name,
        {{ loop.index }} as table_order,
        (select count(*) from {{ source('raw', table) }}) as rows_read,
        (select count(*) from {{ ref('stg_wmp__' ~ table) }}) as rows_staged,
        (select count(*) from {{ ref('qua_wmp__' ~ table) }}) as rows_quarantined,
        {{ max_quarantined_share(table) }} as max_quarantined_share
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
    rows_read = rows_staged + rows_quarantined as is_conserved,
    round(rows_quarantined / nullif(rows_read, 0), 6) as quarantined_share,
    max_quarantined_share
from counts
order by table_order
