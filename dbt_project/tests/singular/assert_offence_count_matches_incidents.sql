{{ config(meta={'dagster': {'ref': {'name': 'fct_incidents'}}}) }}
-- The incidents' n_offences add up to the rows of fct_offences, and to the staged offender rows.
select *
from (
    select
        (select sum(n_offences) from {{ ref('fct_incidents') }}) as offences_in_incidents,
        (select count(*) from {{ ref('fct_offences') }}) as fct_offences_rows,
        (select count(*) from {{ ref('int_offences_enriched') }}) as enriched_rows
)
where offences_in_incidents != fct_offences_rows or fct_offences_rows != enriched_rows
