{{ config(meta={'dagster': {'ref': {'name': 'dim_offenders'}}}) }}
-- dim_offenders' incident counts equal the incidents in fct_incidents, offender by offender.
with counted as (
    select
        offender_id,
        count(*) as n_incidents,
        count(*) filter (where is_da) as n_da_incidents,
        count(*) filter (where not is_da) as n_non_da_incidents
    from {{ ref('fct_incidents') }}
    group by offender_id
)

select dim_offenders.offender_id
from {{ ref('dim_offenders') }} as dim_offenders
full outer join counted on dim_offenders.offender_id = counted.offender_id
where dim_offenders.offender_id is null
    or counted.offender_id is null
    or dim_offenders.n_incidents != counted.n_incidents
    or dim_offenders.n_da_incidents != counted.n_da_incidents
    or dim_offenders.n_non_da_incidents != counted.n_non_da_incidents
