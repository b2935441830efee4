{#- The bad-row threshold: a run is refused when a raw table has more than `max_quarantined_share` of its rows
    quarantined, and more than one row (a single bad row never refuses a table). Quarantined rows include
    the dependants of a quarantined row (e.g. the offenders rows of a quarantined crime): the share is the
    part of the table that does not reach staging. The same rule in Python: dap.extract.exceeds_threshold.

    The run's value is chosen once, as Dagster run config `max_quarantined_share` of `raw_extract` (default
    dap.contract.MAX_QUARANTINED_SHARE), and recorded by the loader per table in raw._load_log, which is
    where it is read here. raw._load_log is written by the loader beside the raw tables; it is not a dbt
    source because it is not part of the extract. -#}
{% macro max_quarantined_share(table) -%}
    coalesce(
        (select max(max_quarantined_share) from raw._load_log where table_name = '{{ table }}'),
        error('raw._load_log records no max_quarantined_share for {{ table }}: load the extract with '
            || 'dap.extract.load_raw (or the development fixture with dbt run-operation load_dev_fixture)')
    )
{%- endmacro %}

{#- A data test on base_wmp__<table>: returns nothing when the table is within the threshold; otherwise it
    stops with an error that names the table and its file, the share, the threshold, and the three most
    frequent rules with an example reason each (column and value). Being a test on the base model, it stops
    `dbt build` before anything downstream of the table (staging, marts) is built. -#}
{% test quarantined_share_within_threshold(model, table) %}
with quarantined as (
    {{ quarantined_rows(table) }}
),

by_rule as (
    select
        rule,
        count(*) as n_rows,
        arg_min('row ' || _row_number || ': ' || reason, _row_number) as example
    from quarantined
    group by rule
),

totals as (
    select
        (select count(*) from {{ model }}) as rows_read,
        (select count(*) from quarantined) as rows_quarantined,
        {{ max_quarantined_share(table) }} as max_share,
        (select max(file) from raw._load_log where table_name = '{{ table }}') as file
),

main_rules as (
    select string_agg(
        rule || ' ' || n_rows || ' (e.g. ' || example || ')', '; ' order by n_rows desc, rule
    ) as listed
    from (select * from by_rule order by n_rows desc, rule limit 3)
)

select error(
    '{{ table }}' || coalesce(' (' || totals.file || ')', '') || ': '
    || printf('%.1f%%', 100.0 * rows_quarantined / rows_read) || ' of rows quarantined ('
    || printf('%,d', rows_quarantined) || ' of ' || printf('%,d', rows_read)
    || '), above the bad-row threshold max_quarantined_share = ' || printf('%.1f%%', 100.0 * max_share)
    || '. Most frequent rules: ' || main_rules.listed
    || '. The run is refused: correct the extract, or raise max_quarantined_share (run config of '
    || 'raw_extract) if these rows may be left out.'
) as refusal
from totals, main_rules
where rows_quarantined > 1 and rows_quarantined > max_share * rows_read
{% endtest %}
