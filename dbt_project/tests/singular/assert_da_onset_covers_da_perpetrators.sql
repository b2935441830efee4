{{ config(meta={'dagster': {'ref': {'name': 'dim_da_onset'}}}) }}
-- Every DA perpetrator of dim_offenders (n_da_incidents > 0) has exactly one onset row with the same number
-- of DA incidents, and nobody else has one: the time-ordered Section C model loses no perpetrator.
select
    coalesce(dim_offenders.offender_id, onset.offender_id) as offender_id
from (select offender_id, n_da_incidents from {{ ref('dim_offenders') }} where n_da_incidents > 0) as dim_offenders
full outer join {{ ref('dim_da_onset') }} as onset on dim_offenders.offender_id = onset.offender_id
where dim_offenders.offender_id is null
    or onset.offender_id is null
    or dim_offenders.n_da_incidents != onset.n_da_incidents
